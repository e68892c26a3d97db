//! Drafts: the distributed lifecycle (upsert, seal, finish, abort, expiry).
//!
//! The draft record (state, writers, counters) is one small MetaStore value, changed only
//! by compare-and-swap. Each accepted change is an immutable segment object in the
//! BlobStore, `staging/<uid>/<seq>-<owner revision>`, so nothing proportional to the number
//! of entries goes into the MetaStore. The coordinator keeps each draft's entries in memory, rebuilt from
//! the base manifest and the segments whenever its copy is behind the record.
//! Requests for one draft are serialized by a per-draft lock inside a replica
//! (draft_cache.rs), and across
//! replicas by ownership (ownership.rs): only the owner writes the draft, and every write
//! is fenced on the owner key's revision.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use cairn_blob::{BlobStoreExt, staging_key};
use cairn_core::{
    BaseVersion, ConflictPolicy, CoreError, DraftRecord, DraftState, Entry, EntryPath, FinishDecision, Selector,
    StagedIndex, StagedOp, validate_artifact, validate_distributed_id, validate_project, validate_request_id,
    validate_type, validate_writer_id,
};
use cairn_meta::Txn;

use crate::clock::now_ms;
use crate::commit::{DraftFence, NewVersion, Reliance, normalize_metadata, validate_aliases};
use crate::draft_cache::Slot;
use crate::error::{decode, encode};
use crate::gc::{Relied, Ticket};
use crate::manifests::encode_sorted;
use crate::ownership::Ownership;
use crate::versions::ResolvedVersion;
use crate::{CoordError, Coordinator, MAX_ENTRIES_PER_REQUEST, keys};

/// One writer's change, validated for syntax.
#[derive(Debug, Clone)]
pub struct UpsertCommand {
    pub project: String,
    pub artifact: String,
    pub artifact_type: String,
    pub distributed_id: String,
    pub writer: String,
    pub puts: Vec<Entry>,
    pub removes: Vec<EntryPath>,
    pub expected_writers: Option<u32>,
    pub seal: bool,
    pub policy: ConflictPolicy,
    pub base: Option<Selector>,
    pub ttl_ms: u64,
    /// Client-chosen id; a retry of the writer's last applied upsert is not applied again.
    pub request_id: String,
}

/// A finish request.
#[derive(Debug, Clone)]
pub struct FinishCommand {
    pub project: String,
    pub artifact: String,
    pub distributed_id: String,
    pub aliases: Vec<String>,
    pub wait: Duration,
    pub force: bool,
    pub expected_writers: Option<u32>,
    pub metadata_json: String,
    /// Time to live of the new version.
    pub ttl_ms: Option<u64>,
}

/// What callers see of a draft.
#[derive(Debug, Clone)]
pub struct DraftView {
    /// The persisted record.
    pub record: DraftRecord,
    /// Entries the version would have now (0 once the draft ended).
    pub staged_entries: u64,
    /// Entries per writer.
    pub writer_entries: BTreeMap<String, u64>,
}

fn view(record: DraftRecord, index: &StagedIndex) -> DraftView {
    let writer_entries = record.writers.keys().map(|w| (w.clone(), index.writer_entries(w))).collect();
    let staged_entries = match record.state {
        DraftState::Open | DraftState::Sealing => index.len() as u64,
        _ => 0,
    };
    DraftView { record, staged_entries, writer_entries }
}

fn validate_draft_names(project: &str, artifact: &str, distributed_id: &str) -> Result<(), CoordError> {
    validate_project(project)?;
    validate_artifact(artifact)?;
    validate_distributed_id(distributed_id)?;
    Ok(())
}

impl Coordinator {
    async fn read_draft(&self, key: &str) -> Result<Option<(DraftRecord, i64)>, CoordError> {
        match self.meta.get(key).await? {
            Some(kv) => Ok(Some((decode(key, &kv.value)?, kv.mod_revision))),
            None => Ok(None),
        }
    }

    /// Writes `record` if the stored revision is still `revision` and this replica still
    /// owns the draft; returns the new revision.
    async fn save_draft(
        &self,
        key: &str,
        record: &DraftRecord,
        revision: i64,
        owner: &Ownership,
    ) -> Result<i64, CoordError> {
        self.save_draft_relying(key, record, revision, owner, &Reliance::default()).await
    }

