//! The BlobStore trait.

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt, stream};

use crate::BlobError;

/// A stream of chunks.
pub type ByteStream = BoxStream<'static, Result<Bytes, BlobError>>;

/// A listed object: its key, size and when it was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// Milliseconds since the Unix epoch.
    pub modified_ms: u64,
}

/// A multipart upload the store holds that was never completed or aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteUpload {
    /// The key the upload would create.
    pub key: String,
    /// The store's id of the upload (empty for the local store: one upload per key).
    pub upload_id: String,
    /// When the upload started (S3) or last grew (local), in ms since the Unix epoch, as
    /// the store says: moto reports one fixed date in 2010 for every upload.
    pub initiated_ms: u64,
}

/// An object being written; nothing is visible under its key until `commit`.
#[async_trait]
pub trait BlobWriter: Send {
    /// Appends bytes.
    async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError>;
    /// Makes the object visible, complete and durable, under its key.
    async fn commit(self: Box<Self>) -> Result<(), BlobError>;
    /// Discards everything written. Dropping a writer without commit discards too
    /// (except a resumable writer, whose persisted parts wait for a resume).
    async fn abort(self: Box<Self>) -> Result<(), BlobError>;
    /// Makes everything written so far durable, so an upload can resume from here, and
    /// returns the token a resume needs (an S3 upload id; none for local files).
    /// Called by resumable uploads at part boundaries.
    async fn persist(&mut self) -> Result<Option<String>, BlobError> {
        Ok(None)
    }
    /// Stops without committing, keeping what `persist` made durable for a later resume.
    async fn suspend(self: Box<Self>) -> Result<(), BlobError> {
        self.abort().await
    }
}

/// Existence checks in flight in the default [`BlobStore::head_many`] (S3 round trips).
const HEAD_MANY_CONCURRENCY: usize = 32;

/// Writes in flight in the default [`BlobStore::put_many`].
const PUT_MANY_CONCURRENCY: usize = 16;

/// Immutable objects under string keys.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts writing the object at `key`. Committing over an existing object replaces it;
    /// callers only do so with identical content (keys are content addresses).
    async fn begin_put(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError>;

    /// Starts a resumable upload of `key` (`offset` 0), or continues one at `offset`, a
    /// part boundary an earlier writer persisted, with the token its `persist` returned.
    /// `part_size` is the upload's part size ([`BlobStore::part_size_for`] when it began);
    /// nothing is visible under `key` until `commit`.
    async fn resume_put(
        &self,
        key: &str,
        offset: u64,
        token: Option<&str>,
        part_size: u64,
    ) -> Result<Box<dyn BlobWriter>, BlobError>;

    /// Throws away an unfinished resumable upload of `key`.
    async fn discard_upload(&self, key: &str, token: Option<&str>) -> Result<(), BlobError>;

    /// The smallest part size at which resumable uploads persist (a multiple of 64).
    fn part_size(&self) -> u64;

    /// The part size for a blob of `blob_size` bytes, or a refusal when the store cannot
    /// hold a blob that large ([`BlobError::TooLarge`], [`BlobError::InsufficientStorage`]):
    /// asked before any byte is received, so the refusal comes at once.
    fn part_size_for(&self, _blob_size: u64) -> Result<u64, BlobError> {
        Ok(self.part_size())
    }

    /// Writes many whole small objects (each visible only complete, as with
    /// [`BlobStoreExt::put_bytes`]): by default several at a time; local files fsync each
    /// directory once per call instead of once per object.
    async fn put_many(&self, objects: Vec<(String, Bytes)>) -> Result<(), BlobError> {
        stream::iter(objects)
            .map(|(key, data)| async move { self.put_bytes(&key, data).await })
            .buffer_unordered(PUT_MANY_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Streams `length` bytes (all remaining when `None`) from `offset`.
    async fn get(&self, key: &str, offset: u64, length: Option<u64>) -> Result<ByteStream, BlobError>;

    /// Size of the object, or `None` when it does not exist.
    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError>;

    /// [`BlobStore::head`] of many keys, in order: by default several at a time; a store
    /// that can answer many at once more cheaply (local files: one blocking task instead
    /// of one per key) does so.
    async fn head_many(&self, keys: Vec<String>) -> Result<Vec<Option<u64>>, BlobError> {
        stream::iter(keys)
            .map(|key| async move { self.head(&key).await })
            .buffered(HEAD_MANY_CONCURRENCY)
            .try_collect()
            .await
    }

    /// Deletes an object; deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;

    /// Copies the object at `key` into the trash, at [`crate::trash_key`] (replacing an
    /// earlier copy, and dated now: the trash is purged by age), and returns its size;
    /// `None` when there is no object at `key`. The live object is left as it is: the
    /// collector deletes it afterwards, only while its lease is provably valid.
    async fn copy_into_trash(&self, key: &str) -> Result<Option<u64>, BlobError>;

    /// Copies the trashed copy of `key` back to `key`; false when the trash has none.
    async fn restore_from_trash(&self, key: &str) -> Result<bool, BlobError>;

    /// Up to `limit` keys starting with `prefix`, in order, after `start_after`.
    async fn list(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<String>, BlobError>;

    /// Like [`BlobStore::list`], with each object's size and modification time (what the
    /// garbage collector needs to honour its grace period).
    async fn list_info(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>, BlobError>;

    /// Up to `limit` unfinished uploads of keys under `prefix`, whether or not a checkpoint
    /// records them (a worker that died before its first checkpoint leaves one behind);
    /// `None` when the store cannot list them (s3s-fs has no ListMultipartUploads).
    async fn list_incomplete_uploads(
        &self,
        _prefix: &str,
        _limit: usize,
    ) -> Result<Option<Vec<IncompleteUpload>>, BlobError> {
        Ok(None)
    }

    /// Aborts an unfinished upload found by [`BlobStore::list_incomplete_uploads`]; one
    /// already gone is not an error.
    async fn abort_incomplete_upload(&self, _upload: &IncompleteUpload) -> Result<(), BlobError> {
        Ok(())
    }
}

/// Conveniences for small objects.
#[async_trait]
pub trait BlobStoreExt: BlobStore {
    /// Writes a whole small object.
    async fn put_bytes(&self, key: &str, data: Bytes) -> Result<(), BlobError> {
        let mut writer = self.begin_put(key).await?;
        writer.write(data).await?;
        writer.commit().await
    }

    /// Reads a whole small object.
    async fn get_bytes(&self, key: &str) -> Result<Bytes, BlobError> {
        let mut chunks = self.get(key, 0, None).await?;
        let mut out = BytesMut::new();
        while let Some(chunk) = chunks.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.freeze())
    }
}

impl<T: BlobStore + ?Sized> BlobStoreExt for T {}

/// A stream of one chunk, handy for tests and small writes.
pub fn once(data: Bytes) -> ByteStream {
    stream::once(async move { Ok(data) }).boxed()
}
