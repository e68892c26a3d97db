//! The memory Log calls may hold. A Log's entries must all be in hand before its manifest
//! is sorted and written, so each replica bounds what all Logs in flight hold together
//! (`--log-buffer-mib`): a Log that would pass the budget alone is refused for good
//! (RESOURCE_EXHAUSTED LOG_TOO_LARGE); one that finds the budget taken by others is told to
//! retry (UNAVAILABLE COORDINATOR_BUSY), never left waiting while holding memory, so Logs
//! cannot deadlock on each other.

use std::sync::Arc;

use cairn_proto::v1;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::CoordError;

/// Bytes one entry costs besides its path: the parsed entry, its manifest line and the
/// sort's share.
const ENTRY_OVERHEAD: u64 = 160;

/// What the budget's entries cost in memory, estimated from the request.
pub(crate) fn cost(entries: &[v1::Entry]) -> u64 {
    entries.iter().map(|e| ENTRY_OVERHEAD + 2 * e.path.len() as u64).sum()
}

/// A replica's budget for Log entries.
pub(crate) struct LogBudget {
    permits: Arc<Semaphore>,
    limit: u64,
}

impl LogBudget {
    pub(crate) fn new(limit_bytes: u64) -> Self {
        let limit = limit_bytes.min(Semaphore::MAX_PERMITS as u64);
        Self { permits: Arc::new(Semaphore::new(limit as usize)), limit }
    }
}

/// The part of the budget one Log holds.
#[derive(Default)]
pub(crate) struct Held {
    permit: Option<OwnedSemaphorePermit>,
    bytes: u64,
}

impl Held {
    /// Takes `bytes` more of `budget`, or refuses.
    pub(crate) fn take(&mut self, budget: &LogBudget, bytes: u64) -> Result<(), CoordError> {
        let total = self.bytes.saturating_add(bytes);
        if total > budget.limit {
            return Err(CoordError::LogTooLarge { bytes: total, limit: budget.limit });
        }
        let permits =
            u32::try_from(bytes).map_err(|_| CoordError::LogTooLarge { bytes: total, limit: budget.limit })?;
        let more = budget.permits.clone().try_acquire_many_owned(permits).map_err(|_| CoordError::Busy)?;
        match &mut self.permit {
            Some(permit) => permit.merge(more),
            None => self.permit = Some(more),
        }
        self.bytes = total;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_past_the_whole_budget_is_refused_for_good_and_one_past_what_is_left_is_told_to_retry() {
        let budget = LogBudget::new(1000);
        let mut first = Held::default();
        first.take(&budget, 600).unwrap();
        let mut second = Held::default();
        assert!(matches!(second.take(&budget, 500), Err(CoordError::Busy)));
        assert!(matches!(second.take(&budget, 1001), Err(CoordError::LogTooLarge { .. })));
        drop(first);
        second.take(&budget, 500).unwrap();
        second.take(&budget, 500).unwrap();
        assert!(matches!(second.take(&budget, 1), Err(CoordError::LogTooLarge { bytes: 1001, limit: 1000 })));
    }
}
