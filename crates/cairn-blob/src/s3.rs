//! The BlobStore on S3-compatible object storage (cluster mode), via `aws-sdk-s3`.
//!
//! Objects are written at their final key: small ones with one PutObject at commit, large
//! ones as a multipart upload (8 MiB parts by default, a bounded number in flight) that is
//! completed only at commit — so nothing is visible under the key before the writer's
//! caller has verified every byte. Every failure path aborts the multipart upload.
//! Checksums are calculated by the SDK only when an operation requires them: cairn
//! verifies sha256 itself, and S3-compatible servers differ in what they accept.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, stream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::{BlobError, BlobStore, BlobWriter, ByteStream, trash_key, validate_key};

mod copy;

/// Where and how to reach the bucket.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// Custom endpoint for S3-compatible stores (`http://127.0.0.1:9000`); `None` for AWS.
    pub endpoint: Option<String>,
    /// Bucket name.
    pub bucket: String,
    /// Region to sign for.
    pub region: String,
    /// Prefix of every key cairn writes (`cairn/`), so a bucket can be shared.
    pub prefix: String,
    /// Static credentials; `None` uses the standard AWS chain (env, profile, web identity).
    pub access_key: Option<String>,
    /// Secret of the static credentials.
    pub secret_key: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), needed by most S3-compatible stores.
    pub force_path_style: bool,
    /// Smallest size of multipart parts; a blob's parts grow (in whole MiB) so that it
    /// fits in `max_parts`.
    pub part_size: usize,
    /// Most parts of one multipart upload (S3: 10,000; lower only to test large parts).
    pub max_parts: u64,
    /// Parts uploaded at once per object.
    pub part_concurrency: usize,
    /// Longest one attempt of one S3 request may take (a part upload included).
    pub attempt_timeout: std::time::Duration,
    /// Attempts per S3 request (the SDK retries throttling, 5xx and timeouts with
    /// jittered backoff).
    pub max_attempts: u32,
    /// Longest wait for the next bytes of an object being read.
    pub read_idle_timeout: std::time::Duration,
    /// Largest object copied with one CopyObject; larger ones are copied in parts
    /// (UploadPartCopy). S3's limit, 5 GiB; lower only to test the parts.
    pub copy_part_limit: u64,
}

impl S3Config {
    /// A configuration with cairn's defaults for the given bucket.
    pub fn new(bucket: &str) -> Self {
        Self {
            endpoint: None,
            bucket: bucket.to_owned(),
            region: "us-east-1".to_owned(),
            prefix: String::new(),
            access_key: None,
            secret_key: None,
            force_path_style: true,
            part_size: 8 * 1024 * 1024,
            max_parts: S3_MAX_PARTS,
            part_concurrency: 4,
            attempt_timeout: std::time::Duration::from_secs(60),
            max_attempts: 3,
            read_idle_timeout: std::time::Duration::from_secs(30),
            copy_part_limit: copy::S3_MAX_COPY,
        }
    }
}

/// Blobs in an S3 bucket.
#[derive(Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    part_size: usize,
    max_parts: u64,
    part_concurrency: usize,
    read_idle_timeout: std::time::Duration,
    copy_part_limit: u64,
}

/// S3's limits: parts per multipart upload, bytes per part, bytes per object.
pub const S3_MAX_PARTS: u64 = 10_000;
const S3_MAX_PART: u64 = 5 * 1024 * 1024 * 1024;
const S3_MAX_OBJECT: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// Part bytes one upload keeps in flight at most (at least one part): parts are buffered
/// whole, so concurrency falls as parts grow.
const IN_FLIGHT_PART_BYTES: u64 = 64 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store").field("bucket", &self.bucket).field("prefix", &self.prefix).finish()
    }
}

fn s3_error<E: std::error::Error + Send + Sync + 'static>(err: SdkError<E>) -> BlobError {
    BlobError::Io(format!("s3: {}", aws_sdk_s3::error::DisplayErrorContext(&err)))
}

