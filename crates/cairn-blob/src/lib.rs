//! The BlobStore: content and manifests in object storage. Implementations: local files
//! (single node) and S3 (cluster). A blob becomes visible only when it is complete, and
//! `put_verified` is the one place where bytes are checked against their sha256 and size.

mod error;
mod keys;
mod local;
mod manifest_sets;
mod metered;
pub mod metrics;
mod open;
mod s3;
mod store;
mod verify;

pub mod conformance;

pub use open::S3Args;

pub use error::BlobError;
pub use keys::{TRASH_PREFIX, blob_key, manifest_key, staging_key, staging_prefix, trash_key, validate_key};
pub use local::LocalFileStore;
pub use manifest_sets::{ManifestSetError, ManifestSets};
pub use metered::Metered;
pub use s3::{S3Config, S3Store};
pub use store::{BlobStore, BlobStoreExt, BlobWriter, ByteStream, IncompleteUpload, ObjectInfo, once as single_chunk};
pub use verify::{
    PutOutcome, discard_stale_upload, put_verified, put_verified_as, put_verified_from, upload_checkpoint_key,
    upload_marker_key, upload_progress, upload_resume_token,
};

/// Size of the chunks blobs are streamed in.
pub const CHUNK_SIZE: usize = 1024 * 1024;
