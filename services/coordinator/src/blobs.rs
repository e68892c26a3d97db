//! The rule "never record an entry whose blob is not stored": every entry's blob is looked
//! up in the BlobStore (which holds only verified blobs) before a change is accepted, after
//! the request journaled it (gc/journal.rs), so that no collection deletes it between the
//! look-up and the commit, which is fenced on the returned ticket.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::gc::{Relied, Ticket};
use crate::{CoordError, Coordinator};
use cairn_blob::blob_key;
use cairn_core::{Digest, Entry};

impl Coordinator {
    /// Fails unless every entry's blob is stored with exactly the declared size.
    pub(crate) async fn verify_blobs_stored(&self, entries: &[Entry]) -> Result<Ticket, CoordError> {
        self.verify_blobs_stored_except(entries, &HashSet::new(), []).await
    }

    /// Like [`Coordinator::verify_blobs_stored`], but takes `known` (digest and size) as
    /// stored without looking: blobs of a live version, which the caller's commit compares
    /// on. Every entry is journaled all the same, with `also` (more objects the caller
    /// relies on, a draft's staging, say).
    pub(crate) async fn verify_blobs_stored_except(
        &self,
        entries: &[Entry],
        known: &HashSet<(Digest, u64)>,
        also: impl IntoIterator<Item = Relied>,
    ) -> Result<Ticket, CoordError> {
        // Keyed by digest and size: two entries naming one digest with two sizes are both
        // checked (at least one of them is wrong).
        let mut first_use: BTreeMap<(Digest, u64), Entry> = BTreeMap::new();
        for entry in entries {
            first_use.entry((entry.sha256, entry.size)).or_insert_with(|| entry.clone());
        }
        let digests: BTreeSet<Digest> = first_use.keys().map(|(digest, _)| *digest).collect();
        let ticket = self.rely_on(digests.into_iter().map(Relied::Content).chain(also)).await?;
        first_use.retain(|key, _| !known.contains(key));
        // model: CheckStored
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
        Ok(ticket)
    }

    /// Digests among `digests` that are not stored, in the given order. The answer is
    /// advice: a request that then refers to a digest reported present looks it up again.
    // model: FindMissing
    pub async fn find_missing_blobs(&self, digests: &[Digest]) -> Result<Vec<Digest>, CoordError> {
        // Journaled, so that the collection running now (if any) keeps what this reports
        // present, and what the client uploads next, until the client refers to it.
        self.rely_on(digests.iter().copied().map(Relied::Content)).await?;
        let sizes = self.blobs.head_many(digests.iter().map(blob_key).collect()).await?;
        Ok(digests.iter().zip(sizes).filter(|(_, size)| size.is_none()).map(|(d, _)| *d).collect())
    }
}
