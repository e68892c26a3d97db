//! `cairn dev`: coordinator and storage worker in one process, one port, on the embedded
//! MetaStore and the local-file BlobStore under one data directory. The same services as
//! the cluster, with the single-node implementations of the two traits.

use std::sync::Arc;
use std::time::Duration;

use cairn_blob::LocalFileStore;
use cairn_coordinator::{Coordinator, CoordinatorConfig};
use cairn_meta::EmbeddedStore;
use tokio::net::TcpListener;

use crate::args::DevArgs;
use cairn_proto::server::{COORDINATOR_SERVICE, STORAGE_SERVICE, serve};

/// Runs until SIGINT or SIGTERM.
pub async fn run(args: DevArgs) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", args.data_dir.display()))?;
    let meta = EmbeddedStore::open(&args.data_dir.join("meta.redb"))
        .map_err(|e| format!("cannot open metadata store in {}: {e}", args.data_dir.display()))?;
    let meta = cairn_meta::Metered::wrap(Arc::new(meta), "embedded");
    let blobs = cairn_blob::Metered::wrap(Arc::new(LocalFileStore::open(&args.data_dir.join("blobs"))?), "local");
    let listener =
        TcpListener::bind(args.listen).await.map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let bound = listener.local_addr()?;
    if !args.auth && !args.insecure_no_auth && !bound.ip().is_loopback() {
        return Err(format!(
            "listening on {bound}, beyond this machine: give --auth (tokens), or --insecure-no-auth to serve anyone"
        )
        .into());
    }
    let mut config = CoordinatorConfig::new(&format!("{}://{bound}", args.tls.scheme()));
    config.expiry_sweep_interval = Duration::from_secs(args.expiry_sweep_secs.max(1));
    args.housekeeping.apply(&mut config);
    // One fixed node id: the embedded store admits one process at a time, so a restarted
    // dev server is the same node and takes its drafts back at once instead of waiting for
    // the crashed process's lease to lapse.
    config.node_id = "dev".to_owned();
    // A registration under that id is a crashed predecessor's (the store is ours alone):
    // end its lease, and with it the ownership of its drafts, before registering anew.
    let member_key = format!("{}{}", cairn_meta::COORDINATORS_PREFIX, config.node_id);
    if let Some(stale) = meta.get(&member_key).await?.and_then(|kv| kv.lease) {
        meta.revoke_lease(stale).await?;
    }
    let coordinator = Coordinator::start(meta, blobs.clone(), config).await?;
    let sweeper = coordinator.spawn_expiry_sweeper();
    let collector = coordinator.spawn_collector();
    // The first line of stdout is the bound address, so scripts can use port 0.
    println!("cairn dev listening on {bound} (data in {})", args.data_dir.display());
    let admin = cairn_proto::server::spawn_admin(args.admin_listen).await?;
    tracing::info!(address = %bound, data_dir = %args.data_dir.display(), "cairn dev started");
    // Off loopback, authentication is on unless refused explicitly (checked above).
    let auth = cairn_auth::server_token_store(coordinator.meta_store(), !args.auth)?;
    let (coordinator_service, storage_service) = (
        coordinator.grpc_service(auth.clone(), cairn_proto::tls::peer_client_config(&args.tls)?),
        cairn_worker::grpc_service(blobs, None, auth, &args.limits),
    );
    let result = serve(listener, &args.tls, &args.connections, &[COORDINATOR_SERVICE, STORAGE_SERVICE], |router| {
        router.add_service(coordinator_service).add_service(storage_service)
    })
    .await;
    sweeper.abort();
    if let Some(collector) = collector {
        collector.abort();
    }
    if let Some(admin) = admin {
        admin.abort();
    }
    coordinator.stop().await;
    result.map_err(|e| e.to_string().into())
}
