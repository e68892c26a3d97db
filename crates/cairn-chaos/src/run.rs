//! Carrying out a plan: the workload's jobs, logs and edits on their own threads, the two
//! fault series on two more, and a ledger of every acknowledged result to check later.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::launcher::{Launcher, Outcome, materialize};
use crate::plan::{DeletionRace, EditChain, Fault, FileSpec, JobPlan, LogPlan, Plan, ProcessFault, RetainedArtifact};
use crate::rng::Rng;

/// An acknowledged (or abandoned, or refused) commit and the files its version must hold.
#[derive(Debug, Clone)]
pub struct Commit {
    /// `finish`, `log` or `edit`.
    pub kind: &'static str,
    pub artifact: String,
    pub expected: Vec<FileSpec>,
    pub outcome: Outcome,
}

impl Commit {
    /// The version index the command acknowledged.
    pub fn index(&self) -> Option<u64> {
        self.outcome.json()?.get("index")?.as_u64()
    }

    /// Whether the acknowledged commit was a dedup hit (no new version).
    pub fn dedup(&self) -> bool {
        self.outcome.json().and_then(|j| j.get("dedup")?.as_bool()).unwrap_or(false)
    }
}

/// Everything the workload did.
#[derive(Debug, Default)]
pub struct Ledger {
    pub commits: Vec<Commit>,
    /// One per writer command.
    pub upserts: Vec<Outcome>,
    /// Jobs whose writers did not all get acknowledged (so no finish was attempted).
    pub stranded_jobs: Vec<String>,
    /// Deletions the workload made: the artifact and the version index, once acknowledged.
    pub deletions: Vec<(String, Option<u64>, Outcome)>,
    /// Artifacts with a retention policy, and how many versions they keep.
    pub retained: BTreeMap<String, u64>,
    /// Other commands that gave up (setting a retention policy), with their last error.
    pub gave_up: Vec<String>,
}

impl Ledger {
    /// Artifacts some versions of which the workload or a policy deletes: their indices
    /// are not dense, and an acknowledged version of them may be gone.
    pub fn deleting(&self, artifact: &str) -> bool {
        self.retained.contains_key(artifact) || self.deletions.iter().any(|(a, _, _)| a == artifact)
    }
}

/// Faults carried out, by name.
#[derive(Debug, Default)]
pub struct FaultLog {
    pub counts: BTreeMap<&'static str, u64>,
    /// When the last fault was undone.
    pub last_fault_end: Option<Instant>,
}

/// Runs the workload and the faults; returns when all work is done (or given up).
pub fn execute(
    plan: &Plan,
    cluster: Arc<Mutex<Cluster>>,
    launcher: &Launcher,
    work: &Path,
    seed: &Rng,
) -> (Ledger, FaultLog) {
    let started = Instant::now();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let faults = Arc::new(Mutex::new(FaultLog::default()));
    let mut threads = Vec::new();
    for job in plan.jobs.clone() {
        let (launcher, ledger, dir) = (launcher.clone(), ledger.clone(), work.join("jobs").join(&job.artifact));
        threads.push(std::thread::spawn(move || run_job(&job, &launcher, &ledger, &dir, started)));
    }
    for (i, log) in plan.logs.clone().into_iter().enumerate() {
        let (launcher, ledger, dir) = (launcher.clone(), ledger.clone(), work.join("logs").join(i.to_string()));
        threads.push(std::thread::spawn(move || run_log(&log, &launcher, &ledger, &dir, started)));
    }
    for chain in plan.edits.clone() {
        let (launcher, ledger, dir) = (launcher.clone(), ledger.clone(), work.join("edits").join(&chain.artifact));
        threads.push(std::thread::spawn(move || run_edits(&chain, &launcher, &ledger, &dir, started)));
    }
    for race in plan.deletions.clone() {
        let (launcher, ledger, dir) = (launcher.clone(), ledger.clone(), work.join("deletions").join(&race.artifact));
        threads.push(std::thread::spawn(move || run_deletion_race(&race, &launcher, &ledger, &dir, started)));
    }
    for retained in plan.retained.clone() {
        let (launcher, ledger, dir) =
            (launcher.clone(), ledger.clone(), work.join("retained").join(&retained.artifact));
        threads.push(std::thread::spawn(move || run_retained(&retained, &launcher, &ledger, &dir, started)));
    }
    let (process_faults, s3_faults): (Vec<Fault>, Vec<Fault>) =
        plan.faults.iter().partition(|f| matches!(f, Fault::Process { .. }));
    let mut injectors = Vec::new();
    for (series, stream) in [(process_faults, 10), (s3_faults, 11)] {
        let (cluster, faults, clients, rng) =
            (cluster.clone(), faults.clone(), launcher.clients.clone(), seed.fork(stream));
        injectors.push(std::thread::spawn(move || inject(&series, &cluster, &faults, &clients, rng, started)));
    }
    for thread in injectors {
        thread.join().expect("fault injector");
    }
    for thread in threads {
        thread.join().expect("workload thread");
    }
    let ledger = std::mem::take(&mut *ledger.lock().expect("ledger"));
    let faults = std::mem::take(&mut *faults.lock().expect("fault log"));
    (ledger, faults)
}

