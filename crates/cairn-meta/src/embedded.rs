//! The embedded MetaStore for single-node use, on `redb` (an ACID, crash-safe embedded
//! key-value store): every transaction commits durably before it returns.
//!
//! Layout: `kv` maps a key to `[mod_revision i64][lease i64][value]`; `meta` holds the
//! store revision and the next lease id; `leases` maps a lease to its deadline in wall-clock
//! milliseconds, and `lease_keys` lists each lease's keys. Keys of an expired lease read as
//! absent at once and are deleted by the next write transaction.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use redb::{
    Database, MultimapTableDefinition, ReadOnlyTable, ReadableTable, ReadableTableMetadata as _, Table,
    TableDefinition, WriteTransaction,
};

use crate::{Compare, KeyValue, LeaseId, MetaError, MetaStore, Snapshot, Txn, TxnOp};

const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
const LEASES: TableDefinition<i64, u64> = TableDefinition::new("leases");
const LEASE_KEYS: MultimapTableDefinition<i64, &str> = MultimapTableDefinition::new("lease_keys");

/// The embedded MetaStore.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in the file at `path`.
    pub fn open(path: &Path) -> Result<Self, MetaError> {
        let db = Database::create(path).map_err(MetaError::backend)?;
        let txn = db.begin_write().map_err(MetaError::backend)?;
        {
            txn.open_table(KV).map_err(MetaError::backend)?;
            txn.open_table(META).map_err(MetaError::backend)?;
            txn.open_table(LEASES).map_err(MetaError::backend)?;
            txn.open_multimap_table(LEASE_KEYS).map_err(MetaError::backend)?;
        }
        txn.commit().map_err(MetaError::backend)?;
        Ok(Self { db: Arc::new(db) })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, MetaError> + Send + 'static,
    ) -> Result<T, MetaError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db)).await.map_err(MetaError::backend)?
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn encode(mod_revision: i64, lease: Option<LeaseId>, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + value.len());
    out.extend_from_slice(&mod_revision.to_le_bytes());
    out.extend_from_slice(&lease.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn decode(key: &str, raw: &[u8]) -> Result<KeyValue, MetaError> {
    if raw.len() < 16 {
        return Err(MetaError::Backend(format!("corrupt record for key {key:?}")));
    }
    let mod_revision = i64::from_le_bytes(raw[0..8].try_into().map_err(MetaError::backend)?);
    let lease = i64::from_le_bytes(raw[8..16].try_into().map_err(MetaError::backend)?);
    Ok(KeyValue { key: key.to_owned(), value: raw[16..].to_vec(), mod_revision, lease: (lease != 0).then_some(lease) })
}

/// True when the key is not attached to a lease, or its lease is still alive.
fn is_live(kv: &KeyValue, leases: &impl ReadableTable<i64, u64>, now: u64) -> Result<bool, MetaError> {
    let Some(lease) = kv.lease else { return Ok(true) };
    let deadline = leases.get(lease).map_err(MetaError::backend)?.map(|d| d.value());
    Ok(deadline.is_some_and(|d| d > now))
}

/// Deletes every expired lease and its keys.
fn reap_expired(txn: &WriteTransaction, now: u64) -> Result<(), MetaError> {
    let mut leases = txn.open_table(LEASES).map_err(MetaError::backend)?;
    let expired: Vec<i64> = leases
        .iter()
        .map_err(MetaError::backend)?
        .filter_map(|row| row.ok())
        .filter(|(_, deadline)| deadline.value() <= now)
        .map(|(lease, _)| lease.value())
        .collect();
    for lease in expired {
        leases.remove(lease).map_err(MetaError::backend)?;
        delete_lease_keys(txn, lease)?;
    }
    Ok(())
}

fn delete_lease_keys(txn: &WriteTransaction, lease: LeaseId) -> Result<(), MetaError> {
    let mut lease_keys = txn.open_multimap_table(LEASE_KEYS).map_err(MetaError::backend)?;
    let mut kv = txn.open_table(KV).map_err(MetaError::backend)?;
    let keys: Vec<String> = lease_keys
        .remove_all(lease)
        .map_err(MetaError::backend)?
        .filter_map(|k| k.ok().map(|k| k.value().to_owned()))
        .collect();
    for key in keys {
        // Only delete the key if it is still attached to this lease.
        let attached = match kv.get(key.as_str()).map_err(MetaError::backend)? {
            Some(raw) => decode(&key, raw.value())?.lease == Some(lease),
            None => false,
        };
        if attached {
            kv.remove(key.as_str()).map_err(MetaError::backend)?;
        }
    }
    Ok(())
}

fn current_revision(kv: &Table<&str, &[u8]>, key: &str) -> Result<i64, MetaError> {
    Ok(match kv.get(key).map_err(MetaError::backend)? {
        Some(raw) => decode(key, raw.value())?.mod_revision,
        None => 0,
    })
}

fn apply_txn(db: &Database, txn_spec: Txn) -> Result<bool, MetaError> {
    let now = now_ms();
    let txn = db.begin_write().map_err(MetaError::backend)?;
    reap_expired(&txn, now)?;
    {
        let mut kv = txn.open_table(KV).map_err(MetaError::backend)?;
        for compare in &txn_spec.compares {
            let Compare::ModRevision { key, revision } = compare;
            if current_revision(&kv, key)? != *revision {
                return Ok(false); // dropping the transaction aborts it
            }
        }
        let mut meta = txn.open_table(META).map_err(MetaError::backend)?;
        let revision = meta.get("revision").map_err(MetaError::backend)?.map(|r| r.value()).unwrap_or(0) + 1;
        meta.insert("revision", revision).map_err(MetaError::backend)?;
        let leases = txn.open_table(LEASES).map_err(MetaError::backend)?;
        let mut lease_keys = txn.open_multimap_table(LEASE_KEYS).map_err(MetaError::backend)?;
        for op in txn_spec.ops {
            let key = match &op {
                TxnOp::Put { key, .. } | TxnOp::Delete { key } => key.clone(),
            };
            let old_lease = match kv.get(key.as_str()).map_err(MetaError::backend)? {
                Some(raw) => decode(&key, raw.value())?.lease,
                None => None,
            };
            if let Some(old) = old_lease {
                lease_keys.remove(old, key.as_str()).map_err(MetaError::backend)?;
            }
            match op {
                TxnOp::Put { value, lease, .. } => {
                    if let Some(lease) = lease {
                        if leases.get(lease).map_err(MetaError::backend)?.is_none() {
                            return Err(MetaError::LeaseNotFound(lease));
                        }
                        lease_keys.insert(lease, key.as_str()).map_err(MetaError::backend)?;
                    }
                    kv.insert(key.as_str(), encode(revision, lease, &value).as_slice()).map_err(MetaError::backend)?;
                }
                TxnOp::Delete { .. } => {
                    kv.remove(key.as_str()).map_err(MetaError::backend)?;
                }
            }
        }
    }
    txn.commit().map_err(MetaError::backend)?;
    Ok(true)
}

#[async_trait]
impl MetaStore for EmbeddedStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, MetaError> {
        let key = key.to_owned();
        self.blocking(move |db| {
            let read = db.begin_read().map_err(MetaError::backend)?;
            let kv = read.open_table(KV).map_err(MetaError::backend)?;
            let leases = read.open_table(LEASES).map_err(MetaError::backend)?;
            let Some(raw) = kv.get(key.as_str()).map_err(MetaError::backend)? else { return Ok(None) };
            let record = decode(&key, raw.value())?;
            Ok(is_live(&record, &leases, now_ms())?.then_some(record))
        })
        .await
    }

    async fn count(&self, prefix: &str) -> Result<u64, MetaError> {
        let prefix = prefix.to_owned();
        self.blocking(move |db| {
            let read = db.begin_read().map_err(MetaError::backend)?;
            let kv = read.open_table(KV).map_err(MetaError::backend)?;
            let leases = read.open_table(LEASES).map_err(MetaError::backend)?;
            let now = now_ms();
            let mut count = 0;
            for row in kv.range::<&str>(prefix.as_str()..).map_err(MetaError::backend)? {
                let (key, raw) = row.map_err(MetaError::backend)?;
                if !key.value().starts_with(prefix.as_str()) {
                    break;
                }
                if is_live(&decode(key.value(), raw.value())?, &leases, now)? {
                    count += 1;
                }
            }
            Ok(count)
        })
        .await
    }

    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<KeyValue>, MetaError> {
        let prefix = prefix.to_owned();
        let start_after = start_after.map(str::to_owned);
        self.blocking(move |db| {
            let read = db.begin_read().map_err(MetaError::backend)?;
            let kv = read.open_table(KV).map_err(MetaError::backend)?;
            let leases = read.open_table(LEASES).map_err(MetaError::backend)?;
            range_in(&kv, &leases, &prefix, start_after.as_deref(), limit, now_ms())
        })
        .await
    }

    async fn snapshot(&self) -> Result<Box<dyn Snapshot>, MetaError> {
        self.blocking(|db| {
            // A redb read transaction is a snapshot: writes committed after it began are
            // invisible to it. Leased keys are judged live as of the snapshot's moment.
            let read = db.begin_read().map_err(MetaError::backend)?;
            let kv = read.open_table(KV).map_err(MetaError::backend)?;
            let leases = read.open_table(LEASES).map_err(MetaError::backend)?;
            let meta = read.open_table(META).map_err(MetaError::backend)?;
            let revision = meta.get("revision").map_err(MetaError::backend)?.map(|r| r.value()).unwrap_or(0);
            let snapshot = EmbeddedSnapshot { kv: Arc::new(kv), leases: Arc::new(leases), revision, now: now_ms() };
            Ok(Box::new(snapshot) as Box<dyn Snapshot>)
        })
        .await
    }

    async fn txn(&self, txn: Txn) -> Result<bool, MetaError> {
        txn.validate()?;
        self.blocking(move |db| apply_txn(db, txn)).await
    }

    async fn grant_lease(&self, ttl: Duration) -> Result<LeaseId, MetaError> {
        let ttl_ms = ttl.as_millis() as u64;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(MetaError::backend)?;
            let lease = {
                let mut meta = txn.open_table(META).map_err(MetaError::backend)?;
                let lease = meta.get("next_lease").map_err(MetaError::backend)?.map(|v| v.value()).unwrap_or(1);
                meta.insert("next_lease", lease + 1).map_err(MetaError::backend)?;
                let mut leases = txn.open_table(LEASES).map_err(MetaError::backend)?;
                leases.insert(lease, now_ms() + ttl_ms).map_err(MetaError::backend)?;
                // The TTL is kept beside the deadline so keep-alive can renew it.
                meta.insert(format!("ttl/{lease}").as_str(), ttl_ms as i64).map_err(MetaError::backend)?;
                lease
            };
            txn.commit().map_err(MetaError::backend)?;
            Ok(lease)
        })
        .await
    }

    async fn keep_alive(&self, lease: LeaseId) -> Result<(), MetaError> {
        self.blocking(move |db| {
            let now = now_ms();
            let txn = db.begin_write().map_err(MetaError::backend)?;
            reap_expired(&txn, now)?;
            {
                let meta = txn.open_table(META).map_err(MetaError::backend)?;
                let mut leases = txn.open_table(LEASES).map_err(MetaError::backend)?;
                if leases.get(lease).map_err(MetaError::backend)?.is_none() {
                    return Err(MetaError::LeaseNotFound(lease));
                }
                let ttl = meta.get(format!("ttl/{lease}").as_str()).map_err(MetaError::backend)?.map(|v| v.value());
                let ttl = ttl.ok_or(MetaError::LeaseNotFound(lease))? as u64;
                leases.insert(lease, now + ttl).map_err(MetaError::backend)?;
            }
            txn.commit().map_err(MetaError::backend)?;
            Ok(())
        })
        .await
    }

    async fn revoke_lease(&self, lease: LeaseId) -> Result<(), MetaError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(MetaError::backend)?;
            {
                let mut leases = txn.open_table(LEASES).map_err(MetaError::backend)?;
                leases.remove(lease).map_err(MetaError::backend)?;
                let mut meta = txn.open_table(META).map_err(MetaError::backend)?;
                meta.remove(format!("ttl/{lease}").as_str()).map_err(MetaError::backend)?;
            }
            delete_lease_keys(&txn, lease)?;
            txn.commit().map_err(MetaError::backend)?;
            Ok(())
        })
        .await
    }
}

