//! Staged segments (`staging/<uid>/…`) of drafts that are not open: kept while the draft
//! is open or sealing at the mark's snapshot, or journaled by a request (an upsert opening
//! a draft journals its uid before writing its first segment); otherwise condemned,
//! trashed and deleted like blobs once older than the grace period. Segments are deleted
//! only here, never when a draft ends, so a mark that saw a draft open can always read them.

use std::collections::BTreeMap;

use cairn_blob::ObjectInfo;

use super::GcReport;
use super::journal::Relied;
use super::sweep::{BATCH, Sweep};
use crate::{CoordError, Coordinator};

impl Coordinator {
    /// Removes the staged segments of drafts that are no longer open.
    pub(super) async fn sweep_staging(
        &self,
        sweep: &mut Sweep<'_>,
        open_uids: &std::collections::HashSet<String>,
        report: &mut GcReport,
    ) -> Result<(), CoordError> {
        // Listed in key order: a uid's segments are contiguous, and a batch ends between
        // two uids so that all of one draft's segments are judged together.
        let mut pending: BTreeMap<String, Vec<ObjectInfo>> = BTreeMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.blobs.list_info("staging/", after.as_deref(), BATCH).await?;
            let done = page.is_empty();
            if let Some(last) = page.last() {
                after = Some(last.key.clone());
            }
            for object in page {
                let Some(uid) = object.key.split('/').nth(1).map(str::to_owned) else { continue };
                pending.entry(uid).or_default().push(object);
            }
            // Every uid but the last listed is complete; at the end, all are.
            let keep_last = if done { None } else { pending.keys().next_back().cloned() };
            let last = keep_last.and_then(|uid| pending.remove_entry(&uid));
            let complete = std::mem::take(&mut pending);
            if let Some((uid, objects)) = last {
                pending.insert(uid, objects);
            }
            let candidates: Vec<(Relied, Vec<ObjectInfo>)> = complete
                .into_iter()
                .filter(|(uid, objects)| {
                    !open_uids.contains(uid) && objects.iter().all(|o| o.modified_ms <= sweep.cutoff_ms)
                })
                .map(|(uid, objects)| (Relied::Staging(uid), objects))
                .collect();
            if sweep.dry_run {
                report.deleted_staging += candidates.iter().map(|(_, o)| o.len() as u64).sum::<u64>();
            } else {
                report.deleted_staging += self.remove_batch(sweep, candidates, false).await?.objects;
            }
            if done {
                return Ok(());
            }
        }
    }
}
