//! Deleting versions and artifacts.
//!
//! A deletion removes the version's MetaStore records (the version, its digest index and,
//! when forced, the user aliases naming it) in one compare-and-swap with the artifact
//! record, which counts deletions and moves `latest` to the newest remaining version.
//! `next_index` never goes down, so a deleted index is never reused. The manifest and the
//! blobs stay in object storage until the garbage collector finds nothing refers to them.

use cairn_core::{ArtifactRecord, Reference, VersionRecord, validate_artifact, validate_project};
use cairn_meta::{KeyValue, Txn};

use crate::error::{decode, encode};
use crate::{CoordError, Coordinator, keys};

/// Attempts before a deletion that keeps losing races gives up with ABORTED.
const MAX_ATTEMPTS: usize = 32;
/// Versions deleted per transaction by an artifact deletion (each costs up to 3 operations).
const VERSIONS_PER_TXN: usize = 32;

/// What a deletion removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deletion {
    pub project: String,
    pub artifact: String,
    /// Indices of the deleted versions.
    pub deleted: Vec<u64>,
    /// User aliases deleted with them.
    pub deleted_aliases: Vec<String>,
    /// The newest remaining version.
    pub latest: Option<u64>,
}

/// A user alias as stored.
struct AliasKey {
    name: String,
    index: u64,
    kv: KeyValue,
}

impl Coordinator {
    async fn stored_aliases(&self, project: &str, artifact: &str) -> Result<Vec<AliasKey>, CoordError> {
        let prefix = keys::aliases_prefix(project, artifact);
        let mut aliases = Vec::new();
        for kv in self.meta.range(&prefix, None, 10_000).await? {
            let index = String::from_utf8_lossy(&kv.value)
                .parse()
                .map_err(|_| CoordError::Corrupt(format!("alias {:?}", kv.key)))?;
            aliases.push(AliasKey { name: kv.key[prefix.len()..].to_owned(), index, kv });
        }
        Ok(aliases)
    }

    /// The newest version below `index` that still exists.
    async fn newest_below(&self, project: &str, artifact: &str, index: u64) -> Result<Option<u64>, CoordError> {
        let prefix = keys::versions_prefix(project, artifact);
        let mut newest = None;
        let mut after: Option<String> = None;
        loop {
            let page = self.meta.range(&prefix, after.as_deref(), 1000).await?;
            let Some(last) = page.last() else { return Ok(newest) };
            after = Some(last.key.clone());
            for kv in &page {
                let version: VersionRecord = decode(&kv.key, &kv.value)?;
                if version.index >= index {
                    return Ok(newest);
                }
                newest = Some(version.index);
            }
        }
    }

    /// Deletes the version `reference` names (`default_project` when it names none).
    pub async fn delete_version(
        &self,
        default_project: &str,
        reference: &str,
        force: bool,
    ) -> Result<Deletion, CoordError> {
        let parsed = Reference::parse(reference)?;
        let project = parsed.project.as_deref().unwrap_or(default_project).to_owned();
        for _ in 0..MAX_ATTEMPTS {
            let resolved = self.resolve(&project, &parsed.artifact, &parsed.selector).await?;
            let (artifact, index) = (resolved.artifact.clone(), resolved.record.index);
            if let Some(deletion) = self.try_delete_version(&project, &artifact, index, force, None).await? {
                tracing::info!(project = %project, artifact = %artifact, index, "version deleted");
                return Ok(deletion);
            }
        }
        Err(CoordError::ConcurrentUpdate(keys::artifact(&project, &parsed.artifact)))
    }

