//! The cairn coordinator: owns the draft state machines (open → sealing → committed, or
//! aborted/expired), assigns version indices by compare-and-swap, serves versions,
//! aliases and manifests. State lives in a MetaStore (small records only) and a BlobStore
//! (manifests and staged draft changes), so the same code runs embedded or on etcd + S3.

mod blobs;
mod claims;
mod clock;
mod commit;
mod deletion;
mod draft_cache;
mod drafts;
mod error;
mod fsck;
mod gc;
mod grpc;
mod keys;
mod log;
mod log_budget;
mod manifests;
pub mod metrics;
mod ownership;
mod quotas;
mod request_leases;
mod retention;
mod versions;

use std::sync::Arc;
use std::time::Duration;

use cairn_blob::BlobStore;
use cairn_meta::{COORDINATORS_PREFIX, Member, MetaStore, Registration, WORKERS_PREFIX};

pub use deletion::Deletion;
pub use drafts::{DraftView, FinishCommand, SweepReport, UpsertCommand};
pub use error::CoordError;
pub use fsck::{FSCK_LISTED, FsckProblem, FsckReport};
pub use gc::{GcOptions, GcReport};
pub use grpc::CoordinatorGrpc;
pub use log::LogHeader;
pub use quotas::{ProjectQuota, ProjectUsage, QuotaResource};
pub use versions::ResolvedVersion;

/// Tunables of a coordinator.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// How often open drafts are scanned for expiry, so their staged data is released.
    pub expiry_sweep_interval: Duration,
    /// Longest `finish --wait` honoured.
    pub max_finish_wait: Duration,
    /// TTL of this replica's lease: how long after its death another replica can take
    /// over its drafts. A liveness signal only, never a deadline of a draft.
    pub lease_ttl: Duration,
    /// This replica's id, unique per process.
    pub node_id: String,
    /// The address other replicas forward draft requests to (`http://host:port`).
    pub advertise_address: String,
    /// Deadline of a request forwarded to a draft's owner (a finish adds its wait).
    pub forward_timeout: Duration,
    /// How often the garbage collector runs (one replica at a time); `None`: only on request.
    pub gc_interval: Option<Duration>,
    /// Objects younger than this are never collected.
    pub gc_grace: Duration,
    /// Unfinished uploads idle for less than this (or the grace, if longer) are kept.
    pub gc_upload_idle: Duration,
    /// How long what the collector deleted stays in its trash before it is purged.
    pub gc_trash_retention: Duration,
    /// How long the records of ended drafts are kept (so late requests get the right
    /// answer) before the expiry sweep deletes them.
    pub draft_retention: Duration,
    /// Longest inactivity time to live an upsert may ask for: a draft kept open for ever
    /// would keep its staged data and blobs from the collector for ever.
    pub max_draft_ttl: Duration,
    /// Limits of every project that has none of its own (`SetQuota`).
    pub default_quota: ProjectQuota,
    /// Memory all Log calls in flight may hold for their entries.
    pub log_buffer_bytes: u64,
}

impl CoordinatorConfig {
    /// Defaults for a replica reachable at `advertise_address`.
    pub fn new(advertise_address: &str) -> Self {
        Self {
            expiry_sweep_interval: Duration::from_secs(30),
            max_finish_wait: Duration::from_secs(3600),
            lease_ttl: Duration::from_secs(10),
            node_id: format!("coordinator-{}", uuid::Uuid::new_v4().simple()),
            advertise_address: advertise_address.to_owned(),
            forward_timeout: Duration::from_secs(30),
            gc_interval: Some(Duration::from_secs(3600)),
            gc_grace: Duration::from_secs(6 * 3600),
            gc_upload_idle: Duration::from_secs(3600),
            gc_trash_retention: Duration::from_secs(7 * 24 * 3600),
            draft_retention: Duration::from_secs(24 * 3600),
            max_draft_ttl: Duration::from_secs(7 * 24 * 3600),
            default_quota: ProjectQuota { max_bytes: None, max_open_drafts: Some(DEFAULT_MAX_OPEN_DRAFTS) },
            log_buffer_bytes: 1024 << 20,
        }
    }
}

