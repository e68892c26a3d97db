//! Committing a version: one compare-and-swap on the artifact record assigns the index, so
//! concurrent commits of one artifact never collide, skip or reuse an index. A commit whose
//! digest equals the latest version's makes no new version (dedup) but records the producer.

use cairn_core::{ArtifactRecord, CoreError, Digest, DraftRecord, MAX_PRODUCERS, VersionRecord, validate_alias};
use cairn_meta::{MetaError, Txn};

use crate::clock::now_ms;
use crate::error::encode;
use crate::gc::Ticket;
use crate::ownership::Ownership;
use crate::versions::encode_version;
use crate::{CoordError, Coordinator, MAX_ALIASES_PER_COMMIT, keys};

/// Attempts before a commit that keeps losing races gives up with ABORTED.
const MAX_COMMIT_ATTEMPTS: usize = 64;

/// Largest metadata object, so that a version record stays small.
const MAX_METADATA_BYTES: usize = 16 * 1024;

/// A version about to be committed; its manifest is already stored.
pub(crate) struct NewVersion {
    pub project: String,
    pub artifact: String,
    pub artifact_type: String,
    pub digest: Digest,
    pub files: u64,
    pub bytes: u64,
    pub metadata_json: String,
    pub producers: Vec<String>,
    pub aliases: Vec<String>,
    /// Client-chosen id of a Log: a retry after the first attempt committed returns that
    /// commit's result, even when other commits landed in between.
    pub request_id: Option<String>,
    /// Time to live asked for; a dedup hit never shortens the version's (see
    /// [`dedup_expiry`]).
    pub ttl_ms: Option<u64>,
    /// What the commit relies on besides its own checks.
    pub reliance: Reliance,
}

/// What a commit relies on: the generation its request journaled in (a collection that
/// began since neither marked nor honours what it looked up), and versions whose blobs it
/// took as stored without looking (`(record key, revision)`: they must still be there,
/// unchanged). The commit compares on all of them; if any moved it fails with
/// [`CoordError::RelianceLost`] and the request starts again from its checks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reliance {
    pub ticket: Option<Ticket>,
    pub versions: Vec<(String, i64)>,
}

impl Reliance {
    pub fn on(ticket: Ticket) -> Self {
        Self { ticket: Some(ticket), versions: Vec::new() }
    }

    pub(crate) fn fence(&self, mut txn: Txn) -> Txn {
        if let Some(ticket) = &self.ticket {
            txn = ticket.fence(txn);
        }
        for (key, revision) in &self.versions {
            txn = txn.when_revision(key, *revision);
        }
        txn
    }
}

/// The expiry of a version a commit dedups onto: asking for no time to live clears the
/// existing one, a longer one extends it, a shorter one leaves it (a dedup hit never
/// makes a version expire sooner than it would have).
pub(crate) fn dedup_expiry(existing: Option<u64>, ttl_ms: Option<u64>, now: u64) -> Option<u64> {
    match (existing, ttl_ms.filter(|ttl| *ttl > 0)) {
        (_, None) | (None, _) => None,
        (Some(existing), Some(ttl)) => Some(existing.max(now.saturating_add(ttl))),
    }
}

/// The draft a commit finishes: written in the same transaction, and only if nobody else
/// changed it since it was sealed (a stale owner cannot commit).
pub(crate) struct DraftFence {
    pub key: String,
    pub revision: i64,
    pub record: DraftRecord,
    pub owner: Ownership,
}

/// Checks that metadata is a JSON object of bounded size; empty means `{}`.
pub(crate) fn normalize_metadata(text: &str) -> Result<String, CoordError> {
    if text.trim().is_empty() {
        return Ok("{}".to_owned());
    }
    if text.len() > MAX_METADATA_BYTES {
        return Err(CoreError::InvalidMetadata { why: format!("larger than {MAX_METADATA_BYTES} bytes") }.into());
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value @ serde_json::Value::Object(_)) => Ok(value.to_string()),
        Ok(_) => Err(CoreError::InvalidMetadata { why: "must be a JSON object".into() }.into()),
        Err(err) => Err(CoreError::InvalidMetadata { why: err.to_string() }.into()),
    }
}