    /// [`Self::save_draft`] of a change that relies on stored objects: refused with
    /// [`CoordError::RelianceLost`] when a collection began since they were checked.
    // model: SaveDraft
    async fn save_draft_relying(
        &self,
        key: &str,
        record: &DraftRecord,
        revision: i64,
        owner: &Ownership,
        reliance: &Reliance,
    ) -> Result<i64, CoordError> {
        let txn =
            Txn::new().when_revision(key, revision).when_revision(&owner.key, owner.revision).put(key, encode(record));
        if !self.meta.txn(reliance.fence(txn)).await? {
            if self.reliance_lost(reliance).await? {
                return Err(CoordError::RelianceLost);
            }
            return Err(CoordError::ConcurrentUpdate(key.to_owned()));
        }
        let stored = self.meta.get(key).await?.ok_or_else(|| CoordError::ConcurrentUpdate(key.to_owned()))?;
        Ok(stored.mod_revision)
    }

    /// Brings the in-memory entries up to the record: base manifest, then missing segments.
    async fn sync_slot(&self, slot: &mut Slot, record: &DraftRecord) -> Result<(), CoordError> {
        if slot.uid != record.uid {
            slot.index = match &record.base {
                Some(base) => StagedIndex::from_base(self.read_manifest(base.digest).await?),
                None => StagedIndex::default(),
            };
            slot.uid = record.uid.clone();
            slot.loaded_segments = 0;
        }
        while slot.loaded_segments < record.segments {
            let seq = slot.loaded_segments;
            let key = staging_key(&record.uid, seq, record.segment_fence(seq));
            let op: StagedOp = decode(&key, &self.blobs.get_bytes(&key).await?)?;
            slot.index.apply(&op);
            slot.loaded_segments += 1;
        }
        Ok(())
    }

    /// If the open draft is past its `expires_at`, records EXPIRED and refuses.
    async fn refuse_if_expired(
        &self,
        key: &str,
        record: &DraftRecord,
        revision: i64,
        owner: &Ownership,
    ) -> Result<(), CoordError> {
        let mut expired = record.clone();
        if expired.expire_if_due(now_ms()) {
            self.save_draft(key, &expired, revision, owner).await?;
            self.release_draft(key, owner).await;
            tracing::info!(draft = %key, "draft expired");
            return Err(CoreError::DraftExpired { distributed_id: record.distributed_id.clone() }.into());
        }
        Ok(())
    }

    /// Frees an ended draft's ownership and in-memory entries. Its staged segments stay
    /// until the collector finds the draft ended (gc/staging.rs): a collection marking at
    /// a revision where the draft was still open must be able to read them.
    async fn release_draft(&self, key: &str, owner: &Ownership) {
        self.release_ownership(owner).await;
        self.drafts.forget(key);
    }

    /// Reads a draft for an operation that changes it: ended drafts are answered from the
    /// record alone; open ones are first acquired (or handed to their owner), then re-read.
    async fn owned_draft(
        &self,
        key: &str,
        project: &str,
        artifact: &str,
        distributed_id: &str,
    ) -> Result<(Option<(DraftRecord, i64)>, Option<Ownership>), CoordError> {
        let found = self.read_draft(key).await?;
        if let Some((record, _)) = &found
            && !matches!(record.state, DraftState::Open | DraftState::Sealing)
        {
            return Ok((found, None));
        }
        let owner = self.acquire_ownership(project, artifact, distributed_id).await?;
        Ok((self.read_draft(key).await?, Some(owner)))
    }

    /// Like [`Self::owned_draft`] for operations on an existing draft: an unknown draft is
    /// refused, and the ownership taken to look for it is given back at once.
    async fn owned_existing_draft(
        &self,
        key: &str,
        project: &str,
        artifact: &str,
        distributed_id: &str,
    ) -> Result<((DraftRecord, i64), Option<Ownership>), CoordError> {
        match self.owned_draft(key, project, artifact, distributed_id).await? {
            (Some(found), owner) => Ok((found, owner)),
            (None, owner) => {
                if let Some(owner) = owner {
                    self.release_ownership(&owner).await;
                }
                Err(not_found(artifact, distributed_id))
            }
        }
    }

