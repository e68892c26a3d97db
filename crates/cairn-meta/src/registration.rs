//! Liveness registration: a key attached to a lease that a background loop keeps alive.
//!
//! The lease is a liveness signal only. When a keep-alive fails for longer than the TTL,
//! or the store says the lease is gone (etcd restarted, the process stalled), the holder
//! steps down at once — `lease()` turns `None` — and then registers again under a fresh
//! lease. Anything fenced on the old lease (draft ownership) is lost with it, by design.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{LeaseId, MetaError, MetaStore, Txn};

/// Prefix of the live storage workers' registrations.
pub const WORKERS_PREFIX: &str = "members/workers/";
/// Prefix of the live coordinator replicas' registrations.
pub const COORDINATORS_PREFIX: &str = "members/coordinators/";

/// What a live replica or worker registers: who it is and where to reach it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    /// Node id, unique per process.
    pub node_id: String,
    /// Address to reach it at (`http://host:port`).
    pub address: String,
    /// The garbage-collection protocol a coordinator follows (0: one from before it was
    /// registered; workers register 0, they take no part in it).
    #[serde(default)]
    pub gc_protocol: u32,
}

impl Member {
    /// Encodes the registration value.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("members always serialize")
    }

    /// Decodes a registration value.
    pub fn decode(bytes: &[u8]) -> Result<Self, MetaError> {
        serde_json::from_slice(bytes).map_err(MetaError::backend)
    }
}

/// A registered key kept alive in the background.
pub struct Registration {
    meta: Arc<dyn MetaStore>,
    key: String,
    lease: watch::Receiver<Option<LeaseId>>,
    /// The lease cannot expire before this moment: the last successful grant or renewal
    /// was *sent* at `valid_until - ttl`, and the store counts the TTL from when it
    /// received it, later. What fences work on the lease (the collector's deletions) reads it.
    valid_until: Arc<std::sync::Mutex<Option<tokio::time::Instant>>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration").field("key", &self.key).field("lease", &*self.lease.borrow()).finish()
    }
}

/// Creates `key` under a fresh lease, only if nobody holds it: two live processes with
/// one node id would each believe they own the other's drafts. `previous` is this
/// holder's own earlier lease, whose key (if the lease still lives) is replaced.
async fn register(
    meta: &dyn MetaStore,
    key: &str,
    value: &[u8],
    ttl: Duration,
    previous: Option<LeaseId>,
) -> Result<LeaseId, MetaError> {
    if let Some(previous) = previous
        && let Some(kv) = meta.get(key).await?
        && kv.lease == Some(previous)
    {
        let _ = meta.revoke_lease(previous).await;
    }
    let lease = meta.grant_lease(ttl).await?;
    if meta.txn(Txn::new().when_revision(key, 0).put_with_lease(key, value.to_vec(), lease)).await? {
        return Ok(lease);
    }
    let _ = meta.revoke_lease(lease).await;
    Err(MetaError::AlreadyRegistered { key: key.to_owned() })
}

