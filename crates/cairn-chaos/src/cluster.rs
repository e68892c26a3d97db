//! The cluster under test: etcd, an S3 server behind the fault proxy, and `cairn
//! coordinator` / `cairn worker` processes on fixed loopback ports (so a restarted
//! process is found where it was). Every process is started and stopped by pid; logs go
//! to files in the run directory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cairn_testkit::{EtcdServer, MotoServer, S3Server, TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY, free_port};

use crate::plan::GcPlan;
use crate::proxy::FaultProxy;
use crate::rng::Rng;

/// Bucket the cluster stores into.
pub const BUCKET: &str = "cairn-chaos";
/// Lease TTL of coordinators and workers: a stalled or dead one is taken over this fast.
pub const LEASE_TTL_SECS: u64 = 3;
/// Timeout of one S3 request attempt: a black-holed request fails over this fast.
pub const S3_TIMEOUT_SECS: u64 = 5;

/// Which S3-compatible server stores the blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum S3Kind {
    /// s3s-fs 0.14.1 (files on disk; survives a restart).
    S3sFs,
    /// moto[server] (in memory; never restarted by the harness).
    Moto,
}

/// The S3 server.
pub enum S3Backend {
    S3sFs(S3Server),
    Moto(MotoServer),
}

impl S3Backend {
    fn port(&self) -> u16 {
        let endpoint = match self {
            S3Backend::S3sFs(server) => server.endpoint(),
            S3Backend::Moto(server) => server.endpoint(),
        };
        endpoint.rsplit(':').next().and_then(|p| p.parse().ok()).expect("endpoint has a port")
    }
}

/// A coordinator or worker process and how to start it again.
pub struct Node {
    pub role: &'static str,
    pub node_id: String,
    pub port: u16,
    child: Option<Child>,
    stopped: bool,
}

impl Node {
    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while it runs (stopped with SIGSTOP counts as running).
    pub fn alive(&self) -> bool {
        self.child.is_some()
    }

    /// The URL clients use.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The admin token every server of a run accepts (`CAIRN_BOOTSTRAP_TOKEN`) and every
/// client presents: authentication runs on every call of the workload, as in production.
pub const CHAOS_TOKEN: &str = "chaos-bootstrap-token-0123456789abcdef0123456789";

/// Everything the run started.
pub struct Cluster {
    pub dir: PathBuf,
    pub cairn: PathBuf,
    pub etcd: EtcdServer,
    pub s3: S3Backend,
    pub proxy: FaultProxy,
    pub nodes: Vec<Node>,
    pub gc: GcPlan,
}

/// Sends a signal to a process by pid with the `kill` command.
pub fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill").args([signal, &pid.to_string()]).stderr(Stdio::null()).status();
}

impl Cluster {
    /// Starts etcd, the S3 server, the proxy, and the given numbers of processes.
    pub fn start(
        dir: &Path,
        cairn: &Path,
        s3_kind: S3Kind,
        coordinators: usize,
        workers: usize,
        gc: GcPlan,
        rng: Rng,
    ) -> std::io::Result<Self> {
        let etcd = EtcdServer::start();
        let s3 = match s3_kind {
            S3Kind::S3sFs => S3Backend::S3sFs(S3Server::start(&[BUCKET])),
            S3Kind::Moto => S3Backend::Moto(MotoServer::start(&[BUCKET])),
        };
        let proxy = FaultProxy::start(s3.port(), rng)?;
        let mut cluster =
            Self { dir: dir.to_path_buf(), cairn: cairn.to_path_buf(), etcd, s3, proxy, nodes: Vec::new(), gc };
        for i in 0..workers {
            cluster.nodes.push(Node {
                role: "worker",
                node_id: format!("w{i}"),
                port: free_port(),
                child: None,
                stopped: false,
            });
        }
        for i in 0..coordinators {
            cluster.nodes.push(Node {
                role: "coordinator",
                node_id: format!("c{i}"),
                port: free_port(),
                child: None,
                stopped: false,
            });
        }
        for i in 0..cluster.nodes.len() {
            cluster.start_node(i)?;
        }
        Ok(cluster)
    }

    /// Every coordinator URL, comma-separated: what clients are given.
    pub fn servers(&self) -> String {
        self.nodes.iter().filter(|n| n.role == "coordinator").map(Node::url).collect::<Vec<_>>().join(",")
    }

