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
    binary: PathBuf,
}

impl EtcdServer {
    /// Starts etcd on free loopback ports and waits until it is healthy.
    pub fn start() -> Self {
        let binary = find_binary("etcd", "CAIRN_ETCD_BIN", "apt-get install etcd-server; scripts/test.sh installs it");
        let mut server = Self {
            child: None,
            data_dir: tempfile::tempdir().expect("etcd data dir"),
            client_port: free_port(),
            peer_port: free_port(),
            binary,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new(&self.binary)
            .args(["--name", "cairn-test", "--data-dir"])
            .arg(self.data_dir.path().join("member"))
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("cairn-test={peer}"), "--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcd");
        self.child = Some(child);
        assert!(
            wait_http(self.client_port, "/health", "\"health\":\"true\"", Duration::from_secs(30)),
            "etcd did not become healthy on port {}",
            self.client_port
        );
    }

    /// The client endpoint, e.g. `http://127.0.0.1:23790`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
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
