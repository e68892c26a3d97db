//! The cairn storage worker: receives blob streams, hashes while streaming, and makes a
//! blob visible in the BlobStore only after its sha256 and size verify. Stateless: any
//! number of workers can serve one store.

mod service;

pub use service::StorageService;

use cairn_proto::v1::storage_service_server::StorageServiceServer;

/// The worker's gRPC service over `blobs`.
pub fn grpc_service(blobs: std::sync::Arc<dyn cairn_blob::BlobStore>) -> StorageServiceServer<StorageService> {
    StorageServiceServer::new(StorageService::new(blobs))
}
