//! Client errors as the SDK's typed exceptions: `cairn.errors.from_core` picks the class
//! (by ErrorInfo reason, then gRPC code) exactly as it does for the gRPC stubs' errors.

use cairn_client::{ClientError, GrpcCode};
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;

/// The Python exception for a client error.
pub fn to_py(err: ClientError) -> PyErr {
    if let ClientError::Io { path, source } = &err {
        // OSError(errno, strerror, filename) becomes FileNotFoundError & co. by itself.
        return match source.raw_os_error() {
            Some(errno) => PyOSError::new_err((errno, source.to_string(), path.display().to_string())),
            None => PyOSError::new_err(err.to_string()),
        };
    }
    let message = err.to_string();
    let (code, reason, metadata) = match &err {
        ClientError::Server { code, reason, metadata, .. } => {
            (Some(code_name(*code)), reason.clone().unwrap_or_default(), metadata.clone())
        }
        ClientError::Connect { .. } => (Some("UNAVAILABLE"), String::new(), Default::default()),
        ClientError::Usage(_) => (Some("INVALID_ARGUMENT"), String::new(), Default::default()),
        ClientError::Invalid(core) => (Some("INVALID_ARGUMENT"), core.reason().to_owned(), Default::default()),
        ClientError::NotInVersion { path, .. } => {
            (Some("NOT_FOUND"), "NOT_IN_VERSION".to_owned(), [("path".to_owned(), path.clone())].into())
        }
        ClientError::Verify { path, expected, actual } => (
            Some("DATA_LOSS"),
            "DIGEST_MISMATCH".to_owned(),
            [
                ("path".to_owned(), path.clone()),
                ("sha256".to_owned(), expected.clone()),
                ("actual_sha256".to_owned(), actual.clone()),
            ]
            .into(),
        ),
        ClientError::ManifestMismatch { .. } => (Some("DATA_LOSS"), "MANIFEST_MISMATCH".to_owned(), Default::default()),
        ClientError::Protocol(_) | ClientError::Io { .. } => (None, String::new(), Default::default()),
    };
    let message = match &err {
        ClientError::Server { message, .. } => message.clone(),
        _ => message,
    };
    Python::attach(|py| {
        let built = py
            .import("cairn.errors")
            .and_then(|errors| errors.getattr("from_core"))
            .and_then(|from_core| from_core.call1((message.clone(), code, reason, metadata)));
        match built {
            Ok(exception) => PyErr::from_value(exception),
            Err(import_failed) => PyRuntimeError::new_err(format!("{message} (and {import_failed})")),
        }
    })
}

/// gRPC code names as grpcio spells them (`StatusCode.X.name`).
fn code_name(code: GrpcCode) -> &'static str {
    match code {
        GrpcCode::Ok => "OK",
        GrpcCode::Cancelled => "CANCELLED",
        GrpcCode::Unknown => "UNKNOWN",
        GrpcCode::InvalidArgument => "INVALID_ARGUMENT",
        GrpcCode::DeadlineExceeded => "DEADLINE_EXCEEDED",
        GrpcCode::NotFound => "NOT_FOUND",
        GrpcCode::AlreadyExists => "ALREADY_EXISTS",
        GrpcCode::PermissionDenied => "PERMISSION_DENIED",
        GrpcCode::ResourceExhausted => "RESOURCE_EXHAUSTED",
        GrpcCode::FailedPrecondition => "FAILED_PRECONDITION",
        GrpcCode::Aborted => "ABORTED",
        GrpcCode::OutOfRange => "OUT_OF_RANGE",
        GrpcCode::Unimplemented => "UNIMPLEMENTED",
        GrpcCode::Internal => "INTERNAL",
        GrpcCode::Unavailable => "UNAVAILABLE",
        GrpcCode::DataLoss => "DATA_LOSS",
        GrpcCode::Unauthenticated => "UNAUTHENTICATED",
    }
}
