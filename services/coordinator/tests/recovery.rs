//! Recovery on a real etcd: a stale owner cannot overwrite staged data, cut-off finishes
//! expire, the expiry sweep survives bad records, the draft cache stays bounded, and node
//! ids are unique.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cairn_blob::{BlobStore, LocalFileStore};
use cairn_coordinator::{CoordError, Coordinator, CoordinatorConfig};
use cairn_core::{ConflictPolicy, DraftRecord, DraftState, Entry};
use cairn_meta::{MetaStore, MetaStoreExt};
use cairn_testkit::EtcdServer;
use futures::FutureExt;
use support::{HookedStore, Op, finish, stored_entry, upsert};
use tokio::sync::Notify;

const PREFIX: &str = "/recovery/";

async fn meta(etcd: &EtcdServer) -> Arc<dyn MetaStore> {
    support::meta(etcd, PREFIX).await
}

async fn replica(etcd: &EtcdServer, blobs: Arc<dyn BlobStore>, node_id: &str) -> Result<Arc<Coordinator>, CoordError> {
    support::replica(etcd, PREFIX, blobs, node_id).await
}

/// Holds the next staged-segment write, once armed, until released: the moment a replica
/// has read the draft and is about to write its change.
struct Pause {
    armed: AtomicBool,
    reached: Notify,
    release: Notify,
}

fn pausing_store(inner: Arc<dyn BlobStore>, pause: Arc<Pause>) -> Arc<dyn BlobStore> {
    let hook: support::Hook = Arc::new(move |op, key| {
        let pause = pause.clone();
        let staging = op == Op::BeginPut && key.starts_with("staging/");
        async move {
            if staging && pause.armed.swap(false, Ordering::SeqCst) {
                pause.reached.notify_one();
                pause.release.notified().await;
            }
        }
        .boxed()
    });
    Arc::new(HookedStore { inner, hook })
}

