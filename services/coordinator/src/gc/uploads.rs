//! Unfinished multipart uploads that no checkpoint records.
//!
//! A worker that dies before saving its first part's checkpoint leaves a multipart upload
//! that nothing refers to; S3 bills its parts for ever unless the bucket has an
//! AbortIncompleteMultipartUpload rule. The collector lists such uploads where the store
//! can (ListMultipartUploads; s3s-fs cannot, and there the recorded ids are all there is)
//! and aborts those idle past the upload cutoff. The store's own start time is not
//! trusted alone (moto reports one fixed date in 2010 for every upload): an upload is
//! aborted only once the collector itself has also seen it for that long. Its sightings
//! are kept in one object, `gc/upload-sightings.json`.

use std::collections::BTreeMap;

use bytes::Bytes;
use cairn_blob::{BlobError, BlobStoreExt, upload_checkpoint_key};
use cairn_core::Digest;

use super::GcOptions;
use crate::{CoordError, Coordinator};

/// Unfinished uploads looked at per collection at most; the rest wait for the next one.
const MAX_INCOMPLETE_UPLOADS: usize = 10_000;
/// Where the collector remembers when it first saw each unfinished upload.
const SIGHTINGS_KEY: &str = "gc/upload-sightings.json";

/// First sighting (ms since the epoch) of each upload, by `<key> <upload id>`.
type Sightings = BTreeMap<String, u64>;

impl Coordinator {
    /// Aborts unfinished uploads of blobs that no checkpoint records, once idle past the
    /// upload cutoff both by the store's clock and by the collector's sightings. Uploads
    /// of blobs with a checkpoint are the checkpoint sweep's.
    pub(super) async fn sweep_incomplete_uploads(
        &self,
        started_ms: u64,
        options: GcOptions,
    ) -> Result<u64, CoordError> {
        let Some(uploads) = self.blobs.list_incomplete_uploads("blobs/sha256/", MAX_INCOMPLETE_UPLOADS).await? else {
            return Ok(0);
        };
        let cutoff = self.upload_cutoff(started_ms, options.grace);
        let seen_before = self.upload_sightings().await?;
        let mut seen_now = Sightings::new();
        let mut aborted = 0;
        for upload in uploads {
            let id = format!("{} {}", upload.key, upload.upload_id);
            let first_seen = seen_before.get(&id).copied().unwrap_or(started_ms);
            let hex = upload.key.rsplit('/').next().unwrap_or_default();
            let recorded = match Digest::parse_hex(hex) {
                Ok(digest) => self.blobs.head(&upload_checkpoint_key(&digest)).await?.is_some(),
                Err(_) => true, // not a blob upload of ours: leave it alone
            };
            if recorded || upload.initiated_ms > cutoff || first_seen > cutoff {
                seen_now.insert(id, first_seen);
                continue;
            }
            if !options.dry_run {
                self.blobs.abort_incomplete_upload(&upload).await?;
            }
            aborted += 1;
        }
        if !options.dry_run {
            let encoded = serde_json::to_vec(&seen_now).expect("a map of strings to numbers encodes");
            self.blobs.put_bytes(SIGHTINGS_KEY, Bytes::from(encoded)).await?;
        }
        Ok(aborted)
    }

    async fn upload_sightings(&self) -> Result<Sightings, CoordError> {
        match self.blobs.get_bytes(SIGHTINGS_KEY).await {
            // An unreadable record only delays aborts by one upload idle time.
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
            Err(BlobError::NotFound(_)) => Ok(Sightings::new()),
            Err(err) => Err(err.into()),
        }
    }
}
