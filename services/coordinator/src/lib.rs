//! The cairn coordinator: owns the draft state machines (open → sealing → committed, or
//! aborted/expired), assigns version indices by compare-and-swap, serves versions,
//! aliases and manifests. State lives in a MetaStore (small records only) and a BlobStore
//! (manifests and staged draft changes), so the same code runs embedded or on etcd + S3.

mod blobs;
mod clock;
mod commit;
mod drafts;
mod error;
mod grpc;
mod keys;
mod manifests;
mod versions;

use std::sync::Arc;
use std::time::Duration;

use cairn_blob::BlobStore;
use cairn_meta::MetaStore;

pub use error::CoordError;
pub use grpc::CoordinatorGrpc;

/// Tunables of a coordinator.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// How often open drafts are scanned for expiry, so their staged data is released.
    pub expiry_sweep_interval: Duration,
    /// Longest `finish --wait` honoured.
    pub max_finish_wait: Duration,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        Self { expiry_sweep_interval: Duration::from_secs(30), max_finish_wait: Duration::from_secs(3600) }
    }
}

/// Most entries accepted in one Upsert or one Log batch.
pub const MAX_ENTRIES_PER_REQUEST: usize = 10_000;

/// Most aliases set by one commit.
pub const MAX_ALIASES_PER_COMMIT: usize = 32;

/// The coordinator engine, independent of the transport.
pub struct Coordinator {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    drafts: drafts::DraftCache,
    config: CoordinatorConfig,
}

impl Coordinator {
    /// A coordinator over the given stores.
    pub fn new(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>, config: CoordinatorConfig) -> Arc<Self> {
        Arc::new(Self { meta, blobs, drafts: drafts::DraftCache::default(), config })
    }

    /// Runs the expiry sweep until the returned handle is aborted or the process ends.
    pub fn spawn_expiry_sweeper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let coordinator = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(coordinator.config.expiry_sweep_interval);
            loop {
                ticker.tick().await;
                if let Err(err) = coordinator.sweep_expired_drafts().await {
                    tracing::warn!(error = %err, "expiry sweep failed");
                }
            }
        })
    }

    /// The gRPC service of this coordinator.
    pub fn grpc_service(
        self: &Arc<Self>,
    ) -> cairn_proto::v1::coordinator_service_server::CoordinatorServiceServer<CoordinatorGrpc> {
        cairn_proto::v1::coordinator_service_server::CoordinatorServiceServer::new(CoordinatorGrpc::new(self.clone()))
    }
}

mod config;

pub use config::CoordinatorArgs;

/// Runs a coordinator on the embedded MetaStore and a shared local-file BlobStore until
/// SIGINT or SIGTERM.
pub async fn run(args: CoordinatorArgs) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", args.data_dir.display()))?;
    let meta = cairn_meta::EmbeddedStore::open(&args.data_dir.join("meta.redb"))
        .map_err(|e| format!("cannot open metadata store in {}: {e}", args.data_dir.display()))?;
    let blobs = cairn_blob::LocalFileStore::open_shared(&args.data_dir.join("blobs"))
        .map_err(|e| format!("cannot open blob store in {}: {e}", args.data_dir.display()))?;
    let config = CoordinatorConfig {
        expiry_sweep_interval: Duration::from_secs(args.expiry_sweep_secs.max(1)),
        ..CoordinatorConfig::default()
    };
    let coordinator = Coordinator::new(Arc::new(meta), Arc::new(blobs), config);
    let sweeper = coordinator.spawn_expiry_sweeper();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    println!("cairn coordinator listening on {}", listener.local_addr()?);
    let service = coordinator.grpc_service();
    let result = cairn_proto::server::serve(listener, &[cairn_proto::server::COORDINATOR_SERVICE], |router| {
        router.add_service(service)
    })
    .await;
    sweeper.abort();
    result
}
