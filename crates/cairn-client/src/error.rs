//! Client errors: a server refusal keeps its gRPC code and ErrorInfo reason and metadata.

use std::collections::HashMap;
use std::path::PathBuf;

/// What a client operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused or failed the request.
    #[error("{message}{}", reason.as_ref().map(|r| format!(" [{r}]")).unwrap_or_default())]
    Server { code: tonic::Code, message: String, reason: Option<String>, metadata: HashMap<String, String> },
    /// The server could not be reached.
    #[error("cannot reach cairn server at {server}: {message}")]
    Connect { server: String, message: String },
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The request was malformed before it was sent.
    #[error("{0}")]
    Usage(String),
    /// A name, path, reference or digest broke the API's rules (checked before sending).
    #[error("{0}")]
    Invalid(cairn_core::CoreError),
    /// The server's answer lacked something the API promises.
    #[error("protocol error: the server sent no {0}")]
    Protocol(&'static str),
    /// A path or prefix asked for is not in the version.
    #[error("{reference} has no {what} {path:?}")]
    NotInVersion { reference: String, what: &'static str, path: String },
    /// Downloaded bytes did not match their digest.
    #[error("{path}: downloaded content hashes to {actual}, expected {expected}")]
    Verify { path: String, expected: String, actual: String },
    /// The entries the server sent are not the version the reference names.
    #[error("the manifest of {reference} hashes to {actual}, not {expected}: refused")]
    ManifestMismatch { reference: String, expected: String, actual: String },
}

impl ClientError {
    /// The ErrorInfo reason of a server refusal.
    pub fn reason(&self) -> Option<&str> {
        match self {
            ClientError::Server { reason, .. } => reason.as_deref(),
            _ => None,
        }
    }

    /// The gRPC code of a server refusal.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ClientError::Io { path: path.into(), source }
    }
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        let (reason, metadata) = match cairn_proto::error_info(&status) {
            Some((reason, metadata)) => (Some(reason), metadata),
            None => (None, HashMap::new()),
        };
        ClientError::Server { code: status.code(), message: status.message().to_owned(), reason, metadata }
    }
}

impl From<cairn_core::CoreError> for ClientError {
    fn from(err: cairn_core::CoreError) -> Self {
        ClientError::Invalid(err)
    }
}

/// The error for a response field the API promises but the server left out.
pub(crate) fn missing(what: &'static str) -> ClientError {
    ClientError::Protocol(what)
}

/// Unwraps a response field the API promises.
pub(crate) fn required<T>(value: Option<T>, what: &'static str) -> Result<T, ClientError> {
    value.ok_or(ClientError::Protocol(what))
}
