//! Shared harness of the end-to-end tests: starts `cairn dev` as a real process on a free
//! loopback port, runs the `cairn` CLI against it, and opens gRPC clients. Every process a
//! test starts is killed by pid when its handle drops.

#![allow(dead_code)]

pub mod cluster;
pub mod grpc;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use cairn_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use cairn_proto::v1::storage_service_client::StorageServiceClient;
use sha2::{Digest as _, Sha256};
use tonic::transport::Channel;

/// Path of the `cairn` binary under test.
pub fn cairn_bin() -> &'static str {
    env!("CARGO_BIN_EXE_cairn")
}

/// A running `cairn dev` process.
pub struct DevServer {
    child: Option<Child>,
    pub data_dir: PathBuf,
    pub url: String,
    pub port: u16,
}

impl DevServer {
    /// Starts a server on a fresh data directory under `root`.
    pub fn start(root: &Path) -> Self {
        Self::start_on(root.join("data"), 0)
    }

    /// Starts a server on `data_dir`, on `port` (0: any free port).
    pub fn start_on(data_dir: PathBuf, port: u16) -> Self {
        Self::start_with(data_dir, port, &[], &[])
    }

    /// Starts a server with extra flags and environment variables.
    pub fn start_with(data_dir: PathBuf, port: u16, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(cairn_bin())
            .args(["dev", "--listen", &format!("127.0.0.1:{port}"), "--expiry-sweep-secs", "1", "--data-dir"])
            .arg(&data_dir)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cairn dev");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
        let address = line
            .split_whitespace()
            .find(|w| w.starts_with("127.0.0.1:"))
            .unwrap_or_else(|| panic!("cairn dev did not print its address: {line:?}"))
            .to_owned();
        let port = address.rsplit(':').next().unwrap().parse().unwrap();
        Self { child: Some(child), data_dir, url: format!("http://{address}"), port }
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9 cairn dev");
            child.wait().expect("reap cairn dev");
        }
    }

    /// Kills the server and starts a new one on the same data directory and port.
    pub fn crash_and_restart(&mut self) {
        self.kill9();
        let mut restarted = Self::start_on(self.data_dir.clone(), self.port);
        self.child = restarted.child.take();
    }

    /// Runs the CLI against this server in `cwd` with default project `default`.
    pub fn cli(&self, cwd: &Path, args: &[&str]) -> CliResult {
        self.cli_env(cwd, args, &[])
    }

    /// Runs the CLI with extra environment variables.
    pub fn cli_env(&self, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> CliResult {
        let mut command = Command::new(cairn_bin());
        command.args(args).current_dir(cwd).env("CAIRN_SERVER", &self.url).env_remove("CAIRN_PROJECT");
        command.env_remove("CAIRN_WRITER");
        // Each test keeps its own stat cache, beside its files.
        command.env("CAIRN_CACHE_DIR", cwd.join(".cairn-cache"));
        for (k, v) in env {
            command.env(k, v);
        }
        CliResult::from(command.output().expect("run cairn"))
    }

    /// A coordinator gRPC client.
    pub async fn coordinator(&self) -> CoordinatorServiceClient<Channel> {
        CoordinatorServiceClient::new(self.channel().await)
    }

    /// A storage gRPC client.
    pub async fn storage(&self) -> StorageServiceClient<Channel> {
        StorageServiceClient::new(self.channel().await)
    }

    /// A raw channel to the server.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone()).unwrap().connect().await.expect("connect to cairn dev")
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// What a CLI invocation did.
#[derive(Debug)]
pub struct CliResult {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for CliResult {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl CliResult {
    /// Asserts success and returns stdout trimmed.
    pub fn ok(&self) -> String {
        assert_eq!(self.code, 0, "cairn failed: stdout {:?} stderr {:?}", self.stdout, self.stderr);
        self.stdout.trim().to_owned()
    }

    /// Asserts success and parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", self.stdout))
    }

    /// Asserts failure with `code` and a one-line stderr naming `reason`.
    pub fn fails_with(&self, code: i32, reason: &str) {
        assert_eq!(self.code, code, "expected exit {code}: stdout {:?} stderr {:?}", self.stdout, self.stderr);
        assert!(self.stderr.contains(reason), "stderr does not name {reason}: {:?}", self.stderr);
        assert_eq!(self.stderr.trim().lines().count(), 1, "error is not one line: {:?}", self.stderr);
    }
}

/// Writes `files` (relative path, content) under `dir`.
pub fn write_tree(dir: &Path, files: &[(&str, &[u8])]) {
    for (path, content) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
}

/// Every file under `dir` as (relative path, content), sorted.
pub fn read_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Lowercase hex sha256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The ErrorInfo reason of a status.
pub fn reason(status: &tonic::Status) -> String {
    cairn_proto::error_info(status).map(|(reason, _)| reason).unwrap_or_default()
}

/// The ErrorInfo metadata of a status.
pub fn metadata(status: &tonic::Status) -> std::collections::HashMap<String, String> {
    cairn_proto::error_info(status).map(|(_, m)| m).unwrap_or_default()
}

/// Polls `check` until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
