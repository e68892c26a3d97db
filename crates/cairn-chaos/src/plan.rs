//! The seeded plan of a run: which jobs, logs and edits happen when, with which files,
//! and which faults are injected when. Everything here is decided from the seed before
//! anything starts, so a seed names one plan.

use std::time::Duration;

use crate::proxy::S3Fault;
use crate::rng::Rng;

/// One file of a workload: its entry path and the content it must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub path: String,
    pub content_id: u64,
    pub size: u64,
}

/// One writer (rank) of a distributed job.
#[derive(Debug, Clone)]
pub struct WriterPlan {
    pub id: String,
    pub files: Vec<FileSpec>,
    /// How long after the job's start this writer upserts: with the aggressive collector,
    /// later writers keep the draft open across several collections.
    pub delay: Duration,
}

/// A distributed job: its writers upsert and seal, then one finishes.
#[derive(Debug, Clone)]
pub struct JobPlan {
    pub artifact: String,
    pub distributed_id: String,
    pub writers: Vec<WriterPlan>,
    pub start_at: Duration,
}

/// A single-run log.
#[derive(Debug, Clone)]
pub struct LogPlan {
    pub artifact: String,
    pub files: Vec<FileSpec>,
    pub start_at: Duration,
}

/// One step of an edit chain: add (or replace) one file, remove one path.
#[derive(Debug, Clone)]
pub struct EditStep {
    pub add: FileSpec,
    pub remove: Option<String>,
}

/// A base version logged, then edited step by step.
#[derive(Debug, Clone)]
pub struct EditChain {
    pub artifact: String,
    pub base: Vec<FileSpec>,
    pub steps: Vec<EditStep>,
    pub start_at: Duration,
}

/// A version logged, then an edit of it and a deletion of it started `offset` apart (the
/// deletion first when `delete_first`): the edit either commits a version that reads back
/// or is refused because its base is gone.
#[derive(Debug, Clone)]
pub struct DeletionRace {
    pub artifact: String,
    pub base: Vec<FileSpec>,
    pub add: FileSpec,
    pub offset: Duration,
    pub delete_first: bool,
    pub start_at: Duration,
}

/// An artifact with a retention policy of `keep_last`, logged to again and again while
/// the collector applies the policy.
#[derive(Debug, Clone)]
pub struct RetainedArtifact {
    pub artifact: String,
    pub keep_last: u64,
    pub logs: Vec<LogPlan>,
}

/// How the coordinators collect garbage during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcPlan {
    pub interval_secs: u64,
    pub grace_secs: u64,
}

/// A fault of a process, injected at `at`, undone after `hold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessFault {
    /// kill -9 a coordinator; restarted after `hold`.
    KillCoordinator(usize),
    /// kill -9 a worker; restarted after `hold`.
    KillWorker(usize),
    /// SIGSTOP a coordinator for `hold` (longer than its lease), then SIGCONT.
    PauseCoordinator(usize),
    /// SIGSTOP, for `hold` (longer than its lease), the coordinator that is sweeping a
    /// collection when the fault starts (waiting a few seconds for one), so that another
    /// replica collects while it is frozen; any coordinator when none sweeps.
    PauseCollector,
    /// kill -9 etcd; restarted after `hold`.
    RestartEtcd,
    /// kill -9 one running client command (a writer, finisher, log or edit); its
    /// launcher retries it with the same identity.
    KillClient,
}

impl ProcessFault {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            ProcessFault::KillCoordinator(_) => "kill-coordinator",
            ProcessFault::KillWorker(_) => "kill-worker",
            ProcessFault::PauseCoordinator(_) => "pause-coordinator",
            ProcessFault::PauseCollector => "pause-collector",
            ProcessFault::RestartEtcd => "restart-etcd",
            ProcessFault::KillClient => "kill-client",
        }
    }
}

/// A scheduled fault.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    Process { fault: ProcessFault, at: Duration, hold: Duration },
    S3 { fault: S3Fault, probability: f64, at: Duration, hold: Duration },
}