fn status_of<E>(err: &SdkError<E>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

impl S3Store {
    /// Builds a client for `config`; credentials come from the config or the AWS chain.
    pub async fn connect(config: S3Config) -> Result<Self, BlobError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(config.region.clone()));
        if let (Some(access), Some(secret)) = (&config.access_key, &config.secret_key) {
            loader = loader.credentials_provider(Credentials::new(access, secret, None, None, "cairn-config"));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(config.force_path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            // No request may hang for ever: an S3 answer that never comes is an error
            // after the attempt timeout, retried by the SDK a bounded number of times.
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(std::time::Duration::from_secs(5))
                    .operation_attempt_timeout(config.attempt_timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(config.max_attempts.max(1)));
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        if config.part_size < 5 * 1024 * 1024 {
            return Err(BlobError::Io("S3 part size must be at least 5 MiB".into()));
        }
        Ok(Self {
            client: Client::from_conf(builder.build()),
            bucket: config.bucket,
            prefix: config.prefix,
            part_size: config.part_size,
            max_parts: config.max_parts.clamp(1, S3_MAX_PARTS),
            part_concurrency: config.part_concurrency.max(1),
            read_idle_timeout: config.read_idle_timeout,
            copy_part_limit: config.copy_part_limit.clamp(1, copy::S3_MAX_COPY),
        })
    }

    /// True when the server says for certain that a multipart upload with stored parts
    /// no longer exists: NoSuchUpload (AWS, moto), or no parts at all (s3s-fs answers so
    /// for an unknown upload). Any other answer — including one this SDK cannot parse —
    /// is no proof: the upload is continued, and if it is gone after all, its next part
    /// or its completion fails and the caller's retry starts afresh.
    async fn upload_is_gone(&self, object_key: &str, upload_id: &str) -> bool {
        let listed = crate::metrics::timed(
            "s3",
            "list_parts",
            self.client.list_parts().bucket(&self.bucket).key(object_key).upload_id(upload_id).max_parts(1).send(),
        )
        .await;
        match listed {
            Ok(page) => page.parts().is_empty(),
            Err(err) => status_of(&err) == Some(404),
        }
    }

    /// A writer for `object_key` with parts of `part_size` that has sent nothing yet.
    fn writer(&self, object_key: String, resumable: bool, part_size: u64) -> S3Writer {
        let concurrency = (IN_FLIGHT_PART_BYTES / part_size.max(1)).clamp(1, self.part_concurrency as u64);
        S3Writer {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            key: object_key,
            part_size: part_size as usize,
            buffer: BytesMut::new(),
            upload_id: None,
            next_part: 1,
            in_flight: JoinSet::new(),
            completed: Vec::new(),
            slots: Arc::new(Semaphore::new(concurrency as usize)),
            finished: false,
            resumable,
        }
    }

    /// Aborts the multipart upload `upload_id` of `key`; one already gone is not an error.
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), BlobError> {
        let aborted = crate::metrics::timed(
            "s3",
            "abort_multipart_upload",
            self.client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(self.object_key(key)?)
                .upload_id(upload_id)
                .send(),
        )
        .await;
        match aborted {
            Ok(_) => Ok(()),
            Err(err) if status_of(&err) == Some(404) => Ok(()),
            Err(err) => Err(s3_error(err)),
        }
    }

    fn object_key(&self, key: &str) -> Result<String, BlobError> {
        validate_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }
}

/// What a resumable upload needs to continue: the multipart upload and the parts it has
/// stored, by number, with their ETags. Encoded as lines: `v2 <upload id>`, then one
/// `<part number> <etag>` per part.
struct ResumeToken {
    upload_id: String,
    parts: Vec<(i32, Option<String>)>,
}

impl ResumeToken {
    fn encode(&self) -> String {
        let mut out = format!("v2 {}", self.upload_id);
        for (number, etag) in &self.parts {
            out.push_str(&format!("\n{number} {}", etag.as_deref().unwrap_or("")));
        }
        out
    }

