//! Errors of BlobStore operations.

/// What a BlobStore operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0:?} not found")]
    NotFound(String),
    #[error("invalid object key {key:?}: {why}")]
    InvalidKey { key: String, why: &'static str },
    #[error("range starting at {offset} is past the end of {key:?} ({size} bytes)")]
    InvalidRange { key: String, offset: u64, size: u64 },
    #[error("content hashes to {actual}, expected {expected}")]
    DigestMismatch { expected: String, actual: String },
    #[error("content is {actual} bytes, expected {expected}")]
    SizeMismatch { expected: u64, actual: u64 },
    #[error("cannot resume at byte {requested}: the stored upload can resume at byte {available}")]
    ResumeMismatch { requested: u64, available: u64 },
    #[error("the interrupted upload this one resumed held other bytes; it was discarded, retry from the start")]
    ResumeDiscarded,
    #[error("a blob of {size} bytes is larger than this store holds (at most {limit} bytes)")]
    TooLarge { size: u64, limit: u64 },
    #[error("a blob of {size} bytes does not fit in the {available} bytes free in the store")]
    InsufficientStorage { size: u64, available: u64 },
    #[error("upload interrupted: {0}")]
    Interrupted(String),
    #[error("storage I/O error: {0}")]
    Io(String),
}

impl From<std::io::Error> for BlobError {
    fn from(err: std::io::Error) -> Self {
        BlobError::Io(err.to_string())
    }
}
