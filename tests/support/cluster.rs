//! A real cluster on loopback for end-to-end tests: etcd, an S3-compatible server, and
//! `cairn coordinator` / `cairn worker` processes, each on ports chosen at run time and
//! each stopped by pid when the cluster drops. Server logs go to files in the cluster's
//! temporary directory, named after the process.
//!
//! Secure as a real deployment: every coordinator and worker serves TLS with a
//! certificate from a CA made for the test, and requires tokens; the CLI runs with the
//! bootstrap (admin) token and trusts that CA.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use cairn_testkit::{EtcdServer, S3Server, TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY, TestPki};

use super::{CliResult, cairn_bin};

/// S3 bucket the cluster stores into.
pub const BUCKET: &str = "cairn-cluster";

/// One server process.
pub struct Proc {
    child: Option<Child>,
    pub url: String,
    pub node_id: String,
}

impl Proc {
    /// Kills the process with SIGKILL.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while the process runs.
    pub fn alive(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Sends SIGKILL to `pid` (for processes whose handle is borrowed elsewhere; the handle
/// still reaps it when dropped).
pub fn kill9_pid(pid: u32) {
    let status = Command::new("kill").args(["-9", &pid.to_string()]).status().expect("run kill");
    assert!(status.success(), "kill -9 {pid} failed");
}

/// etcd + S3 + coordinators + workers.
pub struct Cluster {
    pub root: tempfile::TempDir,
    pub etcd: EtcdServer,
    pub s3: S3Server,
    pub coordinators: Vec<Proc>,
    pub workers: Vec<Proc>,
    /// Extra flags of every worker.
    worker_args: Vec<String>,
    /// The CA and certificates the servers use.
    pub pki: TestPki,
    /// The admin token every server accepts (`CAIRN_BOOTSTRAP_TOKEN`).
    pub bootstrap_token: String,
}

/// Lease TTL of every process in test clusters: takeover within a few seconds.
pub const LEASE_TTL_SECS: &str = "3";

impl Cluster {
    /// Starts a cluster with `coordinators` replicas and `workers` workers.
    pub fn start(coordinators: usize, workers: usize) -> Self {
        Self::start_with(coordinators, workers, &[])
    }

    /// Starts a cluster whose workers get `worker_args` too.
    pub fn start_with(coordinators: usize, workers: usize, worker_args: &[&str]) -> Self {
        let root = tempfile::tempdir().unwrap();
        let pki = TestPki::generate(&root.path().join("pki"), "cluster").unwrap();
        let mut cluster = Self {
            worker_args: worker_args.iter().map(|a| (*a).to_owned()).collect(),
            pki,
            bootstrap_token: format!("bootstrap-{}", uuid_like()),
            root,
            etcd: EtcdServer::start(),
            s3: S3Server::start(&[BUCKET]),
            coordinators: Vec::new(),
            workers: Vec::new(),
        };
        for i in 0..workers {
            let worker = cluster.spawn("worker", &format!("w{i}"));
            cluster.workers.push(worker);
        }
        for i in 0..coordinators {
            let coordinator = cluster.spawn("coordinator", &format!("c{i}"));
            cluster.coordinators.push(coordinator);
        }
        cluster
    }

    fn spawn(&self, role: &str, node_id: &str) -> Proc {
        let log = std::fs::File::create(self.root.path().join(format!("{node_id}.log"))).unwrap();
        let mut child = Command::new(cairn_bin())
            .args([role, "--listen", "127.0.0.1:0", "--node-id", node_id, "--lease-ttl-secs", LEASE_TTL_SECS])
            .args(["--etcd-endpoints", &self.etcd.endpoint(), "--etcd-namespace", "/cluster-test/"])
            .args(["--s3-bucket", BUCKET, "--s3-endpoint", &self.s3.endpoint(), "--s3-region", TEST_REGION])
            .args(["--s3-access-key", TEST_ACCESS_KEY, "--s3-secret-key", TEST_SECRET_KEY, "--s3-prefix", "cairn/"])
            .args(["--expiry-sweep-secs", "1"].iter().filter(|_| role == "coordinator"))
            .args(self.worker_args.iter().filter(|_| role == "worker"))
            .arg("--data-dir")
            .arg(self.root.path().join(node_id))
            .env("CAIRN_TLS_CERT", &self.pki.server_cert)
            .env("CAIRN_TLS_KEY", &self.pki.server_key)
            .env("CAIRN_CA_CERT", &self.pki.ca)
            .env("CAIRN_BOOTSTRAP_TOKEN", &self.bootstrap_token)
            .env("CAIRN_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start cairn {role}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line
            .split_whitespace()
            .find(|w| w.starts_with("127.0.0.1:"))
            .unwrap_or_else(|| panic!("cairn {role} {node_id} did not start: {line:?}; see {node_id}.log"))
            .to_owned();
        Proc { child: Some(child), url: format!("https://{address}"), node_id: node_id.to_owned() }
    }

    /// Starts another coordinator replica.
    pub fn add_coordinator(&mut self, node_id: &str) {
        let coordinator = self.spawn("coordinator", node_id);
        self.coordinators.push(coordinator);
    }

    /// Every live coordinator, comma-separated, `from` first.
    pub fn servers_from(&self, from: usize) -> String {
        let n = self.coordinators.len();
        (0..n)
            .map(|i| &self.coordinators[(from + i) % n])
            .filter(|c| c.alive())
            .map(|c| c.url.clone())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Runs the CLI against exactly the servers given.
    pub fn cli_via(&self, servers: &str, cwd: &Path, args: &[&str]) -> CliResult {
        let output = Command::new(cairn_bin())
            .args(args)
            .current_dir(cwd)
            .env("CAIRN_SERVER", servers)
            .env_remove("CAIRN_PROJECT")
            .env_remove("CAIRN_WRITER")
            .env("CAIRN_CACHE_DIR", cwd.join(".cairn-cache"))
            .env("CAIRN_TOKEN", &self.bootstrap_token)
            .env("CAIRN_CA_CERT", &self.pki.ca)
            .output()
            .expect("run cairn");
        CliResult::from(output)
    }

    /// Runs the CLI against coordinator `i` only.
    pub fn cli_on(&self, i: usize, cwd: &Path, args: &[&str]) -> CliResult {
        self.cli_via(&self.coordinators[i].url.clone(), cwd, args)
    }

    /// Total bytes of multipart parts the S3 server holds (uploads in progress).
    pub fn s3_part_bytes(&self) -> u64 {
        std::fs::read_dir(self.s3.root())
            .map(|dir| {
                dir.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(".upload_id-"))
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// A gRPC client of coordinator `i`, over TLS, sending the bootstrap token.
    pub async fn grpc(
        &self,
        i: usize,
    ) -> cairn_proto::v1::coordinator_service_client::CoordinatorServiceClient<
        tonic::service::interceptor::InterceptedService<
            tonic::transport::Channel,
            impl tonic::service::Interceptor + use<>,
        >,
    > {
        let tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(std::fs::read(&self.pki.ca).unwrap()));
        let channel = tonic::transport::Endpoint::from_shared(self.coordinators[i].url.clone())
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap();
        let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {}", self.bootstrap_token).parse().unwrap();
        cairn_proto::v1::coordinator_service_client::CoordinatorServiceClient::with_interceptor(
            channel,
            move |mut request: tonic::Request<()>| {
                request.metadata_mut().insert("authorization", bearer.clone());
                Ok(request)
            },
        )
    }

    /// A server log, for failure messages.
    pub fn log(&self, node_id: &str) -> String {
        std::fs::read_to_string(self.root.path().join(format!("{node_id}.log"))).unwrap_or_default()
    }

    /// Where the cluster keeps its files.
    pub fn path(&self) -> PathBuf {
        self.root.path().to_path_buf()
    }
}

/// A random hex string (from the OS's randomness, through a temporary file's name).
fn uuid_like() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hex = String::new();
    for _ in 0..4 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(std::process::id() as u64);
        hex.push_str(&format!("{:016x}", hasher.finish()));
    }
    hex
}
