//! Per-project quotas: stored bytes and open drafts (docs/security.md "Quotas").
//!
//! Stored bytes are the logical size of the project's committed versions, each counted in
//! full (what `cairn versions` shows), so they bound what the project keeps stored from
//! above whatever is shared. They are checked when a commit would make a new version;
//! open drafts when an upsert would open one. Usage is counted from the MetaStore (one
//! range over the project's version or draft records) and the byte count is cached for a
//! few seconds per replica, so commits in flight on several replicas at once can overshoot
//! the limit by what they commit within that window; nothing else can.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cairn_core::{DraftRecord, DraftState, VersionRecord};
use cairn_meta::MetaStoreExt;

use crate::error::decode;
use crate::{CoordError, Coordinator, keys};

/// How long a project's counted bytes are reused before they are counted again.
const USAGE_CACHE_TTL: Duration = Duration::from_secs(5);

/// Records read per MetaStore range while counting.
const COUNT_PAGE: usize = 1000;

/// A project's limits; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProjectQuota {
    pub max_bytes: Option<u64>,
    pub max_open_drafts: Option<u64>,
}

/// A project's usage against its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectUsage {
    pub quota: ProjectQuota,
    /// True when the limits were set for this project, false when they are the defaults.
    pub quota_is_set: bool,
    pub stored_bytes: u64,
    pub versions: u64,
    pub open_drafts: u64,
}

/// Which limit a request would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaResource {
    Bytes,
    OpenDrafts,
}

impl QuotaResource {
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaResource::Bytes => "stored_bytes",
            QuotaResource::OpenDrafts => "open_drafts",
        }
    }
}

/// Counted bytes per project with the time they were counted.
#[derive(Default)]
pub(crate) struct UsageCache(Mutex<HashMap<String, (u64, Instant)>>);

impl UsageCache {
    fn fresh(&self, project: &str) -> Option<u64> {
        let cache = self.0.lock().expect("usage cache lock");
        cache.get(project).filter(|(_, at)| at.elapsed() < USAGE_CACHE_TTL).map(|(bytes, _)| *bytes)
    }

    fn store(&self, project: &str, bytes: u64) {
        self.0.lock().expect("usage cache lock").insert(project.to_owned(), (bytes, Instant::now()));
    }

    /// Counts a commit this replica just made, so that its own next check sees it.
    pub(crate) fn add(&self, project: &str, bytes: u64) {
        if let Some((counted, _)) = self.0.lock().expect("usage cache lock").get_mut(project) {
            *counted = counted.saturating_add(bytes);
        }
    }
}

impl Coordinator {
    /// The limits of `project`: its own if set, else the server's defaults.
    async fn quota_of(&self, project: &str) -> Result<(ProjectQuota, bool), CoordError> {
        let key = keys::quota(project);
        match self.meta.get(&key).await? {
            Some(kv) => Ok((decode(&key, &kv.value)?, true)),
            None => Ok((self.config.default_quota, false)),
        }
    }

    /// Sets (or, with `None`, resets to the defaults) the limits of `project`.
    pub async fn set_quota(&self, project: &str, quota: Option<ProjectQuota>) -> Result<ProjectUsage, CoordError> {
        cairn_core::validate_project(project)?;
        let key = keys::quota(project);
        match quota {
            Some(quota) => self.meta.put(&key, crate::error::encode(&quota)).await?,
            None => self.meta.delete(&key).await?,
        }
        tracing::info!(project = %project, ?quota, "project quota set");
        self.usage(project).await
    }

    /// Usage and limits of `project`, counted now.
    pub async fn usage(&self, project: &str) -> Result<ProjectUsage, CoordError> {
        cairn_core::validate_project(project)?;
        let (quota, quota_is_set) = self.quota_of(project).await?;
        let (stored_bytes, versions) = self.count_stored_bytes(project).await?;
        let open_drafts = self.count_open_drafts(project).await?;
        Ok(ProjectUsage { quota, quota_is_set, stored_bytes, versions, open_drafts })
    }

    /// Refuses a commit that would take `project` past its byte limit.
    pub(crate) async fn check_bytes_quota(&self, project: &str, adding: u64) -> Result<(), CoordError> {
        let (quota, _) = self.quota_of(project).await?;
        let Some(limit) = quota.max_bytes else { return Ok(()) };
        let used = match self.usage_cache.fresh(project) {
            Some(bytes) => bytes,
            None => self.count_stored_bytes(project).await?.0,
        };
        if used.saturating_add(adding) > limit {
            return Err(CoordError::QuotaExceeded {
                project: project.to_owned(),
                resource: QuotaResource::Bytes,
                used,
                requested: adding,
                limit,
            });
        }
        Ok(())
    }

    /// Refuses opening one more draft in `project` past its limit.
    pub(crate) async fn check_open_drafts_quota(&self, project: &str) -> Result<(), CoordError> {
        let (quota, _) = self.quota_of(project).await?;
        let Some(limit) = quota.max_open_drafts else { return Ok(()) };
        let used = self.count_open_drafts(project).await?;
        if used >= limit {
            return Err(CoordError::QuotaExceeded {
                project: project.to_owned(),
                resource: QuotaResource::OpenDrafts,
                used,
                requested: 1,
                limit,
            });
        }
        Ok(())
    }

    /// (logical bytes, versions) of the project's committed versions.
    async fn count_stored_bytes(&self, project: &str) -> Result<(u64, u64), CoordError> {
        let (mut bytes, mut versions) = (0u64, 0u64);
        let prefix = keys::versions_of_project_prefix(project);
        let mut after: Option<String> = None;
        loop {
            let page = self.meta.range(&prefix, after.as_deref(), COUNT_PAGE).await?;
            for kv in &page {
                let version: VersionRecord = decode(&kv.key, &kv.value)?;
                bytes = bytes.saturating_add(version.bytes);
                versions += 1;
            }
            match page.last() {
                Some(last) if page.len() == COUNT_PAGE => after = Some(last.key.clone()),
                _ => break,
            }
        }
        self.usage_cache.store(project, bytes);
        Ok((bytes, versions))
    }

    /// Drafts of the project that are open or being finished.
    async fn count_open_drafts(&self, project: &str) -> Result<u64, CoordError> {
        let prefix = keys::drafts_of_project_prefix(project);
        let mut open = 0u64;
        let mut after: Option<String> = None;
        loop {
            let page = self.meta.range(&prefix, after.as_deref(), COUNT_PAGE).await?;
            for kv in &page {
                let record: DraftRecord = decode(&kv.key, &kv.value)?;
                if matches!(record.state, DraftState::Open | DraftState::Sealing) {
                    open += 1;
                }
            }
            match page.last() {
                Some(last) if page.len() == COUNT_PAGE => after = Some(last.key.clone()),
                _ => break,
            }
        }
        Ok(open)
    }
}