    /// Indices of the nodes with `role`.
    pub fn indices(&self, role: &str) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].role == role).collect()
    }

    /// Starts node `i` (again), waiting until it serves.
    pub fn start_node(&mut self, i: usize) -> std::io::Result<()> {
        let node = &self.nodes[i];
        let log_path = self.dir.join(format!("{}.log", node.node_id));
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
        let mut command = Command::new(&self.cairn);
        command
            .arg(node.role)
            .args(["--listen", &format!("127.0.0.1:{}", node.port), "--node-id", &node.node_id])
            .args(["--lease-ttl-secs", &LEASE_TTL_SECS.to_string()])
            .args(["--etcd-endpoints", &self.etcd.endpoint(), "--etcd-namespace", "/chaos/"])
            .args(["--s3-bucket", BUCKET, "--s3-endpoint", &self.proxy.endpoint(), "--s3-region", TEST_REGION])
            .args(["--s3-access-key", TEST_ACCESS_KEY, "--s3-secret-key", TEST_SECRET_KEY, "--s3-prefix", "cairn/"])
            .args(["--s3-timeout-secs", &S3_TIMEOUT_SECS.to_string()])
            .arg("--data-dir")
            .arg(self.dir.join(&node.node_id))
            .env("CAIRN_BOOTSTRAP_TOKEN", CHAOS_TOKEN)
            .env("CAIRN_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log);
        if node.role == "coordinator" {
            // The garbage collector runs throughout, with a grace period far shorter than
            // a real one, so that its collections race the workload and the faults.
            command
                .args(["--expiry-sweep-secs", "2"])
                .args(["--gc-interval-secs", &self.gc.interval_secs.to_string()])
                .args(["--gc-grace-secs", &self.gc.grace_secs.to_string()]);
        }
        // A restart may race the lapse of its predecessor's registration (same node id):
        // retried until the old lease is gone.
        for _ in 0..(LEASE_TTL_SECS * 4) {
            let mut child = command.spawn()?;
            let mut line = String::new();
            let stdout = child.stdout.take().expect("piped stdout");
            let _ = BufReader::new(stdout).read_line(&mut line);
            if line.contains("listening on") {
                self.nodes[i].child = Some(child);
                self.nodes[i].stopped = false;
                return Ok(());
            }
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(500));
        }
        Err(std::io::Error::other(format!("{} did not start; see {}", self.nodes[i].node_id, log_path.display())))
    }

    /// Kills node `i` with SIGKILL.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            if self.nodes[i].stopped {
                signal(child.id(), "-CONT");
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes node `i` (SIGSTOP), as a long GC pause or a VM stall would.
    pub fn pause_node(&mut self, i: usize) {
        if let Some(pid) = self.nodes[i].pid() {
            signal(pid, "-STOP");
            self.nodes[i].stopped = true;
        }
    }

    /// The coordinator sweeping a collection now, by node index: the one whose log's last
    /// collector line says it marked (the sweep follows the mark) and not yet that it is done.
    pub fn sweeping_coordinator(&self) -> Option<usize> {
        self.indices("coordinator").into_iter().find(|&i| {
            let Some(tail) = log_tail(&self.dir.join(format!("{}.log", self.nodes[i].node_id))) else { return false };
            let last = tail.lines().rev().find(|l| l.contains(MARKED_LINE) || l.contains(DONE_LINE));
            self.nodes[i].alive() && !self.nodes[i].stopped && last.is_some_and(|l| l.contains(MARKED_LINE))
        })
    }

    /// Thaws node `i` (SIGCONT).
    pub fn resume_node(&mut self, i: usize) {
        if let Some(pid) = self.nodes[i].pid() {
            signal(pid, "-CONT");
            self.nodes[i].stopped = false;
        }
    }

    /// Kills etcd with SIGKILL and starts it again on its data.
    pub fn restart_etcd(&mut self) {
        self.etcd.restart();
    }

    /// Stops every cairn process, etcd and (if it keeps its data) the S3 server, then
    /// starts them all again from what is stored: the cold restart.
    pub fn cold_restart(&mut self) -> std::io::Result<()> {
        for i in 0..self.nodes.len() {
            self.kill_node(i);
        }
        self.etcd.stop();
        if let S3Backend::S3sFs(server) = &mut self.s3 {
            server.restart();
        }
        self.etcd.restart();
        for i in 0..self.nodes.len() {
            self.start_node(i)?;
        }
        Ok(())
    }

    /// Log lines that report a panic, by process.
    pub fn panics(&self) -> Vec<String> {
        let mut found = Vec::new();
        for node in &self.nodes {
            let log = std::fs::read_to_string(self.dir.join(format!("{}.log", node.node_id))).unwrap_or_default();
            for line in log.lines().filter(|l| l.contains("panicked")) {
                found.push(format!("{}: {line}", node.node_id));
            }
        }
        found
    }
}

/// What the collector logs after its mark and at its end (services/coordinator/src/gc).
const MARKED_LINE: &str = "marked everything live";
const DONE_LINE: &str = "garbage collection done";

/// The last 64 KiB of a log file.
fn log_tail(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024))).ok()?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).ok()?;
    Some(String::from_utf8_lossy(&tail).into_owned())
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill_node(i);
        }
    }
}
