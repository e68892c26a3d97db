//! Leases that bound how long request-id records live.
//!
//! A Log's request id is remembered (`requests/…`) so that a retry returns the first
//! attempt's version instead of committing again. The records are attached to a shared
//! lease that is replaced every hour and lives 25 hours, so each record lives between
//! 24 and 25 hours and etcd deletes them itself: no sweep, and one lease per hour, not
//! one per request. A retry comes seconds or minutes after its first attempt.

use std::time::Duration;

use cairn_meta::{LeaseId, MetaStore};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::CoordError;

/// How long one lease takes new records.
const ROTATE_EVERY: Duration = Duration::from_secs(3600);
/// How long a lease (and every record on it) lives.
const RECORD_TTL: Duration = Duration::from_secs(25 * 3600);

/// The lease new request records are attached to.
#[derive(Default)]
pub(crate) struct RequestLeases {
    current: Mutex<Option<(LeaseId, Instant)>>,
}

impl RequestLeases {
    /// The lease to attach a new record to, granting a fresh one when due.
    pub(crate) async fn current(&self, meta: &dyn MetaStore) -> Result<LeaseId, CoordError> {
        let mut current = self.current.lock().await;
        if let Some((lease, granted)) = *current
            && granted.elapsed() < ROTATE_EVERY
        {
            return Ok(lease);
        }
        let lease = meta.grant_lease(RECORD_TTL).await?;
        *current = Some((lease, Instant::now()));
        Ok(lease)
    }

    /// Forgets the lease (it was not found): the next record gets a fresh one.
    pub(crate) async fn reset(&self) {
        *self.current.lock().await = None;
    }
}
