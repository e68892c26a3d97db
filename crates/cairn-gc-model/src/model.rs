//! The protocol as a stateright [`Model`]: state, actions and invariants.
//!
//! What one action is: one MetaStore transaction or read (atomic in etcd and redb), or one
//! object-store call (atomic and strongly consistent on S3 and local files). A collector's
//! `DeleteBlob` is one action because the code issues a delete only while its lease is
//! provably valid (a deadline on the monotonic clock, docs/lifecycle.md), so a deletion
//! cannot land after another collector took over.

use stateright::{Model, Property};

use crate::scenarios::{RequestKind, Scenario};

/// A set of blobs (bit i: blob i), or of versions.
pub type Set = u8;

/// Generations a run can reach: the initial one and one per collector.
const GENERATIONS: usize = 4;
/// Collectors a scenario can have.
const COLLECTORS: usize = 3;

/// One of the races found in review, put back into the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeededBug {
    /// Finding 1: the mark reads committed versions, then drafts (skipping ended ones),
    /// instead of both at one MetaStore revision; a finish in between is in neither.
    MarkNotAtOneRevision,
    /// Finding 2: a paused collector deletes with stale state: it reads only the journals
    /// of its own and the previous generation and does not check its lease.
    StaleCollector,
    /// A collector deletes without checking that its lease is still valid (the condemned
    /// set, leased like it, has vanished meanwhile).
    NoLeaseFence,
    /// Finding 3: journals are re-read before deleting, but nothing is condemned: a request
    /// that journals and checks in between relies on a blob that is then deleted.
    NoCondemnHandshake,
    /// Finding 4: a log that takes the latest version's blobs as stored commits without
    /// comparing on that version.
    LogSkipUnfenced,
    /// Finding 5: opening an edit draft does not compare on its base version.
    EditBaseUnfenced,
    /// Requests commit without comparing on the generation they journaled in, so a
    /// collection that began meanwhile neither marks nor honours what they relied on.
    NoGenerationFence,
    /// Finding 7: retention counts versions, then deletes without comparing on the
    /// artifact record.
    RetentionUncompared,
}