impl Registration {
    /// Registers `key` = `value` under a lease of `ttl` and keeps it alive every `ttl / 3`.
    /// A key held by another lease is waited for, up to one and a half TTLs: a process
    /// restarted right after a crash finds its predecessor's key until that lease lapses,
    /// while a second live process with the same id keeps renewing and is refused.
    pub async fn start(meta: Arc<dyn MetaStore>, key: &str, value: Vec<u8>, ttl: Duration) -> Result<Self, MetaError> {
        let deadline = tokio::time::Instant::now() + ttl + ttl / 2;
        let valid_until = Arc::new(std::sync::Mutex::new(None));
        let first = loop {
            let sent = tokio::time::Instant::now();
            *valid_until.lock().expect("not poisoned") = Some(sent + ttl);
            match register(&*meta, key, &value, ttl, None).await {
                Err(MetaError::AlreadyRegistered { .. }) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep((ttl / 10).max(Duration::from_millis(100))).await;
                }
                other => break other?,
            }
        };
        let (sender, receiver) = watch::channel(Some(first));
        let (loop_meta, loop_key, loop_valid_until) = (meta.clone(), key.to_owned(), valid_until.clone());
        let task = tokio::spawn(async move {
            let period = ttl / 3;
            let mut lease = first;
            let mut last_renewal = tokio::time::Instant::now();
            let renewed =
                |sent: tokio::time::Instant| *loop_valid_until.lock().expect("not poisoned") = Some(sent + ttl);
            loop {
                tokio::time::sleep(period).await;
                let sent = tokio::time::Instant::now();
                match loop_meta.keep_alive(lease).await {
                    Ok(()) => {
                        crate::metrics::LEASE_RENEWALS.with_label_values(&["ok"]).inc();
                        last_renewal = tokio::time::Instant::now();
                        renewed(sent);
                        if sender.borrow().is_some() {
                            continue;
                        }
                        // Stepped down while the store was unreachable, but the lease
                        // outlived the outage (etcd restores leases when it restarts): if
                        // the key is still ours, serve again. Without this the process
                        // would renew a lease it never again claimed to hold.
                        if let Ok(Some(kv)) = loop_meta.get(&loop_key).await
                            && kv.lease == Some(lease)
                        {
                            tracing::info!(key = %loop_key, lease, "the lease outlived the outage; serving again");
                            let _ = sender.send(Some(lease));
                            continue;
                        }
                    }
                    Err(MetaError::LeaseNotFound(_)) => {
                        crate::metrics::LEASE_RENEWALS.with_label_values(&["lost"]).inc();
                        tracing::warn!(key = %loop_key, lease, "lease lost; stepping down and registering again");
                        let _ = sender.send(None);
                    }
                    Err(err) => {
                        crate::metrics::LEASE_RENEWALS.with_label_values(&["failed"]).inc();
                        tracing::warn!(key = %loop_key, error = %err, "keep-alive failed");
                        if last_renewal.elapsed() < ttl {
                            continue;
                        }
                        // The lease may have lapsed: assume so and step down.
                        let _ = sender.send(None);
                    }
                }
                let sent = tokio::time::Instant::now();
                match register(&*loop_meta, &loop_key, &value, ttl, Some(lease)).await {
                    Ok(fresh) => {
                        renewed(sent);
                        tracing::info!(key = %loop_key, lease = fresh, "registered under a new lease");
                        lease = fresh;
                        last_renewal = tokio::time::Instant::now();
                        let _ = sender.send(Some(fresh));
                    }
                    Err(err) => tracing::warn!(key = %loop_key, error = %err, "registration failed; retrying"),
                }
            }
        });
        Ok(Self { meta, key: key.to_owned(), lease: receiver, valid_until, task })
    }

    /// The live lease, or `None` while this holder has stepped down.
    pub fn lease(&self) -> Option<LeaseId> {
        *self.lease.borrow()
    }

    /// The live lease and the moment before which it certainly has not expired (on the
    /// monotonic clock), or `None` while this holder has stepped down. After that moment
    /// the lease may lapse at any time (a stalled process, a partition).
    // model: LeaseExpires
    pub fn lease_valid_until(&self) -> Option<(LeaseId, tokio::time::Instant)> {
        let lease = self.lease()?;
        let until = (*self.valid_until.lock().expect("not poisoned"))?;
        Some((lease, until))
    }

    /// The registered key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Stops keeping the lease alive and revokes it, deleting the key at once.
    pub async fn stop(&self) {
        self.task.abort();
        if let Some(lease) = self.lease() {
            let _ = self.meta.revoke_lease(lease).await;
        }
    }

    /// Stops the keep-alive loop without revoking: the lease lapses after its TTL, as
    /// when the process dies. For tests of fencing.
    pub fn abandon(&self) {
        self.task.abort();
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.task.abort();
    }
}