fn sleep_until(started: Instant, at: Duration) {
    let now = started.elapsed();
    if at > now {
        std::thread::sleep(at - now);
    }
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

fn run_job(job: &JobPlan, launcher: &Launcher, ledger: &Mutex<Ledger>, dir: &Path, started: Instant) {
    sleep_until(started, job.start_at);
    let writers: Vec<_> = job
        .writers
        .iter()
        .map(|writer| {
            let (launcher, dir) = (launcher.clone(), dir.join(&writer.id));
            let (writer, job) = (writer.clone(), job.clone());
            std::thread::spawn(move || {
                // A late writer keeps the draft open while collections run.
                std::thread::sleep(writer.delay);
                materialize(&dir, &writer.files).expect("write a writer's files");
                let dir_arg = dir.display().to_string();
                launcher.run(
                    &dir,
                    &args(&[
                        "upsert",
                        &dir_arg,
                        "--name",
                        &job.artifact,
                        "--type",
                        "chaos",
                        "--distributed-id",
                        &job.distributed_id,
                        "--writer",
                        &writer.id,
                        "--seal",
                        "--json",
                    ]),
                )
            })
        })
        .collect();
    let outcomes: Vec<Outcome> = writers.into_iter().map(|t| t.join().expect("writer thread")).collect();
    let all_acked = outcomes.iter().all(|o| o.acked_at.is_some());
    ledger.lock().expect("ledger").upserts.extend(outcomes);
    if !all_acked {
        ledger.lock().expect("ledger").stranded_jobs.push(job.artifact.clone());
        return;
    }
    std::fs::create_dir_all(dir).expect("job dir");
    let outcome = launcher
        .run(dir, &args(&["finish", "--name", &job.artifact, "--distributed-id", &job.distributed_id, "--json"]));
    let expected = job.writers.iter().flat_map(|w| w.files.iter().cloned()).collect();
    ledger.lock().expect("ledger").commits.push(Commit {
        kind: "finish",
        artifact: job.artifact.clone(),
        expected,
        outcome,
    });
}

fn log_files(launcher: &Launcher, artifact: &str, dir: &Path, files: &[FileSpec]) -> Outcome {
    materialize(dir, files).expect("write a log's files");
    let dir_arg = dir.display().to_string();
    let parent = dir.parent().expect("log dirs have a parent");
    launcher.run(parent, &args(&["log", &dir_arg, "--name", artifact, "--type", "chaos", "--json"]))
}

fn run_log(log: &LogPlan, launcher: &Launcher, ledger: &Mutex<Ledger>, dir: &Path, started: Instant) {
    sleep_until(started, log.start_at);
    let outcome = log_files(launcher, &log.artifact, &dir.join("tree"), &log.files);
    let commit = Commit { kind: "log", artifact: log.artifact.clone(), expected: log.files.clone(), outcome };
    ledger.lock().expect("ledger").commits.push(commit);
}

fn run_edits(chain: &EditChain, launcher: &Launcher, ledger: &Mutex<Ledger>, dir: &Path, started: Instant) {
    sleep_until(started, chain.start_at);
    let outcome = log_files(launcher, &chain.artifact, &dir.join("base"), &chain.base);
    let base = Commit { kind: "log", artifact: chain.artifact.clone(), expected: chain.base.clone(), outcome };
    let mut index = base.index();
    ledger.lock().expect("ledger").commits.push(base);
    let mut current: BTreeMap<String, FileSpec> = chain.base.iter().map(|f| (f.path.clone(), f.clone())).collect();
    for (s, step) in chain.steps.iter().enumerate() {
        let Some(from) = index else { return };
        let source = dir.join(format!("step{s}")).join("added.bin");
        materialize(source.parent().expect("step dir"), &[FileSpec { path: "added.bin".into(), ..step.add.clone() }])
            .expect("write an edit's file");
        let reference = format!("{}:v{from}", chain.artifact);
        let add = format!("{}={}", source.display(), step.add.path);
        let mut command = args(&["edit", &reference, "--add", &add, "--json"]);
        if let Some(remove) = &step.remove {
            command.extend(args(&["--remove", remove]));
            current.remove(remove);
        }
        current.insert(step.add.path.clone(), step.add.clone());
        let outcome = launcher.run(source.parent().expect("step dir"), &command);
        let commit = Commit {
            kind: "edit",
            artifact: chain.artifact.clone(),
            expected: current.values().cloned().collect(),
            outcome,
        };
        index = commit.index();
        ledger.lock().expect("ledger").commits.push(commit);
    }
}

fn edit_args(reference: &str, source: &Path, path: &str) -> Vec<String> {
    args(&["edit", reference, "--add", &format!("{}={path}", source.display()), "--json"])
}

/// The reasons an edit racing a deletion of its base may be refused for.
const BASE_GONE: [&str; 2] = ["VERSION_NOT_FOUND", "ARTIFACT_NOT_FOUND"];

fn run_deletion_race(race: &DeletionRace, launcher: &Launcher, ledger: &Mutex<Ledger>, dir: &Path, started: Instant) {
    sleep_until(started, race.start_at);
    let outcome = log_files(launcher, &race.artifact, &dir.join("base"), &race.base);
    let base = Commit { kind: "log", artifact: race.artifact.clone(), expected: race.base.clone(), outcome };
    let Some(index) = base.index() else {
        ledger.lock().expect("ledger").commits.push(base);
        return;
    };
    let reference = format!("{}:v{index}", race.artifact);
    let source = dir.join("edit");
    materialize(&source, &[FileSpec { path: "added.bin".into(), ..race.add.clone() }]).expect("write an edit's file");
    let mut expected = race.base.clone();
    expected.push(race.add.clone());
    let edit = {
        let (launcher, source, command) =
            (launcher.clone(), source.clone(), edit_args(&reference, &source.join("added.bin"), &race.add.path));
        let delay = if race.delete_first { race.offset } else { Duration::ZERO };
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            launcher.run_accepting(&source, &command, &BASE_GONE)
        })
    };
    std::thread::sleep(if race.delete_first { Duration::ZERO } else { race.offset });
    // A second deletion of a version already gone answers VERSION_NOT_FOUND: that retry
    // of an acknowledged-but-unanswered deletion is a success too.
    let deleted =
        launcher.run_accepting(dir, &args(&["delete", &reference, "--force", "--json"]), &["VERSION_NOT_FOUND"]);
    let edited =
        Commit { kind: "edit", artifact: race.artifact.clone(), expected, outcome: edit.join().expect("edit") };
    let mut ledger = ledger.lock().expect("ledger");
    ledger.commits.extend([base, edited]);
    ledger.deletions.push((race.artifact.clone(), Some(index), deleted));
}