/// This replica's identity and its live registration.
struct Node {
    id: String,
    address: String,
    registration: Registration,
}

/// Most entries accepted in one Upsert or one Log batch.
pub const MAX_ENTRIES_PER_REQUEST: usize = 10_000;

/// Open drafts a project may have unless its quota says otherwise.
pub const DEFAULT_MAX_OPEN_DRAFTS: u64 = 10_000;

/// Most aliases set by one commit.
pub const MAX_ALIASES_PER_COMMIT: usize = 32;

/// The coordinator engine, independent of the transport.
pub struct Coordinator {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    drafts: draft_cache::DraftCache,
    request_leases: request_leases::RequestLeases,
    usage_cache: quotas::UsageCache,
    log_budget: log_budget::LogBudget,
    manifest_sets: cairn_blob::ManifestSets,
    config: CoordinatorConfig,
    node: Node,
}

impl Coordinator {
    /// Registers this replica (a leased key under `members/coordinators/`) and returns the
    /// coordinator over the given stores.
    pub async fn start(
        meta: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
        config: CoordinatorConfig,
    ) -> Result<Arc<Self>, CoordError> {
        let member = Member {
            node_id: config.node_id.clone(),
            address: config.advertise_address.clone(),
            gc_protocol: gc::GC_PROTOCOL,
        };
        let key = format!("{COORDINATORS_PREFIX}{}", config.node_id);
        let registration = Registration::start(meta.clone(), &key, member.encode(), config.lease_ttl).await?;
        let node = Node { id: config.node_id.clone(), address: config.advertise_address.clone(), registration };
        tracing::info!(node_id = %node.id, address = %node.address, "coordinator registered");
        Ok(Arc::new(Self {
            meta,
            blobs,
            drafts: draft_cache::DraftCache::default(),
            request_leases: Default::default(),
            usage_cache: Default::default(),
            log_budget: log_budget::LogBudget::new(config.log_buffer_bytes),
            manifest_sets: Default::default(),
            config,
            node,
        }))
    }

    /// Deregisters this replica: its drafts can be taken over at once.
    pub async fn stop(&self) {
        self.node.registration.stop().await;
    }

    /// Stops renewing this replica's lease without revoking it, as a hung process would:
    /// the lease lapses after its TTL. For fencing tests.
    pub fn abandon_lease(&self) {
        self.node.registration.abandon();
    }

    /// Addresses of the live storage workers.
    pub async fn storage_workers(&self) -> Result<Vec<String>, CoordError> {
        let mut addresses = Vec::new();
        for kv in self.meta.range(WORKERS_PREFIX, None, 10_000).await? {
            addresses.push(Member::decode(&kv.value)?.address);
        }
        Ok(addresses)
    }

    /// Sets the keys-by-kind gauge (`cairn_meta_keys`); an unreachable store leaves it as
    /// it was.
    pub async fn count_meta_keys(&self) {
        for kind in metrics::META_KEY_KINDS {
            match self.meta.count(&format!("{kind}/")).await {
                Ok(count) => metrics::META_KEYS.with_label_values(&[kind]).set(count as i64),
                Err(err) => return tracing::debug!(error = %err, "could not count metadata keys"),
            }
        }
    }

    /// Number of drafts whose lock or entries this replica holds in memory.
    pub fn cached_drafts(&self) -> usize {
        self.drafts.len()
    }

