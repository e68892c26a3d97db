//! A MetaStore that runs a hook before chosen calls, then delegates: how race tests stop a
//! collector between two of its steps (say, after marking versions and before drafts), or
//! fail one call as an unreachable store would (the hook's error is the call's answer).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cairn_meta::{KeyValue, LeaseId, MetaError, MetaStore, Snapshot, Txn, TxnOp};
use futures::future::BoxFuture;

/// A call the hook sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaCall {
    /// A range read, now or through a snapshot, of this prefix.
    Range { prefix: String, snapshot: bool },
    /// A transaction deleting (or writing) these keys.
    Txn { deletes: Vec<String>, puts: Vec<String> },
}

pub type MetaHook = Arc<dyn Fn(MetaCall) -> BoxFuture<'static, Result<(), MetaError>> + Send + Sync>;

pub struct HookedMeta {
    pub inner: Arc<dyn MetaStore>,
    pub hook: MetaHook,
}

struct HookedSnapshot {
    inner: Box<dyn Snapshot>,
    hook: MetaHook,
}

#[async_trait]
impl Snapshot for HookedSnapshot {
    fn revision(&self) -> i64 {
        self.inner.revision()
    }
    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<KeyValue>, MetaError> {
        (self.hook)(MetaCall::Range { prefix: prefix.to_owned(), snapshot: true }).await?;
        self.inner.range(prefix, start_after, limit).await
    }
}

#[async_trait]
impl MetaStore for HookedMeta {
    async fn snapshot(&self) -> Result<Box<dyn Snapshot>, MetaError> {
        Ok(Box::new(HookedSnapshot { inner: self.inner.snapshot().await?, hook: self.hook.clone() }))
    }
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, MetaError> {
        self.inner.get(key).await
    }
    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<KeyValue>, MetaError> {
        (self.hook)(MetaCall::Range { prefix: prefix.to_owned(), snapshot: false }).await?;
        self.inner.range(prefix, start_after, limit).await
    }
    async fn txn(&self, txn: Txn) -> Result<bool, MetaError> {
        let mut call = (Vec::new(), Vec::new());
        for op in &txn.ops {
            match op {
                TxnOp::Delete { key } => call.0.push(key.clone()),
                TxnOp::Put { key, .. } => call.1.push(key.clone()),
            }
        }
        (self.hook)(MetaCall::Txn { deletes: call.0, puts: call.1 }).await?;
        self.inner.txn(txn).await
    }
    async fn count(&self, prefix: &str) -> Result<u64, MetaError> {
        self.inner.count(prefix).await
    }
    async fn grant_lease(&self, ttl: Duration) -> Result<LeaseId, MetaError> {
        self.inner.grant_lease(ttl).await
    }
    async fn keep_alive(&self, lease: LeaseId) -> Result<(), MetaError> {
        self.inner.keep_alive(lease).await
    }
    async fn revoke_lease(&self, lease: LeaseId) -> Result<(), MetaError> {
        self.inner.revoke_lease(lease).await
    }
}
