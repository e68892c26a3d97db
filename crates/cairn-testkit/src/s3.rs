//! An S3-compatible server (`s3s-fs`) on loopback, storing into a temporary directory.
//! It checks request signatures, so tests exercise real SigV4 credentials.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process::{find_binary, free_port, stop, wait_http};

/// Access key of the test server.
pub const TEST_ACCESS_KEY: &str = "cairntestaccess";
/// Secret key of the test server.
pub const TEST_SECRET_KEY: &str = "cairntestsecretkey";
/// Region the test clients sign for.
pub const TEST_REGION: &str = "us-east-1";

/// A running s3s-fs.
pub struct S3Server {
    child: Option<Child>,
    root: tempfile::TempDir,
    port: u16,
    binary: std::path::PathBuf,
}

impl S3Server {
    /// Starts s3s-fs with the given buckets (created as directories) and waits until it answers.
    pub fn start(buckets: &[&str]) -> Self {
        let binary = find_binary(
            "s3s-fs",
            "CAIRN_S3S_FS_BIN",
            "cargo install s3s-fs@0.14.1 --locked --features binary; scripts/test.sh installs it",
        );
        let root = tempfile::tempdir().expect("s3 root");
        for bucket in buckets {
            std::fs::create_dir_all(root.path().join(bucket)).expect("create bucket dir");
        }
        let mut server = Self { child: None, root, port: free_port(), binary };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.binary)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", TEST_ACCESS_KEY, "--secret-key", TEST_SECRET_KEY])
            .arg(self.root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        self.child = Some(child);
        // An unsigned request is refused with an S3 XML error: enough to know it serves.
        let port = self.port;
        assert!(wait_http(port, "/", "<", Duration::from_secs(30)), "s3s-fs did not answer on port {port}");
    }

    /// Starts s3s-fs again on the same directory and port (after a stop or a crash).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The endpoint URL, e.g. `http://127.0.0.1:9000`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The directory s3s-fs stores objects in (`<root>/<bucket>/<key>`).
    pub fn root(&self) -> std::path::PathBuf {
        self.root.path().to_path_buf()
    }

    /// Stops the server (SIGKILL).
    pub fn stop(&mut self) {
        stop(&mut self.child);
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
