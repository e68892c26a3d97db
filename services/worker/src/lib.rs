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

mod config;

pub use config::WorkerConfig;

/// Runs a worker on the local-file BlobStore until SIGINT or SIGTERM.
pub async fn run(config: WorkerConfig) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let blobs = cairn_blob::LocalFileStore::open(&config.data_dir.join("blobs"))
        .map_err(|e| format!("cannot open blob store in {}: {e}", config.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    println!("cairn worker listening on {}", listener.local_addr()?);
    let service = grpc_service(std::sync::Arc::new(blobs));
    cairn_proto::server::serve(listener, &[cairn_proto::server::STORAGE_SERVICE], |router| router.add_service(service))
        .await
}
