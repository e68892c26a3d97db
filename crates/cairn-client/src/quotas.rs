//! Per-project quotas: read a project's usage and limits; set them (operators).

use cairn_proto::v1;
use serde::Serialize;

use crate::error::required;
use crate::{Client, ClientError};

/// A project's usage against its limits (`cairn quota show --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaUsage {
    /// The project.
    pub project: String,
    /// Most logical bytes of committed versions; None: no limit.
    pub max_bytes: Option<u64>,
    /// Most drafts open at once; None: no limit.
    pub max_open_drafts: Option<u64>,
    /// True when the limits were set for this project, false when they are the server's
    /// defaults.
    pub quota_is_set: bool,
    /// Logical bytes of the project's committed versions (each counted in full).
    pub stored_bytes: u64,
    /// Committed versions.
    pub versions: u64,
    /// Drafts open or being finished.
    pub open_drafts: u64,
}

impl From<v1::QuotaUsage> for QuotaUsage {
    fn from(usage: v1::QuotaUsage) -> Self {
        let quota = usage.quota.unwrap_or_default();
        Self {
            project: usage.project,
            max_bytes: quota.max_bytes,
            max_open_drafts: quota.max_open_drafts,
            quota_is_set: usage.quota_is_set,
            stored_bytes: usage.stored_bytes,
            versions: usage.versions,
            open_drafts: usage.open_drafts,
        }
    }
}

impl Client {
    /// Usage and limits of this client's project.
    pub async fn quota(&self) -> Result<QuotaUsage, ClientError> {
        let request = v1::GetQuotaRequest { project: self.project().to_owned() };
        let usage = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.get_quota(request).await.map(|r| r.into_inner().usage) }
            })
            .await?;
        Ok(QuotaUsage::from(required(usage, "usage")?))
    }

    /// Sets this client's project's limits (None in a field: no limit), or with `None`
    /// puts the project back on the server's defaults. Needs an admin token of `*`.
    pub async fn set_quota(&self, limits: Option<(Option<u64>, Option<u64>)>) -> Result<QuotaUsage, ClientError> {
        let quota = limits.map(|(max_bytes, max_open_drafts)| v1::ProjectQuota { max_bytes, max_open_drafts });
        let request = v1::SetQuotaRequest { project: self.project().to_owned(), quota };
        let usage = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.set_quota(request).await.map(|r| r.into_inner().usage) }
            })
            .await?;
        Ok(QuotaUsage::from(required(usage, "usage")?))
    }
}