    /// One attempt; `None` when a concurrent change won the race, or the artifact record
    /// is no longer at `expected_revision` (when given: the caller decided on that record).
    // model: DeleteVersion
    pub(crate) async fn try_delete_version(
        &self,
        project: &str,
        artifact: &str,
        index: u64,
        force: bool,
        expected_revision: Option<i64>,
    ) -> Result<Option<Deletion>, CoordError> {
        let artifact_key = keys::artifact(project, artifact);
        let Some((mut record, record_revision)) = self.load_artifact(project, artifact).await? else {
            return Ok(None);
        };
        if expected_revision.is_some_and(|expected| expected != record_revision) {
            return Ok(None);
        }
        let version_key = keys::version(project, artifact, index);
        let Some(version) = self.meta.get(&version_key).await? else { return Ok(None) };
        let stored: VersionRecord = decode(&version_key, &version.value)?;
        let aliases: Vec<AliasKey> =
            self.stored_aliases(project, artifact).await?.into_iter().filter(|a| a.index == index).collect();
        if !aliases.is_empty() && !force {
            return Err(CoordError::VersionHasAliases {
                version: format!("{artifact}:v{index}"),
                aliases: aliases.into_iter().map(|a| a.name).collect(),
            });
        }
        let newest_remaining = match record.latest() == Some(index) {
            true => self.newest_below(project, artifact, index).await?,
            false => None,
        };
        record.record_deletion(index, newest_remaining);
        let mut txn = Txn::new()
            .when_revision(&artifact_key, record_revision)
            .when_revision(&version_key, version.mod_revision)
            .delete(&version_key)
            .put(&artifact_key, encode(&record));
        let digest_key = keys::digest(project, artifact, &stored.digest);
        if let Some(kv) = self.meta.get(&digest_key).await?
            && String::from_utf8_lossy(&kv.value) == index.to_string()
        {
            txn = txn.when_revision(&digest_key, kv.mod_revision).delete(&digest_key);
        }
        for alias in &aliases {
            txn = txn.when_revision(&alias.kv.key, alias.kv.mod_revision).delete(&alias.kv.key);
        }
        if !self.meta.txn(txn).await? {
            return Ok(None);
        }
        Ok(Some(Deletion {
            project: project.to_owned(),
            artifact: artifact.to_owned(),
            deleted: vec![index],
            deleted_aliases: aliases.into_iter().map(|a| a.name).collect(),
            latest: record.latest(),
        }))
    }

    /// Deletes every version of an artifact (and, with `force`, its user aliases).
    pub async fn delete_artifact(&self, project: &str, artifact: &str, force: bool) -> Result<Deletion, CoordError> {
        validate_project(project)?;
        validate_artifact(artifact)?;
        let not_found = || CoordError::ArtifactNotFound { project: project.to_owned(), artifact: artifact.to_owned() };
        let (record, _) = self.load_artifact(project, artifact).await?.ok_or_else(not_found)?;
        if record.live_versions() == 0 {
            return Err(not_found());
        }
        let aliases = self.stored_aliases(project, artifact).await?;
        if !aliases.is_empty() && !force {
            return Err(CoordError::VersionHasAliases {
                version: format!("{artifact} (all versions)"),
                aliases: aliases.into_iter().map(|a| a.name).collect(),
            });
        }
        let mut deletion =
            Deletion { project: project.to_owned(), artifact: artifact.to_owned(), ..Deletion::default() };
        for alias in aliases {
            let txn = Txn::new().when_revision(&alias.kv.key, alias.kv.mod_revision).delete(&alias.kv.key);
            if self.meta.txn(txn).await? {
                deletion.deleted_aliases.push(alias.name);
            }
        }
        let prefix = keys::versions_prefix(project, artifact);
        let mut attempts = 0;
        loop {
            let page = self.meta.range(&prefix, None, VERSIONS_PER_TXN).await?;
            if page.is_empty() {
                break;
            }
            match self.delete_page(project, artifact, &page).await? {
                Some(indices) => deletion.deleted.extend(indices),
                None if attempts < MAX_ATTEMPTS => attempts += 1,
                None => return Err(CoordError::ConcurrentUpdate(keys::artifact(project, artifact))),
            }
        }
        deletion.latest = self.load_artifact(project, artifact).await?.and_then(|(r, _)| r.latest());
        tracing::info!(project = %project, artifact = %artifact, versions = deletion.deleted.len(), "artifact deleted");
        Ok(deletion)
    }

    /// Deletes one page of versions (the oldest remaining) in one transaction.
    async fn delete_page(
        &self,
        project: &str,
        artifact: &str,
        page: &[KeyValue],
    ) -> Result<Option<Vec<u64>>, CoordError> {
        let artifact_key = keys::artifact(project, artifact);
        let Some((mut record, revision)) = self.load_artifact(project, artifact).await? else { return Ok(None) };
        let mut txn = Txn::new().when_revision(&artifact_key, revision);
        let mut indices = Vec::new();
        for kv in page {
            let version: VersionRecord = decode(&kv.key, &kv.value)?;
            // Oldest first: only the last remaining version is the latest, and then
            // nothing older remains.
            record.record_deletion(version.index, None);
            txn = txn.when_revision(&kv.key, kv.mod_revision).delete(&kv.key);
            let digest_key = keys::digest(project, artifact, &version.digest);
            if let Some(digest) = self.meta.get(&digest_key).await?
                && String::from_utf8_lossy(&digest.value) == version.index.to_string()
            {
                txn = txn.when_revision(&digest_key, digest.mod_revision).delete(&digest_key);
            }
            indices.push(version.index);
        }
        let txn = txn.put(&artifact_key, encode::<ArtifactRecord>(&record));
        Ok(self.meta.txn(txn).await?.then_some(indices))
    }
}
