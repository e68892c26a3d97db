//! One collector at a time, and none that has lost its turn: the collector holds
//! `gc/leader` on its replica's lease, and issues a deletion only while that lease is
//! provably alive for longer than the deletion can take.
//!
//! The lease cannot expire before `valid_until` (the registration's last grant or renewal
//! was sent at `valid_until - ttl`; the store counts the TTL from when it received it, on
//! its own clock). A deletion is sent only when `now + DELETE_TIMEOUT + MARGIN <
//! valid_until` on the monotonic clock, and given up after DELETE_TIMEOUT. So every
//! deletion lands (or never will, assuming the object store applies a request within
//! MARGIN of its timeout or not at all) before the lease can expire — before another
//! collector can claim `gc/leader`, and before this collector's condemned set, leased
//! like it, can vanish. A collector paused past its lease (SIGSTOP, a stalled VM) wakes
//! up unable to delete anything.

use std::time::Duration;

use cairn_meta::{LeaseId, Txn};

use crate::{CoordError, Coordinator};

/// Key held by the running collector (leased).
pub(super) const LEADER_KEY: &str = "gc/leader";

/// The collector's turn: the lease it holds `gc/leader` on, and the key's revision.
#[derive(Debug, Clone, Copy)]
pub(super) struct Claim {
    pub lease: LeaseId,
    pub revision: i64,
}

/// Timing of fenced deletions for a lease of `ttl`: each deletion may take `timeout`, and
/// must land `margin` before the lease could expire. With the default 10 s lease: 2 s and
/// 1 s; renewals every ttl/3 keep at least 6.7 s of validity, so deletions rarely wait.
pub(super) fn delete_timing(ttl: Duration) -> (Duration, Duration) {
    let timeout = (ttl / 5).clamp(Duration::from_millis(100), Duration::from_secs(2));
    (timeout, ttl / 10)
}

impl Coordinator {
    /// Claims `gc/leader` for this replica, or says who holds it.
    // model: ClaimLeader
    pub(super) async fn claim_collector(&self) -> Result<Claim, CoordError> {
        let (lease, _) = self.node.registration.lease_valid_until().ok_or(CoordError::SteppedDown)?;
        let claim = Txn::new().when_revision(LEADER_KEY, 0).put_with_lease(LEADER_KEY, self.node.id.clone(), lease);
        if !self.meta.txn(claim).await? {
            let holder = self.meta.get(LEADER_KEY).await?.map(|kv| String::from_utf8_lossy(&kv.value).into_owned());
            return Err(CoordError::GcRunning { holder: holder.unwrap_or_default() });
        }
        let stored = self.meta.get(LEADER_KEY).await?.ok_or(CoordError::SteppedDown)?;
        if stored.lease != Some(lease) {
            return Err(CoordError::SteppedDown); // the lease lapsed right after the claim
        }
        Ok(Claim { lease, revision: stored.mod_revision })
    }

    /// Gives the turn back, only if it is still this claim (never another collector's).
    /// When the store cannot be reached, the release is retried in the background until
    /// it lands: the key is on this replica's lease, which its keep-alives renew, so a
    /// release given up on would hold the turn — every replica's — for as long as this
    /// replica lives. Retrying is safe because the release compares on the claim's revision.
    pub(super) async fn release_collector(&self, claim: &Claim) {
        let release = |revision| Txn::new().when_revision(LEADER_KEY, revision).delete(LEADER_KEY);
        let Err(err) = self.meta.txn(release(claim.revision)).await else { return };
        tracing::warn!(error = %err, "could not release gc/leader; retrying in the background");
        let (meta, revision) = (self.meta.clone(), claim.revision);
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(100);
            loop {
                tokio::time::sleep(wait).await;
                match meta.txn(release(revision)).await {
                    Ok(_) => return, // released, or the claim is gone already
                    Err(_) => wait = (wait * 2).min(Duration::from_secs(5)),
                }
            }
        });
    }

    /// Returns once the claim's lease is certainly valid for one more fenced deletion,
    /// waiting for a renewal if needed; fails once the lease is lost or changed.
    pub(super) async fn fenced(&self, claim: &Claim) -> Result<(), CoordError> {
        let ttl = self.config.lease_ttl;
        let (timeout, margin) = delete_timing(ttl);
        let deadline = tokio::time::Instant::now() + ttl;
        loop {
            match self.node.registration.lease_valid_until() {
                Some((lease, until)) if lease == claim.lease => {
                    if tokio::time::Instant::now() + timeout + margin < until {
                        return Ok(());
                    }
                }
                _ => return Err(CoordError::CollectorFenced),
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(CoordError::CollectorFenced); // no renewal for a whole TTL
            }
            tokio::time::sleep(ttl / 20).await;
        }
    }

    /// Deletes `key` from the live store, fenced on `claim`; a deletion that timed out is
    /// sent again under a fresh fence (deleting is idempotent).
    // model: DeleteBlob
    pub(super) async fn fenced_delete(&self, claim: &Claim, key: &str) -> Result<(), CoordError> {
        let (timeout, _) = delete_timing(self.config.lease_ttl);
        for _ in 0..3 {
            self.fenced(claim).await?;
            match tokio::time::timeout(timeout, self.blobs.delete(key)).await {
                Ok(result) => return Ok(result?),
                Err(_) => tracing::warn!(key, ?timeout, "a fenced deletion timed out; sending it again"),
            }
        }
        Err(CoordError::Blob(cairn_blob::BlobError::Io(format!("deleting {key} timed out three times"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletions_fit_well_inside_a_lease() {
        for ttl in [2, 10, 60] {
            let ttl = Duration::from_secs(ttl);
            let (timeout, margin) = delete_timing(ttl);
            // A renewal every ttl/3 leaves at least 2/3 of the TTL; a deletion needs less.
            assert!(timeout + margin < ttl * 2 / 3, "{ttl:?}: {timeout:?} + {margin:?}");
        }
        assert_eq!(delete_timing(Duration::from_secs(10)), (Duration::from_secs(2), Duration::from_secs(1)));
    }
}
