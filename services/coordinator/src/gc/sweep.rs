//! The sweep: batch by batch, what the mark did not find live and is older than the grace
//! period is condemned, the journals are read, and what no journal names is copied into
//! the trash and deleted from the live store under the collector's fence.
//!
//! Per batch, in this order (the model's Condemn, ReadJournals, DeleteBlob,
//! FinishCollection): write `gc/condemned/<generation>` (leased), read every journal of a
//! generation ≥ the collection's, drop what they name, copy the rest into the trash,
//! delete it from the live store (each deletion fenced), clear the condemned set.

use std::collections::{BTreeSet, HashSet};

use cairn_blob::{BlobStoreExt, ObjectInfo};
use cairn_core::Digest;
use cairn_meta::Txn;
use futures::{StreamExt, TryStreamExt, stream};

use super::GcReport;
use super::fence::Claim;
use super::journal::{CONDEMNED_PREFIX, JOURNAL_PREFIX, Relied, decode_lines, encode_lines, journal_generation};
use crate::{CoordError, Coordinator};

/// Objects condemned per batch: the condemned set (≤ 70 bytes a line) stays far below the
/// MetaStore's 64 KiB value limit.
pub(super) const BATCH: usize = 500;
/// Journals read, trash copies made and deletions sent at once.
const CONCURRENCY: usize = 16;

/// A running collection's sweep: whose turn, which generation, what it has read.
pub(super) struct Sweep<'a> {
    pub claim: &'a Claim,
    pub generation: u64,
    /// Only objects last written at or before this (the store's clock) may go.
    pub cutoff_ms: u64,
    pub dry_run: bool,
    /// Journals read so far (they never change once written) and what they name.
    journals_read: HashSet<String>,
    journaled: HashSet<Relied>,
}

impl<'a> Sweep<'a> {
    pub fn new(claim: &'a Claim, generation: u64, cutoff_ms: u64, dry_run: bool) -> Self {
        Self { claim, generation, cutoff_ms, dry_run, journals_read: HashSet::new(), journaled: HashSet::new() }
    }

    fn condemned_key(&self) -> String {
        format!("{CONDEMNED_PREFIX}{:020}", self.generation)
    }
}

/// What one batch removed from the live store.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Removed {
    pub objects: u64,
    pub bytes: u64,
    /// Objects kept: live, young, or protected by a journal or an upload marker.
    pub kept: u64,
}

/// The digest an object key ends with (`…/<hex>`), if any.
pub(super) fn digest_of_key(key: &str) -> Option<Digest> {
    Digest::parse_hex(key.rsplit('/').next()?).ok()
}

