//! Refusals: UNAUTHENTICATED for a token that is missing, unknown, revoked or expired;
//! PERMISSION_DENIED for a valid token outside its project or role. Each with an
//! ErrorInfo reason.

use tonic::{Code, Status};

use crate::Role;

/// Why a call was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("this call needs a token: pass --token or set CAIRN_TOKEN (authorization: Bearer …)")]
    Missing,
    #[error("unknown token")]
    Unknown,
    #[error("token {id} was revoked")]
    Revoked { id: String },
    #[error("token {id} has expired")]
    Expired { id: String },
    #[error("token {id} is for project {allowed:?}, not {project:?}")]
    OtherProject { id: String, allowed: String, project: String },
    #[error("token {id} is a {has} token; this call needs {needs}")]
    RoleTooLow { id: String, has: &'static str, needs: &'static str },
    #[error("invalid token request: {0}")]
    Invalid(String),
    #[error("token {0} not found")]
    NotFound(String),
    #[error("reading blobs needs a read grant ({header} metadata, from GetManifest of a version the token may read)", header = crate::grant::READ_GRANT_HEADER)]
    GrantMissing,
    #[error("the read grant is not one a cairn server signed")]
    GrantInvalid,
    #[error("the read grant has expired; fetch the version's manifest again")]
    GrantExpired,
    #[error("blob {sha256} is not in the version the read grant names")]
    BlobNotGranted { sha256: String },
    #[error("the upload receipt is not one a cairn worker signed")]
    ReceiptInvalid,
    #[error("the upload receipt of blob {sha256} has expired; upload the file again")]
    ReceiptExpired { sha256: String },
    #[error("the upload receipt of blob {sha256} is for project {receipt_project:?}, not {project:?}")]
    ReceiptOtherProject { sha256: String, receipt_project: String, project: String },
    #[error(
        "entry {path:?} names blob {sha256}, which this caller has not uploaded (no receipt) and which the artifact's latest version does not hold; upload the file"
    )]
    ReceiptMissing { path: String, sha256: String },
    #[error("token store unavailable: {0}")]
    Store(#[from] cairn_meta::MetaError),
}

impl AuthError {
    pub(crate) fn role_too_low(id: &str, has: Role, needs: Role) -> Self {
        AuthError::RoleTooLow { id: id.to_owned(), has: has.as_str(), needs: needs.as_str() }
    }

    /// The ErrorInfo reason.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "TOKEN_MISSING",
            AuthError::Unknown => "TOKEN_UNKNOWN",
            AuthError::Revoked { .. } => "TOKEN_REVOKED",
            AuthError::Expired { .. } => "TOKEN_EXPIRED",
            AuthError::OtherProject { .. } => "PROJECT_NOT_ALLOWED",
            AuthError::RoleTooLow { .. } => "ROLE_TOO_LOW",
            AuthError::Invalid(_) => "INVALID_TOKEN_REQUEST",
            AuthError::NotFound(_) => "TOKEN_NOT_FOUND",
            AuthError::GrantMissing => "GRANT_MISSING",
            AuthError::GrantInvalid => "GRANT_INVALID",
            AuthError::GrantExpired => "GRANT_EXPIRED",
            AuthError::BlobNotGranted { .. } => "BLOB_NOT_GRANTED",
            AuthError::ReceiptInvalid => "UPLOAD_RECEIPT_INVALID",
            AuthError::ReceiptExpired { .. } => "UPLOAD_RECEIPT_EXPIRED",
            AuthError::ReceiptOtherProject { .. } => "UPLOAD_RECEIPT_OTHER_PROJECT",
            AuthError::ReceiptMissing { .. } => "UPLOAD_RECEIPT_MISSING",
            AuthError::Store(_) => "METADATA_UNAVAILABLE",
        }
    }

    fn code(&self) -> Code {
        match self {
            AuthError::Missing | AuthError::Unknown | AuthError::Revoked { .. } | AuthError::Expired { .. } => {
                Code::Unauthenticated
            }
            AuthError::OtherProject { .. }
            | AuthError::RoleTooLow { .. }
            | AuthError::GrantMissing
            | AuthError::GrantInvalid
            | AuthError::GrantExpired
            | AuthError::BlobNotGranted { .. }
            | AuthError::ReceiptInvalid
            | AuthError::ReceiptExpired { .. }
            | AuthError::ReceiptOtherProject { .. }
            | AuthError::ReceiptMissing { .. } => Code::PermissionDenied,
            AuthError::Invalid(_) => Code::InvalidArgument,
            AuthError::NotFound(_) => Code::NotFound,
            AuthError::Store(_) => Code::Unavailable,
        }
    }
}

impl From<AuthError> for Status {
    fn from(err: AuthError) -> Self {
        let metadata = match &err {
            AuthError::Revoked { id } | AuthError::Expired { id } | AuthError::NotFound(id) => {
                vec![("token_id", id.clone())]
            }
            AuthError::OtherProject { id, project, .. } => {
                vec![("token_id", id.clone()), ("project", project.clone())]
            }
            AuthError::RoleTooLow { id, needs, .. } => {
                vec![("token_id", id.clone()), ("required_role", needs.to_string())]
            }
            AuthError::BlobNotGranted { sha256 } | AuthError::ReceiptExpired { sha256 } => {
                vec![("sha256", sha256.clone())]
            }
            AuthError::ReceiptOtherProject { sha256, receipt_project, project } => vec![
                ("sha256", sha256.clone()),
                ("receipt_project", receipt_project.clone()),
                ("project", project.clone()),
            ],
            AuthError::ReceiptMissing { path, sha256 } => vec![("path", path.clone()), ("sha256", sha256.clone())],
            _ => Vec::new(),
        };
        cairn_proto::error_status(err.code(), err.reason(), err.to_string(), metadata)
    }
}
