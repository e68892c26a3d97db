//! The garbage collector: frees blobs, manifests and staging leftovers that nothing refers
//! to, and never a byte something live relies on. docs/lifecycle.md says why it is safe.
//!
//! One collection at a time, cluster-wide: the collector holds `gc/leader`, attached to
//! its replica's lease. A collection
//! 1. opens a new generation (journal.rs), so that requests from now on journal where it
//!    reads;
//! 2. marks: every committed version's manifest and entries, every open draft's base
//!    manifest and staged entries, spilled to disk by shard (marks.rs); any read failure
//!    stops the collection before anything is deleted;
//! 3. sweeps shard by shard, in key order: a blob is deleted only when it is unmarked,
//!    not journaled in an honoured generation (re-read before each batch of deletions),
//!    and older than the grace period; manifests likewise;
//! 4. removes staging segments of ended drafts, upload checkpoints idle for longer than
//!    the grace period and the upload idle time (an hour) with their multipart uploads,
//!    unfinished uploads that no checkpoint records (uploads.rs), and journals no
//!    collection honours any more.
//!
//! Progress (`gc/progress`: generation and next shard) is saved after every shard, so a
//! collection whose collector died is resumed by the next one, which marks again and
//! continues at that shard.

mod journal;
mod marks;
mod uploads;

pub(crate) use journal::journal_prefix;

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use cairn_blob::{discard_stale_upload, upload_resume_token};
use cairn_core::{Digest, DraftRecord, DraftState, StagedOp, VersionRecord};
use cairn_meta::Txn;
use futures::{StreamExt, TryStreamExt, stream};

use crate::clock::now_ms;
use crate::error::{decode, encode};
use crate::{CoordError, Coordinator, keys};

use marks::MarkSet;

/// Key held by the running collector (leased).
const LEADER_KEY: &str = "gc/leader";
/// Key of an unfinished collection's progress.
const PROGRESS_KEY: &str = "gc/progress";
/// Objects listed and deleted per batch.
const BATCH: usize = 1000;
/// Deletions in flight at once.
const DELETE_CONCURRENCY: usize = 32;

/// How to run a collection.
#[derive(Debug, Clone, Copy)]
pub struct GcOptions {
    /// Report what would be deleted, delete nothing.
    pub dry_run: bool,
    /// Only objects older than this may be deleted.
    pub grace: Duration,
}

/// What a collection did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub dry_run: bool,
    pub generation: u64,
    pub deleted_blobs: u64,
    pub freed_bytes: u64,
    pub kept_blobs: u64,
    pub deleted_manifests: u64,
    pub deleted_staging: u64,
    pub deleted_checkpoints: u64,
    pub deleted_journals: u64,
    /// Versions deleted because their time to live passed.
    pub expired_versions: u64,
    /// Versions deleted by retention policies.
    pub retired_versions: u64,
    /// Unfinished uploads no checkpoint recorded, aborted.
    pub aborted_uploads: u64,
    /// Digests marked live (with repeats).
    pub marked: u64,
    pub duration_ms: u64,
}

/// An unfinished collection.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Progress {
    generation: u64,
    next_shard: u16,
}

/// The digests journaled by requests in flight, and which journals they came from: a
/// journal never changes once written, so each re-read before a batch of deletions lists
/// the journals and reads only the new ones (re-reading all of them for each of the 256
/// shards cost one GET per journal per shard).
#[derive(Default)]
struct Journaled {
    read: HashSet<String>,
    digests: HashSet<Digest>,
}

impl Journaled {
    fn contains(&self, digest: &Digest) -> bool {
        self.digests.contains(digest)
    }
}

/// Everything the mark phase found live.
struct Marked {
    blobs: MarkSet,
    manifests: HashSet<Digest>,
    open_uids: HashSet<String>,
    ended_uids: Vec<String>,
    expired_versions: u64,
}

