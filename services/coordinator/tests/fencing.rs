//! Fencing on a real etcd: a replica whose lease lapsed can neither change nor commit a
//! draft, whether or not another replica has taken it over.

mod support;

use std::sync::Arc;
use std::time::Duration;

use cairn_blob::{BlobStore, LocalFileStore};
use cairn_coordinator::{CoordError, Coordinator};
use cairn_core::Selector;
use cairn_testkit::EtcdServer;
use support::{finish, stored_entry, upsert};

async fn replica(etcd: &EtcdServer, blobs: Arc<dyn BlobStore>, node_id: &str) -> Arc<Coordinator> {
    support::replica(etcd, "/fencing/", blobs, node_id).await.unwrap()
}

async fn no_version_exists(coordinator: &Coordinator) -> bool {
    matches!(coordinator.resolve("p", "a", &Selector::latest()).await, Err(CoordError::ArtifactNotFound { .. }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_lease_lapsed_cannot_commit_after_another_took_over() {
    let etcd = EtcdServer::start();
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(LocalFileStore::open(dir.path()).unwrap());
    let (a, b) = (replica(&etcd, blobs.clone(), "a").await, replica(&etcd, blobs.clone(), "b").await);
    let first = stored_entry(&*blobs, "from-a", b"written through a").await;
    let second = stored_entry(&*blobs, "from-b", b"written through b").await;

    a.upsert(upsert("w1", vec![first])).await.expect("a opens and owns the draft");
    let refused = b.upsert(upsert("w2", vec![second.clone()])).await.unwrap_err();
    assert!(matches!(&refused, CoordError::NotOwner { node_id, .. } if node_id == "a"), "{refused}");

    a.abandon_lease(); // a hangs: its lease lapses, though a does not know it
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match b.upsert(upsert("w2", vec![second.clone()])).await {
            Ok(_) => break,
            Err(err) => assert!(tokio::time::Instant::now() < deadline, "b never took over: {err}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let fenced = a.finish(finish()).await.unwrap_err();
    assert!(matches!(&fenced, CoordError::NotOwner { node_id, .. } if node_id == "b"), "{fenced}");
    assert!(no_version_exists(&b).await, "the fenced replica committed nothing");

    let (version, dedup) = b.finish(finish()).await.unwrap();
    assert_eq!((version.record.index, version.record.files, dedup), (0, 2, false), "b commits both writers' entries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_lease_lapsed_cannot_commit_even_unopposed() {
    let etcd = EtcdServer::start();
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(LocalFileStore::open(dir.path()).unwrap());
    let a = replica(&etcd, blobs.clone(), "a").await;
    let entry = stored_entry(&*blobs, "f", b"content").await;
    a.upsert(upsert("w1", vec![entry])).await.unwrap();
    a.abandon_lease();
    tokio::time::sleep(Duration::from_secs(5)).await; // well past the 2 s TTL
    let fenced = a.finish(finish()).await;
    assert!(fenced.is_err(), "a commit under a lapsed lease must fail, got {fenced:?}");
    assert!(no_version_exists(&a).await);
}
