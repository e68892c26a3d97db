//! The garbage collector on a real etcd: a collector that dies mid-sweep is resumed by the
//! next one, which finishes the job and frees exactly the unreferenced blobs.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cairn_blob::{BlobStore, LocalFileStore, blob_key, put_verified, single_chunk};
use cairn_coordinator::{CoordError, Coordinator, GcOptions};
use cairn_core::Digest;
use cairn_testkit::EtcdServer;
use futures::FutureExt;
use support::{HookedStore, Op, finish, stored_entry, upsert};

/// A BlobStore whose blob deletions hang for ever after the first `allowed`, as a collector
/// frozen (and then killed) mid-sweep would.
fn stalling_deletes(inner: Arc<dyn BlobStore>, allowed: usize) -> Arc<dyn BlobStore> {
    let done = Arc::new(AtomicUsize::new(0));
    let hook: support::Hook = Arc::new(move |op, key| {
        let stall = op == Op::Delete && key.starts_with("blobs/") && done.fetch_add(1, Ordering::SeqCst) >= allowed;
        async move {
            if stall {
                std::future::pending::<()>().await;
            }
        }
        .boxed()
    });
    Arc::new(HookedStore { inner, hook })
}

async fn replica(etcd: &EtcdServer, blobs: Arc<dyn BlobStore>, node_id: &str) -> Arc<Coordinator> {
    support::replica(etcd, "/gc/", blobs, node_id).await.unwrap()
}

async fn store(blobs: &dyn BlobStore, content: Vec<u8>) -> Digest {
    let digest = Digest::of(&content);
    put_verified(blobs, &digest, content.len() as u64, single_chunk(Bytes::from(content))).await.unwrap();
    digest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_killed_mid_sweep_is_resumed_by_the_next_one() {
    let etcd = EtcdServer::start();
    let dir = tempfile::tempdir().unwrap();
    let shared: Arc<dyn BlobStore> = Arc::new(LocalFileStore::open(dir.path()).unwrap());
    let a = replica(&etcd, stalling_deletes(shared.clone(), 10), "a").await;

    // One referenced blob, in a committed version; 60 blobs nothing refers to, spread
    // over many shards.
    let entry = stored_entry(&*shared, "kept.bin", b"referenced by v0").await;
    let kept = entry.sha256;
    a.upsert(upsert("w", vec![entry])).await.unwrap();
    a.finish(finish()).await.unwrap();
    let mut garbage = Vec::new();
    for i in 0..60u32 {
        garbage.push(store(&*shared, format!("garbage {i}").into_bytes()).await);
    }

    let options = GcOptions { dry_run: false, grace: Duration::ZERO };
    let stalled = tokio::spawn({
        let a = a.clone();
        async move { a.collect_garbage(options).await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!stalled.is_finished(), "the first collector is stuck mid-sweep");
    stalled.abort(); // killed
    a.abandon_lease();

    let b = replica(&etcd, shared.clone(), "b").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let report = loop {
        match b.collect_garbage(options).await {
            Ok(report) => break report,
            Err(CoordError::GcRunning { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(300)).await; // a's leader key lapses with its lease
            }
            Err(err) => panic!("the second collector failed: {err}"),
        }
    };
    assert_eq!(report.generation, 1, "it resumed the first collection's generation: {report:?}");
    assert!(report.deleted_blobs > 0 && report.deleted_blobs < 60, "it continued where the first stopped: {report:?}");
    for digest in &garbage {
        assert_eq!(shared.head(&blob_key(digest)).await.unwrap(), None, "garbage {digest} is gone");
    }
    assert_eq!(shared.head(&blob_key(&kept)).await.unwrap(), Some(16), "the referenced blob is kept");
}
