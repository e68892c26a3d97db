//! The draft state machine of docs/lifecycle.md, as pure code.
//!
//! ```text
//! (none) --upsert--> OPEN --finish--> SEALING --commit--> COMMITTED (locked)
//!                     |                  `--failure--> OPEN
//!                     |--abort--> ABORTED
//!                     `--expires_at passes--> EXPIRED
//! ```
//!
//! A `DraftRecord` is what the coordinator persists (small, independent of the number of
//! entries); the entries live in a `StagedIndex` rebuilt from persisted `StagedOp`s.
//! Every method validates first and mutates second, so a refused call changes nothing.

use std::collections::BTreeMap;

use crate::{CoreError, Digest, Entry, EntryPath, StagedIndex, StagedOp};

/// Default time an open draft lives without activity: 24 hours.
pub const DEFAULT_DRAFT_TTL_MS: u64 = 24 * 60 * 60 * 1000;

/// Most writers one draft admits: the draft record, which lists them, must stay a small
/// MetaStore value (64 KiB) whatever the writer ids.
pub const MAX_WRITERS_PER_DRAFT: usize = 128;

/// Segments from `first_seq` on were written by the draft owner whose ownership has
/// revision `owner_revision` (until the next run begins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SegmentRun {
    /// First segment of the run.
    pub first_seq: u64,
    /// Revision of the owner key of the replica that wrote the run.
    pub owner_revision: i64,
}

/// What happens when two writers stage one path with different content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ConflictPolicy {
    /// The second writer is refused with PATH_CONFLICT.
    #[default]
    Reject,
    /// The later change replaces the earlier one.
    LastWriterWins,
}

/// Where a draft is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DraftState {
    /// Accepting upserts.
    Open,
    /// A finish is committing it.
    Sealing,
    /// Committed as version `index`; `dedup` when that was an existing version.
    Committed { index: u64, dedup: bool },
    /// Abandoned.
    Aborted,
    /// Timed out without activity.
    Expired,
}

/// One writer's standing.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriterRecord {
    /// True once the writer declared itself done.
    pub sealed: bool,
    /// Request id of the last upsert applied for this writer: a retry of it (its answer
    /// was lost) is answered again instead of being applied twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_request_id: Option<String>,
}

/// The version a draft started from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BaseVersion {
    /// Its index.
    pub index: u64,
    /// Its version digest, which is also the address of its manifest.
    pub digest: Digest,
}

/// What `begin_finish` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishDecision {
    /// The draft is now SEALING: build the manifest and commit.
    Commit,
    /// The draft was committed before: return that version again.
    AlreadyCommitted { index: u64, dedup: bool },
}