fn run_retained(
    retained: &RetainedArtifact,
    launcher: &Launcher,
    ledger: &Mutex<Ledger>,
    dir: &Path,
    started: Instant,
) {
    ledger.lock().expect("ledger").retained.insert(retained.artifact.clone(), retained.keep_last);
    for (l, log) in retained.logs.iter().enumerate() {
        sleep_until(started, log.start_at);
        let outcome = log_files(launcher, &log.artifact, &dir.join(format!("log{l}")), &log.files);
        let acked = outcome.acked_at.is_some();
        let commit = Commit { kind: "log", artifact: log.artifact.clone(), expected: log.files.clone(), outcome };
        ledger.lock().expect("ledger").commits.push(commit);
        if l == 0 && acked {
            let keep = retained.keep_last.to_string();
            let set = launcher.run(dir, &args(&["retention", &retained.artifact, "--keep-last", &keep, "--json"]));
            if set.acked_at.is_none() {
                let mut ledger = ledger.lock().expect("ledger");
                ledger.gave_up.push(format!("retention of {}: {}", retained.artifact, set.last_error));
            }
        }
    }
}

/// Carries out one series of faults in order.
fn inject(
    series: &[Fault],
    cluster: &Mutex<Cluster>,
    log: &Mutex<FaultLog>,
    clients: &crate::launcher::Clients,
    mut rng: Rng,
    started: Instant,
) {
    for fault in series {
        sleep_until(started, fault.at());
        let name = match *fault {
            Fault::Process { fault, hold, .. } => {
                let Some(name) = process_fault(fault, hold, cluster, clients, &mut rng) else {
                    continue; // nothing to fault (no client command was running)
                };
                name
            }
            Fault::S3 { fault, probability, hold, .. } => {
                cluster.lock().expect("cluster").proxy.open_window(fault, probability);
                std::thread::sleep(hold);
                cluster.lock().expect("cluster").proxy.close_window();
                fault.name()
            }
        };
        let mut log = log.lock().expect("fault log");
        *log.counts.entry(name).or_default() += 1;
        log.last_fault_end = Some(Instant::now());
    }
}

