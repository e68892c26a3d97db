//! The garbage collector on a real etcd: a collector that dies mid-sweep is resumed by the
//! next one, which finishes the job and frees exactly the unreferenced blobs.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cairn_blob::{BlobError, BlobStore, LocalFileStore, blob_key, put_verified, single_chunk, upload_progress};
use cairn_blob::{S3Config, S3Store};
use cairn_coordinator::{CoordError, Coordinator, GcOptions};
use cairn_core::Digest;
use cairn_testkit::{EtcdServer, MotoServer, TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY};
use futures::FutureExt;
use support::{HookedStore, Op, finish, stored_entry, upsert};

/// A BlobStore whose blob removals (the copy into the trash that precedes each) hang for
/// ever after the first `allowed`, as a collector frozen (and then killed) mid-sweep would.
fn stalling_deletes(inner: Arc<dyn BlobStore>, allowed: usize) -> Arc<dyn BlobStore> {
    let done = Arc::new(AtomicUsize::new(0));
    let hook: support::Hook = Arc::new(move |op, key| {
        let stall =
            op == Op::CopyIntoTrash && key.starts_with("blobs/") && done.fetch_add(1, Ordering::SeqCst) >= allowed;
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

    let options = GcOptions { dry_run: false, grace: Duration::ZERO, purge_trash: false };
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
    assert_eq!(report.generation, 2, "it marked anew under a generation of its own: {report:?}");
    assert!(report.deleted_blobs > 0 && report.deleted_blobs < 60, "it continued where the first stopped: {report:?}");
    for digest in &garbage {
        assert_eq!(shared.head(&blob_key(digest)).await.unwrap(), None, "garbage {digest} is gone");
    }
    assert_eq!(shared.head(&blob_key(&kept)).await.unwrap(), Some(16), "the referenced blob is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_uploads_on_the_local_store_are_discarded_once_idle() {
    let dir = tempfile::tempdir().unwrap();
    unfinished_uploads_are_discarded_once_idle(Arc::new(LocalFileStore::open(dir.path()).unwrap())).await;
}

/// On moto, which lists uploads but dates every one of them 2010: the collector's own
/// first sighting keeps a fresh upload from looking an hour idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_uploads_on_moto_are_discarded_once_idle() {
    let moto = MotoServer::start(&["gc-test"]);
    let mut config = S3Config::new("gc-test");
    config.endpoint = Some(moto.endpoint());
    config.region = TEST_REGION.to_owned();
    config.access_key = Some(TEST_ACCESS_KEY.to_owned());
    config.secret_key = Some(TEST_SECRET_KEY.to_owned());
    config.part_size = 5 << 20; // S3's smallest part, to keep the test quick
    unfinished_uploads_are_discarded_once_idle(Arc::new(S3Store::connect(config).await.unwrap())).await;
}

/// A worker that died before its first checkpoint and a client that went away after one
/// part each leave an unfinished upload; the collector keeps both until they are idle
/// past the upload idle time, then discards both.
async fn unfinished_uploads_are_discarded_once_idle(shared: Arc<dyn BlobStore>) {
    let etcd = EtcdServer::start();
    let part = shared.part_size();

    // A worker died before saving its first checkpoint: an upload that nothing records.
    let orphan = vec![3u8; 2 * part as usize];
    let mut writer = shared.resume_put(&blob_key(&Digest::of(&orphan)), 0, None, part).await.unwrap();
    writer.write(Bytes::from(orphan)).await.unwrap();
    writer.persist().await.unwrap();
    drop(writer);
    // A client went away after one part: an upload with a checkpoint.
    let cut = vec![4u8; 2 * part as usize];
    let cut_digest = Digest::of(&cut);
    let first_part = Bytes::copy_from_slice(&cut[..part as usize + 10]);
    let chunks = futures::stream::iter(vec![Ok(first_part), Err(BlobError::Interrupted("client gone".into()))]);
    put_verified(&*shared, &cut_digest, cut.len() as u64, chunks).await.unwrap_err();
    assert_eq!(upload_progress(&*shared, &cut_digest).await.unwrap(), part);
    let unfinished = || async { shared.list_incomplete_uploads("blobs/", 100).await.unwrap().unwrap().len() };
    assert_eq!(unfinished().await, 2);

    // Younger than the upload idle time (an hour by default): both are kept, whatever the grace.
    let options = GcOptions { dry_run: false, grace: Duration::ZERO, purge_trash: false };
    let patient = replica(&etcd, shared.clone(), "patient").await;
    let report = patient.collect_garbage(options).await.unwrap();
    assert_eq!((report.aborted_uploads, report.deleted_checkpoints), (0, 0), "{report:?}");
    assert_eq!(unfinished().await, 2);
    assert_eq!(upload_progress(&*shared, &cut_digest).await.unwrap(), part, "the resumable upload is intact");
    patient.stop().await;

    // Idle past it: a dry run only counts; a real one discards both.
    let eager = support::replica_with(&etcd, "/gc/", shared.clone(), "eager", |config| {
        config.gc_upload_idle = Duration::ZERO;
    })
    .await
    .unwrap();
    let dry = eager.collect_garbage(GcOptions { dry_run: true, ..options }).await.unwrap();
    assert_eq!((dry.aborted_uploads, dry.deleted_checkpoints), (1, 1), "{dry:?}");
    assert_eq!(unfinished().await, 2, "a dry run discards nothing");
    let report = eager.collect_garbage(options).await.unwrap();
    assert_eq!((report.aborted_uploads, report.deleted_checkpoints), (1, 1), "{report:?}");
    assert_eq!(unfinished().await, 0);
    assert_eq!(upload_progress(&*shared, &cut_digest).await.unwrap(), 0);
}