/// Where a collector is in its one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollectorPhase {
    Idle,
    Claimed,
    Opened,
    /// Only with [`SeededBug::MarkNotAtOneRevision`]: versions marked, drafts not yet.
    VersionsMarked,
    Marked,
    Listed,
    Condemned,
    JournalsRead,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Collector {
    pub phase: CollectorPhase,
    pub generation: u8,
    pub mark: Set,
    /// Candidates: listed, unmarked.
    pub batch: Set,
    /// Candidates no journal protects: what it deletes next.
    pub doomed: Set,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    pub blobs: Set,
    /// The version record's revision (a dedup hit adds a producer to it).
    pub revision: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DraftState {
    Open,
    Committed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Draft {
    pub state: DraftState,
    pub staged: Set,
    /// Blobs of the version the draft is based on (its manifest, read at open).
    pub base: Set,
}

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pc {
    Start,
    /// FindMissingBlobs answered and the client uploaded what it said was missing.
    Found,
    Resolved,
    Journaled,
    Cleared,
    Checked,
    NeedsUpload,
    DraftOpened,
    Counted,
    Done,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Request {
    pub pc: Pc,
    /// Generation the request journaled in.
    pub ticket: u8,
    /// The latest (or base) version it read: index and revision.
    pub latest: Option<(u8, u8)>,
    /// That version's blobs.
    pub latest_blobs: Set,
    /// Uploads the client still makes after a BLOB_NOT_STORED before it gives up.
    pub uploads_left: u8,
    /// The draft an edit opened.
    pub draft: u8,
    /// Retention: versions to delete, and the artifact record's revision when counted.
    pub victims: Set,
    pub counted_at: u8,
}

/// The whole system: store, MetaStore, collectors and requests.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct State {
    /// Blobs in the live store.
    pub present: Set,
    /// Versions by index; `None` once deleted. Index order is commit order.
    pub versions: Vec<Option<Version>>,
    pub drafts: Vec<Draft>,
    /// `gc/generation`.
    pub generation: u8,
    /// Revision of the artifact record (bumped by every new version and deletion).
    pub artifact_revision: u8,
    /// Journaled blobs, by generation.
    pub journals: [Set; GENERATIONS],
    /// `gc/condemned/<collector>`: leased to the collector.
    pub condemned: [Set; COLLECTORS],
    /// `gc/leader`.
    pub leader: Option<u8>,
    pub lease_valid: [bool; COLLECTORS],
    pub pauses_left: u8,
    pub collectors: [Collector; COLLECTORS],
    pub requests: Vec<Request>,
    /// Set when retention deleted one of the newest `keep_last` versions.
    pub retention_broken: bool,
    /// Something was collected (for a `sometimes` property).
    pub collected: bool,
}

/// An action of the model; the names are those of `// model:` comments in the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ClaimLeader(u8),
    OpenGeneration(u8),
    MarkSnapshot(u8),
    /// [`SeededBug::MarkNotAtOneRevision`] only.
    MarkVersions(u8),
    /// [`SeededBug::MarkNotAtOneRevision`] only.
    MarkDrafts(u8),
    ListCandidates(u8),
    Condemn(u8),
    ReadJournals(u8),
    DeleteBlob(u8, u8),
    FinishCollection(u8),
    LeaseExpires(u8),
    FindMissing(u8),
    ResolveLatest(u8),
    Journal(u8),
    CheckCondemned(u8),
    CheckStored(u8),
    Upload(u8),
    CommitVersion(u8),
    SaveDraft(u8),
    OpenEditDraft(u8),
    FinishDraft(u8),
    DeleteVersion(u8),
    RetentionCount(u8),
    RetentionDelete(u8),
}

/// The protocol in one scenario, with at most one seeded bug.
#[derive(Debug, Clone)]
pub struct GcModel {
    pub scenario: Scenario,
    pub bug: Option<SeededBug>,
}

impl GcModel {
    pub fn new(scenario: Scenario, bug: Option<SeededBug>) -> Self {
        Self { scenario, bug }
    }

    fn has(&self, bug: SeededBug) -> bool {
        self.bug == Some(bug)
    }

    fn kind(&self, r: u8) -> RequestKind {
        self.scenario.requests[r as usize]
    }

    /// What a request relies on being stored once it has journaled.
    fn relied(&self, r: u8) -> Set {
        match self.kind(r) {
            // An edit journals what it adds; its base's blobs it relies on through the
            // base version, whose record the draft's creation compares on.
            RequestKind::Log { blobs, .. } | RequestKind::Upsert { blobs, .. } => blobs,
            RequestKind::Edit { add } => add,
            _ => 0,
        }
    }

    /// What a request looks up in the store (the rest it takes as stored).
    fn looked_up(&self, state: &State, r: u8) -> Set {
        let request = &state.requests[r as usize];
        match self.kind(r) {
            RequestKind::Log { blobs, reuse_latest: true, .. } => blobs & !request.latest_blobs,
            RequestKind::Log { blobs, .. } | RequestKind::Upsert { blobs, .. } => blobs,
            RequestKind::Edit { add } => add,
            _ => 0,
        }
    }

    fn generation_fence_holds(&self, state: &State, request: &Request) -> bool {
        self.has(SeededBug::NoGenerationFence) || state.generation == request.ticket
    }
}

fn newest_live(versions: &[Option<Version>]) -> Option<(u8, Version)> {
    versions.iter().enumerate().rev().find_map(|(i, v)| v.map(|v| (i as u8, v)))
}

fn live_set(versions: &[Option<Version>]) -> Set {
    versions.iter().enumerate().filter(|(_, v)| v.is_some()).fold(0, |set, (i, _)| set | (1 << i))
}

/// Commits a version of `blobs`: a dedup hit when the newest version has the same content.
fn commit(state: &mut State, blobs: Set) {
    match newest_live(&state.versions) {
        Some((index, newest)) if newest.blobs == blobs => {
            state.versions[index as usize] = Some(Version { blobs, revision: newest.revision + 1 });
        }
        _ => {
            state.versions.push(Some(Version { blobs, revision: 0 }));
            state.artifact_revision += 1;
        }
    }
}

impl Model for GcModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let s = &self.scenario;
        let idle = Collector { phase: CollectorPhase::Idle, generation: 0, mark: 0, batch: 0, doomed: 0 };
        let start = Request {
            pc: Pc::Start,
            ticket: 0,
            latest: None,
            latest_blobs: 0,
            uploads_left: 1,
            draft: 0,
            victims: 0,
            counted_at: 0,
        };
        vec![State {
            present: s.present,
            versions: s.versions.iter().map(|&blobs| Some(Version { blobs, revision: 0 })).collect(),
            drafts: s.drafts.iter().map(|&staged| Draft { state: DraftState::Open, staged, base: 0 }).collect(),
            generation: 0,
            artifact_revision: 0,
            journals: [0; GENERATIONS],
            condemned: [0; COLLECTORS],
            leader: None,
            lease_valid: [false; COLLECTORS],
            pauses_left: s.pauses,
            collectors: [idle; COLLECTORS],
            requests: vec![start; s.requests.len()],
            retention_broken: false,
            collected: false,
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        for c in 0..self.scenario.collectors {
            self.collector_actions(state, c, actions);
        }
        for r in 0..self.scenario.requests.len() as u8 {
            self.request_actions(state, r, actions);
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut state = last.clone();
        match action {
            Action::ClaimLeader(_)
            | Action::OpenGeneration(_)
            | Action::MarkSnapshot(_)
            | Action::MarkVersions(_)
            | Action::MarkDrafts(_)
            | Action::ListCandidates(_)
            | Action::Condemn(_)
            | Action::ReadJournals(_)
            | Action::DeleteBlob(..)
            | Action::FinishCollection(_)
            | Action::LeaseExpires(_) => self.collector_step(&mut state, action),
            _ => self.request_step(&mut state, action),
        }
        Some(state)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("committed versions are whole", |_, s: &State| {
                s.versions.iter().flatten().all(|v| v.blobs & !s.present == 0)
            }),
            Property::always("open drafts are whole", |_, s: &State| {
                s.drafts.iter().filter(|d| d.state == DraftState::Open).all(|d| (d.staged | d.base) & !s.present == 0)
            }),
            Property::always("retention keeps the newest versions", |_, s: &State| !s.retention_broken),
            Property::sometimes("garbage is collected", |_, s: &State| s.collected),
            Property::sometimes("every request succeeds", |_, s: &State| s.requests.iter().all(|r| r.pc == Pc::Done)),
        ]
    }
}

impl GcModel {
    fn collector_actions(&self, state: &State, c: u8, actions: &mut Vec<Action>) {
        let collector = &state.collectors[c as usize];
        match collector.phase {
            CollectorPhase::Idle if state.leader.is_none() => actions.push(Action::ClaimLeader(c)),
            CollectorPhase::Idle | CollectorPhase::Done => {}
            CollectorPhase::Claimed => actions.push(Action::OpenGeneration(c)),
            CollectorPhase::Opened if self.has(SeededBug::MarkNotAtOneRevision) => {
                actions.push(Action::MarkVersions(c))
            }
            CollectorPhase::Opened => actions.push(Action::MarkSnapshot(c)),
            CollectorPhase::VersionsMarked => actions.push(Action::MarkDrafts(c)),
            CollectorPhase::Marked => actions.push(Action::ListCandidates(c)),
            CollectorPhase::Listed => actions.push(Action::Condemn(c)),
            CollectorPhase::Condemned => actions.push(Action::ReadJournals(c)),
            CollectorPhase::JournalsRead => match (0..8).find(|b| collector.doomed & (1 << b) != 0) {
                Some(b) => actions.push(Action::DeleteBlob(c, b)),
                None => actions.push(Action::FinishCollection(c)),
            },
        }
        let running = !matches!(collector.phase, CollectorPhase::Idle | CollectorPhase::Done);
        if running && state.pauses_left > 0 && state.lease_valid[c as usize] {
            actions.push(Action::LeaseExpires(c));
        }
    }

    fn collector_step(&self, state: &mut State, action: Action) {
        let (Action::ClaimLeader(c)
        | Action::OpenGeneration(c)
        | Action::MarkSnapshot(c)
        | Action::MarkVersions(c)
        | Action::MarkDrafts(c)
        | Action::ListCandidates(c)
        | Action::Condemn(c)
        | Action::ReadJournals(c)
        | Action::DeleteBlob(c, _)
        | Action::FinishCollection(c)
        | Action::LeaseExpires(c)) = action
        else {
            unreachable!("a collector action")
        };
        let i = c as usize;
        match action {
            Action::ClaimLeader(_) => {
                state.leader = Some(c);
                state.lease_valid[i] = true;
                // Journals of generations before the current one are honoured by no
                // collection from now on: the claimant drops them.
                for g in 0..state.generation as usize {
                    state.journals[g] = 0;
                }
                state.collectors[i].phase = CollectorPhase::Claimed;
            }
            Action::OpenGeneration(_) => {
                state.generation += 1;
                state.collectors[i].generation = state.generation;
                state.collectors[i].phase = CollectorPhase::Opened;
            }
            Action::MarkSnapshot(_) => {
                let versions = state.versions.iter().flatten().fold(0, |m, v| m | v.blobs);
                let drafts =
                    state.drafts.iter().filter(|d| d.state == DraftState::Open).fold(0, |m, d| m | d.staged | d.base);
                state.collectors[i].mark = versions | drafts;
                state.collectors[i].phase = CollectorPhase::Marked;
            }
            Action::MarkVersions(_) => {
                state.collectors[i].mark = state.versions.iter().flatten().fold(0, |m, v| m | v.blobs);
                state.collectors[i].phase = CollectorPhase::VersionsMarked;
            }
            Action::MarkDrafts(_) => {
                let drafts =
                    state.drafts.iter().filter(|d| d.state == DraftState::Open).fold(0, |m, d| m | d.staged | d.base);
                state.collectors[i].mark |= drafts;
                state.collectors[i].phase = CollectorPhase::Marked;
            }
            Action::ListCandidates(_) => {
                state.collectors[i].batch = state.present & !state.collectors[i].mark;
                state.collectors[i].phase = CollectorPhase::Listed;
            }
            Action::Condemn(_) => {
                if !self.has(SeededBug::NoCondemnHandshake) && state.lease_valid[i] {
                    state.condemned[i] = state.collectors[i].batch;
                }
                state.collectors[i].phase = CollectorPhase::Condemned;
            }
            Action::ReadJournals(_) => {
                let own = state.collectors[i].generation as usize;
                let honoured = if self.has(SeededBug::StaleCollector) {
                    own.saturating_sub(1)..=own
                } else {
                    own..=GENERATIONS - 1
                };
                let journaled = honoured.fold(0, |set, g| set | state.journals[g]);
                state.collectors[i].doomed = state.collectors[i].batch & !journaled;
                state.collectors[i].phase = CollectorPhase::JournalsRead;
            }
            Action::DeleteBlob(_, b) => {
                let unfenced = self.has(SeededBug::StaleCollector) || self.has(SeededBug::NoLeaseFence);
                if unfenced || (state.leader == Some(c) && state.lease_valid[i]) {
                    state.present &= !(1 << b);
                    state.collected = true;
                    state.collectors[i].doomed &= !(1 << b);
                } else {
                    // Fenced out: the collection stops before deleting anything more.
                    state.collectors[i].phase = CollectorPhase::Done;
                }
            }
            Action::FinishCollection(_) => {
                state.condemned[i] = 0;
                if state.leader == Some(c) {
                    state.leader = None;
                }
                state.collectors[i].phase = CollectorPhase::Done;
            }
            Action::LeaseExpires(_) => {
                state.lease_valid[i] = false;
                state.condemned[i] = 0; // leased: it goes with the lease
                if state.leader == Some(c) {
                    state.leader = None;
                }
                state.pauses_left -= 1;
            }
            _ => unreachable!("a collector action"),
        }
    }

    fn request_actions(&self, state: &State, r: u8, actions: &mut Vec<Action>) {
        let request = &state.requests[r as usize];
        let kind = self.kind(r);
        let condemned = state.condemned.iter().fold(0, |set, c| set | c);
        match (kind, request.pc) {
            (_, Pc::Done | Pc::Failed) => {}
            (RequestKind::Log { find_missing_first: true, .. }, Pc::Start) => actions.push(Action::FindMissing(r)),
            (RequestKind::Log { .. } | RequestKind::Edit { .. }, Pc::Start) | (RequestKind::Log { .. }, Pc::Found) => {
                actions.push(Action::ResolveLatest(r))
            }
            (RequestKind::Upsert { .. }, Pc::Start)
            | (RequestKind::Log { .. } | RequestKind::Edit { .. }, Pc::Resolved) => actions.push(Action::Journal(r)),
            // A request that finds a digest it relies on condemned waits until that batch
            // of deletions is over, then looks again.
            (_, Pc::Journaled) if self.has(SeededBug::NoCondemnHandshake) || self.relied(r) & condemned == 0 => {
                actions.push(Action::CheckCondemned(r))
            }
            (_, Pc::Cleared) => actions.push(Action::CheckStored(r)),
            (_, Pc::NeedsUpload) => actions.push(Action::Upload(r)),
            (RequestKind::Log { .. }, Pc::Checked) => actions.push(Action::CommitVersion(r)),
            (RequestKind::Upsert { .. }, Pc::Checked) => actions.push(Action::SaveDraft(r)),
            (RequestKind::Edit { .. }, Pc::Checked) => actions.push(Action::OpenEditDraft(r)),
            (RequestKind::Edit { .. }, Pc::DraftOpened) | (RequestKind::Finish { .. }, Pc::Start) => {
                actions.push(Action::FinishDraft(r))
            }
            (RequestKind::DeleteNewest | RequestKind::DeleteOldest, Pc::Start) => {
                actions.push(Action::DeleteVersion(r))
            }
            (RequestKind::Retention { .. }, Pc::Start) => actions.push(Action::RetentionCount(r)),
            (RequestKind::Retention { .. }, Pc::Counted) => actions.push(Action::RetentionDelete(r)),
            _ => {}
        }
    }

    fn request_step(&self, state: &mut State, action: Action) {
        let (Action::FindMissing(r)
        | Action::ResolveLatest(r)
        | Action::Journal(r)
        | Action::CheckCondemned(r)
        | Action::CheckStored(r)
        | Action::Upload(r)
        | Action::CommitVersion(r)
        | Action::SaveDraft(r)
        | Action::OpenEditDraft(r)
        | Action::FinishDraft(r)
        | Action::DeleteVersion(r)
        | Action::RetentionCount(r)
        | Action::RetentionDelete(r)) = action
        else {
            unreachable!("a request action")
        };
        let kind = self.kind(r);
        let mut request = state.requests[r as usize];
        match action {
            Action::FindMissing(_) => {
                // Only what it reports missing is uploaded; what it called present the log
                // checks again (the answer is advice, not a promise).
                let RequestKind::Log { blobs, .. } = kind else { unreachable!("a log") };
                request.pc = if blobs & !state.present == 0 { Pc::Found } else { Pc::NeedsUpload };
            }
            Action::ResolveLatest(_) => {
                state.requests[r as usize] = request;
                self.resolve_latest(state, r);
                let request = state.requests[r as usize];
                if matches!(kind, RequestKind::Edit { .. }) && request.latest.is_none() {
                    state.requests[r as usize].pc = Pc::Failed;
                }
                return;
            }
            Action::Journal(_) => {
                request.ticket = state.generation;
                state.requests[r as usize] = request;
                let relied = self.relied(r);
                state.journals[state.generation as usize] |= relied;
                state.requests[r as usize].pc = Pc::Journaled;
                return;
            }
            Action::CheckCondemned(_) => request.pc = Pc::Cleared,
            Action::CheckStored(_) => {
                let missing = self.looked_up(state, r) & !state.present;
                request.pc = match (missing, request.uploads_left) {
                    (0, _) => Pc::Checked,
                    (_, 0) => Pc::Failed, // BLOB_NOT_STORED, and the client gave up
                    _ => Pc::NeedsUpload,
                };
            }
            Action::Upload(_) => {
                let blobs = match kind {
                    RequestKind::Log { blobs, .. } | RequestKind::Upsert { blobs, .. } => blobs,
                    RequestKind::Edit { add } => add,
                    _ => 0,
                };
                state.present |= blobs;
                request.uploads_left = request.uploads_left.saturating_sub(1);
                request.pc = Pc::Start;
            }
            Action::CommitVersion(_) => {
                let RequestKind::Log { blobs, reuse_latest, .. } = kind else { unreachable!("a log") };
                let latest_unchanged = match request.latest {
                    Some((index, revision)) if reuse_latest && !self.has(SeededBug::LogSkipUnfenced) => {
                        state.versions[index as usize].is_some_and(|v| v.revision == revision)
                    }
                    _ => true,
                };
                if self.generation_fence_holds(state, &request) && latest_unchanged {
                    commit(state, blobs);
                    request.pc = Pc::Done;
                } else {
                    request.pc = Pc::Start; // fenced off: look again from the start
                }
            }
            Action::SaveDraft(_) => {
                let RequestKind::Upsert { draft, blobs } = kind else { unreachable!("an upsert") };
                let d = &mut state.drafts[draft as usize];
                if d.state != DraftState::Open {
                    request.pc = Pc::Failed; // DRAFT_COMMITTED
                } else if self.has(SeededBug::NoGenerationFence) || state.generation == request.ticket {
                    d.staged |= blobs;
                    request.pc = Pc::Done;
                } else {
                    request.pc = Pc::Start;
                }
            }
            Action::OpenEditDraft(_) => {
                let RequestKind::Edit { add } = kind else { unreachable!("an edit") };
                let (index, revision) = request.latest.expect("an edit resolved its base");
                let base_unchanged = self.has(SeededBug::EditBaseUnfenced)
                    || state.versions[index as usize].is_some_and(|v| v.revision == revision);
                if self.generation_fence_holds(state, &request) && base_unchanged {
                    state.drafts.push(Draft { state: DraftState::Open, staged: add, base: request.latest_blobs });
                    request.draft = (state.drafts.len() - 1) as u8;
                    request.pc = Pc::DraftOpened;
                } else {
                    request.pc = Pc::Start;
                }
            }
            Action::FinishDraft(_) => {
                let draft = match kind {
                    RequestKind::Finish { draft } => draft,
                    _ => request.draft,
                };
                let d = state.drafts[draft as usize];
                if d.state == DraftState::Open {
                    commit(state, d.staged | d.base);
                    state.drafts[draft as usize].state = DraftState::Committed;
                }
                request.pc = Pc::Done;
            }
            Action::DeleteVersion(_) => {
                let live: Vec<usize> = (0..state.versions.len()).filter(|&i| state.versions[i].is_some()).collect();
                let victim = match kind {
                    RequestKind::DeleteNewest => live.last(),
                    _ => live.first(),
                };
                if let Some(&victim) = victim {
                    state.versions[victim] = None;
                    state.artifact_revision += 1;
                }
                request.pc = Pc::Done;
            }
            Action::RetentionCount(_) => {
                let RequestKind::Retention { keep_last } = kind else { unreachable!("retention") };
                let live: Vec<usize> = (0..state.versions.len()).filter(|&i| state.versions[i].is_some()).collect();
                let surplus = live.len().saturating_sub(keep_last as usize);
                request.victims = live[..surplus].iter().fold(0, |set, i| set | (1 << i));
                request.counted_at = state.artifact_revision;
                request.pc = Pc::Counted;
            }
            Action::RetentionDelete(_) => {
                let RequestKind::Retention { keep_last } = kind else { unreachable!("retention") };
                if !self.has(SeededBug::RetentionUncompared) && state.artifact_revision != request.counted_at {
                    request.pc = Pc::Start; // recount
                } else {
                    let live = live_set(&state.versions);
                    let newest: Vec<usize> = (0..state.versions.len())
                        .rev()
                        .filter(|&i| live & (1 << i) != 0)
                        .take(keep_last as usize)
                        .collect();
                    for i in (0..state.versions.len()).filter(|i| request.victims & (1 << i) != 0) {
                        if state.versions[i].is_some() {
                            if newest.contains(&i) {
                                state.retention_broken = true;
                            }
                            state.versions[i] = None;
                        }
                    }
                    state.artifact_revision += 1;
                    request.pc = Pc::Done;
                }
            }
            _ => unreachable!("a request action"),
        }
        state.requests[r as usize] = request;
    }

    fn resolve_latest(&self, state: &mut State, r: u8) {
        let newest = newest_live(&state.versions);
        let request = &mut state.requests[r as usize];
        request.latest = newest.map(|(i, v)| (i, v.revision));
        request.latest_blobs = newest.map_or(0, |(_, v)| v.blobs);
        request.pc = Pc::Resolved;
    }
}
