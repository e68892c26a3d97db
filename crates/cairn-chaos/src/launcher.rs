//! Running client commands the way a job launcher does: the `cairn` CLI as a child
//! process, retried with the same identity when it fails, each attempt bounded in time.
//! Running commands are registered so that the fault injector can kill one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cluster::signal;
use crate::rng::{Rng, content};

/// Attempts of one command before the launcher gives up (a liveness failure).
pub const MAX_ATTEMPTS: u32 = 8;
/// Longest one attempt may run before it is killed and retried.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(240);

/// The client commands running now, by pid.
#[derive(Clone, Default)]
pub struct Clients {
    running: Arc<Mutex<Vec<u32>>>,
}

impl Clients {
    /// Kills one running client command, chosen by `rng`; false when none runs.
    pub fn kill_one(&self, rng: &mut Rng) -> bool {
        let running = self.running.lock().expect("client registry");
        if running.is_empty() {
            return false;
        }
        signal(*rng.pick(&running), "-KILL");
        true
    }
}

/// How a command ended after its retries.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The last attempt's stdout when it succeeded.
    pub stdout: Option<String>,
    /// The last failure's stderr (its last line).
    pub last_error: String,
    /// Every failed attempt: when it ended (seconds into the command) and its error.
    pub failures: Vec<String>,
    /// Attempts made.
    pub attempts: u32,
    /// From the first attempt's start to the success.
    pub latency: Duration,
    /// When it succeeded.
    pub acked_at: Option<Instant>,
    /// The error of an attempt the server refused for a reason the caller accepts (see
    /// [`Launcher::run_accepting`]); nothing was retried after it.
    pub refused: Option<String>,
}

impl Outcome {
    /// The success's stdout as JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.stdout.as_deref()?.trim()).ok()
    }
}

/// Runs `cairn` commands against one cluster.
#[derive(Clone)]
pub struct Launcher {
    pub cairn: PathBuf,
    pub servers: String,
    pub clients: Clients,
    /// Where attempts keep their output and client cache (never inside an uploaded tree).
    pub scratch: PathBuf,
}

/// Numbers each attempt's scratch files.
static ATTEMPTS: AtomicU64 = AtomicU64::new(0);

impl Launcher {
    /// Runs `args` in `cwd` until it succeeds or [`MAX_ATTEMPTS`] failed.
    pub fn run(&self, cwd: &Path, args: &[String]) -> Outcome {
        self.run_accepting(cwd, args, &[])
    }

    /// Like [`Launcher::run`], but an attempt whose error ends with one of the `accepted`
    /// reasons (`[REASON]`, docs/cli.md) is a final answer: it ends the command as refused.
    pub fn run_accepting(&self, cwd: &Path, args: &[String], accepted: &[&str]) -> Outcome {
        let started = Instant::now();
        let mut last_error = String::new();
        let mut failures = Vec::new();
        for attempt in 1..=MAX_ATTEMPTS {
            match self.attempt(cwd, args) {
                Ok(stdout) => {
                    return Outcome {
                        stdout: Some(stdout),
                        last_error,
                        failures,
                        attempts: attempt,
                        latency: started.elapsed(),
                        acked_at: Some(Instant::now()),
                        refused: None,
                    };
                }
                Err(err) if accepted.iter().any(|reason| err.trim_end().ends_with(&format!("[{reason}]"))) => {
                    return Outcome {
                        stdout: None,
                        last_error: err.clone(),
                        failures,
                        attempts: attempt,
                        latency: started.elapsed(),
                        acked_at: None,
                        refused: Some(err),
                    };
                }
                Err(err) => {
                    failures.push(format!("{:.0}s: {err}", started.elapsed().as_secs_f64()));
                    last_error = err;
                }
            }
            std::thread::sleep(Duration::from_millis(500 * u64::from(attempt.min(6))));
        }
        Outcome {
            stdout: None,
            last_error,
            failures,
            attempts: MAX_ATTEMPTS,
            latency: started.elapsed(),
            acked_at: None,
            refused: None,
        }
    }

    /// Runs `args` once; the stdout of a success, or the last line of stderr.
    pub fn attempt(&self, cwd: &Path, args: &[String]) -> Result<String, String> {
        let n = ATTEMPTS.fetch_add(1, Ordering::Relaxed);
        let out_path = self.scratch.join(format!("{n}.out"));
        let err_path = self.scratch.join(format!("{n}.err"));
        let cache = self.scratch.join(format!("{n}.cache"));
        let mut child = Command::new(&self.cairn)
            .args(args)
            .current_dir(cwd)
            .env("CAIRN_SERVER", &self.servers)
            .env("CAIRN_PROJECT", "chaos")
            .env("CAIRN_TOKEN", crate::cluster::CHAOS_TOKEN)
            // Retries and resumes are logged, so a command that times out says what it did.
            .env("CAIRN_LOG", "info")
            .env("CAIRN_CACHE_DIR", &cache)
            .env_remove("CAIRN_WRITER")
            .env_remove("CAIRN_DISTRIBUTED_ID")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).map_err(|e| e.to_string())?)
            .stderr(std::fs::File::create(&err_path).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("cannot run cairn: {e}"))?;
        let pid = child.id();
        self.clients.running.lock().expect("client registry").push(pid);
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if started.elapsed() > ATTEMPT_TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break None,
            }
        };
        self.clients.running.lock().expect("client registry").retain(|p| *p != pid);
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        let _ = (std::fs::remove_file(&out_path), std::fs::remove_file(&err_path), std::fs::remove_dir_all(&cache));
        match status {
            Some(status) if status.success() => Ok(stdout),
            Some(status) => Err(format!("{status}: {}", stderr.lines().last().unwrap_or(""))),
            None => Err(format!(
                "timed out after {ATTEMPT_TIMEOUT:?}; last log line: {}",
                stderr.lines().last().unwrap_or("(none)")
            )),
        }
    }
}

/// Writes `files` under `dir` with their planned content.
pub fn materialize(dir: &Path, files: &[crate::plan::FileSpec]) -> std::io::Result<()> {
    for file in files {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content(file.content_id, file.size as usize))?;
    }
    Ok(())
}
