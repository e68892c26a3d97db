//! What the coordinator's tests on a real etcd share: replicas, commands, stored entries,
//! and a BlobStore that can hold or stall chosen operations.

#![allow(dead_code)]

pub mod gate;
pub mod hooked_meta;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use cairn_blob::{
    BlobError, BlobStore, BlobWriter, ByteStream, IncompleteUpload, ObjectInfo, put_verified, single_chunk,
};
use cairn_coordinator::{CoordError, Coordinator, CoordinatorConfig, FinishCommand, UpsertCommand};
use cairn_core::{ConflictPolicy, Digest, Entry, EntryPath};
use cairn_meta::{EtcdStore, MetaStore};
use cairn_testkit::EtcdServer;
use futures::future::BoxFuture;

/// A MetaStore on `etcd` under `namespace`.
pub async fn meta(etcd: &EtcdServer, namespace: &str) -> Arc<dyn MetaStore> {
    Arc::new(
        EtcdStore::connect(&[etcd.endpoint()], namespace, Duration::from_secs(5), &Default::default()).await.unwrap(),
    )
}

/// A replica `node_id` with a 2-second lease and no periodic collector.
pub async fn replica(
    etcd: &EtcdServer,
    namespace: &str,
    blobs: Arc<dyn BlobStore>,
    node_id: &str,
) -> Result<Arc<Coordinator>, CoordError> {
    replica_with(etcd, namespace, blobs, node_id, |_| {}).await
}

/// Like [`replica`], with `configure` applied to its configuration.
pub async fn replica_with(
    etcd: &EtcdServer,
    namespace: &str,
    blobs: Arc<dyn BlobStore>,
    node_id: &str,
    configure: impl FnOnce(&mut CoordinatorConfig),
) -> Result<Arc<Coordinator>, CoordError> {
    replica_on(meta(etcd, namespace).await, blobs, node_id, configure).await
}

/// A replica `node_id` on the given stores (a hooked MetaStore, say).
pub async fn replica_on(
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    node_id: &str,
    configure: impl FnOnce(&mut CoordinatorConfig),
) -> Result<Arc<Coordinator>, CoordError> {
    let mut config = CoordinatorConfig::new(&format!("http://{node_id}.invalid:1"));
    config.node_id = node_id.to_owned();
    config.lease_ttl = Duration::from_secs(2);
    config.gc_interval = None;
    configure(&mut config);
    Coordinator::start(meta, blobs, config).await
}

/// Stores `content` as a blob and returns it as the entry `path`.
pub async fn stored_entry(blobs: &dyn BlobStore, path: &str, content: &[u8]) -> Entry {
    let digest = Digest::of(content);
    let size = content.len() as u64;
    put_verified(blobs, &digest, size, single_chunk(Bytes::copy_from_slice(content))).await.unwrap();
    Entry { path: EntryPath::parse(path).unwrap(), sha256: digest, size }
}

/// `writer` sealing `puts` into draft `job` of `p/a`.
pub fn upsert(writer: &str, puts: Vec<Entry>) -> UpsertCommand {
    UpsertCommand {
        project: "p".into(),
        artifact: "a".into(),
        artifact_type: "t".into(),
        distributed_id: "job".into(),
        writer: writer.into(),
        puts,
        removes: vec![],
        expected_writers: None,
        seal: true,
        policy: ConflictPolicy::Reject,
        base: None,
        ttl_ms: 0,
        request_id: String::new(),
    }
}

/// A forced finish of draft `job` of `p/a`.
pub fn finish() -> FinishCommand {
    FinishCommand {
        project: "p".into(),
        artifact: "a".into(),
        distributed_id: "job".into(),
        aliases: vec![],
        wait: Duration::ZERO,
        force: true,
        expected_writers: None,
        metadata_json: String::new(),
        ttl_ms: None,
    }
}

/// The operations a [`HookedStore`] can intercept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    BeginPut,
    Delete,
    CopyIntoTrash,
}

/// Runs before an intercepted operation on a key; the operation waits for it.
pub type Hook = Arc<dyn Fn(Op, &str) -> BoxFuture<'static, ()> + Send + Sync>;

/// A BlobStore that runs a hook before every write, delete and copy into the trash, then
/// delegates.
pub struct HookedStore {
    pub inner: Arc<dyn BlobStore>,
    pub hook: Hook,
}

#[async_trait]
impl BlobStore for HookedStore {
    async fn begin_put(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        (self.hook)(Op::BeginPut, key).await;
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
    async fn list_incomplete_uploads(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Option<Vec<IncompleteUpload>>, BlobError> {
        self.inner.list_incomplete_uploads(prefix, limit).await
    }
    async fn abort_incomplete_upload(&self, upload: &IncompleteUpload) -> Result<(), BlobError> {
        (self.hook)(Op::Delete, &upload.key).await;
        self.inner.abort_incomplete_upload(upload).await
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
        (self.hook)(Op::Delete, key).await;
        self.inner.delete(key).await
    }
    async fn copy_into_trash(&self, key: &str) -> Result<Option<u64>, BlobError> {
        (self.hook)(Op::CopyIntoTrash, key).await;
        self.inner.copy_into_trash(key).await
    }
    async fn restore_from_trash(&self, key: &str) -> Result<bool, BlobError> {
        self.inner.restore_from_trash(key).await
    }
    async fn list(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<String>, BlobError> {
        self.inner.list(prefix, start_after, limit).await
    }
    async fn list_info(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<ObjectInfo>, BlobError> {
        self.inner.list_info(prefix, after, limit).await
    }
}
