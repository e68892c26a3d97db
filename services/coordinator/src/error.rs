//! The coordinator's errors and their one mapping to gRPC statuses.

use cairn_blob::BlobError;
use cairn_core::CoreError;
use cairn_meta::MetaError;
use cairn_proto::{core_error_status, error_status};
use tonic::{Code, Status};

/// Everything a coordinator operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CoordError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("draft {distributed_id:?} of artifact {artifact:?} not found")]
    DraftNotFound { artifact: String, distributed_id: String },
    #[error("artifact {artifact:?} not found in project {project:?}")]
    ArtifactNotFound { project: String, artifact: String },
    #[error("version {reference} not found")]
    VersionNotFound { reference: String },
    #[error("alias {alias:?} of artifact {artifact:?} not found")]
    AliasNotFound { artifact: String, alias: String },
    #[error("blob {sha256} of {path:?} is not stored; upload it first")]
    BlobNotStored { path: String, sha256: String },
    #[error("entry {path:?} declares {declared} bytes but blob {sha256} has {stored}")]
    BlobSizeMismatch { path: String, sha256: String, declared: u64, stored: u64 },
    #[error("{version} is named by user aliases {aliases:?}; delete them first or force")]
    VersionHasAliases { version: String, aliases: Vec<String> },
    #[error("a garbage collection is running already (collector {holder})")]
    GcRunning { holder: String },
    #[error("too many aliases: {count} (at most {limit})")]
    TooManyAliases { count: usize, limit: usize },
    #[error("a draft time to live of {ttl_seconds} s is longer than this server allows ({limit_seconds} s)")]
    TtlTooLong { ttl_seconds: u64, limit_seconds: u64 },
    #[error(
        "project {project:?} is over its {} quota: {used} used + {requested} requested > {limit}",
        resource.as_str()
    )]
    QuotaExceeded { project: String, resource: crate::QuotaResource, used: u64, requested: u64, limit: u64 },
    #[error(
        "this Log's entries would take {bytes} bytes, more than all Logs of a replica may hold ({limit}); log fewer files per version"
    )]
    LogTooLarge { bytes: u64, limit: u64 },
    #[error("this coordinator holds as many Log entries as it may; retry")]
    Busy,
    #[error("{0}")]
    Malformed(String),
    #[error("concurrent update of {0}; retry")]
    ConcurrentUpdate(String),
    #[error("draft is owned by coordinator {node_id} at {address}")]
    NotOwner { node_id: String, address: String },
    #[error("this coordinator lost its lease and stepped down; retry")]
    SteppedDown,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("a collection began, or a version this request relied on changed, while it was checked; retry")]
    RelianceLost,
    #[error("a garbage collection is deleting objects this request relies on; retry")]
    BeingCollected,
    #[error("this collector's lease can no longer be proven valid: it stopped before deleting more")]
    CollectorFenced,
    #[error(
        "coordinator {node_id} follows collection protocol {protocol}, older than this one's; restart every replica on one version before collecting (docs/operations.md)"
    )]
    GcProtocolMismatch { node_id: String, protocol: u32 },
    #[error(transparent)]
    Auth(#[from] cairn_auth::AuthError),
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

impl From<CoordError> for Status {
    fn from(err: CoordError) -> Status {
        let message = err.to_string();
        match err {
            CoordError::Core(core) => core_error_status(&core),
            CoordError::Auth(auth) => Status::from(auth),
            CoordError::DraftNotFound { artifact, distributed_id } => error_status(
                Code::NotFound,
                "DRAFT_NOT_FOUND",
                message,
                vec![("artifact", artifact), ("distributed_id", distributed_id)],
            ),
            CoordError::ArtifactNotFound { project, artifact } => error_status(
                Code::NotFound,
                "ARTIFACT_NOT_FOUND",
                message,
                vec![("project", project), ("artifact", artifact)],
            ),
            CoordError::VersionNotFound { reference } => {
                error_status(Code::NotFound, "VERSION_NOT_FOUND", message, vec![("reference", reference)])
            }
            CoordError::AliasNotFound { artifact, alias } => {
                error_status(Code::NotFound, "ALIAS_NOT_FOUND", message, vec![("artifact", artifact), ("alias", alias)])
            }
            CoordError::BlobNotStored { path, sha256 } => error_status(
                Code::FailedPrecondition,
                "BLOB_NOT_STORED",
                message,
                vec![("path", path), ("sha256", sha256)],
            ),
            CoordError::BlobSizeMismatch { path, sha256, declared, stored } => error_status(
                Code::InvalidArgument,
                "SIZE_MISMATCH",
                message,
                vec![
                    ("path", path),
                    ("sha256", sha256),
                    ("size", declared.to_string()),
                    ("stored_size", stored.to_string()),
                ],
            ),
            CoordError::VersionHasAliases { version, aliases } => error_status(
                Code::FailedPrecondition,
                "VERSION_HAS_ALIASES",
                message,
                vec![("version", version), ("aliases", aliases.join(","))],
            ),
            CoordError::GcRunning { holder } => {
                error_status(Code::FailedPrecondition, "GC_RUNNING", message, vec![("collector", holder)])
            }
            CoordError::TooManyAliases { count, limit } => error_status(
                Code::InvalidArgument,
                "TOO_MANY_ALIASES",
                message,
                vec![("count", count.to_string()), ("limit", limit.to_string())],
            ),
            CoordError::QuotaExceeded { project, resource, used, requested, limit } => error_status(
                Code::ResourceExhausted,
                "QUOTA_EXCEEDED",
                message,
                vec![
                    ("project", project),
                    ("resource", resource.as_str().to_owned()),
                    ("used", used.to_string()),
                    ("requested", requested.to_string()),
                    ("limit", limit.to_string()),
                ],
            ),
            CoordError::LogTooLarge { bytes, limit } => error_status(
                Code::ResourceExhausted,
                "LOG_TOO_LARGE",
                message,
                vec![("bytes", bytes.to_string()), ("limit", limit.to_string())],
            ),
            CoordError::Busy => error_status(Code::Unavailable, "COORDINATOR_BUSY", message, vec![]),
            CoordError::Malformed(_) => error_status(Code::InvalidArgument, "MALFORMED_REQUEST", message, vec![]),
            CoordError::TtlTooLong { ttl_seconds, limit_seconds } => error_status(
                Code::InvalidArgument,
                "TTL_TOO_LONG",
                message,
                vec![("ttl_seconds", ttl_seconds.to_string()), ("limit_seconds", limit_seconds.to_string())],
            ),
            CoordError::ConcurrentUpdate(what) => {
                error_status(Code::Aborted, "CONCURRENT_UPDATE", message, vec![("key", what)])
            }
            CoordError::NotOwner { node_id, address } => error_status(
                Code::Unavailable,
                "NOT_OWNER",
                message,
                vec![("owner_node_id", node_id), ("owner_address", address)],
            ),
            CoordError::SteppedDown => error_status(Code::Unavailable, "STEPPED_DOWN", message, vec![]),
            CoordError::Corrupt(_) => error_status(Code::DataLoss, "CORRUPT_METADATA", message, vec![]),
            CoordError::RelianceLost => error_status(Code::Aborted, "CONCURRENT_COLLECTION", message, vec![]),
            CoordError::BeingCollected => error_status(Code::Unavailable, "BLOB_BEING_COLLECTED", message, vec![]),
            CoordError::CollectorFenced => error_status(Code::Unavailable, "COLLECTOR_FENCED", message, vec![]),
            CoordError::GcProtocolMismatch { node_id, protocol } => error_status(
                Code::FailedPrecondition,
                "GC_PROTOCOL_MISMATCH",
                message,
                vec![("node_id", node_id), ("protocol", protocol.to_string())],
            ),
            // Limits of the store are properties of the request: retrying cannot help.
            CoordError::Meta(MetaError::ValueTooLarge { key, size, limit }) => error_status(
                Code::ResourceExhausted,
                "RECORD_TOO_LARGE",
                message,
                vec![("key", key), ("size", size.to_string()), ("limit", limit.to_string())],
            ),
            CoordError::Meta(MetaError::TooManyOps { ops, limit }) => error_status(
                Code::ResourceExhausted,
                "TRANSACTION_TOO_LARGE",
                message,
                vec![("ops", ops.to_string()), ("limit", limit.to_string())],
            ),
            CoordError::Meta(_) => error_status(Code::Unavailable, "METADATA_UNAVAILABLE", message, vec![]),
            CoordError::Blob(_) => error_status(Code::Unavailable, "STORAGE_UNAVAILABLE", message, vec![]),
        }
    }
}

/// Decodes a stored JSON record.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, CoordError> {
    serde_json::from_slice(bytes).map_err(|e| CoordError::Corrupt(format!("record {key:?}: {e}")))
}

/// Encodes a record for storage.
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_limits_are_not_retryable_but_outages_are() {
        let too_large = MetaError::ValueTooLarge { key: "drafts/p/a/j".into(), size: 70_000, limit: 65_536 };
        let status = Status::from(CoordError::Meta(too_large));
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(cairn_proto::error_info(&status).unwrap().0, "RECORD_TOO_LARGE");
        let ops = Status::from(CoordError::Meta(MetaError::TooManyOps { ops: 200, limit: 128 }));
        assert_eq!(ops.code(), Code::ResourceExhausted);
        let outage = Status::from(CoordError::Meta(MetaError::Unavailable("no leader".into())));
        assert_eq!(outage.code(), Code::Unavailable);
    }
}
