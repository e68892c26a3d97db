//! Object keys. Blobs are content-addressed; manifests are addressed by version digest;
//! staged draft changes live under the draft's unique id until the draft ends.

use cairn_core::Digest;

use crate::BlobError;

/// Key of the blob with this content digest.
pub fn blob_key(sha256: &Digest) -> String {
    let hex = sha256.to_string();
    format!("blobs/sha256/{}/{hex}", &hex[..2])
}

/// Key of the manifest whose canonical encoding has this digest.
pub fn manifest_key(version_digest: &Digest) -> String {
    format!("manifests/sha256/{version_digest}")
}

/// Prefix of every staged segment of one draft.
pub fn staging_prefix(draft_uid: &str) -> String {
    format!("staging/{draft_uid}/")
}

/// Key of the `seq`-th staged segment of a draft, written by the owner whose ownership
/// has revision `fence` (`None`: a draft from before segments were fenced). Distinct
/// owners never share a key, so a stale owner cannot overwrite an acknowledged segment.
pub fn staging_key(draft_uid: &str, seq: u64, fence: Option<i64>) -> String {
    match fence {
        Some(owner_revision) => format!("staging/{draft_uid}/{seq:012}-{owner_revision}"),
        None => format!("staging/{draft_uid}/{seq:012}"),
    }
}

/// Prefix of the collector's trash: what it deleted, kept until purged by age.
pub const TRASH_PREFIX: &str = "trash/";

/// Where the collector keeps the copy of a deleted object.
pub fn trash_key(key: &str) -> String {
    format!("{TRASH_PREFIX}{key}")
}

/// Refuses keys that could escape a store's root or name a directory.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let err = |why| BlobError::InvalidKey { key: key.to_owned(), why };
    if key.is_empty() || key.len() > 1024 {
        return Err(err("must be 1 to 1024 bytes"));
    }
    if key.starts_with('/') || key.contains('\\') || key.chars().any(char::is_control) {
        return Err(err("must be relative, without `\\` or control characters"));
    }
    if key.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(err("segments must be non-empty and not `.` or `..`"));
    }
    Ok(())
}