/// Validates the aliases a commit sets.
pub(crate) fn validate_aliases(aliases: &[String]) -> Result<(), CoordError> {
    if aliases.len() > MAX_ALIASES_PER_COMMIT {
        return Err(CoordError::TooManyAliases { count: aliases.len(), limit: MAX_ALIASES_PER_COMMIT });
    }
    for alias in aliases {
        validate_alias(alias)?;
    }
    Ok(())
}

impl Coordinator {
    /// True when something `reliance` compares on has moved.
    pub(crate) async fn reliance_lost(&self, reliance: &Reliance) -> Result<bool, CoordError> {
        if let Some(ticket) = &reliance.ticket
            && self.generations().await?.1 != ticket.revision
        {
            return Ok(true);
        }
        for (key, revision) in &reliance.versions {
            if self.meta.get(key).await?.map(|kv| kv.mod_revision) != Some(*revision) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The version and dedup flag an earlier attempt of the same request committed.
    async fn committed_request(
        &self,
        project: &str,
        artifact: &str,
        request_key: &str,
    ) -> Result<Option<(VersionRecord, bool)>, CoordError> {
        let Some(kv) = self.meta.get(request_key).await? else { return Ok(None) };
        let outcome: serde_json::Value = crate::error::decode(request_key, &kv.value)?;
        let (Some(index), Some(dedup)) = (outcome["index"].as_u64(), outcome["dedup"].as_bool()) else {
            return Err(CoordError::Corrupt(format!("record {request_key:?}: no index and dedup")));
        };
        match self.load_version(project, artifact, index).await? {
            Some((version, _)) => Ok(Some((version, dedup))),
            None => Ok(None), // the version was deleted since: commit anew
        }
    }

    /// Commits `new` (and the fenced draft, if any) atomically; returns the version and
    /// whether it was a dedup hit.
    pub(crate) async fn commit_version(
        &self,
        new: &NewVersion,
        fence: Option<&DraftFence>,
    ) -> Result<(VersionRecord, bool), CoordError> {
        let kind = if fence.is_some() { "finish" } else { "log" };
        let result = self.commit_version_once(new, fence).await;
        let outcome = match &result {
            Ok((_, true)) => "dedup",
            Ok((_, false)) => "new",
            Err(_) => "error",
        };
        crate::metrics::COMMITS.with_label_values(&[kind, outcome]).inc();
        result
    }

    async fn commit_version_once(
        &self,
        new: &NewVersion,
        fence: Option<&DraftFence>,
    ) -> Result<(VersionRecord, bool), CoordError> {
        let artifact_key = keys::artifact(&new.project, &new.artifact);
        let request_key = new.request_id.as_deref().map(|id| keys::request(&new.project, &new.artifact, id));
        for _ in 0..MAX_COMMIT_ATTEMPTS {
            if let Some(request_key) = &request_key
                && let Some(done) = self.committed_request(&new.project, &new.artifact, request_key).await?
            {
                return Ok(done);
            }
            let now = now_ms();
            let (mut artifact, artifact_revision) = match self.load_artifact(&new.project, &new.artifact).await? {
                Some(found) => found,
                None => (ArtifactRecord::new(&new.artifact_type, now), 0),
            };
            artifact.check_type(&new.artifact, &new.artifact_type)?;
            let latest = match artifact.latest() {
                Some(index) => self.load_version(&new.project, &new.artifact, index).await?,
                None => None,
            };
            // model: CommitVersion
            let mut txn = new.reliance.fence(Txn::new().when_revision(&artifact_key, artifact_revision));
            let (version, dedup) = match latest {
                Some((mut version, revision)) if version.digest == new.digest => {
                    for producer in &new.producers {
                        version.add_producer(producer);
                    }
                    version.expires_at_ms = dedup_expiry(version.expires_at_ms, new.ttl_ms, now);
                    let key = keys::version(&new.project, &new.artifact, version.index);
                    txn = txn.when_revision(&key, revision).put(key, encode_version(&version));
                    (version, true)
                }
                _ => {
                    self.check_bytes_quota(&new.project, new.bytes).await?;
                    let index = artifact.assign_next();
                    let skip = new.producers.len().saturating_sub(MAX_PRODUCERS);
                    let version = VersionRecord {
                        index,
                        digest: new.digest,
                        files: new.files,
                        bytes: new.bytes,
                        metadata_json: new.metadata_json.clone(),
                        producers: new.producers[skip..].to_vec(),
                        created_at_ms: now,
                        expires_at_ms: new.ttl_ms.filter(|ttl| *ttl > 0).map(|ttl| now.saturating_add(ttl)),
                    };
                    txn = txn
                        .put(&artifact_key, encode(&artifact))
                        .put(keys::version(&new.project, &new.artifact, index), encode_version(&version))
                        .put(keys::digest(&new.project, &new.artifact, &new.digest), index.to_string());
                    (version, false)
                }
            };
            let aliases: std::collections::BTreeSet<&String> = new.aliases.iter().collect();
            for alias in aliases {
                txn = txn.put(keys::alias(&new.project, &new.artifact, alias), version.index.to_string());
            }
            if let Some(request_key) = &request_key {
                let lease = self.request_leases.current(&*self.meta).await?;
                let outcome = serde_json::json!({ "index": version.index, "dedup": dedup }).to_string();
                txn = txn.when_revision(request_key, 0).put_with_lease(request_key, outcome, lease);
            }
            if let Some(fence) = fence {
                let mut record = fence.record.clone();
                record.commit(version.index, dedup);
                record.ended_at_ms = now;
                txn = txn
                    .when_revision(&fence.key, fence.revision)
                    .when_revision(&fence.owner.key, fence.owner.revision)
                    .put(&fence.key, encode(&record));
            }
            let applied = match self.meta.txn(txn).await {
                Err(MetaError::LeaseNotFound(_)) if request_key.is_some() => {
                    self.request_leases.reset().await; // revoked or lapsed: take a fresh one
                    continue;
                }
                other => other?,
            };
            if applied {
                if !dedup {
                    self.usage_cache.add(&new.project, new.bytes);
                }
                tracing::info!(
                    project = %new.project, artifact = %new.artifact, index = version.index,
                    dedup, files = new.files, "version committed"
                );
                return Ok((version, dedup));
            }
            if self.reliance_lost(&new.reliance).await? {
                return Err(CoordError::RelianceLost);
            }
            if let Some(fence) = fence {
                let draft = self.meta.get(&fence.key).await?.map(|kv| kv.mod_revision);
                let owner = self.meta.get(&fence.owner.key).await?.map(|kv| kv.mod_revision);
                if draft != Some(fence.revision) || owner != Some(fence.owner.revision) {
                    // Fenced off: another replica changed or took over the draft.
                    return Err(CoordError::ConcurrentUpdate(fence.key.clone()));
                }
            }
            // Another commit of this artifact won the race: retry against its result.
            tokio::task::yield_now().await;
        }
        Err(CoordError::ConcurrentUpdate(artifact_key))
    }
}

#[cfg(test)]
mod tests {
    use super::dedup_expiry;

    #[test]
    fn a_dedup_hit_never_shortens_a_time_to_live() {
        let now = 1_000;
        assert_eq!(dedup_expiry(Some(5_000), None, now), None, "no TTL asked: none");
        assert_eq!(dedup_expiry(Some(5_000), Some(9_000), now), Some(10_000), "a longer one extends it");
        assert_eq!(dedup_expiry(Some(5_000), Some(1_000), now), Some(5_000), "a shorter one leaves it");
        assert_eq!(dedup_expiry(None, Some(1_000), now), None, "a version that never expires still never does");
    }
}
