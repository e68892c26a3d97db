//! The rule "never record an entry whose blob is not stored": every entry's blob is looked
//! up in the BlobStore (which holds only verified blobs) before a change is accepted.

use std::collections::{BTreeMap, HashSet};

use crate::{CoordError, Coordinator};
use cairn_blob::blob_key;
use cairn_core::{Digest, Entry};

impl Coordinator {
    /// Fails unless every entry's blob is stored with exactly the declared size.
    pub(crate) async fn verify_blobs_stored(&self, entries: &[Entry]) -> Result<(), CoordError> {
        self.verify_blobs_stored_except(entries, &HashSet::new()).await
    }

    /// Like [`Coordinator::verify_blobs_stored`], but takes `known` (digest and size) as
    /// stored without looking: blobs a live version refers to, which the collector keeps.
    /// Every entry is journaled all the same, in case that version is deleted meanwhile.
    pub(crate) async fn verify_blobs_stored_except(
        &self,
        entries: &[Entry],
        known: &HashSet<(Digest, u64)>,
    ) -> Result<(), CoordError> {
        // Keyed by digest and size: two entries naming one digest with two sizes are both
        // checked (at least one of them is wrong).
        let mut first_use: BTreeMap<(Digest, u64), Entry> = BTreeMap::new();
        for entry in entries {
            first_use.entry((entry.sha256, entry.size)).or_insert_with(|| entry.clone());
        }
        // Journaled before the checks: no collection deletes what they found (gc/journal.rs).
        let digests: std::collections::BTreeSet<&Digest> = first_use.keys().map(|(digest, _)| digest).collect();
        self.journal_references(digests).await?;
        first_use.retain(|key, _| !known.contains(key));
        let keys = first_use.keys().map(|(digest, _)| blob_key(digest)).collect();
        let sizes = self.blobs.head_many(keys).await?;
        for (entry, stored) in first_use.into_values().zip(sizes) {
            match stored {
                None => {
                    return Err(CoordError::BlobNotStored {
                        path: entry.path.to_string(),
                        sha256: entry.sha256.to_string(),
                    });
                }
                Some(stored) if stored != entry.size => {
                    return Err(CoordError::BlobSizeMismatch {
                        path: entry.path.to_string(),
                        sha256: entry.sha256.to_string(),
                        declared: entry.size,
                        stored,
                    });
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Journals the blobs of `entries` without checking them (gc/journal.rs).
    pub(crate) async fn journal_entries(&self, entries: &[Entry]) -> Result<(), CoordError> {
        let digests: std::collections::BTreeSet<&Digest> = entries.iter().map(|e| &e.sha256).collect();
        self.journal_references(digests).await
    }

    /// Digests among `digests` that are not stored, in the given order.
    pub async fn find_missing_blobs(&self, digests: &[Digest]) -> Result<Vec<Digest>, CoordError> {
        // The client skips uploading what is present and uploads what is missing, then
        // refers to both: all are journaled, so no collection deletes them meanwhile.
        self.journal_references(digests).await?;
        let sizes = self.blobs.head_many(digests.iter().map(blob_key).collect()).await?;
        Ok(digests.iter().zip(sizes).filter(|(_, size)| size.is_none()).map(|(d, _)| *d).collect())
    }
}