/// Up to `limit` live keys under `prefix` after `start_after`, in key order.
fn range_in(
    kv: &impl ReadableTable<&'static str, &'static [u8]>,
    leases: &impl ReadableTable<i64, u64>,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
    now: u64,
) -> Result<Vec<KeyValue>, MetaError> {
    let lower = match start_after {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    };
    let mut out = Vec::new();
    for row in kv.range::<&str>((lower, Bound::Unbounded)).map_err(MetaError::backend)? {
        let (key, raw) = row.map_err(MetaError::backend)?;
        if !key.value().starts_with(prefix) || out.len() >= limit {
            break;
        }
        let record = decode(key.value(), raw.value())?;
        if is_live(&record, leases, now)? {
            out.push(record);
        }
    }
    Ok(out)
}

/// The embedded store as one read transaction saw it.
struct EmbeddedSnapshot {
    kv: Arc<ReadOnlyTable<&'static str, &'static [u8]>>,
    leases: Arc<ReadOnlyTable<i64, u64>>,
    revision: i64,
    now: u64,
}

#[async_trait]
impl Snapshot for EmbeddedSnapshot {
    fn revision(&self) -> i64 {
        self.revision
    }

    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<KeyValue>, MetaError> {
        let (kv, leases, now) = (self.kv.clone(), self.leases.clone(), self.now);
        let (prefix, start_after) = (prefix.to_owned(), start_after.map(str::to_owned));
        tokio::task::spawn_blocking(move || range_in(&*kv, &*leases, &prefix, start_after.as_deref(), limit, now))
            .await
            .map_err(MetaError::backend)?
    }
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.db.begin_read().ok().and_then(|r| r.open_table(KV).ok()).and_then(|t| t.len().ok());
        f.debug_struct("EmbeddedStore").field("keys", &keys).finish()
    }
}
