//! A MetaStore that records request counts and latencies of the store it wraps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::metrics::observe;
use crate::{KeyValue, LeaseId, MetaError, MetaStore, Snapshot, Txn};

/// Wraps a MetaStore with metrics labelled by `backend` (`etcd`, `embedded`).
pub struct Metered {
    inner: Arc<dyn MetaStore>,
    backend: &'static str,
}

impl Metered {
    /// `inner`, measured.
    pub fn wrap(inner: Arc<dyn MetaStore>, backend: &'static str) -> Arc<dyn MetaStore> {
        Arc::new(Self { inner, backend })
    }

    fn record<T>(&self, op: &str, started: Instant, result: &Result<T, MetaError>) {
        observe(self.backend, op, result.is_ok(), started.elapsed());
    }
}

#[async_trait]
impl MetaStore for Metered {
    async fn snapshot(&self) -> Result<Box<dyn Snapshot>, MetaError> {
        let started = Instant::now();
        let result = self.inner.snapshot().await;
        self.record("snapshot", started, &result);
        result
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, MetaError> {
        let started = Instant::now();
        let result = self.inner.get(key).await;
        self.record("get", started, &result);
        result
    }

    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<KeyValue>, MetaError> {
        let started = Instant::now();
        let result = self.inner.range(prefix, start_after, limit).await;
        self.record("range", started, &result);
        result
    }

    async fn count(&self, prefix: &str) -> Result<u64, MetaError> {
        let started = Instant::now();
        let result = self.inner.count(prefix).await;
        self.record("count", started, &result);
        result
    }

    async fn txn(&self, txn: Txn) -> Result<bool, MetaError> {
        let started = Instant::now();
        let result = self.inner.txn(txn).await;
        self.record("txn", started, &result);
        result
    }

    async fn grant_lease(&self, ttl: Duration) -> Result<LeaseId, MetaError> {
        let started = Instant::now();
        let result = self.inner.grant_lease(ttl).await;
        self.record("grant_lease", started, &result);
        result
    }

    async fn keep_alive(&self, lease: LeaseId) -> Result<(), MetaError> {
        let started = Instant::now();
        let result = self.inner.keep_alive(lease).await;
        self.record("keep_alive", started, &result);
        result
    }

    async fn revoke_lease(&self, lease: LeaseId) -> Result<(), MetaError> {
        let started = Instant::now();
        let result = self.inner.revoke_lease(lease).await;
        self.record("revoke_lease", started, &result);
        result
    }
}
