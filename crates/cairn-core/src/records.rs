//! Persisted records of artifacts and versions, and the rule that assigns version indices.

use crate::{CoreError, Digest};

/// Most producers remembered per version; older ones are dropped first.
pub const MAX_PRODUCERS: usize = 256;

/// An artifact: its fixed type and the next version index to assign.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArtifactRecord {
    /// Type fixed by the first version.
    pub artifact_type: String,
    /// Index the next committed version gets; equals the number of versions.
    pub next_index: u64,
    /// Creation time (ms since the epoch).
    pub created_at_ms: u64,
}

impl ArtifactRecord {
    /// A new artifact with no versions.
    pub fn new(artifact_type: &str, now_ms: u64) -> Self {
        Self { artifact_type: artifact_type.to_owned(), next_index: 0, created_at_ms: now_ms }
    }

    /// Index of the newest version.
    pub fn latest(&self) -> Option<u64> {
        self.next_index.checked_sub(1)
    }

    /// Refuses a type other than the artifact's own.
    pub fn check_type(&self, artifact: &str, requested: &str) -> Result<(), CoreError> {
        if self.artifact_type != requested {
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
}

impl VersionRecord {
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