    /// `None` for a token this version cannot use (which then starts afresh).
    fn decode(token: &str) -> Option<Self> {
        let mut lines = token.lines();
        let upload_id = lines.next()?.strip_prefix("v2 ")?.to_owned();
        let mut parts = Vec::new();
        for line in lines {
            let (number, etag) = line.split_once(' ')?;
            parts.push((number.parse().ok()?, (!etag.is_empty()).then(|| etag.to_owned())));
        }
        Some(Self { upload_id, parts })
    }
}

/// A write in progress: buffered until it is large enough for a multipart upload.
struct S3Writer {
    client: Client,
    bucket: String,
    key: String,
    part_size: usize,
    buffer: BytesMut,
    upload_id: Option<String>,
    next_part: i32,
    in_flight: JoinSet<Result<CompletedPart, BlobError>>,
    completed: Vec<CompletedPart>,
    slots: Arc<Semaphore>,
    finished: bool,
    /// A resumable writer keeps its multipart upload when dropped or suspended.
    resumable: bool,
}

impl S3Writer {
    async fn start_multipart(&mut self) -> Result<String, BlobError> {
        if let Some(id) = &self.upload_id {
            return Ok(id.clone());
        }
        let created = crate::metrics::timed(
            "s3",
            "create_multipart_upload",
            self.client.create_multipart_upload().bucket(&self.bucket).key(&self.key).send(),
        )
        .await
        .map_err(s3_error)?;
        let id = created.upload_id().ok_or_else(|| BlobError::Io("s3: no upload id".into()))?.to_owned();
        self.upload_id = Some(id.clone());
        Ok(id)
    }

    /// Sends one part in the background, waiting for a free slot first.
    async fn send_part(&mut self, body: Bytes) -> Result<(), BlobError> {
        let upload_id = self.start_multipart().await?;
        let permit = self.slots.clone().acquire_owned().await.map_err(|e| BlobError::Io(e.to_string()))?;
        let part_number = self.next_part;
        self.next_part += 1;
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.key.clone());
        self.in_flight.spawn(async move {
            let _permit = permit;
            let uploaded = crate::metrics::timed(
                "s3",
                "upload_part",
                client
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(part_number)
                    .body(SdkByteStream::from(body))
                    .send(),
            )
            .await
            .map_err(s3_error)?;
            Ok(CompletedPart::builder().part_number(part_number).set_e_tag(uploaded.e_tag().map(str::to_owned)).build())
        });
        // Collect finished parts now, so failures surface early rather than at commit.
        while let Some(done) = self.in_flight.try_join_next() {
            self.completed.push(done.map_err(|e| BlobError::Io(e.to_string()))??);
        }
        Ok(())
    }

    async fn abort_upload(&mut self) {
        self.in_flight.abort_all();
        while self.in_flight.join_next().await.is_some() {}
        if let Some(upload_id) = self.upload_id.take() {
            let aborted = crate::metrics::timed(
                "s3",
                "abort_multipart_upload",
                self.client.abort_multipart_upload().bucket(&self.bucket).key(&self.key).upload_id(upload_id).send(),
            )
            .await;
            if let Err(err) = aborted {
                tracing::warn!(key = %self.key, error = %s3_error(err), "could not abort multipart upload");
            }
        }
    }

    async fn complete(&mut self) -> Result<(), BlobError> {
        if self.upload_id.is_none() {
            let body = SdkByteStream::from(std::mem::take(&mut self.buffer).freeze());
            crate::metrics::timed(
                "s3",
                "put_object",
                self.client.put_object().bucket(&self.bucket).key(&self.key).body(body).send(),
            )
            .await
            .map_err(s3_error)?;
            return Ok(());
        }
        if !self.buffer.is_empty() {
            let last = std::mem::take(&mut self.buffer).freeze();
            self.send_part(last).await?;
        }
        let mut parts = std::mem::take(&mut self.completed);
        while let Some(done) = self.in_flight.join_next().await {
            parts.push(done.map_err(|e| BlobError::Io(e.to_string()))??);
        }
        parts.sort_by_key(|p| p.part_number());
        let upload_id = self.upload_id.clone().expect("multipart started");
        crate::metrics::timed(
            "s3",
            "complete_multipart_upload",
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(upload_id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send(),
        )
        .await
        .map_err(s3_error)?;
        self.upload_id = None;
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for S3Writer {
    async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        self.buffer.extend_from_slice(&chunk);
        while self.buffer.len() >= self.part_size {
            let part = self.buffer.split_to(self.part_size).freeze();
            if let Err(err) = self.send_part(part).await {
                self.abort_upload().await;
                return Err(err);
            }
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), BlobError> {
        self.finished = true;
        let result = self.complete().await;
        if result.is_err() {
            self.abort_upload().await;
        }
        result
    }

    async fn abort(mut self: Box<Self>) -> Result<(), BlobError> {
        self.finished = true;
        self.abort_upload().await;
        Ok(())
    }

    async fn persist(&mut self) -> Result<Option<String>, BlobError> {
        // Parts are sent as they fill; durable once every part in flight is stored.
        if !self.buffer.is_empty() || self.upload_id.is_none() {
            // Below one part nothing is stored in S3 yet; start the upload so it can resume.
            self.start_multipart().await?;
        }
        while let Some(done) = self.in_flight.join_next().await {
            self.completed.push(done.map_err(|e| BlobError::Io(e.to_string()))??);
        }
        let Some(upload_id) = self.upload_id.clone() else { return Ok(None) };
        let mut parts: Vec<(i32, Option<String>)> =
            self.completed.iter().map(|p| (p.part_number().unwrap_or(0), p.e_tag().map(str::to_owned))).collect();
        parts.sort_by_key(|p| p.0);
        Ok(Some(ResumeToken { upload_id, parts }.encode()))
    }

    async fn suspend(mut self: Box<Self>) -> Result<(), BlobError> {
        if !self.resumable {
            return self.abort().await;
        }
        self.finished = true;
        self.persist().await.map(|_| ())
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        // A writer dropped mid-way (the client went away) still aborts its upload.
        if !self.finished
            && !self.resumable
            && let Some(upload_id) = self.upload_id.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            self.in_flight.abort_all();
            let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.key.clone());
            runtime.spawn(async move {
                let _ = crate::metrics::timed(
                    "s3",
                    "abort_multipart_upload",
                    client.abort_multipart_upload().bucket(bucket).key(key).upload_id(upload_id).send(),
                )
                .await;
            });
        }
    }
}