    /// Applies one writer's change, opening the draft on first use.
    pub async fn upsert(&self, cmd: UpsertCommand) -> Result<DraftView, CoordError> {
        validate_draft_names(&cmd.project, &cmd.artifact, &cmd.distributed_id)?;
        validate_type(&cmd.artifact_type)?;
        validate_writer_id(&cmd.writer)?;
        if !cmd.request_id.is_empty() {
            validate_request_id(&cmd.request_id)?;
        }
        let count = cmd.puts.len() + cmd.removes.len();
        if count > MAX_ENTRIES_PER_REQUEST {
            return Err(CoreError::TooManyEntries { count, limit: MAX_ENTRIES_PER_REQUEST }.into());
        }
        let key = keys::draft(&cmd.project, &cmd.artifact, &cmd.distributed_id);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let ticket = self.verify_blobs_stored(&cmd.puts).await?;
            match self.upsert_checked(&key, &cmd, ticket).await {
                Err(CoordError::RelianceLost) if attempt < RELIANCE_ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    /// An upsert whose blobs were checked under `ticket`.
    async fn upsert_checked(&self, key: &str, cmd: &UpsertCommand, ticket: Ticket) -> Result<DraftView, CoordError> {
        let lease = self.drafts.lease(key);
        let mut slot = lease.lock().await;
        let (found, owner) = self.owned_draft(key, &cmd.project, &cmd.artifact, &cmd.distributed_id).await?;
        let created = found.is_none();
        let applied = self.apply_upsert(key, cmd, found, owner.clone(), &mut slot, ticket).await;
        if applied.is_err() && created {
            // Nothing was opened: give back what looking for the draft took.
            *slot = Slot::default();
            if let Some(owner) = &owner {
                self.release_ownership(owner).await;
            }
        }
        applied
    }

    async fn apply_upsert(
        &self,
        key: &str,
        cmd: &UpsertCommand,
        found: Option<(DraftRecord, i64)>,
        owner: Option<Ownership>,
        slot: &mut Slot,
        ticket: Ticket,
    ) -> Result<DraftView, CoordError> {
        let now = now_ms();
        let mut reliance = Reliance::on(ticket);
        let (record, revision) = match found {
            Some((record, revision)) => {
                if record.artifact_type != cmd.artifact_type {
                    return Err(CoreError::TypeMismatch {
                        artifact: cmd.artifact.clone(),
                        existing: record.artifact_type.clone(),
                        requested: cmd.artifact_type.clone(),
                    }
                    .into());
                }
                record.require_open()?;
                (record, revision)
            }
            None => {
                let (record, base_revision) = self.new_draft_record(cmd, now).await?;
                // A new draft's segments and base manifest are known to no collection that
                // marked before it exists: journaled, under the same generation.
                let mut relied = vec![Relied::Staging(record.uid.clone())];
                if let (Some(base), Some(revision)) = (&record.base, base_revision) {
                    relied.push(Relied::Content(base.digest));
                    // model: OpenEditDraft
                    reliance.versions.push((keys::version(&cmd.project, &cmd.artifact, base.index), revision));
                }
                if self.rely_on(relied).await?.revision != ticket.revision {
                    return Err(CoordError::RelianceLost);
                }
                (record, 0)
            }
        };
        let owner = owner.ok_or(CoordError::SteppedDown)?;
        self.refuse_if_expired(key, &record, revision, &owner).await?;
        self.sync_slot(slot, &record).await?;
        if record.already_applied(&cmd.writer, &cmd.request_id) {
            // A retry whose first attempt was applied and acknowledged, though the answer
            // was lost: answer again (a removal must not now fail as PATH_NOT_FOUND).
            return Ok(view(record, &slot.index));
        }

        let mut next = record.clone();
        let op = next.upsert(&slot.index, &cmd.writer, &cmd.puts, &cmd.removes, cmd.expected_writers, cmd.seal, now)?;
        next.note_request(&cmd.writer, &cmd.request_id);
        if let Some(op) = &op {
            next.fence_last_segment(owner.revision);
            let seq = next.segments - 1;
            let segment = staging_key(&next.uid, seq, next.segment_fence(seq));
            self.blobs.put_bytes(&segment, Bytes::from(encode(op))).await?;
        }
        self.save_draft_relying(key, &next, revision, &owner, &reliance).await?;
        if let Some(op) = &op {
            slot.index.apply(op);
            slot.loaded_segments = next.segments;
        }
        Ok(view(next, &slot.index))
    }

    /// A new draft's record, and the revision of its base version's record (if any).
    async fn new_draft_record(&self, cmd: &UpsertCommand, now: u64) -> Result<(DraftRecord, Option<i64>), CoordError> {
        if let Some((artifact, _)) = self.load_artifact(&cmd.project, &cmd.artifact).await? {
            artifact.check_type(&cmd.artifact, &cmd.artifact_type)?;
        }
        self.check_open_drafts_quota(&cmd.project).await?;
        let (base, base_revision) = match &cmd.base {
            Some(selector) => {
                let version = self.resolve(&cmd.project, &cmd.artifact, selector).await?;
                let index = version.record.index;
                let (_, revision) = self
                    .load_version(&cmd.project, &cmd.artifact, index)
                    .await?
                    .ok_or_else(|| CoordError::VersionNotFound { reference: format!("{}:v{index}", cmd.artifact) })?;
                (Some(BaseVersion { index, digest: version.record.digest }), Some(revision))
            }
            None => (None, None),
        };
        let record = DraftRecord::new(
            uuid::Uuid::new_v4().to_string(),
            &cmd.project,
            &cmd.artifact,
            &cmd.distributed_id,
            &cmd.artifact_type,
            cmd.policy,
            base,
            cmd.ttl_ms,
            now,
        );
        Ok((record, base_revision))
    }

    /// Seals a writer of an existing draft.
    pub async fn seal_writer(
        &self,
        project: &str,
        artifact: &str,
        distributed_id: &str,
        writer: &str,
    ) -> Result<DraftView, CoordError> {
        validate_draft_names(project, artifact, distributed_id)?;
        validate_writer_id(writer)?;
        let key = keys::draft(project, artifact, distributed_id);
        let lease = self.drafts.lease(&key);
        let mut slot = lease.lock().await;
        let ((record, revision), owner) = self.owned_existing_draft(&key, project, artifact, distributed_id).await?;
        let mut next = record.clone();
        let Some(owner) = owner else {
            next.seal_writer(writer, now_ms())?; // refuses with the ended state's reason
            return Err(CoordError::SteppedDown);
        };
        self.refuse_if_expired(&key, &record, revision, &owner).await?;
        next.seal_writer(writer, now_ms())?;
        self.save_draft(&key, &next, revision, &owner).await?;
        self.sync_slot(&mut slot, &next).await?;
        Ok(view(next, &slot.index))
    }

    /// Reads a draft. Open drafts are read by their owner, which holds their entries.
    pub async fn get_draft(
        &self,
        project: &str,
        artifact: &str,
        distributed_id: &str,
    ) -> Result<DraftView, CoordError> {
        validate_draft_names(project, artifact, distributed_id)?;
        let key = keys::draft(project, artifact, distributed_id);
        let lease = self.drafts.lease(&key);
        let mut slot = lease.lock().await;
        let ((mut record, revision), owner) =
            self.owned_existing_draft(&key, project, artifact, distributed_id).await?;
        let Some(owner) = owner else { return Ok(view(record, &StagedIndex::default())) };
        if self.refuse_if_expired(&key, &record, revision, &owner).await.is_err() {
            record.state = DraftState::Expired;
            return Ok(view(record, &StagedIndex::default()));
        }
        self.sync_slot(&mut slot, &record).await?;
        Ok(view(record, &slot.index))
    }

    /// Commits a draft, waiting up to `cmd.wait` for its writers; idempotent.
    pub async fn finish(&self, cmd: FinishCommand) -> Result<(ResolvedVersion, bool), CoordError> {
        validate_draft_names(&cmd.project, &cmd.artifact, &cmd.distributed_id)?;
        validate_aliases(&cmd.aliases)?;
        let metadata_json = normalize_metadata(&cmd.metadata_json)?;
        let key = keys::draft(&cmd.project, &cmd.artifact, &cmd.distributed_id);
        let deadline = tokio::time::Instant::now() + cmd.wait.min(self.config.max_finish_wait);
        loop {
            let lease = self.drafts.lease(&key);
            let mut slot = lease.lock().await;
            let ((record, revision), owner) =
                self.owned_existing_draft(&key, &cmd.project, &cmd.artifact, &cmd.distributed_id).await?;
            if let Some(owner) = &owner {
                self.refuse_if_expired(&key, &record, revision, owner).await?;
            }
            let mut sealing = record.clone();
            match sealing.begin_finish(cmd.force, cmd.expected_writers) {
                Ok(FinishDecision::AlreadyCommitted { index, dedup }) => {
                    let version = self.resolve(&cmd.project, &cmd.artifact, &Selector::Index(index)).await?;
                    return Ok((version, dedup));
                }
                Ok(FinishDecision::Commit) => {
                    let owner = owner.ok_or(CoordError::SteppedDown)?;
                    let revision = if record.state == DraftState::Sealing {
                        revision
                    } else {
                        self.save_draft(&key, &sealing, revision, &owner).await?
                    };
                    return self.commit_sealed(&key, &mut slot, sealing, revision, &owner, &cmd, metadata_json).await;
                }
                Err(CoreError::WritersStillActive { .. }) if tokio::time::Instant::now() < deadline => {
                    drop(slot);
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    tokio::time::sleep(left.min(Duration::from_millis(200))).await;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn commit_sealed(
        &self,
        key: &str,
        slot: &mut Slot,
        sealing: DraftRecord,
        revision: i64,
        owner: &Ownership,
        cmd: &FinishCommand,
        metadata_json: String,
    ) -> Result<(ResolvedVersion, bool), CoordError> {
        let result = async {
            self.sync_slot(slot, &sealing).await?;
            let manifest = encode_sorted(slot.index.entries())?;
            let new = NewVersion {
                project: cmd.project.clone(),
                artifact: cmd.artifact.clone(),
                artifact_type: sealing.artifact_type.clone(),
                digest: manifest.digest,
                files: manifest.files,
                bytes: manifest.total_bytes,
                metadata_json,
                producers: sealing.writers.keys().cloned().collect(),
                aliases: cmd.aliases.clone(),
                request_id: None, // a finish is idempotent through its draft's state
                ttl_ms: cmd.ttl_ms,
                reliance: Reliance::default(),
            };
            let fence = DraftFence { key: key.to_owned(), revision, record: sealing.clone(), owner: owner.clone() };
            let mut new = new;
            let mut attempt = 0;
            loop {
                attempt += 1;
                // The staged blobs are the open draft's, which every collection marks; the
                // manifest is relied on like any looked-up object.
                // model: FinishDraft
                new.reliance = Reliance::on(self.store_manifest(manifest.clone()).await?);
                match self.commit_version(&new, Some(&fence)).await {
                    Err(CoordError::RelianceLost) if attempt < RELIANCE_ATTEMPTS => continue,
                    other => break other,
                }
            }
        }
        .await;
        match result {
            Ok((version, dedup)) => {
                self.release_draft(key, owner).await;
                let resolved = self.resolve(&cmd.project, &cmd.artifact, &Selector::Index(version.index)).await?;
                Ok((resolved, dedup))
            }
            Err(err) => {
                // SEALING → OPEN so that finish can be retried; a lost fence means someone
                // else owns the draft now and the record must not be touched.
                if !matches!(err, CoordError::ConcurrentUpdate(_)) {
                    let mut reopened = sealing.clone();
                    reopened.reopen(now_ms());
                    if let Err(reopen_err) = self.save_draft(key, &reopened, revision, owner).await {
                        tracing::warn!(error = %reopen_err, draft = %key, "could not reopen draft after failed commit");
                    }
                }
                Err(err)
            }
        }
    }

    /// Abandons a draft.
    pub async fn abort(&self, project: &str, artifact: &str, distributed_id: &str) -> Result<DraftView, CoordError> {
        validate_draft_names(project, artifact, distributed_id)?;
        let key = keys::draft(project, artifact, distributed_id);
        let lease = self.drafts.lease(&key);
        let _slot = lease.lock().await;
        let ((record, revision), owner) = self.owned_existing_draft(&key, project, artifact, distributed_id).await?;
        let mut next = record.clone();
        next.expire_if_due(now_ms());
        next.abort()?;
        if next.state != record.state {
            next.ended_at_ms = now_ms();
        }
        if let Some(owner) = owner
            && next != record
        {
            self.save_draft(&key, &next, revision, &owner).await?;
            self.release_draft(&key, &owner).await;
            tracing::info!(draft = %key, "draft aborted");
        }
        Ok(view(next, &StagedIndex::default()))
    }

    /// Expires every open or sealing draft past its `expires_at` that this replica can own,
    /// and releases its staged data. One unreadable record or failed draft does not stop
    /// the sweep; the next sweep tries it again.
    pub async fn sweep_expired_drafts(&self) -> Result<SweepReport, CoordError> {
        let mut report = SweepReport::default();
        let mut after: Option<String> = None;
        loop {
            let page = self.meta.range(keys::DRAFTS_PREFIX, after.as_deref(), SWEEP_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for kv in page {
                report.scanned += 1;
                let record: DraftRecord = match decode(&kv.key, &kv.value) {
                    Ok(record) => record,
                    Err(err) => {
                        report.failed += 1;
                        tracing::warn!(draft = %kv.key, error = %err, "unreadable draft record skipped by the expiry sweep");
                        continue;
                    }
                };
                if record.prunable(now_ms(), self.config.draft_retention.as_millis() as u64) {
                    match self.prune_draft(&kv.key, kv.mod_revision).await {
                        Ok(true) => report.pruned += 1,
                        Ok(false) => {}
                        Err(err) => {
                            report.failed += 1;
                            tracing::warn!(draft = %kv.key, error = %err, "could not prune an ended draft record");
                        }
                    }
                    continue;
                }
                if record.has_ended() || now_ms() < record.expires_at_ms {
                    continue;
                }
                match self.expire_draft(&kv.key, &record).await {
                    Ok(true) => report.expired += 1,
                    Ok(false) => {}
                    Err(err) => {
                        report.failed += 1;
                        tracing::warn!(draft = %kv.key, error = %err, "could not expire draft; the next sweep retries");
                    }
                }
            }
        }
        self.forget_drafts_owned_elsewhere().await;
        Ok(report)
    }

    /// Forgets an ended draft's record (and any owner key left with it), unless it changed
    /// since it was read. Afterwards its `distributed_id` is unknown: a late finish gets
    /// DRAFT_NOT_FOUND, a late upsert opens a new draft.
    async fn prune_draft(&self, key: &str, revision: i64) -> Result<bool, CoordError> {
        let mut txn = Txn::new().when_revision(key, revision).delete(key);
        if let Some(owner_key) = keys::owner_of_draft(key) {
            txn = txn.delete(owner_key);
        }
        let pruned = self.meta.txn(txn).await?;
        if pruned {
            self.drafts.forget(key);
        }
        Ok(pruned)
    }

    /// Expires one due draft if this replica can own it; false when another replica owns
    /// it (that one sweeps it) or it is no longer due.
    async fn expire_draft(&self, key: &str, record: &DraftRecord) -> Result<bool, CoordError> {
        let lease = self.drafts.lease(key);
        let _slot = lease.lock().await;
        let Ok(owner) = self.acquire_ownership(&record.project, &record.artifact, &record.distributed_id).await else {
            return Ok(false);
        };
        let Some((record, revision)) = self.read_draft(key).await? else { return Ok(false) };
        match self.refuse_if_expired(key, &record, revision, &owner).await {
            Err(CoordError::Core(CoreError::DraftExpired { .. })) => Ok(true),
            Err(err) => Err(err),
            Ok(()) => Ok(false),
        }
    }

    /// Drops cached entries of drafts this replica no longer owns (its lease lapsed and
    /// another replica took them over): their owner rebuilds them from storage.
    async fn forget_drafts_owned_elsewhere(&self) {
        let mine = self.node.registration.lease();
        for key in self.drafts.cached_keys() {
            let Some(owner_key) = keys::owner_of_draft(&key) else { continue };
            match self.meta.get(&owner_key).await {
                Ok(Some(kv)) if kv.lease.is_some() && kv.lease == mine => {}
                Ok(_) => self.drafts.forget(&key),
                Err(_) => return, // the store is unreachable: decide on the next sweep
            }
        }
    }
}

/// Times a change starts again from its checks when a collection began meanwhile.
const RELIANCE_ATTEMPTS: usize = 8;

/// Drafts read per page by the expiry sweep: small enough that a page of the largest
/// records (64 KiB each) stays far below a gRPC response limit.
const SWEEP_PAGE: usize = 50;

/// What one expiry sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Draft records read.
    pub scanned: u64,
    /// Drafts moved to EXPIRED.
    pub expired: u64,
    /// Records of drafts that ended longer than the retention window ago, deleted.
    pub pruned: u64,
    /// Records that could not be read or drafts that could not be expired (retried next time).
    pub failed: u64,
}

fn not_found(artifact: &str, distributed_id: &str) -> CoordError {
    CoordError::DraftNotFound { artifact: artifact.to_owned(), distributed_id: distributed_id.to_owned() }
}