    /// Runs the expiry sweep until the returned handle is aborted or the process ends.
    pub fn spawn_expiry_sweeper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let coordinator = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(coordinator.config.expiry_sweep_interval);
            // A tick missed while the last run took long is skipped, not run in a burst.
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(err) = coordinator.sweep_expired_drafts().await {
                    tracing::warn!(error = %err, "expiry sweep failed");
                }
                coordinator.count_meta_keys().await;
            }
        })
    }

    /// Runs the garbage collector `gc_interval` (when set) after the end of this replica's
    /// last attempt, until the handle is aborted; a replica that finds another collecting
    /// skips its turn. Counting from the end (not a fixed tick) leaves gaps between
    /// collections even when one takes longer than the interval, so `cairn gc` finds one.
    pub fn spawn_collector(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let interval = self.config.gc_interval?;
        let coordinator = self.clone();
        Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let options = GcOptions { dry_run: false, grace: coordinator.config.gc_grace, purge_trash: false };
                match coordinator.collect_garbage(options).await {
                    Ok(_) | Err(CoordError::GcRunning { .. }) => {}
                    Err(err) => tracing::warn!(error = %err, "garbage collection failed; the next one retries"),
                }
            }
        }))
    }

    /// The gRPC service of this coordinator.
    pub fn grpc_service(
        self: &Arc<Self>,
        auth: Option<Arc<cairn_auth::TokenStore>>,
        peer_tls: Option<tonic::transport::ClientTlsConfig>,
    ) -> cairn_proto::v1::coordinator_service_server::CoordinatorServiceServer<CoordinatorGrpc> {
        cairn_proto::v1::coordinator_service_server::CoordinatorServiceServer::new(CoordinatorGrpc::new(
            self.clone(),
            auth,
            peer_tls,
        ))
    }

    /// The MetaStore, for the token store of servers running in this process.
    pub fn meta_store(&self) -> Arc<dyn MetaStore> {
        self.meta.clone()
    }
}

mod config;

pub use config::{CoordinatorArgs, HousekeepingArgs};

/// Runs a coordinator replica until SIGINT or SIGTERM: on etcd and S3 when configured,
/// else on the embedded store and local files in the data directory.
pub async fn run(args: CoordinatorArgs) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if args.lease_ttl_secs < 2 {
        return Err("--lease-ttl-secs must be at least 2".into());
    }
    let meta = args.etcd.open(&args.data_dir).await.map_err(|e| format!("cannot open metadata store: {e}"))?;
    let blobs = args.s3.open(&args.data_dir, false).await.map_err(|e| format!("cannot open blob store: {e}"))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let bound = listener.local_addr()?;
    let mut config = CoordinatorConfig::new(&cairn_proto::server::advertise_address(
        args.advertise.as_deref(),
        bound,
        args.tls.scheme(),
    )?);
    config.expiry_sweep_interval = Duration::from_secs(args.expiry_sweep_secs.max(1));
    config.lease_ttl = Duration::from_secs(args.lease_ttl_secs);
    config.forward_timeout = Duration::from_secs(args.forward_timeout_secs.max(1));
    args.housekeeping.apply(&mut config);
    if let Some(node_id) = args.node_id {
        config.node_id = node_id;
    }
    let coordinator = Coordinator::start(meta, blobs, config).await?;
    let sweeper = coordinator.spawn_expiry_sweeper();
    let collector = coordinator.spawn_collector();
    println!("cairn coordinator listening on {bound} (node {})", coordinator.node.id);
    let admin = cairn_proto::server::spawn_admin(args.admin_listen).await?;
    let auth = cairn_auth::server_token_store(coordinator.meta_store(), args.insecure_no_auth)?;
    let service = coordinator.grpc_service(auth, cairn_proto::tls::peer_client_config(&args.tls)?);
    let result = cairn_proto::server::serve(
        listener,
        &args.tls,
        &args.connections,
        &[cairn_proto::server::COORDINATOR_SERVICE],
        |router| router.add_service(service),
    )
    .await;
    sweeper.abort();
    if let Some(collector) = collector {
        collector.abort();
    }
    if let Some(admin) = admin {
        admin.abort();
    }
    coordinator.stop().await;
    result
}