#[async_trait]
impl BlobStore for S3Store {
    async fn begin_put(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        Ok(Box::new(self.writer(self.object_key(key)?, false, self.part_size as u64)))
    }

    async fn resume_put(
        &self,
        key: &str,
        offset: u64,
        token: Option<&str>,
        part_size: u64,
    ) -> Result<Box<dyn BlobWriter>, BlobError> {
        let object_key = self.object_key(key)?;
        if part_size < self.part_size as u64 || part_size > S3_MAX_PART {
            return Err(BlobError::Io(format!("part size {part_size} is outside {}..={S3_MAX_PART}", self.part_size)));
        }
        let mut writer = self.writer(object_key.clone(), true, part_size);
        if offset == 0 {
            return Ok(Box::new(writer));
        }
        let mismatch = |available| BlobError::ResumeMismatch { requested: offset, available };
        let resume = ResumeToken::decode(token.ok_or_else(|| mismatch(0))?).ok_or_else(|| mismatch(0))?;
        if !offset.is_multiple_of(part_size) {
            return Err(mismatch(0));
        }
        let wanted = (offset / part_size) as usize;
        // The parts this upload stored, as recorded when its progress was saved (servers
        // differ in how, and whether, ListParts answers; the record is ours). If the
        // upload has vanished since, the next part or the completion fails, and the
        // caller starts afresh.
        let contiguous: Vec<CompletedPart> = resume
            .parts
            .iter()
            .enumerate()
            .take_while(|(i, (number, _))| *number == *i as i32 + 1)
            .take(wanted)
            .map(|(_, (number, etag))| CompletedPart::builder().part_number(*number).set_e_tag(etag.clone()).build())
            .collect();
        if contiguous.len() < wanted {
            return Err(mismatch(contiguous.len() as u64 * part_size));
        }
        if self.upload_is_gone(&object_key, &resume.upload_id).await {
            return Err(mismatch(0));
        }
        writer.upload_id = Some(resume.upload_id);
        writer.next_part = wanted as i32 + 1;
        writer.completed = contiguous;
        Ok(Box::new(writer))
    }

