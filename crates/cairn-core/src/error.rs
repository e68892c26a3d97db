//! Domain errors. Each carries a stable reason (UPPER_SNAKE, the `ErrorInfo` reason on the
//! wire), a class that the service edge maps to a gRPC code, and the metadata that names
//! the offending path, digest or writer.

/// Which family of gRPC status an error belongs to; mapped to a code at the service edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request itself is malformed (INVALID_ARGUMENT).
    InvalidArgument,
    /// The request is well formed but the current state refuses it (FAILED_PRECONDITION).
    FailedPrecondition,
    /// The request collides with existing data (ALREADY_EXISTS).
    AlreadyExists,
    /// Something the request names does not exist (NOT_FOUND).
    NotFound,
    /// Stored data failed its integrity check (DATA_LOSS).
    DataLoss,
    /// A limit was reached; the same request will never succeed (RESOURCE_EXHAUSTED).
    ResourceExhausted,
}

/// Everything the domain rules can refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("invalid entry path {path:?}: {why}")]
    InvalidPath { path: String, why: &'static str },
    #[error("invalid {kind} {value:?}: {why}")]
    InvalidName { kind: &'static str, value: String, why: &'static str },
    #[error("invalid sha256 digest {value:?}: expected 64 lowercase hex characters")]
    InvalidDigest { value: String },
    #[error("invalid reference {value:?}: {why}")]
    InvalidReference { value: String, why: &'static str },
    #[error("invalid metadata: {why}")]
    InvalidMetadata { why: String },
    #[error("path {path:?} appears more than once in one request")]
    DuplicatePath { path: String },
    #[error(
        "path {path:?} differs from {existing_path:?} only in case; case-insensitive file systems cannot hold both"
    )]
    CaseCollision { path: String, existing_path: String },
    #[error("path {path:?} would be both a file and a directory (at {directory:?}); no file system can hold both")]
    FileDirectoryConflict { path: String, directory: String },
    #[error("too many entries in one request: {count} (at most {limit})")]
    TooManyEntries { count: usize, limit: usize },
    #[error(
        "path conflict on {path:?}: writer {existing_writer:?} staged {existing_sha256}, writer {writer:?} sent {sha256}"
    )]
    PathConflict { path: String, existing_writer: String, existing_sha256: String, writer: String, sha256: String },
    #[error("cannot remove {path:?}: it is not in the draft")]
    PathNotFound { path: String },
    #[error("writer {writer:?} is sealed and cannot change its entries")]
    WriterSealed { writer: String },
    #[error("draft {distributed_id:?} is already committed as v{index}")]
    DraftCommitted { distributed_id: String, index: u64 },
    #[error("draft {distributed_id:?} was aborted; a distributed_id is not reused")]
    DraftAborted { distributed_id: String },
    #[error("draft {distributed_id:?} expired; a distributed_id is not reused")]
    DraftExpired { distributed_id: String },
    #[error("draft {distributed_id:?} is being finished; retry after the finish ends")]
    DraftSealing { distributed_id: String },
    #[error(
        "writers still active: unsealed [{}], {sealed} sealed{}",
        unsealed.join(", "),
        expected.map(|e| format!(" of {e} expected")).unwrap_or_default()
    )]
    WritersStillActive { unsealed: Vec<String>, sealed: u32, expected: Option<u32> },
    #[error("expected_writers is {declared}, this request says {requested}")]
    ExpectedWritersMismatch { declared: u32, requested: u32 },
    #[error("draft expects {expected} writers; writer {writer:?} would be one too many")]
    TooManyWriters { expected: u32, writer: String },
    #[error("draft already has {limit} writers, the most one draft may have; writer {writer:?} is refused")]
    WriterLimit { limit: usize, writer: String },
    #[error("artifact {artifact:?} has type {existing:?}, not {requested:?}")]
    TypeMismatch { artifact: String, existing: String, requested: String },
    #[error("corrupt manifest: {why}")]
    CorruptManifest { why: String },
    #[error("corrupt upload checkpoint: {why}")]
    CorruptCheckpoint { why: String },
}

