//! The MetaStore trait and its small transaction vocabulary.

use std::time::Duration;

use async_trait::async_trait;

use crate::MetaError;

/// Most operations (compares + writes) in one transaction; etcd's default `--max-txn-ops`.
pub const MAX_TXN_OPS: usize = 128;

/// Largest value; keeps every record far below etcd's request size limit.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Id of a lease.
pub type LeaseId = i64;

/// A stored key with its value and revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Vec<u8>,
    /// Store revision of the last write to this key; never 0 for an existing key.
    pub mod_revision: i64,
    /// Lease the key is attached to, if any.
    pub lease: Option<LeaseId>,
}

/// A condition a transaction checks before writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compare {
    /// The key's `mod_revision` equals `revision`; 0 means "the key does not exist".
    ModRevision { key: String, revision: i64 },
}

/// A write inside a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOp {
    /// Sets a key, attached to a lease when given (the key disappears with the lease).
    Put { key: String, value: Vec<u8>, lease: Option<LeaseId> },
    /// Removes a key; removing an absent key is not an error.
    Delete { key: String },
}

/// All compares must hold for all ops to apply, atomically. A key is written at most once
/// per transaction (etcd refuses more).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    /// Conditions.
    pub compares: Vec<Compare>,
    /// Writes applied when every condition holds.
    pub ops: Vec<TxnOp>,
}

impl Txn {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a revision condition (0: the key must not exist).
    pub fn when_revision(mut self, key: impl Into<String>, revision: i64) -> Self {
        self.compares.push(Compare::ModRevision { key: key.into(), revision });
        self
    }

    /// Adds a put.
    pub fn put(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.ops.push(TxnOp::Put { key: key.into(), value: value.into(), lease: None });
        self
    }

    /// Adds a put attached to a lease.
    pub fn put_with_lease(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>, lease: LeaseId) -> Self {
        self.ops.push(TxnOp::Put { key: key.into(), value: value.into(), lease: Some(lease) });
        self
    }

    /// Adds a delete.
    pub fn delete(mut self, key: impl Into<String>) -> Self {
        self.ops.push(TxnOp::Delete { key: key.into() });
        self
    }

    /// Checks the limits every implementation enforces, before touching the store.
    pub fn validate(&self) -> Result<(), MetaError> {
        let ops = self.compares.len() + self.ops.len();
        if ops > MAX_TXN_OPS {
            return Err(MetaError::TooManyOps { ops, limit: MAX_TXN_OPS });
        }
        let mut written = std::collections::BTreeSet::new();
        for op in &self.ops {
            let key = match op {
                TxnOp::Put { key, .. } | TxnOp::Delete { key } => key,
            };
            if !written.insert(key) {
                return Err(MetaError::DuplicateKey { key: key.clone() });
            }
        }
        for op in &self.ops {
            if let TxnOp::Put { key, value, .. } = op
                && value.len() > MAX_VALUE_BYTES
            {
                return Err(MetaError::ValueTooLarge { key: key.clone(), size: value.len(), limit: MAX_VALUE_BYTES });
            }
        }
        Ok(())
    }
}

/// The whole store as it was at one revision, for reading many ranges consistently (the
/// collector's mark reads versions and drafts through one).
#[async_trait]
pub trait Snapshot: Send + Sync {
    /// The revision it shows: no write with a higher `mod_revision` is visible in it.
    fn revision(&self) -> i64;

    /// Like [`MetaStore::range`], as of the snapshot; [`MetaError::Compacted`] once the
    /// store no longer holds that revision (etcd compacts its history).
    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<KeyValue>, MetaError>;
}

/// Small keys and values with compare-and-swap, ranges and leases.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// A consistent view of the store as it is now.
    async fn snapshot(&self) -> Result<Box<dyn Snapshot>, MetaError>;

    /// Reads one key.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, MetaError>;

    /// Reads up to `limit` keys starting with `prefix`, in key order, after `start_after`.
    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<KeyValue>, MetaError>;

    /// Applies `txn` atomically; returns false (and writes nothing) when a compare fails.
    async fn txn(&self, txn: Txn) -> Result<bool, MetaError>;

    /// How many keys start with `prefix` (for the keys-by-kind gauge: values are not read).
    async fn count(&self, prefix: &str) -> Result<u64, MetaError>;

    /// Grants a lease that expires `ttl` after its last keep-alive.
    async fn grant_lease(&self, ttl: Duration) -> Result<LeaseId, MetaError>;

    /// Renews a lease; `LeaseNotFound` once it expired or was revoked.
    async fn keep_alive(&self, lease: LeaseId) -> Result<(), MetaError>;

    /// Ends a lease now, deleting its keys.
    async fn revoke_lease(&self, lease: LeaseId) -> Result<(), MetaError>;
}

/// Conveniences built on the trait's primitives.
#[async_trait]
pub trait MetaStoreExt: MetaStore {
    /// Unconditional put.
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), MetaError> {
        self.txn(Txn::new().put(key, value)).await.map(|_| ())
    }

    /// Unconditional delete.
    async fn delete(&self, key: &str) -> Result<(), MetaError> {
        self.txn(Txn::new().delete(key)).await.map(|_| ())
    }
}

impl<T: MetaStore + ?Sized> MetaStoreExt for T {}
