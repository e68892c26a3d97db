//! What a collection tidies besides content: abandoned upload checkpoints and old upload
//! markers, journals no collection honours any more, the trash past its retention, and the
//! store's clock (every age is judged by it, never by the collector's).

use bytes::Bytes;
use cairn_blob::{BlobStoreExt, TRASH_PREFIX, discard_stale_upload, upload_resume_token};
use cairn_core::Digest;

use super::GcReport;
use super::journal::{JOURNAL_PREFIX, journal_generation};
use crate::{CoordError, Coordinator};

/// Object written at the start of every collection to read the store's clock.
const CLOCK_KEY: &str = "gc/clock";
/// Objects listed per page.
const PAGE: usize = 1000;

impl Coordinator {
    /// The store's clock now (ms since the epoch): the modification time it gives a fresh
    /// object. Objects' ages are compared with it, so the collector's own clock (which
    /// may be off) never decides what is old.
    pub(super) async fn store_now_ms(&self) -> Result<u64, CoordError> {
        self.blobs.put_bytes(CLOCK_KEY, Bytes::new()).await?;
        let listed = self.blobs.list_info(CLOCK_KEY, None, 1).await?;
        let store_ms = listed.first().filter(|o| o.key == CLOCK_KEY).map(|o| o.modified_ms);
        let store_ms = store_ms.ok_or_else(|| CoordError::Corrupt(format!("{CLOCK_KEY} vanished once written")))?;
        let skew_ms = store_ms as i64 - crate::clock::now_ms() as i64;
        if skew_ms.abs() > 60_000 {
            tracing::warn!(skew_ms, "the object store's clock and this coordinator's differ by over a minute");
        }
        Ok(store_ms)
    }

    /// Deletes the journals of generations before `current` (honoured by no collection of
    /// generation ≥ current, the only ones that can run from now on).
    pub(super) async fn drop_old_journals(&self, current: u64) -> Result<u64, CoordError> {
        let mut dropped = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.blobs.list(JOURNAL_PREFIX, after.as_deref(), PAGE).await?;
            let Some(last) = page.last() else { return Ok(dropped) };
            after = Some(last.clone());
            for key in page {
                if journal_generation(&key).is_none_or(|g| g < current) {
                    self.blobs.delete(&key).await?;
                    dropped += 1;
                }
            }
        }
    }

    /// Uploads idle since before this (store clock) are abandoned: idle for longer than
    /// the grace period and the upload idle time (an hour by default).
    pub(super) fn upload_cutoff(&self, store_now_ms: u64, grace: std::time::Duration) -> u64 {
        store_now_ms.saturating_sub(grace.max(self.config.gc_upload_idle).as_millis() as u64)
    }

    /// Discards uploads whose checkpoint has been idle past the upload cutoff, with their
    /// multipart uploads, and upload markers older than the grace period.
    pub(super) async fn sweep_checkpoints(
        &self,
        store_now_ms: u64,
        cutoff_ms: u64,
        options: super::GcOptions,
    ) -> Result<u64, CoordError> {
        let upload_cutoff = self.upload_cutoff(store_now_ms, options.grace);
        let mut deleted = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.blobs.list_info("uploads/sha256/", after.as_deref(), PAGE).await?;
            let Some(last) = page.last() else { return Ok(deleted) };
            after = Some(last.key.clone());
            for object in page {
                let name = object.key.trim_start_matches("uploads/sha256/");
                if let Some(hex) = name.strip_suffix(".uploaded") {
                    if object.modified_ms <= cutoff_ms && Digest::parse_hex(hex).is_ok() && !options.dry_run {
                        self.blobs.delete(&object.key).await?;
                    }
                    continue;
                }
                let Some(Ok(digest)) = name.strip_suffix(".checkpoint").map(Digest::parse_hex) else { continue };
                if object.modified_ms > upload_cutoff {
                    continue;
                }
                if !options.dry_run {
                    let token = upload_resume_token(&*self.blobs, &digest).await.ok().flatten();
                    discard_stale_upload(&*self.blobs, &digest, token.as_deref()).await;
                }
                deleted += 1;
            }
        }
    }

    /// Deletes from the trash what was trashed longer ago than the trash retention (all of
    /// it with `purge`); counts what stays in `report.trash_bytes`.
    pub(super) async fn purge_trash(
        &self,
        store_now_ms: u64,
        purge: bool,
        dry_run: bool,
        report: &mut GcReport,
    ) -> Result<(), CoordError> {
        let cutoff = store_now_ms.saturating_sub(self.config.gc_trash_retention.as_millis() as u64);
        let mut after: Option<String> = None;
        loop {
            let page = self.blobs.list_info(TRASH_PREFIX, after.as_deref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for object in page {
                if purge || object.modified_ms <= cutoff {
                    if !dry_run {
                        self.blobs.delete(&object.key).await?;
                    }
                    report.purged_blobs += 1;
                } else {
                    report.trash_bytes += object.size;
                }
            }
        }
        crate::metrics::GC_TRASH_BYTES.set(report.trash_bytes as i64);
        Ok(())
    }
}
