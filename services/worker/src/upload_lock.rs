//! Resumable uploads of one blob serialized across workers.
//!
//! A blob larger than one part is uploaded as a multipart upload whose progress is saved
//! beside it, so any worker can continue it. Two workers continuing the same saved upload
//! at once would race on its parts and its checkpoint; so a worker first takes the key
//! `locks/uploads/<sha256>` in the MetaStore, attached to its registration lease. A worker
//! that dies or stalls past its lease loses the lock with the lease, and the next upload
//! of the blob proceeds. (Within one process, `put_verified` serializes uploads itself.)

use std::sync::Arc;
use std::time::Duration;

use cairn_core::Digest;
use cairn_meta::{MetaStore, Registration, Txn};
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

/// A held lock; release it with [`UploadLocks::release`].
pub struct HeldLock {
    key: String,
    revision: i64,
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
            let txn = Txn::new().when_revision(&key, 0).put_with_lease(&key, self.node_id.as_bytes(), lease);
            let meta_error = |e: cairn_meta::MetaError| lock_unavailable(format!("metadata store: {e}"), sha256);
            if self.meta.txn(txn).await.map_err(meta_error)? {
                // Our own write: its revision fences the release.
                if let Some(kv) = self.meta.get(&key).await.map_err(meta_error)?
                    && kv.lease == Some(lease)
                {
                    return Ok(HeldLock { key, revision: kv.mod_revision });
                }
                continue; // the lease lapsed in between; try again
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

    /// Releases a lock, unless it was lost with the lease and taken by someone else.
    pub async fn release(&self, lock: HeldLock) {
        let txn = Txn::new().when_revision(&lock.key, lock.revision).delete(&lock.key);
        if let Err(err) = self.meta.txn(txn).await {
            // It goes with the lease at the latest.
            tracing::warn!(key = %lock.key, error = %err, "could not release an upload lock");
        }
    }
}
