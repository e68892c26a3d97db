//! Per-artifact retention: keep the newest N versions, and always those a user alias names.
//! The policy lives in the artifact record; the garbage collector applies it before it
//! marks, so what only retired versions referred to is freed by the same collection.

use cairn_core::{ArtifactRecord, VersionRecord, validate_artifact, validate_project};
use cairn_meta::Txn;

use crate::error::{decode, encode};
use crate::{CoordError, Coordinator, keys};

impl Coordinator {
    /// Sets (`keep_last` > 0) or clears (0) an artifact's retention policy.
    pub async fn set_retention(
        &self,
        project: &str,
        artifact: &str,
        keep_last: u64,
    ) -> Result<Option<u64>, CoordError> {
        validate_project(project)?;
        validate_artifact(artifact)?;
        let key = keys::artifact(project, artifact);
        for _ in 0..16 {
            let not_found =
                || CoordError::ArtifactNotFound { project: project.to_owned(), artifact: artifact.to_owned() };
            let (mut record, revision) = self.load_artifact(project, artifact).await?.ok_or_else(not_found)?;
            if record.live_versions() == 0 {
                return Err(not_found());
            }
            record.keep_last = (keep_last > 0).then_some(keep_last);
            if self.meta.txn(Txn::new().when_revision(&key, revision).put(&key, encode(&record))).await? {
                return Ok(record.keep_last);
            }
        }
        Err(CoordError::ConcurrentUpdate(key))
    }

    /// Deletes, in every artifact with a policy, the versions older than its newest
    /// `keep_last` that no user alias names; returns how many (would be) deleted.
    pub(crate) async fn apply_retention(&self, dry_run: bool) -> Result<u64, CoordError> {
        let mut retired = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.meta.range("artifacts/", after.as_deref(), 1000).await?;
            let Some(last) = page.last() else { return Ok(retired) };
            after = Some(last.key.clone());
            for kv in page {
                let record: ArtifactRecord = decode(&kv.key, &kv.value)?;
                let Some(keep_last) = record.keep_last else { continue };
                let Some((project, artifact)) = keys::parse_artifact(&kv.key) else { continue };
                retired += self.retire_versions(project, artifact, keep_last, dry_run).await?;
            }
        }
    }

    /// Deletes, one at a time, the oldest version beyond the newest `keep_last` that no
    /// user alias names. Each deletion compares on the artifact record the count was made
    /// from; when anything changed (a commit, another deletion), it counts again, so that
    /// concurrent deletions never leave fewer than `keep_last` versions.
    async fn retire_versions(
        &self,
        project: &str,
        artifact: &str,
        keep_last: u64,
        dry_run: bool,
    ) -> Result<u64, CoordError> {
        let mut retired = 0;
        let mut races = 0;
        loop {
            // model: RetentionCount
            let Some((_, revision)) = self.load_artifact(project, artifact).await? else { return Ok(retired) };
            let indices = self.version_indices(project, artifact).await?;
            let aliased = self.aliases_of(project, artifact).await?;
            let surplus = indices.len().saturating_sub(keep_last as usize);
            let victims: Vec<u64> = indices.into_iter().take(surplus).filter(|i| !aliased.contains_key(i)).collect();
            if dry_run {
                return Ok(victims.len() as u64);
            }
            let Some(&victim) = victims.first() else { return Ok(retired) };
            // model: RetentionDelete
            match self.try_delete_version(project, artifact, victim, false, Some(revision)).await {
                Ok(Some(_)) => {
                    tracing::info!(project, artifact, index = victim, "version retired by the retention policy");
                    retired += 1;
                }
                // The record moved, or an alias was set meanwhile: count again.
                Ok(None) | Err(CoordError::VersionHasAliases { .. }) => {
                    races += 1;
                    if races > 64 {
                        return Err(CoordError::ConcurrentUpdate(crate::keys::artifact(project, artifact)));
                    }
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn version_indices(&self, project: &str, artifact: &str) -> Result<Vec<u64>, CoordError> {
        let prefix = keys::versions_prefix(project, artifact);
        let mut indices = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.meta.range(&prefix, after.as_deref(), 1000).await?;
            let Some(last) = page.last() else { return Ok(indices) };
            after = Some(last.key.clone());
            for kv in page {
                indices.push(decode::<VersionRecord>(&kv.key, &kv.value)?.index);
            }
        }
    }
}
