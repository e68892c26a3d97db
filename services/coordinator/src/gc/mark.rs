//! The mark: everything live at one MetaStore revision — every committed version's
//! manifest and entries, every open or sealing draft's base manifest and every entry it
//! ever staged — read through one snapshot, so that a draft that commits while the mark
//! runs is seen either as the open draft or as the version, never as neither.
//!
//! Staged segments and manifests are immutable objects that only the collector deletes,
//! and only once nothing at its snapshot refers to them, so reading them after the
//! snapshot reads what the snapshot referred to. One that is missing anyway (a bug, a
//! lost object) is read from the trash, else counted as referenced-but-missing and
//! skipped: one broken version never stops a collection.

use std::collections::HashSet;

use cairn_blob::{BlobError, BlobStoreExt, manifest_key, trash_key};
use cairn_core::{Digest, DraftRecord, DraftState, ManifestDecoder, StagedOp, VersionRecord};
use cairn_meta::{MetaError, Snapshot};
use futures::{StreamExt, TryStreamExt, stream};

use super::marks::MarkSet;
use crate::error::decode;
use crate::{CoordError, Coordinator, keys};

/// Records read per snapshot page.
const PAGE: usize = 500;
/// Staged segments read at once.
const SEGMENT_READS: usize = 16;
/// Times the mark starts again when etcd compacts its revision away mid-scan.
const MARK_ATTEMPTS: usize = 3;

/// Everything the mark found live.
pub(super) struct Marked {
    pub blobs: MarkSet,
    pub manifests: HashSet<Digest>,
    /// Uids of drafts open or sealing at the snapshot: their staged segments are kept.
    pub open_uids: HashSet<String>,
    /// Referenced objects found neither in the store nor in the trash.
    pub referenced_missing: u64,
    /// The snapshot's revision.
    pub revision: i64,
}

impl Coordinator {
    /// Marks everything live at one revision; starts again at a new one if the store
    /// compacts the first away meanwhile (never sweeps on a partial mark).
    // model: MarkSnapshot
    pub(super) async fn mark(&self) -> Result<Marked, CoordError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let snapshot = self.meta.snapshot().await?;
            match self.mark_at(&*snapshot).await {
                Err(CoordError::Meta(MetaError::Compacted(revision))) if attempt < MARK_ATTEMPTS => {
                    tracing::warn!(revision, "the mark's revision was compacted; marking again at a new one");
                }
                other => return other,
            }
        }
    }

    async fn mark_at(&self, snapshot: &dyn Snapshot) -> Result<Marked, CoordError> {
        let mut marked = Marked {
            blobs: MarkSet::new()?,
            manifests: HashSet::new(),
            open_uids: HashSet::new(),
            referenced_missing: 0,
            revision: snapshot.revision(),
        };
        let mut after: Option<String> = None;
        loop {
            let page = snapshot.range("versions/", after.as_deref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for kv in page {
                let version: VersionRecord = decode(&kv.key, &kv.value)?;
                marked.manifests.insert(version.digest);
            }
        }
        let mut after: Option<String> = None;
        loop {
            let page = snapshot.range(keys::DRAFTS_PREFIX, after.as_deref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for kv in page {
                let draft: DraftRecord = decode(&kv.key, &kv.value)?;
                if !matches!(draft.state, DraftState::Open | DraftState::Sealing) {
                    continue;
                }
                if let Some(base) = &draft.base {
                    marked.manifests.insert(base.digest);
                }
                self.mark_staged(&draft, &mut marked).await?;
                marked.open_uids.insert(draft.uid);
            }
        }
        let manifests: Vec<Digest> = marked.manifests.iter().copied().collect();
        for digest in manifests {
            match self.mark_manifest(digest, &mut marked.blobs).await? {
                true => {}
                false => {
                    marked.referenced_missing += 1;
                    crate::metrics::GC_REFERENCED_MISSING.inc();
                    tracing::error!(manifest = %digest, "a live manifest is missing from the store and the trash");
                }
            }
        }
        marked.blobs.finish()?;
        Ok(marked)
    }

    /// Marks every entry a draft ever staged (even ones replaced since: marking more is
    /// safe), reading its segments a few at a time.
    async fn mark_staged(&self, draft: &DraftRecord, marked: &mut Marked) -> Result<(), CoordError> {
        let keys: Vec<String> =
            (0..draft.segments).map(|seq| cairn_blob::staging_key(&draft.uid, seq, draft.segment_fence(seq))).collect();
        let segments: Vec<(String, Option<bytes::Bytes>)> = stream::iter(keys)
            .map(|key| async move {
                let bytes = self.read_or_trashed(&key).await?;
                Ok::<_, CoordError>((key, bytes))
            })
            .buffered(SEGMENT_READS)
            .try_collect()
            .await?;
        for (key, bytes) in segments {
            let Some(bytes) = bytes else {
                marked.referenced_missing += 1;
                crate::metrics::GC_REFERENCED_MISSING.inc();
                tracing::error!(segment = %key, "a staged segment of an open draft is missing");
                continue;
            };
            let op: StagedOp = decode(&key, &bytes)?;
            for entry in &op.puts {
                marked.blobs.add(&entry.sha256)?;
            }
        }
        Ok(())
    }

    /// The object at `key`, else its copy in the trash, else `None`.
    async fn read_or_trashed(&self, key: &str) -> Result<Option<bytes::Bytes>, CoordError> {
        match self.blobs.get_bytes(key).await {
            Ok(bytes) => return Ok(Some(bytes)),
            Err(BlobError::NotFound(_)) => {}
            Err(err) => return Err(err.into()),
        }
        match self.blobs.get_bytes(&trash_key(key)).await {
            Ok(bytes) => {
                tracing::warn!(key, "read from the trash: the live object is missing");
                Ok(Some(bytes))
            }
            Err(BlobError::NotFound(_)) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Marks the entries of manifest `digest` (streamed and verified), read from the store
    /// or else the trash; false when neither has it.
    async fn mark_manifest(&self, digest: Digest, blobs: &mut MarkSet) -> Result<bool, CoordError> {
        for key in [manifest_key(&digest), trash_key(&manifest_key(&digest))] {
            let mut chunks = match self.blobs.get(&key, 0, None).await {
                Ok(chunks) => chunks,
                Err(BlobError::NotFound(_)) => continue,
                Err(err) => return Err(err.into()),
            };
            let mut decoder = ManifestDecoder::new();
            while let Some(chunk) = chunks.next().await {
                for entry in decoder.feed(&chunk?)? {
                    blobs.add(&entry.sha256)?;
                }
            }
            decoder.finish(&digest)?;
            return Ok(true);
        }
        Ok(false)
    }
}
