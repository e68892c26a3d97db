//! The garbage collector: frees blobs, manifests and staged segments that nothing refers
//! to, and never one something live relies on. docs/lifecycle.md says why it is safe,
//! claim by claim, and crates/cairn-gc-model checks the argument; each step below names
//! the model action it performs (`// model: …`).
//!
//! One collection at a time, cluster-wide (fence.rs): the collector holds `gc/leader` on
//! its replica's lease. A collection
//! 1. claims the turn and drops journals no collection honours any more;
//! 2. applies retention policies and times to live (deleting versions);
//! 3. opens a new generation (journal.rs): from now on requests journal under it, and a
//!    request that journaled under an older one can no longer commit;
//! 4. marks everything live at one MetaStore revision (mark.rs);
//! 5. sweeps blob shards, then manifests, then staged segments (sweep.rs, staging.rs):
//!    per batch, condemn, read the journals of generations ≥ its own, trash and delete
//!    under the fence what no journal names;
//! 6. tidies uploads, markers and the trash (housekeeping.rs, uploads.rs).
//!
//! A dry run claims the turn too but opens no generation and writes nothing but the clock
//! probe. Progress (`gc/progress`: the generation and the next shard) is saved after every
//! shard, so a collection whose collector died is resumed by the next one, which marks
//! again (under a new generation) and continues at that shard.

mod fence;
mod housekeeping;
mod journal;
mod mark;
mod marks;
mod staging;
mod sweep;
mod uploads;

pub(crate) use journal::{Relied, Ticket};

use std::time::{Duration, Instant};

use cairn_core::VersionRecord;
use cairn_meta::{COORDINATORS_PREFIX, Member, Txn};

use crate::clock::now_ms;
use crate::error::{decode, encode};
use crate::{CoordError, Coordinator};

use fence::Claim;
use sweep::Sweep;

/// Key of an unfinished collection's progress.
const PROGRESS_KEY: &str = "gc/progress";
/// The version of this collection protocol, registered by every coordinator: a collector
/// refuses to run beside a replica that does not follow it (docs/operations.md).
pub const GC_PROTOCOL: u32 = 2;

/// How to run a collection.
#[derive(Debug, Clone, Copy)]
pub struct GcOptions {
    /// Report what would be deleted, delete nothing.
    pub dry_run: bool,
    /// Only objects older than this may be deleted.
    pub grace: Duration,
    /// Empty the trash, whatever its age.
    pub purge_trash: bool,
}

/// What a collection did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub dry_run: bool,
    pub generation: u64,
    /// Blobs that left the live store (moved to the trash).
    pub deleted_blobs: u64,
    /// Bytes of blobs and manifests that left the live store.
    pub freed_bytes: u64,
    /// Candidates kept because a request in flight journaled them.
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
    /// Bytes moved into the trash by this collection.
    pub trashed_bytes: u64,
    /// Objects deleted from the trash (past its retention, or all with `purge_trash`).
    pub purged_blobs: u64,
    /// Bytes left in the trash afterwards.
    pub trash_bytes: u64,
    /// Objects live versions or open drafts refer to that are not in the store.
    pub referenced_missing: u64,
    pub duration_ms: u64,
}

/// An unfinished collection.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Progress {
    generation: u64,
    next_shard: u16,
}

impl Coordinator {
    /// Runs one collection now, if no other collector is running (else `GC_RUNNING`).
    pub async fn collect_garbage(&self, options: GcOptions) -> Result<GcReport, CoordError> {
        self.refuse_beside_older_replicas().await?;
        let claim = self.claim_collector().await?;
        let started = Instant::now();
        let result = self.collect(&claim, options).await;
        self.release_collector(&claim).await;
        let mut report = result?;
        report.duration_ms = started.elapsed().as_millis() as u64;
        crate::metrics::record_gc(&report, started.elapsed());
        tracing::info!(?report, "garbage collection done");
        Ok(report)
    }

    /// Refuses to collect while a replica registered without this protocol version runs:
    /// it neither fences its commits on the generation nor waits for condemned blobs.
    async fn refuse_beside_older_replicas(&self) -> Result<(), CoordError> {
        for kv in self.meta.range(COORDINATORS_PREFIX, None, 10_000).await? {
            let member = Member::decode(&kv.value)?;
            if member.gc_protocol < GC_PROTOCOL {
                return Err(CoordError::GcProtocolMismatch { node_id: member.node_id, protocol: member.gc_protocol });
            }
        }
        Ok(())
    }

