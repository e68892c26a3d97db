//! The chaos harness: a real cluster (3 coordinators, 3 workers, etcd, an S3 server behind
//! a fault-injecting proxy), a seeded workload of concurrent distributed jobs, logs and
//! edits run through the `cairn` CLI as a job launcher would (failed commands retried with
//! the same identity), and seeded faults: kill -9 and restart of coordinators, workers,
//! client commands and etcd; SIGSTOP of a coordinator past its lease; S3 latency, 503s,
//! resets and answers that never come. With `--aggressive-gc` the collector runs every few
//! seconds with a grace of 0–5 s while long-lived drafts finish, deletions race edits,
//! retention runs and collectors are frozen mid-sweep. Afterwards it checks the invariants
//! (check.rs), runs one more collection (grace 0) and checks them again with `fsck
//! --deep`, restarts everything cold from storage and checks them again, and looks for
//! panics.
//! A seed fixes the plan (work and fault schedule); timing still varies from run to run.

pub mod check;
pub mod cluster;
pub mod launcher;
pub mod plan;
pub mod proxy;
pub mod rng;
pub mod run;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cluster::{Cluster, S3Kind};
use crate::launcher::{Clients, Launcher, MAX_ATTEMPTS};
use crate::plan::{Plan, Scale};
use crate::proxy::S3Fault;
use crate::rng::Rng;

/// One run's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub seed: u64,
    pub scale: Scale,
    pub s3: S3Kind,
    /// The `cairn` binary.
    pub cairn: PathBuf,
    /// Where servers keep data and logs, and the workload its files.
    pub dir: PathBuf,
}

/// What a run measured and found.
#[derive(Debug)]
pub struct Report {
    pub seed: u64,
    pub s3: S3Kind,
    pub elapsed: Duration,
    pub operations: Vec<(String, u64, u64, u64)>,
    pub faults: Vec<(String, u64)>,
    pub upsert_latency: Option<(Duration, Duration)>,
    pub finish_latency: Option<(Duration, Duration)>,
    /// Longest time from the end of the last fault to an acknowledgement after it.
    pub recovery: Option<Duration>,
    /// What the collection after the workload freed (`cairn gc --json`).
    pub final_collection: Option<serde_json::Value>,
    pub violations: Vec<String>,
}

