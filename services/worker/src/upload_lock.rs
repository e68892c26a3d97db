//! Resumable uploads of one blob serialized across workers.
//!
//! A blob larger than one part is uploaded as a multipart upload whose progress is saved
//! beside it, so any worker can continue it. Two workers continuing the same saved upload
//! at once would race on its parts and its checkpoint; so a worker first takes the key
//! `locks/uploads/<sha256>` in the MetaStore, attached to its registration lease. A worker
//! that dies or stalls past its lease loses the lock with the lease, and the next upload
//! of the blob proceeds. (Within one process, `put_verified` serializes uploads itself.)
//!
//! A held lock is released by a task of its own, whether the upload ends or its request is
//! dropped: tonic drops a PutBlob handler whose client went away, at whatever await it
//! was, and a lock left behind would block every later upload of the blob for as long as
//! this worker lives (its lease never lapses).

use std::sync::Arc;
use std::time::Duration;

use cairn_core::Digest;
use cairn_meta::{LeaseId, MetaError, MetaStore, Registration, Txn};
use cairn_proto::error_status;
use tonic::{Code, Status};

/// Prefix of the upload locks.
pub const UPLOAD_LOCKS_PREFIX: &str = "locks/uploads/";

/// How long an upload waits for another worker's upload of the same blob before the
/// client is told to retry.
const WAIT_FOR_LOCK: Duration = Duration::from_secs(30);

/// Takes and releases upload locks for one worker.
pub struct UploadLocks {
    meta: Arc<dyn MetaStore>,
    registration: Arc<Registration>,
    node_id: String,
}

/// A held lock: released by [`HeldLock::release`], or in the background when dropped.
pub struct HeldLock {
    meta: Arc<dyn MetaStore>,
    key: String,
    revision: i64,
    released: bool,
}

impl HeldLock {
    /// Releases the lock, unless it was lost with the lease and taken by someone else.
    /// The release runs in a task of its own: a request dropped while it waits (its
    /// client went away) must not leave the lock behind.
    pub async fn release(mut self) {
        let task = self.spawn_release();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn spawn_release(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        if std::mem::replace(&mut self.released, true) {
            return None;
        }
        let (meta, key, revision) = (self.meta.clone(), std::mem::take(&mut self.key), self.revision);
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        Some(runtime.spawn(async move { release(&*meta, &key, revision).await }))
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        self.spawn_release();
    }
}

enum Take {
    Held(HeldLock),
    /// Our lease lapsed between the write and the read back; try again.
    LeaseLapsed,
    HeldElsewhere,
}

/// One attempt to create the lock key under `lease`.
async fn try_take(meta: Arc<dyn MetaStore>, key: String, holder: String, lease: LeaseId) -> Result<Take, MetaError> {
    let txn = Txn::new().when_revision(&key, 0).put_with_lease(&key, holder.into_bytes(), lease);
    if !meta.txn(txn).await? {
        return Ok(Take::HeldElsewhere);
    }
    // Our own write: its revision fences the release.
    match meta.get(&key).await? {
        Some(kv) if kv.lease == Some(lease) => {
            Ok(Take::Held(HeldLock { meta, key, revision: kv.mod_revision, released: false }))
        }
        _ => Ok(Take::LeaseLapsed),
    }
}

async fn release(meta: &dyn MetaStore, key: &str, revision: i64) {
    let txn = Txn::new().when_revision(key, revision).delete(key);
    match meta.txn(txn).await {
        Ok(released) => tracing::debug!(key, revision, released, "upload lock released"),
        // It goes with the lease at the latest.
        Err(err) => tracing::warn!(key, error = %err, "could not release an upload lock"),
    }
}

fn lock_unavailable(message: String, sha256: &Digest) -> Status {
    error_status(Code::Unavailable, "UPLOAD_IN_PROGRESS", message, vec![("sha256", sha256.to_string())])
}

impl UploadLocks {
    /// Locks kept under `registration`'s lease.
    pub fn new(meta: Arc<dyn MetaStore>, registration: Arc<Registration>, node_id: String) -> Self {
        Self { meta, registration, node_id }
    }

    /// Waits until this worker holds the upload lock of `sha256`. Refuses retryably
    /// (UNAVAILABLE) when the worker has no live lease or the wait runs out.
    pub async fn acquire(&self, sha256: &Digest) -> Result<HeldLock, Status> {
        let key = format!("{UPLOAD_LOCKS_PREFIX}{sha256}");
        let deadline = tokio::time::Instant::now() + WAIT_FOR_LOCK;
        let mut delay = Duration::from_millis(20);
        loop {
            let lease = self
                .registration
                .lease()
                .ok_or_else(|| lock_unavailable("this worker lost its lease and stepped down; retry".into(), sha256))?;
            // Taken in a task of its own: if this request is dropped half-way, the task
            // still builds the guard, whose drop then releases the lock.
            let attempt = tokio::spawn(try_take(self.meta.clone(), key.clone(), self.node_id.clone(), lease));
            let taken = attempt
                .await
                .map_err(|e| lock_unavailable(format!("upload lock task: {e}"), sha256))?
                .map_err(|e| lock_unavailable(format!("metadata store: {e}"), sha256))?;
            match taken {
                Take::Held(lock) => {
                    tracing::debug!(%sha256, revision = lock.revision, "upload lock taken");
                    return Ok(lock);
                }
                Take::LeaseLapsed => continue,
                Take::HeldElsewhere => {}
            }
            if tokio::time::Instant::now() + delay > deadline {
                return Err(lock_unavailable(
                    format!("another worker is uploading blob {sha256}; retry shortly"),
                    sha256,
                ));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }
}
