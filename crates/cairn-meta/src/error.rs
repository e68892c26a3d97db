//! Errors of MetaStore operations.

use crate::LeaseId;

/// What a MetaStore operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("transaction has {ops} operations, more than the limit of {limit}")]
    TooManyOps { ops: usize, limit: usize },
    #[error("value for key {key:?} is {size} bytes, more than the limit of {limit}")]
    ValueTooLarge { key: String, size: usize, limit: usize },
    #[error("key {key:?} is written more than once in one transaction")]
    DuplicateKey { key: String },
    #[error("{key:?} is registered by another live process: node ids must be unique")]
    AlreadyRegistered { key: String },
    #[error("lease {0} not found or expired")]
    LeaseNotFound(LeaseId),
    #[error("revision {0} of the metadata store was compacted")]
    Compacted(i64),
    #[error("metadata store unavailable: {0}")]
    Unavailable(String),
    #[error("metadata store error: {0}")]
    Backend(String),
}

impl MetaError {
    /// Wraps a backend error.
    pub fn backend(err: impl std::fmt::Display) -> Self {
        MetaError::Backend(err.to_string())
    }
}
