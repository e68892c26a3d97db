//! Generated code for the `cairn.v1` gRPC API, and conversions to `cairn-core` types.
//!
//! The proto files in `proto/cairn/v1/` are the contract other languages see; this crate
//! only generates the Rust side of it.

#![allow(clippy::large_enum_variant)]

mod convert;
pub mod pki;
pub mod server;
mod status;
pub mod tls;

/// The `cairn.v1` package: messages, clients and servers.
pub mod v1 {
    tonic::include_proto!("cairn.v1");
}

/// Encoded `FileDescriptorSet` of the API, served by gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("cairn_v1_descriptor");

/// Largest blob PutBlobs and GetBlobs carry whole; larger ones use PutBlob and GetBlob.
pub const MAX_BATCHED_BLOB: u64 = 1024 * 1024;

/// gRPC metadata key of the read grant GetManifest hands out and GetBlob/GetBlobs need on
/// servers with authentication (docs/security.md).
pub const READ_GRANT_HEADER: &str = "cairn-read-grant";
/// Most blobs one GetBlobs call may ask for.
pub const MAX_BLOBS_PER_CALL: usize = 1024;

/// The gRPC error domain of every `google.rpc.ErrorInfo` cairn returns.
pub const ERROR_DOMAIN: &str = "cairn.dev";

pub use convert::{entry_from_proto, entry_to_proto};
pub use status::{core_error_status, error_info, error_status};
