//! A BlobStore that records request counts and latencies of the store it wraps (used for
//! local files; the S3 store records each S3 call itself).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::metrics::timed;
use crate::{BlobError, BlobStore, BlobWriter, ByteStream};

/// Wraps a BlobStore with metrics labelled by `backend`.
pub struct Metered {
    inner: Arc<dyn BlobStore>,
    backend: &'static str,
}

impl Metered {
    /// `inner`, measured.
    pub fn wrap(inner: Arc<dyn BlobStore>, backend: &'static str) -> Arc<dyn BlobStore> {
        Arc::new(Self { inner, backend })
    }
}

#[async_trait]
impl BlobStore for Metered {
    async fn begin_put(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        timed(self.backend, "begin_put", self.inner.begin_put(key)).await
    }

    async fn resume_put(
        &self,
        key: &str,
        offset: u64,
        token: Option<&str>,
        part_size: u64,
    ) -> Result<Box<dyn BlobWriter>, BlobError> {
        timed(self.backend, "resume_put", self.inner.resume_put(key, offset, token, part_size)).await
    }

    async fn discard_upload(&self, key: &str, token: Option<&str>) -> Result<(), BlobError> {
        timed(self.backend, "discard_upload", self.inner.discard_upload(key, token)).await
    }

    fn part_size(&self) -> u64 {
        self.inner.part_size()
    }

    async fn list_info(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::ObjectInfo>, BlobError> {
        timed(self.backend, "list_info", self.inner.list_info(prefix, start_after, limit)).await
    }

    async fn list_incomplete_uploads(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Option<Vec<crate::IncompleteUpload>>, BlobError> {
        timed(self.backend, "list_incomplete_uploads", self.inner.list_incomplete_uploads(prefix, limit)).await
    }

    async fn abort_incomplete_upload(&self, upload: &crate::IncompleteUpload) -> Result<(), BlobError> {
        timed(self.backend, "abort_incomplete_upload", self.inner.abort_incomplete_upload(upload)).await
    }

    fn part_size_for(&self, blob_size: u64) -> Result<u64, BlobError> {
        self.inner.part_size_for(blob_size)
    }

    async fn get(&self, key: &str, offset: u64, length: Option<u64>) -> Result<ByteStream, BlobError> {
        timed(self.backend, "get", self.inner.get(key, offset, length)).await
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        timed(self.backend, "head", self.inner.head(key)).await
    }

    async fn put_many(&self, objects: Vec<(String, Bytes)>) -> Result<(), BlobError> {
        timed(self.backend, "put_many", self.inner.put_many(objects)).await
    }

    async fn head_many(&self, keys: Vec<String>) -> Result<Vec<Option<u64>>, BlobError> {
        timed(self.backend, "head_many", self.inner.head_many(keys)).await
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        timed(self.backend, "delete", self.inner.delete(key)).await
    }

    async fn copy_into_trash(&self, key: &str) -> Result<Option<u64>, BlobError> {
        timed(self.backend, "copy_into_trash", self.inner.copy_into_trash(key)).await
    }

    async fn restore_from_trash(&self, key: &str) -> Result<bool, BlobError> {
        timed(self.backend, "restore_from_trash", self.inner.restore_from_trash(key)).await
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<String>, BlobError> {
        timed(self.backend, "list", self.inner.list(prefix, start_after, limit)).await
    }
}
