//! Server-side copies, for the collector's trash: CopyObject up to S3's 5 GiB limit,
//! UploadPartCopy in parts above it. Nothing passes through cairn.

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::{S3Store, s3_error, status_of};
use crate::BlobError;
use crate::BlobStore as _;

/// Largest object one CopyObject may copy (S3's limit).
pub(super) const S3_MAX_COPY: u64 = 5 * 1024 * 1024 * 1024;

/// `bucket/key` as a copy source: every byte outside the unreserved set and `/`
/// percent-encoded (keys of cairn are plain, a configured prefix may not be).
fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = format!("{bucket}/");
    for byte in key.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

impl S3Store {
    /// Copies the object `from` to `to` (full keys of this store), returning its size, or
    /// `None` when `from` does not exist.
    pub(super) async fn copy_key(&self, from: &str, to: &str) -> Result<Option<u64>, BlobError> {
        let (from_object, to_object) = (self.object_key(from)?, self.object_key(to)?);
        let Some(size) = self.head(from).await? else { return Ok(None) };
        let source = copy_source(&self.bucket, &from_object);
        if size <= self.copy_part_limit {
            let request = self.client.copy_object().bucket(&self.bucket).key(&to_object).copy_source(&source).send();
            return match crate::metrics::timed("s3", "copy_object", request).await {
                Ok(_) => Ok(Some(size)),
                // Deleted between the HEAD and the copy.
                Err(err) if status_of(&err) == Some(404) => Ok(None),
                Err(err) => Err(s3_error(err)),
            };
        }
        self.copy_in_parts(&source, to, size).await.map(Some)
    }

    /// UploadPartCopy of `size` bytes from `source` into a multipart upload of `to`.
    async fn copy_in_parts(&self, source: &str, to: &str, size: u64) -> Result<u64, BlobError> {
        let to_object = &self.object_key(to)?;
        let created = self.client.create_multipart_upload().bucket(&self.bucket).key(to_object).send();
        let created = crate::metrics::timed("s3", "create_multipart_upload", created).await.map_err(s3_error)?;
        let upload_id = created.upload_id().ok_or_else(|| BlobError::Io("s3: no upload id".into()))?.to_owned();
        let part_size = self.part_size_for(size)?.max(self.part_size as u64);
        let copied = async {
            let mut parts = Vec::new();
            let mut offset = 0;
            let mut number = 1;
            while offset < size {
                let end = (offset + part_size).min(size) - 1;
                let request = self
                    .client
                    .upload_part_copy()
                    .bucket(&self.bucket)
                    .key(to_object)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .copy_source(source)
                    .copy_source_range(format!("bytes={offset}-{end}"))
                    .send();
                let part = crate::metrics::timed("s3", "upload_part_copy", request).await.map_err(s3_error)?;
                let etag = part.copy_part_result().and_then(|r| r.e_tag()).map(str::to_owned);
                parts.push(CompletedPart::builder().part_number(number).set_e_tag(etag).build());
                offset = end + 1;
                number += 1;
            }
            let completed = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
            let request = self
                .client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(to_object)
                .upload_id(&upload_id)
                .multipart_upload(completed)
                .send();
            crate::metrics::timed("s3", "complete_multipart_upload", request).await.map_err(s3_error)?;
            Ok(size)
        }
        .await;
        if copied.is_err() {
            let _ = self.abort_multipart(to, &upload_id).await;
        }
        copied
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn copy_sources_encode_what_a_url_path_cannot_hold() {
        assert_eq!(super::copy_source("b", "p x/blobs/ab"), "b/p%20x/blobs/ab");
        assert_eq!(super::copy_source("b", "trash/a+b"), "b/trash/a%2Bb");
    }
}