fn percentiles(mut samples: Vec<Duration>) -> Option<(Duration, Duration)> {
    if samples.is_empty() {
        return None;
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Some((at(0.5), at(0.99)))
}

/// Runs one seeded chaos run and checks it.
pub fn run(settings: &Settings) -> std::io::Result<Report> {
    let started = Instant::now();
    let seed = Rng::new(settings.seed);
    let plan = Plan::new(&seed, &settings.scale);
    let servers_dir = settings.dir.join("servers");
    let scratch = settings.dir.join("scratch");
    std::fs::create_dir_all(&servers_dir)?;
    std::fs::create_dir_all(&scratch)?;
    let scale = &settings.scale;
    let cluster = Cluster::start(
        &servers_dir,
        &settings.cairn,
        settings.s3,
        scale.coordinators,
        scale.workers,
        plan.gc,
        seed.fork(3),
    )?;
    let launcher =
        Launcher { cairn: settings.cairn.clone(), servers: cluster.servers(), clients: Clients::default(), scratch };
    let cluster = Arc::new(Mutex::new(cluster));
    let (ledger, fault_log) = run::execute(&plan, cluster.clone(), &launcher, &run::work_dir(&settings.dir), &seed);

    let mut violations = Vec::new();
    let gave_up = |o: &launcher::Outcome| o.acked_at.is_none() && o.refused.is_none();
    for commit in ledger.commits.iter().filter(|c| gave_up(&c.outcome)) {
        violations.push(format!(
            "liveness: {} of {} gave up after {MAX_ATTEMPTS} attempts: {}",
            commit.kind,
            commit.artifact,
            commit.outcome.failures.join(" | ")
        ));
    }
    for job in &ledger.stranded_jobs {
        violations.push(format!("liveness: a writer of {job} gave up after {MAX_ATTEMPTS} attempts"));
    }
    for failed in ledger.upserts.iter().filter(|u| u.acked_at.is_none()) {
        violations.push(format!("liveness: an upsert failed for good; its attempts: {}", failed.failures.join(" | ")));
    }
    for (artifact, _, deletion) in ledger.deletions.iter().filter(|(_, _, o)| gave_up(o)) {
        violations.push(format!("liveness: a deletion in {artifact} gave up: {}", deletion.failures.join(" | ")));
    }
    violations.extend(ledger.gave_up.iter().map(|what| format!("liveness: {what}")));
    let checked_dir = settings.dir.join("checks");
    std::fs::create_dir_all(&checked_dir)?;
    violations.extend(check::check_versions(&ledger, &launcher, &checked_dir, false));
    // One more collection, with no grace: nothing but committed versions is left to keep.
    let collection = final_collection(&launcher, &checked_dir);
    if let Err(err) = &collection {
        violations.push(format!("the final collection failed: {err}"));
    }
    for violation in check::check_versions(&ledger, &launcher, &checked_dir, true) {
        violations.push(format!("after one more collection: {violation}"));
    }
    violations.extend(check::check_fsck(&launcher, &checked_dir));
    {
        let mut cluster = cluster.lock().expect("cluster");
        cluster.cold_restart()?;
    }
    for violation in check::check_versions(&ledger, &launcher, &checked_dir, true) {
        violations.push(format!("after a cold restart: {violation}"));
    }
    let cluster = cluster.lock().expect("cluster");
    violations.extend(cluster.panics().into_iter().map(|p| format!("panic: {p}")));

    let mut operations = Vec::new();
    for kind in ["finish", "log", "edit"] {
        let of_kind: Vec<_> = ledger.commits.iter().filter(|c| c.kind == kind).collect();
        let acked = of_kind.iter().filter(|c| c.outcome.acked_at.is_some()).count() as u64;
        let retried = of_kind.iter().map(|c| u64::from(c.outcome.attempts - 1)).sum();
        operations.push((kind.to_owned(), of_kind.len() as u64, acked, retried));
    }
    let refused = ledger.commits.iter().filter(|c| c.outcome.refused.is_some()).count() as u64;
    operations.push(("edit refused, base deleted".to_owned(), refused, 0, 0));
    let deletions = ledger.deletions.iter().map(|(_, _, o)| o);
    let deleted = deletions.clone().filter(|o| o.acked_at.is_some() || o.refused.is_some()).count() as u64;
    let retried = deletions.clone().map(|o| u64::from(o.attempts - 1)).sum();
    operations.push(("delete".to_owned(), ledger.deletions.len() as u64, deleted, retried));

    let upserts_acked = ledger.upserts.iter().filter(|u| u.acked_at.is_some()).count() as u64;
    let upserts_retried = ledger.upserts.iter().map(|u| u64::from(u.attempts - 1)).sum();
    operations.insert(0, ("upsert".to_owned(), ledger.upserts.len() as u64, upserts_acked, upserts_retried));

    let mut faults: Vec<(String, u64)> = fault_log.counts.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    let (proxy_counts, connections) = cluster.proxy.counts();
    for (fault, count) in S3Fault::ALL.iter().zip(proxy_counts) {
        faults.push((format!("{} requests", fault.name()), count));
    }
    faults.push(("s3 connections opened".to_owned(), connections));

    let acks = ledger.upserts.iter().chain(ledger.commits.iter().map(|c| &c.outcome)).filter_map(|o| o.acked_at);
    let recovery = fault_log.last_fault_end.and_then(|end| acks.filter(|at| *at > end).map(|at| at - end).max());
    Ok(Report {
        seed: settings.seed,
        s3: settings.s3,
        elapsed: started.elapsed(),
        operations,
        faults,
        upsert_latency: percentiles(
            ledger.upserts.iter().filter(|u| u.acked_at.is_some()).map(|u| u.latency).collect(),
        ),
        finish_latency: percentiles(
            ledger
                .commits
                .iter()
                .filter(|c| c.kind == "finish" && c.outcome.acked_at.is_some())
                .map(|c| c.outcome.latency)
                .collect(),
        ),
        recovery,
        final_collection: collection.ok(),
        violations,
    })
}

impl Report {
    /// The report as text, ending with the command that replays the run.
    pub fn render(&self, replay: &str) -> String {
        let mut out = format!("chaos run: seed {} on {:?}, {:.0} s\n", self.seed, self.s3, self.elapsed.as_secs_f64());
        out.push_str("operations (kind: started, acknowledged, retries):\n");
        for (kind, started, acked, retried) in &self.operations {
            out.push_str(&format!("  {kind:<26} {started:>5} {acked:>5} {retried:>5}\n"));
        }
        out.push_str("faults injected:\n");
        for (fault, count) in &self.faults {
            out.push_str(&format!("  {fault:<28} {count:>6}\n"));
        }
        let ms = |d: Duration| d.as_millis();
        if let Some((p50, p99)) = self.upsert_latency {
            out.push_str(&format!("upsert latency (with retries): p50 {} ms, p99 {} ms\n", ms(p50), ms(p99)));
        }
        if let Some((p50, p99)) = self.finish_latency {
            out.push_str(&format!("finish latency (with retries): p50 {} ms, p99 {} ms\n", ms(p50), ms(p99)));
        }
        if let Some(recovery) = self.recovery {
            out.push_str(&format!("last acknowledgement after the last fault: {} ms later\n", ms(recovery)));
        }
        if let Some(gc) = &self.final_collection {
            out.push_str(&format!(
                "final collection (grace 0): {} blobs freed, {} bytes, {} kept\n",
                gc["deleted_blobs"], gc["freed_bytes"], gc["kept_blobs"]
            ));
        }
        out.push_str(&format!("invariant violations: {}\n", self.violations.len()));
        for violation in &self.violations {
            out.push_str(&format!("  VIOLATION {violation}\n"));
        }
        if !self.violations.is_empty() {
            out.push_str(&format!("replay: {replay}\n"));
        }
        out
    }
}

/// `cairn gc --grace 0`, once the periodic collections let it run: while one runs the
/// command answers GC_RUNNING, and it is tried again at once (for up to 5 min), to land
/// in the gap before the next periodic one.
fn final_collection(launcher: &Launcher, cwd: &Path) -> Result<serde_json::Value, String> {
    let command: Vec<String> = ["gc", "--grace", "0", "--json"].map(String::from).into();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        match launcher.attempt(cwd, &command) {
            Ok(out) => return serde_json::from_str(out.trim()).map_err(|e| format!("gc printed no JSON: {e}")),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => return Err(err),
        }
    }
}

/// The `cairn` binary next to this one (both are built into the same target directory).
pub fn sibling_cairn() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let candidate = me.parent()?.join("cairn");
    candidate.is_file().then_some(candidate)
}

/// Keeps `dir` when asked to, else removes it.
pub fn clean_up(dir: &Path, keep: bool) {
    if !keep {
        let _ = std::fs::remove_dir_all(dir);
    }
}
