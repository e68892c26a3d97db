//! Processes the bench drives: a `cairn dev` server and `cairn` client commands, each a
//! real process of the binary under test (the one running the bench unless
//! `CAIRN_BENCH_BINARY` names another, e.g. an older build for before/after figures),
//! timed from outside.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `cairn dev` server with its own data directory.
pub struct Server {
    child: Child,
    pub url: String,
    /// With TLS and tokens: the CA clients trust and the token they present.
    secure: Option<(PathBuf, String)>,
}

/// TLS and authentication for a bench server: a loopback CA and an admin token.
pub struct Secure {
    pub pki: cairn_proto::pki::LocalPki,
    pub token: String,
}

impl Secure {
    /// A fresh CA in `dir` and a random bootstrap token.
    pub fn generate(dir: &Path) -> Result<Self, String> {
        let pki = cairn_proto::pki::LocalPki::generate(dir, "bench")?;
        Ok(Self { pki, token: format!("bench-{}", uuid::Uuid::new_v4().simple()) })
    }
}

/// The `cairn` binary whose server and client are measured.
fn binary_under_test() -> Result<PathBuf, String> {
    match std::env::var_os("CAIRN_BENCH_BINARY") {
        Some(path) => Ok(PathBuf::from(path)),
        None => std::env::current_exe().map_err(|e| e.to_string()),
    }
}

impl Server {
    pub fn start(data_dir: &Path) -> Result<Self, String> {
        Self::start_with(data_dir, None)
    }

    /// A server speaking TLS with `secure`'s certificate and requiring tokens.
    pub fn start_secure(data_dir: &Path, secure: &Secure) -> Result<Self, String> {
        Self::start_with(data_dir, Some(secure))
    }

    fn start_with(data_dir: &Path, secure: Option<&Secure>) -> Result<Self, String> {
        let exe = binary_under_test()?;
        let mut command = Command::new(exe);
        command.args(["dev", "--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir);
        if let Some(secure) = secure {
            command
                .arg("--auth")
                .arg("--tls-cert")
                .arg(&secure.pki.server_cert)
                .arg("--tls-key")
                .arg(&secure.pki.server_key)
                .env("CAIRN_BOOTSTRAP_TOKEN", &secure.token);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start cairn dev: {e}"))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).map_err(|e| e.to_string())?;
        let address = line
            .split_whitespace()
            .find(|w| w.starts_with("127.0.0.1:"))
            .ok_or_else(|| format!("cairn dev did not start: {line:?}"))?
            .to_owned();
        let scheme = if secure.is_some() { "https" } else { "http" };
        Ok(Self {
            child,
            url: format!("{scheme}://{address}"),
            secure: secure.map(|s| (s.pki.ca.clone(), s.token.clone())),
        })
    }

    /// Peak resident memory of the server process so far (VmHWM).
    pub fn peak_rss(&self) -> u64 {
        peak_rss_of(&format!("/proc/{}/status", self.child.id()))
    }

    /// CPU time (user + system, all threads) the server process has used so far.
    pub fn cpu(&self) -> Duration {
        cpu_of(&format!("/proc/{}/stat", self.child.id()))
    }
}

/// utime + stime from a /proc stat file (0 if unreadable). The fields count USER_HZ
/// ticks, which Linux fixes at 100 per second for this interface.
pub fn cpu_of(stat_path: &str) -> Duration {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // After ')': state is index 0, so utime (field 14) is index 11 and stime index 12.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// VmHWM from a /proc status file, in bytes (0 if unreadable).
pub fn peak_rss_of(status_path: &str) -> u64 {
    std::fs::read_to_string(status_path)
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        .map_or(0, |kb| kb * 1024)
}

/// What one client command did.
pub struct Run {
    pub json: serde_json::Value,
    pub wall: Duration,
    pub client_peak_rss: u64,
    /// CPU time of the client process (user + system), as it reported on exit.
    pub client_cpu: Duration,
}

/// Runs `cairn <args> --json` against `server` in `cwd`, with the stat cache in `cache_dir`.
pub fn cairn(server: &Server, cwd: &Path, cache_dir: &Path, args: &[&str]) -> Result<Run, String> {
    let exe = binary_under_test()?;
    let mut command = Command::new(exe);
    if let Some((ca, token)) = &server.secure {
        command.env("CAIRN_CA_CERT", ca).env("CAIRN_TOKEN", token);
    } else {
        command.env_remove("CAIRN_TOKEN").env_remove("CAIRN_CA_CERT");
    }
    let started = Instant::now();
    let output = command
        .args(args)
        .arg("--json")
        .current_dir(cwd)
        .env("CAIRN_SERVER", &server.url)
        .env("CAIRN_CACHE_DIR", cache_dir)
        .env("CAIRN_REPORT_PEAK_RSS", "1")
        .env_remove("CAIRN_PROJECT")
        .env_remove("CAIRN_CONTENT_CACHE")
        .output()
        .map_err(|e| e.to_string())?;
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("cairn {} failed: {stderr}", args.join(" ")));
    }
    let client_peak_rss =
        stderr.lines().find_map(|l| l.strip_prefix("peak_rss_bytes=")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    let client_cpu = stderr
        .lines()
        .find_map(|l| l.strip_prefix("cpu_seconds="))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(Duration::ZERO, Duration::from_secs_f64);
    let json = serde_json::from_slice(&output.stdout).map_err(|e| format!("bad JSON from cairn: {e}"))?;
    Ok(Run { json, wall, client_peak_rss, client_cpu })
}