impl Fault {
    /// When it starts.
    pub fn at(&self) -> Duration {
        match self {
            Fault::Process { at, .. } | Fault::S3 { at, .. } => *at,
        }
    }
}

/// How big a run is.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Seconds during which work starts and faults are injected.
    pub duration_secs: u64,
    /// Most writers of one job (at least 2).
    pub max_writers: u64,
    /// Largest file, MiB.
    pub max_file_mib: u64,
    pub coordinators: usize,
    pub workers: usize,
    /// The aggressive-collector mode: collections every few seconds with a grace of 0–5 s,
    /// long-lived drafts, deletions racing edits, retention, and collectors frozen
    /// mid-sweep (docs/reliability.md).
    pub aggressive_gc: bool,
}

/// Everything a run will do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub jobs: Vec<JobPlan>,
    pub logs: Vec<LogPlan>,
    pub edits: Vec<EditChain>,
    pub deletions: Vec<DeletionRace>,
    pub retained: Vec<RetainedArtifact>,
    pub gc: GcPlan,
    pub faults: Vec<Fault>,
}

/// Content shared across writers and jobs, so that uploads of one blob race.
const SHARED_CONTENTS: u64 = 40;

fn file(rng: &mut Rng, path: String, scale: &Scale, unique: &mut u64) -> FileSpec {
    if rng.chance(0.3) {
        // Shared content: the same bytes (and so the same blob) under many paths.
        let content_id = rng.range(1, SHARED_CONTENTS);
        return FileSpec { path, content_id, size: shared_size(content_id, scale) };
    }
    let size = match rng.range(0, 99) {
        0..=79 => rng.range(0, 16 * 1024),
        80..=95 => rng.range(64 * 1024, 4 * 1024 * 1024),
        _ => rng.range(8 * 1024 * 1024, scale.max_file_mib.max(9) * 1024 * 1024),
    };
    *unique += 1;
    FileSpec { path, content_id: 1_000_000 + *unique, size }
}

/// The size of shared content `id`: mostly small, some medium, and one larger than a
/// multipart part, so that resumable uploads of one blob race across workers.
fn shared_size(id: u64, scale: &Scale) -> u64 {
    match id {
        1 => (9 * 1024 * 1024).min(scale.max_file_mib.max(9) * 1024 * 1024),
        _ if id.is_multiple_of(8) => 1024 * 1024 + id * 4096,
        _ => id * 397,
    }
}

/// Files per log of a retained artifact: a few, so that retention frees them quickly.
fn retained_log_files(log: u64) -> u64 {
    2 + log % 3
}

fn files(rng: &mut Rng, prefix: &str, count: u64, scale: &Scale, unique: &mut u64) -> Vec<FileSpec> {
    (0..count).map(|i| file(rng, format!("{prefix}f{i:04}.bin"), scale, unique)).collect()
}

