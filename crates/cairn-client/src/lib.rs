//! The Rust client of cairn: collects and hashes local files in parallel, uploads only the
//! blobs the server is missing, drives the coordinator's lifecycle calls, and downloads
//! versions with every byte verified. The `cairn` CLI is a thin layer over this crate.

mod batching;
mod connection;
mod credentials;
mod download;
mod error;
mod files;
mod hash;
mod identity;
mod inspect;
pub use identity::{JobIdentity, Sourced, job_identity, job_identity_from};
pub use inspect::Selection;
mod lifecycle;
mod local_tree;
mod progress;
mod quotas;
mod stat_cache;
mod tokens;
mod types;
mod upload;

use std::future::Future;
use std::sync::Arc;

use tonic::Status;

use crate::connection::{Connection, CoordinatorClient, StorageClient};

pub use credentials::Credentials;
pub use error::ClientError;
pub use files::{IGNORE_FILE, LocalFile, WalkRules, collect, parse_add};
pub use hash::{HashStats, HashedFile, hash_file, hash_files};
pub use lifecycle::{EditRequest, FinishRequest, LogRequest, UpsertRequest};
pub use local_tree::TreeDifference;
pub use progress::{Phase, Progress};
pub use quotas::QuotaUsage;
pub use stat_cache::{Fingerprint, StatCache};
pub use tokens::{CreatedToken, Identity, TokenInfo};
/// gRPC status codes, as server refusals carry them.
pub use tonic::Code as GrpcCode;
pub use types::{
    ArtifactInfo, CommitSummary, DeleteSummary, DraftSummary, FsckItem, FsckSummary, GcSummary, GetSummary,
    ManifestEntry, VersionInfo,
};

/// Default server address.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7420";

/// A connection to cairn, bound to a default project. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    connection: Arc<Connection>,
    project: String,
    use_stat_cache: bool,
    use_ignore_files: bool,
    progress: progress::ProgressHandle,
    content_cache: Option<std::path::PathBuf>,
}

impl Client {
    /// Connects to `server` — one address (`http://127.0.0.1:7420`, `https://…`) or several
    /// coordinator replicas separated by commas — and uses `project` by default, with the
    /// token and TLS material of the environment ([`Credentials::from_env`]). Storage
    /// workers are discovered from the coordinator.
    pub async fn connect(server: &str, project: &str) -> Result<Self, ClientError> {
        Self::connect_with(server, project, Credentials::from_env()?).await
    }

    /// Like [`Client::connect`], with the given credentials.
    pub async fn connect_with(server: &str, project: &str, credentials: Credentials) -> Result<Self, ClientError> {
        cairn_core::validate_project(project)?;
        Ok(Self {
            connection: Connection::open(server, credentials).await?,
            project: project.to_owned(),
            use_stat_cache: true,
            use_ignore_files: true,
            progress: None,
            content_cache: None,
        })
    }

    /// The same client, reporting bytes hashed, uploaded and downloaded to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The same client, keeping downloaded blobs in `dir` (by sha256) and taking them from
    /// there when they verify, instead of downloading them again.
    pub fn with_content_cache(mut self, dir: std::path::PathBuf) -> Self {
        self.content_cache = Some(dir);
        self
    }

    /// The same client, hashing every file instead of trusting the stat cache.
    pub fn without_stat_cache(mut self) -> Self {
        self.use_stat_cache = false;
        self
    }

    /// The same client, uploading files that `.cairnignore` files would leave out
    /// (`.git`, `.cairn` and the client's caches are left out all the same).
    pub fn without_ignore_files(mut self) -> Self {
        self.use_ignore_files = false;
        self
    }

    /// What directory walks leave out.
    fn walk_rules(&self) -> files::WalkRules {
        let caches = stat_cache::default_cache_dir().into_iter().chain(self.content_cache.clone());
        files::WalkRules { ignore_files: self.use_ignore_files, left_out: caches.collect() }
    }

    /// The default project.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// A coordinator call, retried on another replica when it fails retryably.
    async fn coordinator_call<T, F, Fut>(&self, call: F) -> Result<T, ClientError>
    where
        F: FnMut(CoordinatorClient) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        self.connection.coordinator_call(call).await
    }

    /// A coordinator call made once (not repeatable).
    async fn coordinator_once<T, F, Fut>(&self, call: F) -> Result<T, ClientError>
    where
        F: FnOnce(CoordinatorClient) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        self.connection.coordinator_once(call).await
    }

    /// A storage call, retried from scratch on another worker when it fails retryably.
    async fn storage_call<T, F, Fut>(&self, call: F) -> Result<T, ClientError>
    where
        F: FnMut(StorageClient) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        self.connection.storage_call(call).await
    }
}

/// The producer id of a `log` or `edit` when none is given: the job environment's writer
/// (identity.rs), else the host name — there it is metadata, not a writer of a shared draft.
pub fn default_writer() -> String {
    if let Ok(writer) = identity::job_identity().writer {
        return writer.value;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let cleaned: String = host
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@') { c } else { '-' })
        .collect();
    if cleaned.is_empty() { "unknown-host".to_owned() } else { cleaned }
}