impl Coordinator {
    /// Reads the journals of every generation ≥ the collection's not read before.
    // model: ReadJournals
    pub(super) async fn read_journals(&self, sweep: &mut Sweep<'_>) -> Result<(), CoordError> {
        let mut fresh = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.blobs.list(JOURNAL_PREFIX, after.as_deref(), 1000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.clone());
            fresh.extend(page.into_iter().filter(|key| {
                journal_generation(key).is_some_and(|g| g >= sweep.generation) && !sweep.journals_read.contains(key)
            }));
        }
        let bodies: Vec<(String, Option<bytes::Bytes>)> = stream::iter(fresh)
            .map(|key| async move {
                match self.blobs.get_bytes(&key).await {
                    Ok(bytes) => Ok((key, Some(bytes))),
                    // Deleted since it was listed: by a newer collection, which is done with it.
                    Err(cairn_blob::BlobError::NotFound(_)) => Ok((key, None)),
                    Err(err) => Err(CoordError::from(err)),
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        for (key, body) in bodies {
            if let Some(body) = body {
                sweep.journaled.extend(decode_lines(&body));
            }
            sweep.journals_read.insert(key);
        }
        Ok(())
    }

    /// Publishes what this batch is about to delete; requests that rely on any of it wait.
    // model: Condemn
    async fn condemn(&self, sweep: &Sweep<'_>, items: &BTreeSet<Relied>) -> Result<(), CoordError> {
        let txn = Txn::new().put_with_lease(sweep.condemned_key(), encode_lines(items), sweep.claim.lease);
        self.meta.txn(txn).await?;
        Ok(())
    }

    // model: FinishCollection
    pub(super) async fn clear_condemned(&self, sweep: &Sweep<'_>) -> Result<(), CoordError> {
        self.meta.txn(Txn::new().delete(sweep.condemned_key())).await?;
        Ok(())
    }

    /// Condemns `candidates`, drops what a journal names (and, with `uploaded`, blobs
    /// uploaded again within the grace period), then trashes and deletes the rest.
    pub(super) async fn remove_batch(
        &self,
        sweep: &mut Sweep<'_>,
        candidates: Vec<(Relied, Vec<ObjectInfo>)>,
        uploaded: bool,
    ) -> Result<Removed, CoordError> {
        let mut removed = Removed::default();
        if candidates.is_empty() {
            return Ok(removed);
        }
        let items: BTreeSet<Relied> = candidates.iter().map(|(item, _)| item.clone()).collect();
        self.condemn(sweep, &items).await?;
        self.read_journals(sweep).await?;
        let mut doomed = Vec::new();
        for (item, objects) in candidates {
            let fresh_upload = match (&item, uploaded) {
                (Relied::Content(digest), true) => self.uploaded_since(digest, sweep.cutoff_ms).await?,
                _ => false,
            };
            if sweep.journaled.contains(&item) || fresh_upload {
                removed.kept += objects.len() as u64;
            } else {
                doomed.extend(objects);
            }
        }
        let trashed: Vec<(ObjectInfo, Option<u64>)> = stream::iter(doomed)
            .map(|object| async move {
                let size = self.blobs.copy_into_trash(&object.key).await?;
                Ok::<_, CoordError>((object, size))
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let claim = sweep.claim;
        let deleted: Vec<u64> = stream::iter(trashed)
            .filter_map(|(object, size)| async move { size.map(|size| (object, size)) })
            .map(|(object, size)| async move {
                self.fenced_delete(claim, &object.key).await?;
                Ok::<_, CoordError>(size)
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        self.clear_condemned(sweep).await?;
        removed.objects = deleted.len() as u64;
        removed.bytes = deleted.iter().sum();
        Ok(removed)
    }

    /// Sweeps one prefix of content-addressed objects (`<prefix>…/<hex digest>`): what is
    /// not `live` and older than the cut-off goes, batch by batch. Returns the digests
    /// `live` names that the listing did not hold, through `missing` (blob shards only).
    // model: ListCandidates
    pub(super) async fn sweep_content(
        &self,
        prefix: &str,
        sweep: &mut Sweep<'_>,
        live: &(dyn Fn(&Digest) -> bool + Sync),
        report: &mut GcReport,
        is_blobs: bool,
    ) -> Result<Vec<Digest>, CoordError> {
        let mut listed = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.blobs.list_info(prefix, after.as_deref(), BATCH).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            let mut candidates = Vec::new();
            let listed_now = page.len() as u64;
            for object in page {
                let Some(digest) = digest_of_key(&object.key) else { continue };
                if is_blobs {
                    listed.push(digest);
                }
                if !live(&digest) && object.modified_ms <= sweep.cutoff_ms {
                    candidates.push((Relied::Content(digest), vec![object]));
                }
            }
            // Kept: live, younger than the grace period, or journaled.
            let not_candidates = listed_now - candidates.len() as u64;
            if sweep.dry_run {
                let bytes: u64 = candidates.iter().flat_map(|(_, o)| o).map(|o| o.size).sum();
                let removed = Removed { objects: candidates.len() as u64, bytes, kept: not_candidates };
                self.count_removed(report, is_blobs, removed);
                continue;
            }
            let mut removed = self.remove_batch(sweep, candidates, is_blobs).await?;
            removed.kept += not_candidates;
            self.count_removed(report, is_blobs, removed);
        }
        Ok(listed)
    }

    fn count_removed(&self, report: &mut GcReport, is_blobs: bool, removed: Removed) {
        if is_blobs {
            report.deleted_blobs += removed.objects;
            report.kept_blobs += removed.kept;
        } else {
            report.deleted_manifests += removed.objects;
        }
        report.freed_bytes += removed.bytes;
        if !report.dry_run {
            report.trashed_bytes += removed.bytes;
        }
    }

    /// True when the blob was uploaded (or found already stored by an upload) after the
    /// cut-off: its worker left a marker then (a multipart object's own time is when its
    /// upload began, and a re-upload of a stored blob does not rewrite it).
    async fn uploaded_since(&self, digest: &Digest, cutoff_ms: u64) -> Result<bool, CoordError> {
        let marker = cairn_blob::upload_marker_key(digest);
        let found = self.blobs.list_info(&marker, None, 1).await?;
        Ok(found.first().is_some_and(|o| o.key == marker && o.modified_ms > cutoff_ms))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn object_keys_end_with_their_digest() {
        let digest = cairn_core::Digest::of(b"x");
        assert_eq!(super::digest_of_key(&cairn_blob::blob_key(&digest)), Some(digest));
        assert_eq!(super::digest_of_key("manifests/sha256/not-hex"), None);
    }
}