impl Coordinator {
    /// Runs one collection now, if no other collector is running (else `GC_RUNNING`).
    pub async fn collect_garbage(&self, options: GcOptions) -> Result<GcReport, CoordError> {
        let lease = self.node.registration.lease().ok_or(CoordError::SteppedDown)?;
        let claim = Txn::new().when_revision(LEADER_KEY, 0).put_with_lease(LEADER_KEY, self.node.id.clone(), lease);
        if !self.meta.txn(claim).await? {
            let holder = self.meta.get(LEADER_KEY).await?.map(|kv| String::from_utf8_lossy(&kv.value).into_owned());
            return Err(CoordError::GcRunning { holder: holder.unwrap_or_default() });
        }
        let started = Instant::now();
        let result = self.collect(options).await;
        if let Some(kv) = self.meta.get(LEADER_KEY).await?
            && kv.value == self.node.id.as_bytes()
        {
            self.meta.txn(Txn::new().when_revision(LEADER_KEY, kv.mod_revision).delete(LEADER_KEY)).await?;
        }
        let mut report = result?;
        report.duration_ms = started.elapsed().as_millis() as u64;
        crate::metrics::record_gc(&report, started.elapsed());
        tracing::info!(?report, "garbage collection done");
        Ok(report)
    }

    async fn collect(&self, options: GcOptions) -> Result<GcReport, CoordError> {
        let started_ms = now_ms();
        let cutoff_ms = started_ms.saturating_sub(options.grace.as_millis() as u64);
        let (generations, first_shard) = self.open_generation(started_ms, options.dry_run).await?;
        let mut report = GcReport { dry_run: options.dry_run, generation: generations.current, ..GcReport::default() };
        // Retention first: what only retired versions referred to is garbage in this run.
        report.retired_versions = self.apply_retention(options.dry_run).await?;
        let mut marked = self.mark(options.dry_run).await?;
        report.marked = marked.blobs.marked;
        report.expired_versions = marked.expired_versions;
        marked.blobs.finish()?;
        let mut journaled = Journaled::default();
        self.read_journals(&generations, cutoff_ms, &mut journaled).await?;

        for shard in first_shard..=255u8 {
            let live = marked.blobs.shard(shard)?;
            self.sweep_prefix(
                &format!("blobs/sha256/{shard:02x}/"),
                cutoff_ms,
                options,
                &generations,
                &mut journaled,
                &mut report,
                |digest| live.binary_search(digest).is_ok(),
            )
            .await?;
            if !options.dry_run {
                let progress = Progress { generation: generations.current, next_shard: u16::from(shard) + 1 };
                self.meta.txn(Txn::new().put(PROGRESS_KEY, encode(&progress))).await?;
            }
        }
        let mut manifests = GcReport::default();
        self.sweep_prefix(
            "manifests/sha256/",
            cutoff_ms,
            options,
            &generations,
            &mut journaled,
            &mut manifests,
            |digest| marked.manifests.contains(digest),
        )
        .await?;
        report.deleted_manifests = manifests.deleted_blobs;
        report.freed_bytes += manifests.freed_bytes;
        report.deleted_staging = self.sweep_staging(&mut marked, options).await?;
        report.deleted_checkpoints = self.sweep_checkpoints(started_ms, options).await?;
        report.aborted_uploads = self.sweep_incomplete_uploads(started_ms, options).await?;
        if !options.dry_run {
            report.deleted_journals = self.sweep_journals(&generations, cutoff_ms).await?;
            self.meta.txn(Txn::new().delete(PROGRESS_KEY)).await?;
        }
        Ok(report)
    }

    /// Opens the collection's generation, or resumes an unfinished collection's (returning
    /// the shard to continue at).
    async fn open_generation(&self, started_ms: u64, dry_run: bool) -> Result<(journal::Generations, u8), CoordError> {
        loop {
            let (mut generations, revision) = self.generations().await?;
            if let Some(kv) = self.meta.get(PROGRESS_KEY).await? {
                let progress: Progress = decode(PROGRESS_KEY, &kv.value)?;
                if progress.generation == generations.current && progress.next_shard <= 255 && !dry_run {
                    tracing::info!(
                        generation = progress.generation,
                        shard = progress.next_shard,
                        "resuming a collection"
                    );
                    return Ok((generations, progress.next_shard as u8));
                }
            }
            generations.advance(started_ms);
            if self.save_generations(&generations, revision).await? {
                return Ok((generations, 0));
            }
        }
    }