impl Plan {
    /// The plan of seed `rng`'s run at `scale`.
    pub fn new(rng: &Rng, scale: &Scale) -> Self {
        let mut unique = 0;
        let mut work = rng.fork(1);
        let spread = scale.duration_secs * 6 / 10;
        let at = |rng: &mut Rng| Duration::from_millis(rng.range(0, spread * 1000));
        let job_count = (scale.duration_secs / 10).max(2);
        let mut jobs = Vec::new();
        for j in 0..job_count {
            let writers = work.range(2, scale.max_writers.max(2));
            let writers = (0..writers)
                .map(|w| {
                    // One writer of the first job carries a thousand small files.
                    let count = if j == 0 && w == 0 { 1000 } else { work.range(1, 30) };
                    let mut list = files(&mut work, &format!("rank{w}/"), count, scale, &mut unique);
                    if j == 0 && w == 0 {
                        for f in &mut list {
                            f.size = f.size.min(4096);
                        }
                    }
                    let delay = match (scale.aggressive_gc, w) {
                        (true, 1..) => Duration::from_millis(work.range(0, 20_000)),
                        _ => Duration::ZERO,
                    };
                    WriterPlan { id: format!("rank-{w}"), files: list, delay }
                })
                .collect();
            jobs.push(JobPlan {
                artifact: format!("job-{j}"),
                distributed_id: format!("run-{j}"),
                writers,
                start_at: at(&mut work),
            });
        }
        let log_count = (scale.duration_secs / 15).max(2);
        let logs = (0..log_count)
            .map(|l| {
                let count = work.range(1, 20);
                LogPlan {
                    // Several logs share an artifact: concurrent commits race for indices.
                    artifact: format!("logged-{}", l % 3),
                    files: files(&mut work, &format!("log{l}/"), count, scale, &mut unique),
                    start_at: at(&mut work),
                }
            })
            .collect();
        let edits = (0..2)
            .map(|e| {
                let base = files(&mut work, "", 6, scale, &mut unique);
                let mut paths: Vec<String> = base.iter().map(|f| f.path.clone()).collect();
                let steps = (0..4)
                    .map(|s| {
                        let add = file(&mut work, format!("added/s{s}.bin"), scale, &mut unique);
                        let remove = (!paths.is_empty()).then(|| paths.remove(0));
                        EditStep { add, remove }
                    })
                    .collect();
                EditChain { artifact: format!("edited-{e}"), base, steps, start_at: at(&mut work) }
            })
            .collect();
        let faults = Self::faults(&rng.fork(2), scale);
        if !scale.aggressive_gc {
            // A grace far shorter than a real one, so that collections still race the work.
            let gc = GcPlan { interval_secs: 10, grace_secs: 30 };
            return Self { jobs, logs, edits, deletions: Vec::new(), retained: Vec::new(), gc, faults };
        }
        let mut gc_rng = rng.fork(3);
        let gc = GcPlan { interval_secs: gc_rng.range(2, 4), grace_secs: gc_rng.range(0, 5) };
        let deletions = (0..(scale.duration_secs / 20).max(2))
            .map(|d| DeletionRace {
                artifact: format!("deleted-{d}"),
                base: files(&mut gc_rng, "", 4, scale, &mut unique),
                add: file(&mut gc_rng, "added.bin".into(), scale, &mut unique),
                offset: Duration::from_millis(gc_rng.range(0, 1500)),
                delete_first: gc_rng.chance(0.3),
                start_at: at(&mut gc_rng),
            })
            .collect();
        let retained = (0..2)
            .map(|r| {
                let artifact = format!("retained-{r}");
                let logs = (0..gc_rng.range(4, 7))
                    .map(|l| LogPlan {
                        artifact: artifact.clone(),
                        files: files(&mut gc_rng, &format!("r{l}/"), retained_log_files(l), scale, &mut unique),
                        start_at: Duration::from_millis(l * 1000 * spread / 8),
                    })
                    .collect();
                RetainedArtifact { artifact, keep_last: gc_rng.range(1, 2), logs }
            })
            .collect();
        Self { jobs, logs, edits, deletions, retained, gc, faults }
    }