/// The persisted state of one draft.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DraftRecord {
    /// Unique id of this draft incarnation; names its staged segments.
    pub uid: String,
    /// Project.
    pub project: String,
    /// Artifact.
    pub artifact: String,
    /// Id shared by the writers.
    pub distributed_id: String,
    /// Artifact type.
    pub artifact_type: String,
    /// Lifecycle state.
    pub state: DraftState,
    /// Conflict policy.
    pub policy: ConflictPolicy,
    /// Version the draft started from.
    pub base: Option<BaseVersion>,
    /// Writers to wait for before finishing.
    pub expected_writers: Option<u32>,
    /// Writers seen so far.
    pub writers: BTreeMap<String, WriterRecord>,
    /// Number of staged segments persisted so far (segment i holds the i-th change).
    pub segments: u64,
    /// Which owner wrote which segments. A segment's object key carries its writer's owner
    /// revision, so a replica that lost ownership mid-upsert writes beside, never over, a
    /// segment the new owner wrote; only the runs listed here are read back. Empty for
    /// drafts written before fencing (their keys carry no revision).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segment_runs: Vec<SegmentRun>,
    /// Inactivity timeout.
    pub ttl_ms: u64,
    /// When an open draft expires (ms since the epoch); renewed by activity.
    pub expires_at_ms: u64,
    /// Creation time (ms since the epoch).
    pub created_at_ms: u64,
    /// When the draft was committed, aborted or expired (ms since the epoch); 0 while open,
    /// and in records written before this was kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ended_at_ms: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl DraftRecord {
    /// A new open draft with no writers.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        uid: String,
        project: &str,
        artifact: &str,
        distributed_id: &str,
        artifact_type: &str,
        policy: ConflictPolicy,
        base: Option<BaseVersion>,
        ttl_ms: u64,
        now_ms: u64,
    ) -> Self {
        let ttl_ms = if ttl_ms == 0 { DEFAULT_DRAFT_TTL_MS } else { ttl_ms };
        Self {
            uid,
            project: project.to_owned(),
            artifact: artifact.to_owned(),
            distributed_id: distributed_id.to_owned(),
            artifact_type: artifact_type.to_owned(),
            state: DraftState::Open,
            policy,
            base,
            expected_writers: None,
            writers: BTreeMap::new(),
            segments: 0,
            segment_runs: Vec::new(),
            ttl_ms,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
            created_at_ms: now_ms,
            ended_at_ms: 0,
        }
    }

    /// True once the draft was committed, aborted or expired.
    pub fn has_ended(&self) -> bool {
        !matches!(self.state, DraftState::Open | DraftState::Sealing)
    }

    /// When an ended draft ended: its recorded end, else (older records) its last activity.
    pub fn ended_at(&self) -> u64 {
        if self.ended_at_ms > 0 { self.ended_at_ms } else { self.expires_at_ms.saturating_sub(self.ttl_ms) }
    }

    /// True when an ended draft's record may be forgotten: it ended `retention_ms` ago.
    pub fn prunable(&self, now_ms: u64, retention_ms: u64) -> bool {
        self.has_ended() && self.ended_at().saturating_add(retention_ms) <= now_ms
    }

    /// Moves an open or sealing draft whose `expires_at` passed to EXPIRED; true if it did.
    /// A SEALING draft is one whose finish was cut off (its commit and the COMMITTED state
    /// are one transaction, so it has no version): left alone it would block its
    /// `distributed_id` for ever.
    pub fn expire_if_due(&mut self, now_ms: u64) -> bool {
        if matches!(self.state, DraftState::Open | DraftState::Sealing) && now_ms >= self.expires_at_ms {
            self.state = DraftState::Expired;
            self.ended_at_ms = now_ms;
            return true;
        }
        false
    }

    /// Writers that have not sealed, sorted.
    pub fn unsealed_writers(&self) -> Vec<String> {
        self.writers.iter().filter(|(_, w)| !w.sealed).map(|(id, _)| id.clone()).collect()
    }

    fn sealed_count(&self) -> u32 {
        self.writers.values().filter(|w| w.sealed).count() as u32
    }

    /// True when `request_id` is the last upsert applied for `writer`.
    pub fn already_applied(&self, writer: &str, request_id: &str) -> bool {
        !request_id.is_empty()
            && self.writers.get(writer).and_then(|w| w.last_request_id.as_deref()) == Some(request_id)
    }

    /// Remembers `request_id` as the last upsert applied for `writer`.
    pub fn note_request(&mut self, writer: &str, request_id: &str) {
        if let Some(record) = self.writers.get_mut(writer) {
            record.last_request_id = (!request_id.is_empty()).then(|| request_id.to_owned());
        }
    }

    /// Refuses unless the draft is OPEN, with the reason its state gives.
    pub fn require_open(&self) -> Result<(), CoreError> {
        let distributed_id = self.distributed_id.clone();
        match self.state {
            DraftState::Open => Ok(()),
            DraftState::Sealing => Err(CoreError::DraftSealing { distributed_id }),
            DraftState::Committed { index, .. } => Err(CoreError::DraftCommitted { distributed_id, index }),
            DraftState::Aborted => Err(CoreError::DraftAborted { distributed_id }),
            DraftState::Expired => Err(CoreError::DraftExpired { distributed_id }),
        }
    }

    fn agree_expected_writers(&mut self, requested: Option<u32>) -> Result<(), CoreError> {
        match (self.expected_writers, requested) {
            (Some(declared), Some(requested)) if declared != requested => {
                Err(CoreError::ExpectedWritersMismatch { declared, requested })
            }
            (None, Some(requested)) => {
                self.expected_writers = Some(requested);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The owner revision segment `seq` was written under (`None` for unfenced drafts).
    pub fn segment_fence(&self, seq: u64) -> Option<i64> {
        self.segment_runs.iter().rev().find(|run| run.first_seq <= seq).map(|run| run.owner_revision)
    }

    /// Records that the newest segment (`segments - 1`) is written under `owner_revision`.
    pub fn fence_last_segment(&mut self, owner_revision: i64) {
        let seq = self.segments.saturating_sub(1);
        if self.segment_runs.last().is_none_or(|run| run.owner_revision != owner_revision) {
            self.segment_runs.push(SegmentRun { first_seq: seq, owner_revision });
        }
    }

    fn admit_writer(&mut self, writer: &str) -> Result<(), CoreError> {
        if self.writers.contains_key(writer) {
            return Ok(());
        }
        if self.writers.len() >= MAX_WRITERS_PER_DRAFT {
            return Err(CoreError::WriterLimit { limit: MAX_WRITERS_PER_DRAFT, writer: writer.to_owned() });
        }
        if let Some(expected) = self.expected_writers
            && self.writers.len() as u32 >= expected
        {
            return Err(CoreError::TooManyWriters { expected, writer: writer.to_owned() });
        }
        self.writers.insert(writer.to_owned(), WriterRecord::default());
        Ok(())
    }

    /// Validates one writer's upsert and records it in this record: returns the change to
    /// persist as the next segment (`None` when the upsert changes no entry). The caller
    /// persists the record and the change, then applies the change to `index`.
    #[allow(clippy::too_many_arguments)]
    pub fn upsert(
        &mut self,
        index: &StagedIndex,
        writer: &str,
        puts: &[Entry],
        removes: &[EntryPath],
        expected_writers: Option<u32>,
        seal: bool,
        now_ms: u64,
    ) -> Result<Option<StagedOp>, CoreError> {
        self.require_open()?;
        let op = index.plan(writer, puts, removes, self.policy)?;
        if self.writers.get(writer).is_some_and(|w| w.sealed) && !op.is_empty() {
            return Err(CoreError::WriterSealed { writer: writer.to_owned() });
        }
        self.agree_expected_writers(expected_writers)?;
        self.admit_writer(writer)?;
        if seal && let Some(record) = self.writers.get_mut(writer) {
            record.sealed = true;
        }
        self.expires_at_ms = now_ms.saturating_add(self.ttl_ms);
        if op.is_empty() {
            return Ok(None);
        }
        self.segments += 1;
        Ok(Some(op))
    }

    /// Seals one writer (a writer never seen before is admitted with no entries).
    pub fn seal_writer(&mut self, writer: &str, now_ms: u64) -> Result<(), CoreError> {
        self.require_open()?;
        self.admit_writer(writer)?;
        if let Some(record) = self.writers.get_mut(writer) {
            record.sealed = true;
        }
        self.expires_at_ms = now_ms.saturating_add(self.ttl_ms);
        Ok(())
    }

    /// Decides whether a finish may commit now. Refuses with WRITERS_STILL_ACTIVE while
    /// writers are unsealed or fewer than expected have sealed, unless `force`.
    /// A SEALING draft (a finish interrupted by a crash) resumes committing.
    pub fn begin_finish(&mut self, force: bool, expected_writers: Option<u32>) -> Result<FinishDecision, CoreError> {
        match self.state {
            DraftState::Committed { index, dedup } => {
                return Ok(FinishDecision::AlreadyCommitted { index, dedup });
            }
            DraftState::Sealing => return Ok(FinishDecision::Commit),
            _ => self.require_open()?,
        }
        self.agree_expected_writers(expected_writers)?;
        if !force {
            let unsealed = self.unsealed_writers();
            let sealed = self.sealed_count();
            let too_few = self.expected_writers.is_some_and(|e| sealed < e);
            if !unsealed.is_empty() || too_few {
                return Err(CoreError::WritersStillActive { unsealed, sealed, expected: self.expected_writers });
            }
        }
        self.state = DraftState::Sealing;
        Ok(FinishDecision::Commit)
    }

    /// Marks the draft committed as version `index`.
    pub fn commit(&mut self, index: u64, dedup: bool) {
        debug_assert_eq!(self.state, DraftState::Sealing);
        self.state = DraftState::Committed { index, dedup };
    }

    /// Returns a SEALING draft to OPEN after a failed commit, so finish can be retried.
    pub fn reopen(&mut self, now_ms: u64) {
        if self.state == DraftState::Sealing {
            self.state = DraftState::Open;
            self.expires_at_ms = now_ms.saturating_add(self.ttl_ms);
        }
    }

    /// Aborts an open draft. Aborting an aborted or expired draft changes nothing;
    /// aborting a committed one is refused.
    pub fn abort(&mut self) -> Result<(), CoreError> {
        match self.state {
            DraftState::Aborted | DraftState::Expired => Ok(()),
            DraftState::Committed { index, .. } => {
                Err(CoreError::DraftCommitted { distributed_id: self.distributed_id.clone(), index })
            }
            DraftState::Open | DraftState::Sealing => {
                self.state = DraftState::Aborted;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, content: &str) -> Entry {
        Entry {
            path: EntryPath::parse(path).unwrap(),
            sha256: Digest::of(content.as_bytes()),
            size: content.len() as u64,
        }
    }

    fn draft() -> DraftRecord {
        DraftRecord::new("u".into(), "p", "a", "job", "model", ConflictPolicy::Reject, None, 1_000, 0)
    }

    fn upsert(
        d: &mut DraftRecord,
        index: &mut StagedIndex,
        writer: &str,
        puts: &[Entry],
        seal: bool,
    ) -> Result<(), CoreError> {
        if let Some(op) = d.upsert(index, writer, puts, &[], None, seal, 10)? {
            index.apply(&op);
        }
        Ok(())
    }

    #[test]
    fn finish_refuses_unsealed_writers_by_name_then_commits_once_sealed() {
        let (mut d, mut index) = (draft(), StagedIndex::default());
        upsert(&mut d, &mut index, "w1", &[entry("a", "1")], true).unwrap();
        upsert(&mut d, &mut index, "w2", &[entry("b", "2")], false).unwrap();
        let err = d.begin_finish(false, None).unwrap_err();
        assert_eq!(err, CoreError::WritersStillActive { unsealed: vec!["w2".into()], sealed: 1, expected: None });
        assert_eq!(d.state, DraftState::Open);
        d.seal_writer("w2", 20).unwrap();
        assert_eq!(d.begin_finish(false, None).unwrap(), FinishDecision::Commit);
        d.commit(0, false);
        assert_eq!(d.begin_finish(false, None).unwrap(), FinishDecision::AlreadyCommitted { index: 0, dedup: false });
    }

    #[test]
    fn force_commits_with_unsealed_writers() {
        let (mut d, mut index) = (draft(), StagedIndex::default());
        upsert(&mut d, &mut index, "w1", &[entry("a", "1")], false).unwrap();
        assert_eq!(d.begin_finish(true, None).unwrap(), FinishDecision::Commit);
    }

    #[test]
    fn expected_writers_counts_sealed_writers_and_refuses_extra_writers() {
        let (mut d, mut index) = (draft(), StagedIndex::default());
        d.upsert(&index, "w1", &[], &[], Some(2), true, 1).unwrap();
        let err = d.begin_finish(false, None).unwrap_err();
        assert_eq!(err.reason(), "WRITERS_STILL_ACTIVE");
        assert_eq!(d.begin_finish(false, Some(3)).unwrap_err().reason(), "EXPECTED_WRITERS_MISMATCH");
        upsert(&mut d, &mut index, "w2", &[entry("b", "2")], true).unwrap();
        let err = upsert(&mut d, &mut index, "w3", &[entry("c", "3")], false).unwrap_err();
        assert_eq!(err.reason(), "TOO_MANY_WRITERS");
        assert_eq!(d.begin_finish(false, None).unwrap(), FinishDecision::Commit);
    }

    #[test]
    fn sealed_writer_may_resend_identical_entries_but_nothing_else() {
        let (mut d, mut index) = (draft(), StagedIndex::default());
        upsert(&mut d, &mut index, "w1", &[entry("a", "1")], true).unwrap();
        let segments = d.segments;
        upsert(&mut d, &mut index, "w1", &[entry("a", "1")], true).unwrap();
        assert_eq!(d.segments, segments);
        let err = upsert(&mut d, &mut index, "w1", &[entry("a", "2")], false).unwrap_err();
        assert_eq!(err.reason(), "WRITER_SEALED");
    }

    #[test]
    fn committed_aborted_and_expired_drafts_refuse_upserts_with_their_reason() {
        let index = StagedIndex::default();
        let mut d = draft();
        d.begin_finish(true, None).unwrap();
        d.commit(4, false);
        let err = d.upsert(&index, "w", &[entry("a", "1")], &[], None, false, 1).unwrap_err();
        assert_eq!(err, CoreError::DraftCommitted { distributed_id: "job".into(), index: 4 });
        assert_eq!(d.abort().unwrap_err().reason(), "DRAFT_COMMITTED");

        let mut d = draft();
        d.abort().unwrap();
        assert_eq!(d.upsert(&index, "w", &[], &[], None, false, 1).unwrap_err().reason(), "DRAFT_ABORTED");

        let mut d = draft();
        assert!(!d.expire_if_due(999));
        assert!(d.expire_if_due(1_000));
        assert_eq!(d.upsert(&index, "w", &[], &[], None, false, 1).unwrap_err().reason(), "DRAFT_EXPIRED");
        assert_eq!(d.seal_writer("w", 1).unwrap_err().reason(), "DRAFT_EXPIRED");
    }

    #[test]
    fn activity_renews_expiry_and_failed_commit_reopens() {
        let (mut d, index) = (draft(), StagedIndex::default());
        d.upsert(&index, "w", &[], &[], None, false, 500).unwrap();
        assert_eq!(d.expires_at_ms, 1_500);
        d.begin_finish(true, None).unwrap();
        assert_eq!(d.state, DraftState::Sealing);
        d.reopen(600);
        assert_eq!(d.state, DraftState::Open);
    }

    #[test]
    fn a_sealing_draft_whose_finish_was_cut_off_expires() {
        let (mut d, index) = (draft(), StagedIndex::default());
        d.upsert(&index, "w", &[], &[], None, true, 500).unwrap();
        d.begin_finish(false, None).unwrap();
        assert!(!d.expire_if_due(1_499));
        assert!(d.expire_if_due(1_500), "a finish that never completes does not block the draft for ever");
        assert_eq!(d.state, DraftState::Expired);
        assert_eq!(d.begin_finish(false, None).unwrap_err().reason(), "DRAFT_EXPIRED");
    }

    #[test]
    fn writers_beyond_the_limit_are_refused_with_a_non_retryable_reason() {
        let (mut d, index) = (draft(), StagedIndex::default());
        for i in 0..MAX_WRITERS_PER_DRAFT {
            d.upsert(&index, &format!("rank-{i}"), &[], &[], None, false, 1).unwrap();
        }
        let before = d.clone();
        let err = d.upsert(&index, "one-more", &[], &[], None, false, 1).unwrap_err();
        assert_eq!(err.reason(), "WRITER_LIMIT");
        assert_eq!(err.class(), crate::ErrorClass::ResourceExhausted);
        assert_eq!(d, before, "a refused upsert changes nothing");
        d.upsert(&index, "rank-0", &[], &[], None, true, 1).unwrap();
    }

    #[test]
    fn segment_fences_follow_ownership_runs() {
        let mut d = draft();
        assert_eq!(d.segment_fence(0), None, "unfenced drafts use plain keys");
        for (owner, count) in [(7, 3), (9, 2), (7, 1)] {
            for _ in 0..count {
                d.segments += 1;
                d.fence_last_segment(owner);
            }
        }
        let fences: Vec<_> = (0..6).map(|seq| d.segment_fence(seq)).collect();
        assert_eq!(fences, [Some(7), Some(7), Some(7), Some(9), Some(9), Some(7)]);
        assert_eq!(d.segment_runs.len(), 3, "one run per change of owner, not per segment");
    }
}