async fn take_over(replica: &Coordinator, writer: &str, entries: Vec<Entry>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match replica.upsert(upsert(writer, entries.clone())).await {
            Ok(_) => return,
            Err(err) => assert!(tokio::time::Instant::now() < deadline, "never took over: {err}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Replica a reads the draft, then stalls past its lease before writing its change; b
/// takes over and an upsert through b is acknowledged; then a wakes and writes. A third
/// replica that rebuilds the draft from storage alone must commit exactly the
/// acknowledged entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_owner_waking_mid_upsert_cannot_replace_an_acknowledged_change() {
    let etcd = EtcdServer::start();
    let dir = tempfile::tempdir().unwrap();
    let shared: Arc<dyn BlobStore> = Arc::new(LocalFileStore::open(dir.path()).unwrap());
    let pausing = Arc::new(Pause { armed: AtomicBool::new(false), reached: Notify::new(), release: Notify::new() });
    let a = replica(&etcd, pausing_store(shared.clone(), pausing.clone()), "a").await.unwrap();
    let b = replica(&etcd, shared.clone(), "b").await.unwrap();
    let first = stored_entry(&*shared, "first", b"acknowledged through a").await;
    let acked = stored_entry(&*shared, "acked", b"acknowledged through b").await;
    let stale = stored_entry(&*shared, "stale", b"never acknowledged").await;
    a.upsert(upsert("w1", vec![first])).await.unwrap();

    pausing.armed.store(true, Ordering::SeqCst);
    let stalled = tokio::spawn({
        let a = a.clone();
        async move { a.upsert(upsert("w3", vec![stale])).await }
    });
    pausing.reached.notified().await;
    a.abandon_lease();
    take_over(&b, "w2", vec![acked]).await;
    pausing.release.notify_one();
    let outcome = stalled.await.unwrap();
    assert!(outcome.is_err(), "the stale owner's upsert must fail, got {outcome:?}");

    b.abandon_lease();
    let c = replica(&etcd, shared.clone(), "c").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let version = loop {
        match c.finish(finish()).await {
            Ok((version, _)) => break version,
            Err(err) => assert!(tokio::time::Instant::now() < deadline, "c never took over: {err}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let manifest = c.read_manifest(version.record.digest).await.unwrap();
    let paths: Vec<String> = manifest.iter().map(|e| e.path.to_string()).collect();
    assert_eq!(paths, ["acked", "first"], "exactly the acknowledged entries, rebuilt from storage");
}

/// A draft left SEALING (its finish was cut off) past its expiry is expired by the sweep,
/// and an unreadable draft record does not stop the sweep from reaching it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_expires_cut_off_finishes_and_skips_unreadable_records() {
    let etcd = EtcdServer::start();
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(LocalFileStore::open(dir.path()).unwrap());
    let a = replica(&etcd, blobs.clone(), "a").await.unwrap();
    let store = meta(&etcd).await;
    // Sorted before the draft: the sweep meets the bad record first.
    store.put("drafts/p/a/aaa-corrupt", b"{not json".to_vec()).await.unwrap();
    let mut record = DraftRecord::new("uid-1".into(), "p", "a", "job", "t", ConflictPolicy::Reject, None, 1_000, 0);
    record.state = DraftState::Sealing;
    store.put("drafts/p/a/job", serde_json::to_vec(&record).unwrap()).await.unwrap();

    let report = a.sweep_expired_drafts().await.unwrap();
    assert_eq!((report.scanned, report.expired, report.failed), (2, 1, 1), "{report:?}");
    let stored: DraftRecord =
        serde_json::from_slice(&store.get("drafts/p/a/job").await.unwrap().unwrap().value).unwrap();
    assert_eq!(stored.state, DraftState::Expired);
    let refused = a.upsert(upsert("w", vec![])).await.unwrap_err();
    assert_eq!(tonic::Status::from(refused).code(), tonic::Code::FailedPrecondition);
}

/// Requests for unknown, forwarded and ended drafts leave nothing in a replica's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_draft_cache_holds_only_open_drafts_this_replica_owns() {
    let etcd = EtcdServer::start();
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(LocalFileStore::open(dir.path()).unwrap());
    let (a, b) = (replica(&etcd, blobs.clone(), "a").await.unwrap(), replica(&etcd, blobs.clone(), "b").await.unwrap());
    for i in 0..200 {
        let err = a.get_draft("p", "a", &format!("unknown-{i}")).await.unwrap_err();
        assert!(matches!(err, CoordError::DraftNotFound { .. }), "{err}");
    }
    assert_eq!(a.cached_drafts(), 0, "unknown drafts are not cached");

    let entry = stored_entry(&*blobs, "f", b"content").await;
    a.upsert(upsert("w1", vec![entry.clone()])).await.unwrap();
    assert_eq!(a.cached_drafts(), 1, "the owner keeps its open draft");
    for _ in 0..50 {
        let err = b.upsert(upsert("w2", vec![entry.clone()])).await.unwrap_err();
        assert!(matches!(err, CoordError::NotOwner { .. }), "{err}");
    }
    assert_eq!(b.cached_drafts(), 0, "a replica that forwards keeps nothing");
    a.finish(finish()).await.unwrap();
    assert_eq!(a.cached_drafts(), 0, "an ended draft is forgotten");
    a.get_draft("p", "a", "job").await.unwrap();
    assert_eq!(a.cached_drafts(), 0, "reading an ended draft caches nothing");
}

/// A second process started with a node id that is live already refuses to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_replica_with_a_live_node_id_refuses_to_start() {
    let etcd = EtcdServer::start();
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(LocalFileStore::open(dir.path()).unwrap());
    let first = replica(&etcd, blobs.clone(), "same").await.unwrap();
    let second = replica(&etcd, blobs.clone(), "same").await;
    let err = second.err().expect("the duplicate must not start");
    assert!(err.to_string().contains("node ids must be unique"), "{err}");
    first.stop().await;
    replica(&etcd, blobs, "same").await.expect("the id is free again once its holder stopped");
}

/// Records of ended drafts are deleted once the retention window has passed, so etcd holds
/// what is open: its key count returns to the baseline after 1,000 drafts end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_etcd_key_count_returns_to_its_baseline_after_a_thousand_drafts_end() {
    let etcd = EtcdServer::start();
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(LocalFileStore::open(dir.path()).unwrap());
    let store = meta(&etcd).await;
    let count = || async { store.range("", None, 100_000).await.unwrap().len() };
    // Replica a keeps ended drafts for the default 24 hours; replica b, started later with
    // a 1-second window, stands for the same cluster once the window has passed.
    let a = replica(&etcd, blobs.clone(), "a").await.unwrap();
    let mut config = CoordinatorConfig::new("http://b.invalid:1");
    config.node_id = "b".to_owned();
    config.draft_retention = Duration::from_secs(1);
    let b = Coordinator::start(meta(&etcd).await, blobs, config).await.unwrap();
    let baseline = count().await;
    for i in 0..1000 {
        let mut cmd = upsert("w", vec![]);
        cmd.distributed_id = format!("job-{i}");
        a.upsert(cmd).await.unwrap();
        a.abort("p", "a", &format!("job-{i}")).await.unwrap();
    }
    let ended = count().await;
    assert_eq!(ended, baseline + 1000, "one record per ended draft until the window passes");
    let kept = a.sweep_expired_drafts().await.unwrap();
    assert_eq!((kept.scanned, kept.pruned), (1000, 0), "within the retention window nothing is pruned");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let report = b.sweep_expired_drafts().await.unwrap();
    assert_eq!(report.pruned, 1000, "{report:?}");
    let after = count().await;
    eprintln!("etcd keys: baseline {baseline}, after 1,000 ended drafts {ended}, after the retention window {after}");
    assert_eq!(after, baseline);
    a.upsert(upsert("w", vec![])).await.expect("a pruned distributed_id can be opened again");
}
