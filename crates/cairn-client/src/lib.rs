//! The Rust client of cairn: collects and hashes local files in parallel, uploads only the
//! blobs the server is missing, drives the coordinator's lifecycle calls, and downloads
//! versions with every byte verified. The `cairn` CLI is a thin layer over this crate.

mod download;
mod error;
mod files;
mod hash;
mod inspect;
mod lifecycle;
mod types;
mod upload;

use cairn_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use cairn_proto::v1::storage_service_client::StorageServiceClient;
use tonic::transport::{Channel, Endpoint};

pub use error::ClientError;
pub use files::{LocalFile, collect, parse_add};
pub use hash::{HashedFile, hash_file, hash_files};
pub use lifecycle::{EditRequest, FinishRequest, LogRequest, UpsertRequest};
pub use types::{ArtifactInfo, CommitSummary, DraftSummary, GetSummary, ManifestEntry, VersionInfo};

/// Default server address.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7420";

/// Largest gRPC message the client accepts (manifest pages stay far below this).
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// A connection to a cairn server, bound to a default project. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    project: String,
}

impl Client {
    /// Connects to `server` (e.g. `http://127.0.0.1:7420`) and uses `project` by default.
    pub async fn connect(server: &str, project: &str) -> Result<Self, ClientError> {
        cairn_core::validate_project(project)?;
        let connect_error = |message: String| ClientError::Connect { server: server.to_owned(), message };
        let endpoint = Endpoint::from_shared(server.to_owned()).map_err(|e| connect_error(e.to_string()))?;
        let channel = endpoint.connect_timeout(std::time::Duration::from_secs(10)).connect().await.map_err(|e| {
            connect_error(format!("{e}: {}", std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default()))
        })?;
        Ok(Self { channel, project: project.to_owned() })
    }

    /// The default project.
    pub fn project(&self) -> &str {
        &self.project
    }

    fn coordinator(&self) -> CoordinatorServiceClient<Channel> {
        CoordinatorServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    fn storage(&self) -> StorageServiceClient<Channel> {
        StorageServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }
}

/// The writer id to use when none is given: `CAIRN_WRITER`, else the host name.
pub fn default_writer() -> String {
    if let Ok(writer) = std::env::var("CAIRN_WRITER")
        && !writer.is_empty()
    {
        return writer;
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
