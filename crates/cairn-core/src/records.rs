//! Persisted records of artifacts and versions, and the rule that assigns version indices.

use crate::{CoreError, Digest};

/// Most producers remembered per version; older ones are dropped first.
pub const MAX_PRODUCERS: usize = 256;

/// An artifact: its fixed type and the next version index to assign. Deleting versions
/// never lowers `next_index`, so an index is never reused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArtifactRecord {
    /// Type fixed by the first version (after every version was deleted, by the next).
    pub artifact_type: String,
    /// Index the next committed version gets.
    pub next_index: u64,
    /// Creation time (ms since the epoch).
    pub created_at_ms: u64,
    /// Versions deleted so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deleted: u64,
    /// The newest remaining version, kept once any version was deleted (before that it is
    /// `next_index - 1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_index: Option<u64>,
    /// Retention policy: keep only the newest this many versions (aliased ones always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ArtifactRecord {
    /// A new artifact with no versions.
    pub fn new(artifact_type: &str, now_ms: u64) -> Self {
        Self {
            artifact_type: artifact_type.to_owned(),
            next_index: 0,
            created_at_ms: now_ms,
            deleted: 0,
            latest_index: None,
            keep_last: None,
        }
    }

    /// Index of the newest remaining version.
    pub fn latest(&self) -> Option<u64> {
        if self.deleted == 0 { self.next_index.checked_sub(1) } else { self.latest_index }
    }

    /// Number of remaining versions.
    pub fn live_versions(&self) -> u64 {
        self.next_index - self.deleted
    }

    /// Records the deletion of version `index`; `newest_remaining` is the newest version
    /// left after it (needed when `index` was the latest).
    pub fn record_deletion(&mut self, index: u64, newest_remaining: Option<u64>) {
        let was_latest = self.latest() == Some(index);
        self.deleted += 1;
        if was_latest || self.deleted == 1 {
            self.latest_index = if was_latest { newest_remaining } else { self.next_index.checked_sub(1) };
        }
    }

    /// Refuses a type other than the artifact's own.
    pub fn check_type(&self, artifact: &str, requested: &str) -> Result<(), CoreError> {
        if self.artifact_type != requested && self.live_versions() > 0 {
            return Err(CoreError::TypeMismatch {
                artifact: artifact.to_owned(),
                existing: self.artifact_type.clone(),
                requested: requested.to_owned(),
            });
        }
        Ok(())
    }

    /// Takes the next index. Indices are dense because the record is only ever written
    /// by a compare-and-swap on the value this was computed from.
    pub fn assign_next(&mut self) -> u64 {
        let index = self.next_index;
        self.next_index += 1;
        if self.deleted > 0 {
            self.latest_index = Some(index);
        }
        index
    }
}

/// A committed version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VersionRecord {
    /// `vN`.
    pub index: u64,
    /// Version digest (address of the manifest).
    pub digest: Digest,
    /// Number of entries.
    pub files: u64,
    /// Total size of the entries.
    pub bytes: u64,
    /// User metadata, a JSON object as text.
    pub metadata_json: String,
    /// Who produced it, including later dedup hits.
    pub producers: Vec<String>,
    /// Commit time (ms since the epoch).
    pub created_at_ms: u64,
    /// When its time to live ends (ms since the epoch), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
}

impl VersionRecord {
    /// True when the version's time to live has passed.
    pub fn expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }

    /// Records another producer, keeping the list bounded.
    pub fn add_producer(&mut self, producer: &str) {
        if self.producers.iter().any(|p| p == producer) {
            return;
        }
        if self.producers.len() >= MAX_PRODUCERS {
            self.producers.remove(0);
        }
        self.producers.push(producer.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleting_moves_latest_down_and_never_reuses_an_index() {
        let mut record = ArtifactRecord::new("model", 0);
        for _ in 0..4 {
            record.assign_next();
        }
        record.record_deletion(1, None); // not the latest
        assert_eq!((record.latest(), record.live_versions()), (Some(3), 3));
        record.record_deletion(3, Some(2));
        assert_eq!(record.latest(), Some(2));
        assert_eq!(record.assign_next(), 4, "deleted indices are not reused");
        assert_eq!((record.latest(), record.live_versions()), (Some(4), 3));
        for (index, remaining) in [(4, Some(2)), (2, Some(0)), (0, None)] {
            record.record_deletion(index, remaining);
        }
        assert_eq!((record.latest(), record.live_versions()), (None, 0));
        assert!(record.check_type("a", "dataset").is_ok(), "with no version left, the type is free again");
    }

    #[test]
    fn records_written_before_deletions_existed_still_read() {
        let legacy: ArtifactRecord =
            serde_json::from_str(r#"{"artifact_type":"t","next_index":3,"created_at_ms":1}"#).unwrap();
        assert_eq!((legacy.latest(), legacy.live_versions()), (Some(2), 3));
    }
}
