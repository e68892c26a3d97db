//! A single-member etcd cluster on loopback.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process::{find_binary, free_port, stop, wait_http};

/// A running etcd, with its own data directory.
pub struct EtcdServer {
    child: Option<Child>,
    data_dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    /// Plain-HTTP port of `/health`, which works whether clients use TLS or not.
    metrics_port: u16,
    binary: PathBuf,
    tls: Option<EtcdTls>,
}

/// PEM files for an etcd that serves clients over TLS and requires client certificates
/// signed by `ca`.
#[derive(Debug, Clone)]
pub struct EtcdTls {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl EtcdServer {
    /// Starts etcd on free loopback ports and waits until it is healthy.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts etcd serving clients over TLS only, requiring client certificates.
    pub fn start_tls(tls: EtcdTls) -> Self {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<EtcdTls>) -> Self {
        let binary = find_binary("etcd", "CAIRN_ETCD_BIN", "apt-get install etcd-server; scripts/test.sh installs it");
        let mut server = Self {
            child: None,
            data_dir: tempfile::tempdir().expect("etcd data dir"),
            client_port: free_port(),
            peer_port: free_port(),
            metrics_port: free_port(),
            binary,
            tls,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let client = self.endpoint();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let metrics = format!("http://127.0.0.1:{}", self.metrics_port);
        let mut command = Command::new(&self.binary);
        command
            .args(["--name", "cairn-test", "--data-dir"])
            .arg(self.data_dir.path().join("member"))
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--listen-metrics-urls", &metrics])
            .args(["--initial-cluster", &format!("cairn-test={peer}"), "--log-level", "error"]);
        if let Some(tls) = &self.tls {
            command
                .arg("--cert-file")
                .arg(&tls.server_cert)
                .arg("--key-file")
                .arg(&tls.server_key)
                .arg("--trusted-ca-file")
                .arg(&tls.ca)
                .arg("--client-cert-auth");
        }
        let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start etcd");
        self.child = Some(child);
        assert!(
            wait_http(self.metrics_port, "/health", "\"health\":\"true\"", Duration::from_secs(30)),
            "etcd did not become healthy on port {}",
            self.metrics_port
        );
    }

    /// The client endpoint, e.g. `http://127.0.0.1:23790` (`https://` with TLS).
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// The pid of the etcd process.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops etcd (SIGKILL) and keeps its data.
    pub fn stop(&mut self) {
        stop(&mut self.child);
    }

    /// Starts etcd again on the same data and ports.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Where etcd keeps its data.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.path().to_path_buf()
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