impl CoreError {
    /// The stable `ErrorInfo` reason.
    pub fn reason(&self) -> &'static str {
        match self {
            CoreError::InvalidPath { .. } => "INVALID_PATH",
            CoreError::InvalidName { .. } => "INVALID_NAME",
            CoreError::InvalidDigest { .. } => "INVALID_DIGEST",
            CoreError::InvalidReference { .. } => "INVALID_REFERENCE",
            CoreError::InvalidMetadata { .. } => "INVALID_METADATA",
            CoreError::DuplicatePath { .. } => "DUPLICATE_PATH",
            CoreError::CaseCollision { .. } => "PATH_CASE_COLLISION",
            CoreError::FileDirectoryConflict { .. } => "PATH_FILE_DIRECTORY_CONFLICT",
            CoreError::TooManyEntries { .. } => "TOO_MANY_ENTRIES",
            CoreError::PathConflict { .. } => "PATH_CONFLICT",
            CoreError::PathNotFound { .. } => "PATH_NOT_FOUND",
            CoreError::WriterSealed { .. } => "WRITER_SEALED",
            CoreError::DraftCommitted { .. } => "DRAFT_COMMITTED",
            CoreError::DraftAborted { .. } => "DRAFT_ABORTED",
            CoreError::DraftExpired { .. } => "DRAFT_EXPIRED",
            CoreError::DraftSealing { .. } => "DRAFT_SEALING",
            CoreError::WritersStillActive { .. } => "WRITERS_STILL_ACTIVE",
            CoreError::ExpectedWritersMismatch { .. } => "EXPECTED_WRITERS_MISMATCH",
            CoreError::TooManyWriters { .. } => "TOO_MANY_WRITERS",
            CoreError::WriterLimit { .. } => "WRITER_LIMIT",
            CoreError::TypeMismatch { .. } => "TYPE_MISMATCH",
            CoreError::CorruptManifest { .. } => "CORRUPT_MANIFEST",
            CoreError::CorruptCheckpoint { .. } => "CORRUPT_CHECKPOINT",
        }
    }

    /// The status family this error maps to.
    pub fn class(&self) -> ErrorClass {
        match self {
            CoreError::InvalidPath { .. }
            | CoreError::InvalidName { .. }
            | CoreError::InvalidDigest { .. }
            | CoreError::InvalidReference { .. }
            | CoreError::InvalidMetadata { .. }
            | CoreError::DuplicatePath { .. }
            | CoreError::CaseCollision { .. }
            | CoreError::FileDirectoryConflict { .. }
            | CoreError::TooManyEntries { .. }
            | CoreError::TypeMismatch { .. } => ErrorClass::InvalidArgument,
            CoreError::PathConflict { .. } => ErrorClass::AlreadyExists,
            CoreError::PathNotFound { .. } => ErrorClass::NotFound,
            CoreError::WriterSealed { .. }
            | CoreError::DraftCommitted { .. }
            | CoreError::DraftAborted { .. }
            | CoreError::DraftExpired { .. }
            | CoreError::DraftSealing { .. }
            | CoreError::WritersStillActive { .. }
            | CoreError::ExpectedWritersMismatch { .. }
            | CoreError::TooManyWriters { .. } => ErrorClass::FailedPrecondition,
            CoreError::CorruptManifest { .. } | CoreError::CorruptCheckpoint { .. } => ErrorClass::DataLoss,
            CoreError::WriterLimit { .. } => ErrorClass::ResourceExhausted,
        }
    }

    /// `ErrorInfo` metadata naming what the error is about.
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            CoreError::InvalidPath { path, .. }
            | CoreError::DuplicatePath { path }
            | CoreError::PathNotFound { path } => vec![("path", path.clone())],
            CoreError::CaseCollision { path, existing_path } => {
                vec![("path", path.clone()), ("existing_path", existing_path.clone())]
            }
            CoreError::FileDirectoryConflict { path, directory } => {
                vec![("path", path.clone()), ("directory", directory.clone())]
            }
            CoreError::InvalidName { kind, value, .. } => {
                vec![("kind", (*kind).to_owned()), ("value", value.clone())]
            }
            CoreError::InvalidDigest { value } => vec![("sha256", value.clone())],
            CoreError::InvalidReference { value, .. } => vec![("reference", value.clone())],
            CoreError::InvalidMetadata { .. }
            | CoreError::CorruptManifest { .. }
            | CoreError::CorruptCheckpoint { .. } => vec![],
            CoreError::TooManyEntries { count, limit } => {
                vec![("count", count.to_string()), ("limit", limit.to_string())]
            }
            CoreError::PathConflict { path, existing_writer, existing_sha256, writer, sha256 } => {
                vec![
                    ("path", path.clone()),
                    ("existing_writer", existing_writer.clone()),
                    ("existing_sha256", existing_sha256.clone()),
                    ("writer", writer.clone()),
                    ("sha256", sha256.clone()),
                ]
            }
            CoreError::WriterSealed { writer } => vec![("writer", writer.clone())],
            CoreError::DraftCommitted { distributed_id, index } => {
                vec![("distributed_id", distributed_id.clone()), ("version", format!("v{index}"))]
            }
            CoreError::DraftAborted { distributed_id }
            | CoreError::DraftExpired { distributed_id }
            | CoreError::DraftSealing { distributed_id } => {
                vec![("distributed_id", distributed_id.clone())]
            }
            CoreError::WritersStillActive { unsealed, sealed, expected } => {
                let mut meta = vec![("unsealed_writers", unsealed.join(",")), ("sealed", sealed.to_string())];
                if let Some(expected) = expected {
                    meta.push(("expected_writers", expected.to_string()));
                }
                meta
            }
            CoreError::ExpectedWritersMismatch { declared, requested } => {
                vec![("declared", declared.to_string()), ("requested", requested.to_string())]
            }
            CoreError::TooManyWriters { expected, writer } => {
                vec![("expected_writers", expected.to_string()), ("writer", writer.clone())]
            }
            CoreError::WriterLimit { limit, writer } => {
                vec![("limit", limit.to_string()), ("writer", writer.clone())]
            }
            CoreError::TypeMismatch { artifact, existing, requested } => vec![
                ("artifact", artifact.clone()),
                ("existing_type", existing.clone()),
                ("requested_type", requested.clone()),
            ],
        }
    }
}
