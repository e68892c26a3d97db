//! A second S3-compatible server, moto (`moto_server` from PyPI's `moto[server]`), on
//! loopback. It answers many situations differently from s3s-fs (an unknown multipart
//! upload is NoSuchUpload, not AccessDenied; ListMultipartUploads works; unsigned requests
//! pass), so cairn's verification and recovery are tested against both.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process::{find_binary, free_port, stop, wait_http};

/// A running moto server holding its state in memory.
pub struct MotoServer {
    child: Option<Child>,
    port: u16,
}

impl MotoServer {
    /// Starts moto and creates the given buckets.
    pub fn start(buckets: &[&str]) -> Self {
        let binary = find_binary(
            "moto_server",
            "CAIRN_MOTO_SERVER_BIN",
            "pip install 'moto[server]==5.2.5'; scripts/test.sh installs it in a virtualenv",
        );
        let port = free_port();
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let server = Self { child: Some(child), port };
        assert!(wait_http(port, "/", "<", Duration::from_secs(60)), "moto_server did not answer on port {port}");
        for bucket in buckets {
            server.create_bucket(bucket);
        }
        server
    }

    /// Creates a bucket (moto accepts unsigned requests).
    fn create_bucket(&self, bucket: &str) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        let request = format!("PUT /{bucket} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\r\n", self.port);
        stream.write_all(request.as_bytes()).expect("send CreateBucket");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"), "CreateBucket: {answer}");
    }

    /// The endpoint URL, e.g. `http://127.0.0.1:5000`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGKILL).
    pub fn stop(&mut self) {
        stop(&mut self.child);
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