    async fn discard_upload(&self, key: &str, token: Option<&str>) -> Result<(), BlobError> {
        let Some(upload_id) = token.and_then(ResumeToken::decode).map(|t| t.upload_id) else { return Ok(()) };
        self.abort_multipart(key, &upload_id).await
    }

    fn part_size(&self) -> u64 {
        self.part_size as u64
    }

    fn part_size_for(&self, blob_size: u64) -> Result<u64, BlobError> {
        let limit = S3_MAX_OBJECT.min(self.max_parts.saturating_mul(S3_MAX_PART));
        if blob_size > limit {
            return Err(BlobError::TooLarge { size: blob_size, limit });
        }
        // The smallest whole number of MiB that fits the blob in `max_parts` parts.
        let needed = blob_size.div_ceil(self.max_parts).div_ceil(MIB) * MIB;
        Ok(needed.max(self.part_size as u64).min(S3_MAX_PART))
    }

    async fn get(&self, key: &str, offset: u64, length: Option<u64>) -> Result<ByteStream, BlobError> {
        // One GET, not a HEAD first (S3 bills per request): a range past the end is
        // answered 416, and only then is the size looked up, to tell an empty read at
        // the end (or of an empty object) from an invalid range.
        if length == Some(0) {
            let size = self.head(key).await?.ok_or_else(|| BlobError::NotFound(key.to_owned()))?;
            if offset > size {
                return Err(BlobError::InvalidRange { key: key.to_owned(), offset, size });
            }
            return Ok(stream::empty().boxed());
        }
        let range = match (offset, length) {
            (0, None) => None,
            (_, None) => Some(format!("bytes={offset}-")),
            (_, Some(len)) => Some(format!("bytes={offset}-{}", offset.saturating_add(len) - 1)),
        };
        let request = self.client.get_object().bucket(&self.bucket).key(self.object_key(key)?).set_range(range).send();
        let response = match crate::metrics::timed("s3", "get_object", request).await {
            Ok(response) => response,
            Err(err) if status_of(&err) == Some(404) => return Err(BlobError::NotFound(key.to_owned())),
            Err(err) if status_of(&err) == Some(416) => {
                let size = self.head(key).await?.ok_or_else(|| BlobError::NotFound(key.to_owned()))?;
                if offset > size {
                    return Err(BlobError::InvalidRange { key: key.to_owned(), offset, size });
                }
                return Ok(stream::empty().boxed());
            }
            Err(err) => return Err(s3_error(err)),
        };
        let (body, idle) = (response.body, self.read_idle_timeout);
        // A body that stops arriving ends the stream with an error instead of hanging it.
        let chunks = stream::unfold(Some(body), move |body| async move {
            let mut body = body?;
            match tokio::time::timeout(idle, body.next()).await {
                Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(body))),
                Ok(Some(Err(err))) => Some((Err(BlobError::Io(format!("s3 read: {err}"))), None)),
                Ok(None) => None,
                Err(_) => Some((Err(BlobError::Io(format!("s3 read: no data for {idle:?}"))), None)),
            }
        });
        Ok(chunks.boxed())
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match crate::metrics::timed(
            "s3",
            "head_object",
            self.client.head_object().bucket(&self.bucket).key(self.object_key(key)?).send(),
        )
        .await
        {
            Ok(head) => Ok(Some(head.content_length().unwrap_or(0).max(0) as u64)),
            Err(err) if status_of(&err) == Some(404) => Ok(None),
            Err(err) => Err(s3_error(err)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match crate::metrics::timed(
            "s3",
            "delete_object",
            self.client.delete_object().bucket(&self.bucket).key(self.object_key(key)?).send(),
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(err) if status_of(&err) == Some(404) => Ok(()),
            Err(err) => Err(s3_error(err)),
        }
    }

    async fn copy_into_trash(&self, key: &str) -> Result<Option<u64>, BlobError> {
        // A copy is a new object: its LastModified is now, which is what purging goes by.
        self.copy_key(key, &trash_key(key)).await
    }

    async fn restore_from_trash(&self, key: &str) -> Result<bool, BlobError> {
        Ok(self.copy_key(&trash_key(key), key).await?.is_some())
    }

    async fn list_incomplete_uploads(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Option<Vec<crate::IncompleteUpload>>, BlobError> {
        let mut uploads = Vec::new();
        let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let request = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(format!("{}{prefix}", self.prefix))
                .max_uploads((limit - uploads.len()).min(1000) as i32)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take());
            let page = match crate::metrics::timed("s3", "list_multipart_uploads", request.send()).await {
                Ok(page) => page,
                // s3s-fs answers 501 NotImplemented: the recorded upload ids must do.
                Err(err) if status_of(&err) == Some(501) => return Ok(None),
                Err(err) => return Err(s3_error(err)),
            };
            for upload in page.uploads() {
                let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) else { continue };
                let Some(key) = key.strip_prefix(&self.prefix) else { continue };
                let initiated_ms = upload.initiated().and_then(|t| t.to_millis().ok()).unwrap_or(0).max(0) as u64;
                uploads.push(crate::IncompleteUpload {
                    key: key.to_owned(),
                    upload_id: upload_id.to_owned(),
                    initiated_ms,
                });
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            id_marker = page.next_upload_id_marker().map(str::to_owned);
            if page.is_truncated() != Some(true) || key_marker.is_none() || uploads.len() >= limit {
                uploads.truncate(limit);
                return Ok(Some(uploads));
            }
        }
    }

    async fn abort_incomplete_upload(&self, upload: &crate::IncompleteUpload) -> Result<(), BlobError> {
        self.abort_multipart(&upload.key, &upload.upload_id).await
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<String>, BlobError> {
        Ok(self.list_info(prefix, start_after, limit).await?.into_iter().map(|o| o.key).collect())
    }

    async fn list_info(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::ObjectInfo>, BlobError> {
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        let full_prefix = format!("{}{prefix}", self.prefix);
        loop {
            let mut request = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&full_prefix)
                .max_keys((limit - objects.len()).min(1000) as i32);
            if let Some(after) = start_after {
                request = request.start_after(format!("{}{after}", self.prefix));
            }
            if let Some(token) = &token {
                request = request.continuation_token(token);
            }
            let page = crate::metrics::timed("s3", "list_objects_v2", request.send()).await.map_err(s3_error)?;
            for object in page.contents() {
                if let Some(key) = object.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                    let modified_ms =
                        object.last_modified().and_then(|t| t.to_millis().ok()).unwrap_or(0).max(0) as u64;
                    let size = object.size().unwrap_or(0).max(0) as u64;
                    objects.push(crate::ObjectInfo { key: key.to_owned(), size, modified_ms });
                }
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() || objects.len() >= limit {
                objects.truncate(limit);
                return Ok(objects);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ResumeToken;

    #[test]
    fn resume_tokens_round_trip_and_foreign_tokens_are_refused() {
        let token = ResumeToken { upload_id: "abc/Z+=".into(), parts: vec![(1, Some("\"e1\"".into())), (2, None)] };
        let back = ResumeToken::decode(&token.encode()).unwrap();
        assert_eq!((back.upload_id.as_str(), back.parts), ("abc/Z+=", vec![(1, Some("\"e1\"".into())), (2, None)]));
        assert!(ResumeToken::decode("a bare upload id").is_none(), "an old token starts afresh");
        assert!(ResumeToken::decode("v2 id\nnot-a-number etag").is_none());
    }
}
