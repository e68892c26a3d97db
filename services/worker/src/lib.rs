//! The cairn storage worker: receives blob streams, hashes while streaming, and makes a
//! blob visible in the BlobStore only after its sha256 and size verify. Stateless: any
//! number of workers can serve one store.

mod batch;
mod grants;
mod idle;
pub mod metrics;
mod service;
mod upload_lock;

pub use idle::{DEFAULT_STREAM_IDLE_TIMEOUT, StreamLimits};
pub use service::StorageService;
pub use upload_lock::{UPLOAD_LOCKS_PREFIX, UploadLocks};

use cairn_proto::v1::storage_service_server::StorageServiceServer;

/// The worker's gRPC service over `blobs`; `locks` serialize resumable uploads of one blob
/// across the workers of a cluster; `limits` bound upload streams.
pub fn grpc_service(
    blobs: std::sync::Arc<dyn cairn_blob::BlobStore>,
    locks: Option<UploadLocks>,
    auth: Option<std::sync::Arc<cairn_auth::TokenStore>>,
    limits: &StreamLimits,
) -> StorageServiceServer<StorageService> {
    StorageServiceServer::new(StorageService::new(blobs, locks, auth).with_limits(limits))
}

mod config;

pub use config::WorkerConfig;

/// Runs a worker until SIGINT or SIGTERM, registered in etcd when configured.
pub async fn run(config: WorkerConfig) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let blobs = config.s3.open(&config.data_dir, true).await.map_err(|e| format!("cannot open blob store: {e}"))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let bound = listener.local_addr()?;
    let address = cairn_proto::server::advertise_address(config.advertise.as_deref(), bound, config.tls.scheme())?;
    // A random default: process ids repeat across containers (every one is pid 1).
    let node_id = config.node_id.clone().unwrap_or_else(|| format!("worker-{}", uuid::Uuid::new_v4().simple()));
    // Without etcd the worker stands alone (clients are pointed at it directly).
    if !config.etcd.is_cluster() && !config.insecure_no_auth {
        return Err("a worker checks tokens against etcd: give --etcd-endpoints, or --insecure-no-auth".into());
    }
    let (registration, locks, auth) = if config.etcd.is_cluster() {
        let meta = config.etcd.open(&config.data_dir).await.map_err(|e| format!("cannot reach etcd: {e}"))?;
        let auth = cairn_auth::server_token_store(meta.clone(), config.insecure_no_auth)?;
        let member = cairn_meta::Member { node_id: node_id.clone(), address: address.clone(), gc_protocol: 0 };
        let key = format!("{}{node_id}", cairn_meta::WORKERS_PREFIX);
        let ttl = std::time::Duration::from_secs(config.lease_ttl_secs.max(2));
        let registration =
            std::sync::Arc::new(cairn_meta::Registration::start(meta.clone(), &key, member.encode(), ttl).await?);
        let locks = UploadLocks::new(meta, registration.clone(), node_id.clone());
        (Some(registration), Some(locks), auth)
    } else {
        (None, None, None)
    };
    println!("cairn worker listening on {bound} (node {node_id})");
    let admin = cairn_proto::server::spawn_admin(config.admin_listen).await?;
    let service = grpc_service(blobs, locks, auth, &config.limits);
    let result = cairn_proto::server::serve(
        listener,
        &config.tls,
        &config.connections,
        &[cairn_proto::server::STORAGE_SERVICE],
        |router| router.add_service(service),
    )
    .await;
    if let Some(registration) = registration {
        registration.stop().await;
    }
    if let Some(admin) = admin {
        admin.abort();
    }
    result
}