    /// Deletes a version whose time to live passed, unless a user alias names it (kept
    /// until the alias moves); true when it is (or, dry, would be) deleted.
    async fn delete_expired(&self, key: &str, version: &VersionRecord, dry_run: bool) -> Result<bool, CoordError> {
        let mut parts = key.split('/').skip(1);
        let (Some(project), Some(artifact)) = (parts.next(), parts.next()) else { return Ok(false) };
        if self.aliases_of(project, artifact).await?.contains_key(&version.index) {
            return Ok(false);
        }
        if dry_run {
            return Ok(true);
        }
        match self.delete_version(project, &format!("{artifact}:v{}", version.index), false).await {
            Ok(_) => {
                tracing::info!(project, artifact, index = version.index, "version deleted: its time to live passed");
                Ok(true)
            }
            // Deleted meanwhile, or an alias was set meanwhile: nothing to do, keep marking.
            Err(CoordError::VersionNotFound { .. } | CoordError::VersionHasAliases { .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Marks everything live: committed versions and open drafts; deletes (and does not
    /// mark) versions whose time to live has passed.
    async fn mark(&self, dry_run: bool) -> Result<Marked, CoordError> {
        let mut marked = Marked {
            blobs: MarkSet::new()?,
            manifests: HashSet::new(),
            open_uids: HashSet::new(),
            ended_uids: Vec::new(),
            expired_versions: 0,
        };
        let mut after: Option<String> = None;
        loop {
            let page = self.meta.range("versions/", after.as_deref(), BATCH).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for kv in page {
                let version: VersionRecord = decode(&kv.key, &kv.value)?;
                if version.expired(now_ms()) && self.delete_expired(&kv.key, &version, dry_run).await? {
                    marked.expired_versions += 1;
                    if !dry_run {
                        continue; // deleted: what only it referred to is garbage now
                    }
                }
                marked.manifests.insert(version.digest);
            }
        }
        let mut after: Option<String> = None;
        loop {
            let page = self.meta.range(keys::DRAFTS_PREFIX, after.as_deref(), 100).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for kv in page {
                let draft: DraftRecord = decode(&kv.key, &kv.value)?;
                if !matches!(draft.state, DraftState::Open | DraftState::Sealing) {
                    marked.ended_uids.push(draft.uid);
                    continue;
                }
                if let Some(base) = &draft.base {
                    marked.manifests.insert(base.digest);
                }
                // Every entry ever staged, even one removed later: marking more is safe.
                for seq in 0..draft.segments {
                    let key = cairn_blob::staging_key(&draft.uid, seq, draft.segment_fence(seq));
                    let bytes = cairn_blob::BlobStoreExt::get_bytes(&*self.blobs, &key).await?;
                    let op: StagedOp = decode(&key, &bytes)?;
                    for entry in &op.puts {
                        marked.blobs.add(&entry.sha256)?;
                    }
                }
                marked.open_uids.insert(draft.uid);
            }
        }
        let manifests: Vec<Digest> = marked.manifests.iter().copied().collect();
        for digest in manifests {
            let mut pages = self.stream_manifest(digest, 10_000);
            while let Some(page) = pages.recv().await {
                for entry in page? {
                    marked.blobs.add(&entry.sha256)?;
                }
            }
        }
        Ok(marked)
    }

    /// Adds every digest journaled in a generation the collection honours, reading only
    /// the journals not read before.
    async fn read_journals(
        &self,
        generations: &journal::Generations,
        cutoff_ms: u64,
        journaled: &mut Journaled,
    ) -> Result<(), CoordError> {
        let oldest = generations.current.saturating_sub(journal::REMEMBERED as u64);
        for g in (oldest..=generations.current).filter(|g| generations.honours(*g, cutoff_ms)) {
            let prefix = journal_prefix(g);
            let mut after: Option<String> = None;
            loop {
                let page = self.blobs.list(&prefix, after.as_deref(), BATCH).await?;
                let Some(last) = page.last() else { break };
                after = Some(last.clone());
                for key in page {
                    if journaled.read.contains(&key) {
                        continue;
                    }
                    let bytes = cairn_blob::BlobStoreExt::get_bytes(&*self.blobs, &key).await?;
                    for line in String::from_utf8_lossy(&bytes).lines() {
                        if let Ok(digest) = Digest::parse_hex(line.trim()) {
                            journaled.digests.insert(digest);
                        }
                    }
                    journaled.read.insert(key);
                }
            }
        }
        Ok(())
    }

    /// Sweeps one prefix of content-addressed objects (`<prefix><...>/<hex digest>` or
    /// `<prefix><hex digest>`): deletes those not `live`, not journaled, older than the cut-off.
    #[allow(clippy::too_many_arguments)]
    async fn sweep_prefix(
        &self,
        prefix: &str,
        cutoff_ms: u64,
        options: GcOptions,
        generations: &journal::Generations,
        journaled: &mut Journaled,
        report: &mut GcReport,
        live: impl Fn(&Digest) -> bool,
    ) -> Result<(), CoordError> {
        let mut after: Option<String> = None;
        loop {
            let page = self.blobs.list_info(prefix, after.as_deref(), BATCH).await?;
            let Some(last) = page.last() else { return Ok(()) };
            after = Some(last.key.clone());
            let mut candidates = Vec::new();
            for object in page {
                let Some(digest) = object.key.rsplit('/').next().and_then(|hex| Digest::parse_hex(hex).ok()) else {
                    continue; // not a content-addressed object
                };
                if live(&digest) || journaled.contains(&digest) || object.modified_ms > cutoff_ms {
                    report.kept_blobs += 1;
                } else {
                    candidates.push((digest, object));
                }
            }
            if candidates.is_empty() {
                continue;
            }
            // Requests may have journaled some candidates since the last read.
            self.read_journals(generations, cutoff_ms, journaled).await?;
            let (kept, doomed): (Vec<_>, Vec<_>) = candidates.into_iter().partition(|(d, _)| journaled.contains(d));
            report.kept_blobs += kept.len() as u64;
            report.deleted_blobs += doomed.len() as u64;
            report.freed_bytes += doomed.iter().map(|(_, o)| o.size).sum::<u64>();
            if !options.dry_run {
                // Deletions are independent round trips: many at once.
                let blobs = &self.blobs;
                stream::iter(doomed)
                    .map(|(_, object)| async move { blobs.delete(&object.key).await })
                    .buffer_unordered(DELETE_CONCURRENCY)
                    .try_collect::<Vec<()>>()
                    .await?;
            }
        }
    }

    /// Deletes staging segments left by drafts that ended (normally deleted when they end).
    async fn sweep_staging(&self, marked: &mut Marked, options: GcOptions) -> Result<u64, CoordError> {
        let mut deleted = 0;
        let ended: BTreeSet<String> = marked.ended_uids.drain(..).filter(|u| !marked.open_uids.contains(u)).collect();
        for uid in ended {
            let prefix = cairn_blob::staging_prefix(&uid);
            loop {
                let keys = self.blobs.list(&prefix, None, BATCH).await?;
                if keys.is_empty() || options.dry_run {
                    deleted += keys.len() as u64;
                    break;
                }
                for key in keys {
                    self.blobs.delete(&key).await?;
                    deleted += 1;
                }
            }
        }
        Ok(deleted)
    }

    /// Uploads idle since before this are abandoned: idle for longer than the grace period
    /// and the upload idle time (an hour by default; a part upload times out long before).
    pub(super) fn upload_cutoff(&self, started_ms: u64, options: GcOptions) -> u64 {
        started_ms.saturating_sub(options.grace.max(self.config.gc_upload_idle).as_millis() as u64)
    }

    /// Discards uploads whose checkpoint has been idle past [`Self::upload_cutoff`], with
    /// their multipart uploads.
    async fn sweep_checkpoints(&self, started_ms: u64, options: GcOptions) -> Result<u64, CoordError> {
        let cutoff = self.upload_cutoff(started_ms, options);
        let mut deleted = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.blobs.list_info("uploads/sha256/", after.as_deref(), BATCH).await?;
            let Some(last) = page.last() else { return Ok(deleted) };
            after = Some(last.key.clone());
            for object in page.into_iter().filter(|o| o.modified_ms <= cutoff) {
                let hex = object.key.trim_start_matches("uploads/sha256/").trim_end_matches(".checkpoint");
                let Ok(digest) = Digest::parse_hex(hex) else { continue };
                if !options.dry_run {
                    let token = upload_resume_token(&*self.blobs, &digest).await.ok().flatten();
                    discard_stale_upload(&*self.blobs, &digest, token.as_deref()).await;
                }
                deleted += 1;
            }
        }
    }

    /// Deletes the journals of generations no collection honours any more.
    async fn sweep_journals(&self, generations: &journal::Generations, cutoff_ms: u64) -> Result<u64, CoordError> {
        let mut deleted = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.blobs.list("gc/journal/", after.as_deref(), BATCH).await?;
            let Some(last) = page.last() else { return Ok(deleted) };
            after = Some(last.clone());
            for key in page {
                let generation = key.split('/').nth(2).and_then(|g| g.parse::<u64>().ok());
                if generation.is_some_and(|g| !generations.honours(g, cutoff_ms)) {
                    self.blobs.delete(&key).await?;
                    deleted += 1;
                }
            }
        }
    }
}