/// Carries out one process fault; its name for the report, None when there was nothing
/// to fault.
fn process_fault(
    fault: ProcessFault,
    hold: Duration,
    cluster: &Mutex<Cluster>,
    clients: &crate::launcher::Clients,
    rng: &mut Rng,
) -> Option<&'static str> {
    let node = |role: &str, n: usize| {
        let cluster = cluster.lock().expect("cluster");
        cluster.indices(role)[n]
    };
    match fault {
        ProcessFault::KillCoordinator(n) | ProcessFault::KillWorker(n) => {
            let role = if matches!(fault, ProcessFault::KillWorker(_)) { "worker" } else { "coordinator" };
            let i = node(role, n);
            cluster.lock().expect("cluster").kill_node(i);
            std::thread::sleep(hold);
            if let Err(err) = cluster.lock().expect("cluster").start_node(i) {
                eprintln!("chaos: could not restart {role} {n}: {err}");
            }
        }
        ProcessFault::PauseCoordinator(n) => {
            let i = node("coordinator", n);
            cluster.lock().expect("cluster").pause_node(i);
            std::thread::sleep(hold);
            cluster.lock().expect("cluster").resume_node(i);
        }
        ProcessFault::PauseCollector => {
            let (i, sweeping) = sweeping_or_any(cluster, rng);
            cluster.lock().expect("cluster").pause_node(i);
            std::thread::sleep(hold);
            cluster.lock().expect("cluster").resume_node(i);
            return Some(if sweeping { "pause-collector-mid-sweep" } else { "pause-collector-none-sweeping" });
        }
        ProcessFault::RestartEtcd => {
            cluster.lock().expect("cluster").etcd.stop();
            std::thread::sleep(hold);
            cluster.lock().expect("cluster").restart_etcd();
        }
        ProcessFault::KillClient => return clients.kill_one(rng).then_some(fault.name()),
    }
    Some(fault.name())
}

/// The coordinator sweeping a collection (true), waited for up to 10 s; else any
/// coordinator (false).
fn sweeping_or_any(cluster: &Mutex<Cluster>, rng: &mut Rng) -> (usize, bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(i) = cluster.lock().expect("cluster").sweeping_coordinator() {
            return (i, true);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let coordinators = cluster.lock().expect("cluster").indices("coordinator");
    (*rng.pick(&coordinators), false)
}

/// The directory of a writer's files (for reports).
pub fn work_dir(root: &Path) -> PathBuf {
    root.join("work")
}
