//! gRPC statuses with `google.rpc.ErrorInfo`, built and read in one place so that every
//! server and client agrees on reasons, domain and metadata.

use std::collections::HashMap;

use cairn_core::{CoreError, ErrorClass};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::ERROR_DOMAIN;

/// A status with an `ErrorInfo` detail of domain `cairn.dev`.
pub fn error_status(code: Code, reason: &str, message: impl Into<String>, metadata: Vec<(&str, String)>) -> Status {
    let metadata: HashMap<String, String> = metadata.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata);
    Status::with_error_details(code, message, details)
}

/// The status for a domain error.
pub fn core_error_status(err: &CoreError) -> Status {
    let code = match err.class() {
        ErrorClass::InvalidArgument => Code::InvalidArgument,
        ErrorClass::FailedPrecondition => Code::FailedPrecondition,
        ErrorClass::AlreadyExists => Code::AlreadyExists,
        ErrorClass::NotFound => Code::NotFound,
        ErrorClass::DataLoss => Code::DataLoss,
        ErrorClass::ResourceExhausted => Code::ResourceExhausted,
    };
    error_status(code, err.reason(), err.to_string(), err.metadata())
}

/// The `ErrorInfo` of a status: its reason and metadata, when it has one.
pub fn error_info(status: &Status) -> Option<(String, HashMap<String, String>)> {
    let details = status.get_error_details();
    details.error_info().map(|info| (info.reason.clone(), info.metadata.clone()))
}
