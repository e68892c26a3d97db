//! The garbage collector on a real etcd: a collector that dies mid-sweep is resumed by the
//! next one, which finishes the job and frees exactly the unreferenced blobs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use cairn_blob::{
    BlobError, BlobStore, BlobWriter, ByteStream, LocalFileStore, ObjectInfo, blob_key, put_verified, single_chunk,
};
use cairn_coordinator::{CoordError, Coordinator, CoordinatorConfig, FinishCommand, GcOptions, UpsertCommand};
use cairn_core::{ConflictPolicy, Digest, Entry, EntryPath};
use cairn_meta::{EtcdStore, MetaStore};
use cairn_testkit::EtcdServer;

/// A BlobStore whose blob deletions hang for ever after the first `allowed`, as a collector
/// frozen (and then killed) mid-sweep would.
struct StallingDeletes {
    inner: Arc<dyn BlobStore>,
    allowed: usize,
    done: AtomicUsize,
}

#[async_trait]
impl BlobStore for StallingDeletes {
    async fn begin_put(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        self.inner.begin_put(key).await
    }
    async fn resume_put(
        &self,
        key: &str,
        offset: u64,
        token: Option<&str>,
        part_size: u64,
    ) -> Result<Box<dyn BlobWriter>, BlobError> {
        self.inner.resume_put(key, offset, token, part_size).await
    }
    async fn discard_upload(&self, key: &str, token: Option<&str>) -> Result<(), BlobError> {
        self.inner.discard_upload(key, token).await
    }
    fn part_size(&self) -> u64 {
        self.inner.part_size()
    }
    async fn get(&self, key: &str, offset: u64, length: Option<u64>) -> Result<ByteStream, BlobError> {
        self.inner.get(key, offset, length).await
    }
    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        self.inner.head(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        if key.starts_with("blobs/") && self.done.fetch_add(1, Ordering::SeqCst) >= self.allowed {
            std::future::pending::<()>().await;
        }
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<String>, BlobError> {
        self.inner.list(prefix, start_after, limit).await
    }
    async fn list_info(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<ObjectInfo>, BlobError> {
        self.inner.list_info(prefix, after, limit).await
    }
}

async fn replica(etcd: &EtcdServer, blobs: Arc<dyn BlobStore>, node_id: &str) -> Arc<Coordinator> {
    let meta: Arc<dyn MetaStore> =
        Arc::new(EtcdStore::connect(&[etcd.endpoint()], "/gc/", Duration::from_secs(5)).await.unwrap());
    let mut config = CoordinatorConfig::new(&format!("http://{node_id}.invalid:1"));
    config.node_id = node_id.to_owned();
    config.lease_ttl = Duration::from_secs(2);
    config.gc_interval = None;
    Coordinator::start(meta, blobs, config).await.unwrap()
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
    let stalling = Arc::new(StallingDeletes { inner: shared.clone(), allowed: 10, done: AtomicUsize::new(0) });
    let a = replica(&etcd, stalling, "a").await;

    // One referenced blob, in a committed version; 60 blobs nothing refers to, spread
    // over many shards.
    let kept = store(&*shared, b"referenced by v0".to_vec()).await;
    let entry = Entry { path: EntryPath::parse("kept.bin").unwrap(), sha256: kept, size: 16 };
    let upsert = UpsertCommand {
        project: "p".into(),
        artifact: "a".into(),
        artifact_type: "t".into(),
        distributed_id: "job".into(),
        writer: "w".into(),
        puts: vec![entry],
        removes: vec![],
        expected_writers: None,
        seal: true,
        policy: ConflictPolicy::Reject,
        base: None,
        ttl_ms: 0,
        request_id: String::new(),
    };
    a.upsert(upsert).await.unwrap();
    let finish = FinishCommand {
        project: "p".into(),
        artifact: "a".into(),
        distributed_id: "job".into(),
        aliases: vec![],
        wait: Duration::ZERO,
        force: false,
        expected_writers: None,
        metadata_json: String::new(),
        ttl_ms: None,
    };
    a.finish(finish).await.unwrap();
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