    async fn collect(&self, claim: &Claim, options: GcOptions) -> Result<GcReport, CoordError> {
        let store_now = self.store_now_ms().await?;
        let cutoff_ms = store_now.saturating_sub(options.grace.as_millis() as u64);
        let (mut generations, revision) = self.generations().await?;
        let mut report = GcReport { dry_run: options.dry_run, ..GcReport::default() };
        if !options.dry_run {
            report.deleted_journals = self.drop_old_journals(generations.current).await?;
        }
        // Retention and times to live first: what only those versions referred to is
        // garbage in this collection.
        report.retired_versions = self.apply_retention(options.dry_run).await?;
        report.expired_versions = self.apply_expiry(options.dry_run).await?;
        let first_shard = match options.dry_run {
            true => 0,
            false => {
                let resume = self.resumable_shard(generations.current).await?;
                // model: OpenGeneration
                generations.advance(now_ms());
                if !self.save_generations(&generations, revision).await? {
                    return Err(CoordError::ConcurrentUpdate(journal::GENERATION_KEY.to_owned()));
                }
                resume
            }
        };
        report.generation = generations.current;
        let mut sweep = Sweep::new(claim, generations.current, cutoff_ms, options.dry_run);
        let swept = self.mark_and_sweep(&mut sweep, first_shard, &mut report).await;
        if !options.dry_run {
            // Whatever happened, nothing stays condemned (it would make requests wait).
            let _ = self.clear_condemned(&sweep).await;
        }
        swept?;
        report.deleted_checkpoints = self.sweep_checkpoints(store_now, cutoff_ms, options).await?;
        report.aborted_uploads = self.sweep_incomplete_uploads(store_now, options).await?;
        self.purge_trash(store_now, options.purge_trash, options.dry_run, &mut report).await?;
        if !options.dry_run {
            self.meta.txn(Txn::new().delete(PROGRESS_KEY)).await?;
        }
        Ok(report)
    }

    async fn mark_and_sweep(
        &self,
        sweep: &mut Sweep<'_>,
        first_shard: u8,
        report: &mut GcReport,
    ) -> Result<(), CoordError> {
        let marked = self.mark().await?;
        tracing::info!(revision = marked.revision, marked = marked.blobs.marked, "marked everything live");
        report.marked = marked.blobs.marked;
        report.referenced_missing += marked.referenced_missing;
        for shard in first_shard..=255u8 {
            let live = marked.blobs.shard(shard)?;
            let listed = self
                .sweep_content(
                    &format!("blobs/sha256/{shard:02x}/"),
                    sweep,
                    &|digest| live.binary_search(digest).is_ok(),
                    report,
                    true,
                )
                .await?;
            // The existence check, on the way: every marked digest must have been listed.
            let missing = live.iter().filter(|d| listed.binary_search(d).is_err()).count() as u64;
            if missing > 0 {
                crate::metrics::GC_REFERENCED_MISSING.inc_by(missing);
                tracing::error!(shard, missing, "blobs that live versions or open drafts refer to are missing");
                report.referenced_missing += missing;
            }
            if !sweep.dry_run {
                let progress = Progress { generation: sweep.generation, next_shard: u16::from(shard) + 1 };
                self.meta.txn(Txn::new().put(PROGRESS_KEY, encode(&progress))).await?;
            }
        }
        self.sweep_content("manifests/sha256/", sweep, &|digest| marked.manifests.contains(digest), report, false)
            .await?;
        self.sweep_staging(sweep, &marked.open_uids, report).await
    }

    /// The shard an unfinished collection of the previous generation stopped at (0 when
    /// there is none, or a collection finished since).
    async fn resumable_shard(&self, current: u64) -> Result<u8, CoordError> {
        let Some(kv) = self.meta.get(PROGRESS_KEY).await? else { return Ok(0) };
        let progress: Progress = decode(PROGRESS_KEY, &kv.value)?;
        if progress.generation == current && progress.next_shard <= 255 {
            tracing::info!(generation = current, shard = progress.next_shard, "resuming a collection");
            return Ok(progress.next_shard as u8);
        }
        Ok(0)
    }

    /// Deletes every version whose time to live passed, unless a user alias names it
    /// (kept until the alias moves); returns how many (would be) deleted.
    async fn apply_expiry(&self, dry_run: bool) -> Result<u64, CoordError> {
        let mut expired = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.meta.range("versions/", after.as_deref(), 500).await?;
            let Some(last) = page.last() else { return Ok(expired) };
            after = Some(last.key.clone());
            for kv in page {
                let version: VersionRecord = decode(&kv.key, &kv.value)?;
                if !version.expired(now_ms()) {
                    continue;
                }
                let Some((project, artifact, _)) = crate::keys::parse_version(&kv.key) else { continue };
                if self.aliases_of(project, artifact).await?.contains_key(&version.index) {
                    continue;
                }
                if !dry_run {
                    let reference = format!("{artifact}:v{}", version.index);
                    match self.delete_version(project, &reference, false).await {
                        Ok(_) => tracing::info!(project, artifact, index = version.index, "version expired"),
                        // Deleted or aliased meanwhile: nothing to do.
                        Err(CoordError::VersionNotFound { .. } | CoordError::VersionHasAliases { .. }) => continue,
                        Err(err) => return Err(err),
                    }
                }
                expired += 1;
            }
        }
    }
}