    /// Process faults one after another, and S3 fault windows one after another, the two
    /// series overlapping: at most one process is down at a time, while S3 misbehaves.
    fn faults(rng: &Rng, scale: &Scale) -> Vec<Fault> {
        let end = Duration::from_secs(scale.duration_secs.saturating_sub(10).max(10));
        let mut faults = Vec::new();
        let mut processes = rng.fork(1);
        let mut t = Duration::from_secs(processes.range(3, 6));
        while t < end {
            let (fault, hold) = match processes.range(0, 9) {
                0..=2 => {
                    (ProcessFault::KillCoordinator(processes.range(0, scale.coordinators as u64 - 1) as usize), 1..=3)
                }
                3..=4 => (ProcessFault::KillWorker(processes.range(0, scale.workers as u64 - 1) as usize), 1..=3),
                5..=6 if scale.aggressive_gc => (ProcessFault::PauseCollector, 5..=8),
                5..=6 => {
                    (ProcessFault::PauseCoordinator(processes.range(0, scale.coordinators as u64 - 1) as usize), 5..=8)
                }
                7 => (ProcessFault::RestartEtcd, 1..=3),
                _ => (ProcessFault::KillClient, 0..=0),
            };
            let hold = Duration::from_secs(processes.range(*hold.start(), *hold.end()));
            faults.push(Fault::Process { fault, at: t, hold });
            t += hold + Duration::from_secs(processes.range(2, 6));
        }
        let mut s3 = rng.fork(2);
        let mut t = Duration::from_secs(s3.range(2, 8));
        while t < end {
            let fault = *s3.pick(&S3Fault::ALL);
            let hold = Duration::from_secs(s3.range(2, 6));
            let probability = [0.1, 0.25, 0.5][s3.range(0, 2) as usize];
            faults.push(Fault::S3 { fault, probability, at: t, hold });
            t += hold + Duration::from_secs(s3.range(3, 10));
        }
        faults.sort_by_key(Fault::at);
        faults
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale() -> Scale {
        Scale {
            duration_secs: 120,
            max_writers: 6,
            max_file_mib: 24,
            coordinators: 3,
            workers: 3,
            aggressive_gc: false,
        }
    }

    #[test]
    fn the_aggressive_collector_mode_plans_its_races() {
        let plan = Plan::new(&Rng::new(5), &Scale { aggressive_gc: true, ..scale() });
        assert!((2..=4).contains(&plan.gc.interval_secs) && plan.gc.grace_secs <= 5);
        assert!(plan.deletions.len() >= 2 && plan.retained.len() == 2);
        assert!(plan.retained.iter().all(|r| r.logs.len() > r.keep_last as usize), "retention has work");
        assert!(plan.jobs.iter().flat_map(|j| &j.writers).any(|w| w.delay > Duration::from_secs(5)), "long drafts");
        assert!(plan.faults.iter().any(|f| matches!(f, Fault::Process { fault: ProcessFault::PauseCollector, .. })));
        let relaxed = Plan::new(&Rng::new(5), &scale());
        assert!(relaxed.deletions.is_empty() && relaxed.retained.is_empty());
        assert_eq!(relaxed.gc, GcPlan { interval_secs: 10, grace_secs: 30 });
    }

    #[test]
    fn a_seed_names_one_plan() {
        let (a, b) = (Plan::new(&Rng::new(7), &scale()), Plan::new(&Rng::new(7), &scale()));
        assert_eq!(a.jobs.len(), b.jobs.len());
        assert_eq!(a.jobs[1].writers[0].files, b.jobs[1].writers[0].files);
        assert_eq!(format!("{:?}", a.faults), format!("{:?}", b.faults));
        let c = Plan::new(&Rng::new(8), &scale());
        assert_ne!(format!("{:?}", a.faults), format!("{:?}", c.faults));
    }

    #[test]
    fn plans_have_every_kind_of_work_and_fault_within_bounds() {
        let plan = Plan::new(&Rng::new(3), &scale());
        assert!(plan.jobs.iter().all(|j| (2..=6).contains(&j.writers.len())));
        assert_eq!(plan.jobs[0].writers[0].files.len(), 1000, "thousands of small files in one job");
        assert!(!plan.logs.is_empty() && !plan.edits.is_empty());
        let all_files = plan.jobs.iter().flat_map(|j| j.writers.iter().flat_map(|w| w.files.iter()));
        assert!(all_files.clone().all(|f| f.size <= 24 * 1024 * 1024));
        assert!(all_files.filter(|f| f.content_id <= SHARED_CONTENTS).count() > 10, "contents are shared");
        assert!(plan.faults.iter().any(|f| matches!(f, Fault::S3 { .. })));
        assert!(plan.faults.iter().any(|f| matches!(f, Fault::Process { .. })));
        assert!(plan.faults.iter().all(|f| f.at() < Duration::from_secs(120)));
    }
}
