//! Uploading: ask which blobs are missing, stream only those to the storage service,
//! several at a time: small blobs (up to 1 MiB) many to a PutBlobs call, larger ones one
//! PutBlob each. The worker verifies every byte, so a file that changed after it was
//! hashed is refused rather than stored under a wrong digest.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use bytes::BytesMut;
use cairn_core::Digest;
use cairn_proto::MAX_BATCHED_BLOB;
use cairn_proto::v1::put_blob_request::Part;
use cairn_proto::v1::{
    FindMissingBlobsRequest, GetUploadStatusRequest, PutBlobHeader, PutBlobRequest, PutBlobsRequest, WholeBlob,
};
use futures::{StreamExt, TryStreamExt, stream};
use tokio::io::AsyncSeekExt;

use crate::batching::group_by_size;
use crate::{Client, ClientError, HashedFile};

/// Digests per FindMissingBlobs request.
const FIND_MISSING_BATCH: usize = 10_000;
/// Blobs uploaded at once.
const UPLOAD_CONCURRENCY: usize = 8;
/// Bytes per PutBlob chunk.
const CHUNK: usize = 1024 * 1024;
/// Blobs from this size on ask whether an interrupted upload can be resumed.
const RESUMABLE_SIZE: u64 = 8 * 1024 * 1024;
/// Bytes of small blobs per PutBlobs call, and per message of it (under gRPC's 4 MiB).
const BATCH_BYTES: u64 = 8 * 1024 * 1024;
const MESSAGE_BYTES: u64 = 3 * 1024 * 1024;
/// Small blobs per PutBlobs call.
const BATCH_BLOBS: usize = 1024;

/// Upload receipts by blob: servers with authentication accept an entry whose blob the
/// artifact's latest version does not hold only with the receipt of its upload.
pub(crate) type Receipts = HashMap<Digest, String>;

/// What an upload sent.
#[derive(Debug, Default)]
pub(crate) struct Uploaded {
    /// Bytes sent.
    pub bytes: u64,
    /// Receipts of the blobs sent (empty on servers without authentication).
    pub receipts: Receipts,
}

impl Client {
    /// Digests among `digests` that the server does not store.
    pub async fn find_missing(&self, digests: &[Digest]) -> Result<Vec<Digest>, ClientError> {
        self.find_missing_for(None, digests).await
    }

    /// Digests among `digests` to upload for `artifact`: on servers with authentication,
    /// every one its latest version does not hold.
    async fn find_missing_for(&self, artifact: Option<&str>, digests: &[Digest]) -> Result<Vec<Digest>, ClientError> {
        let mut missing = Vec::new();
        for batch in digests.chunks(FIND_MISSING_BATCH) {
            let request = FindMissingBlobsRequest {
                sha256: batch.iter().map(Digest::to_string).collect(),
                project: artifact.map(|_| self.project.clone()).unwrap_or_default(),
                artifact: artifact.unwrap_or_default().to_owned(),
            };
            let response = self
                .coordinator_call(|mut c| {
                    let request = request.clone();
                    async move { c.find_missing_blobs(request).await.map(|r| r.into_inner()) }
                })
                .await?;
            for hex in response.missing {
                missing.push(Digest::parse_hex(&hex)?);
            }
        }
        Ok(missing)
    }

    /// Uploads the blobs of `files` that the server is missing for `artifact`.
    pub(crate) async fn upload_missing(&self, artifact: &str, files: &[HashedFile]) -> Result<Uploaded, ClientError> {
        let mut by_digest: BTreeMap<Digest, (PathBuf, u64)> = BTreeMap::new();
        for hashed in files {
            by_digest.entry(hashed.sha256).or_insert_with(|| (hashed.file.source.clone(), hashed.file.size));
        }
        let digests: Vec<Digest> = by_digest.keys().copied().collect();
        let asked = std::time::Instant::now();
        let missing = self.find_missing_for(Some(artifact), &digests).await?;
        tracing::debug!(
            digests = digests.len(),
            missing = missing.len(),
            find_missing_ms = asked.elapsed().as_millis() as u64,
            "asked what is missing"
        );
        crate::progress::begin(&self.progress, crate::Phase::Uploading, missing.iter().map(|d| by_digest[d].1).sum());
        let (small, large): (Vec<Digest>, Vec<Digest>) =
            missing.into_iter().partition(|digest| by_digest[digest].1 <= MAX_BATCHED_BLOB);
        let small = group_by_size(
            small.into_iter().map(|digest| (digest, by_digest[&digest].clone())),
            |(_, (_, size))| *size,
            BATCH_BYTES,
            BATCH_BLOBS,
        );
        let large = large.into_iter().map(|digest| (digest, by_digest[&digest].clone()));
        let jobs = small.into_iter().map(Upload::Batch).chain(large.map(|(digest, file)| Upload::One(digest, file)));
        let jobs = jobs.map(|job| {
            let client = self.clone();
            async move {
                match job {
                    Upload::Batch(batch) => client.put_small_blobs(batch).await,
                    Upload::One(digest, (source, size)) => client.put_one(digest, size, source).await,
                }
            }
        });
        let sent: Vec<Uploaded> = stream::iter(jobs).buffer_unordered(UPLOAD_CONCURRENCY).try_collect().await?;
        crate::progress::end(&self.progress);
        let mut all = Uploaded::default();
        for part in sent {
            all.bytes += part.bytes;
            all.receipts.extend(part.receipts);
        }
        Ok(all)
    }

    /// One blob through PutBlob, with its receipt.
    async fn put_one(&self, digest: Digest, size: u64, source: PathBuf) -> Result<Uploaded, ClientError> {
        let (bytes, receipt) = self.put_blob_with_receipt(digest, size, source).await?;
        Ok(Uploaded { bytes, receipts: receipt.into_iter().map(|r| (digest, r)).collect() })
    }

    /// Sends small files in one PutBlobs call (read on a blocking thread first; a server
    /// without PutBlobs gets one PutBlob per file); returns the bytes sent.
    async fn put_small_blobs(&self, batch: Vec<(Digest, (PathBuf, u64))>) -> Result<Uploaded, ClientError> {
        let files = batch.clone();
        let blobs = tokio::task::spawn_blocking(move || {
            files
                .into_iter()
                .map(|(digest, (source, _))| match std::fs::read(&source) {
                    Ok(content) => Ok(WholeBlob { sha256: digest.to_string(), content: content.into() }),
                    Err(err) => Err(ClientError::io(&source, err)),
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| ClientError::Usage(format!("reading thread failed: {e}")))??;
        let bytes: u64 = blobs.iter().map(|b| b.content.len() as u64).sum();
        // Messages of at most MESSAGE_BYTES of content (a blob larger than that, up to
        // 1 MiB under gRPC's 4 MiB message limit, goes alone).
        let messages: Vec<PutBlobsRequest> =
            group_by_size(blobs, |b| b.content.len() as u64, MESSAGE_BYTES, usize::MAX)
                .into_iter()
                .map(|blobs| PutBlobsRequest { blobs })
                .collect();
        let sent = self
            .storage_call(|mut storage| {
                let messages = messages.clone();
                async move { storage.put_blobs(stream::iter(messages)).await.map(|r| r.into_inner()) }
            })
            .await;
        match sent {
            Ok(response) => {
                crate::progress::advance(&self.progress, bytes);
                Ok(Uploaded { bytes, receipts: receipts_by_digest(response.receipts) })
            }
            Err(err) if err.code() == Some(tonic::Code::Unimplemented) => {
                tracing::debug!("the storage service has no PutBlobs; sending one PutBlob per file");
                let mut sent = Uploaded::default();
                for (digest, (source, size)) in batch {
                    let one = self.put_one(digest, size, source).await?;
                    sent.bytes += one.bytes;
                    sent.receipts.extend(one.receipts);
                }
                Ok(sent)
            }
            Err(err) => Err(err),
        }
    }

    /// Streams one file as the blob `digest`; returns the bytes sent (0 if already stored).
    /// A large blob whose earlier upload was interrupted resumes after the stored parts; a
    /// worker that fails mid-way is replaced by another, which resumes the same way. A
    /// resume the worker cannot continue (the stored upload vanished) starts from byte 0.
    pub async fn put_blob_from_file(&self, digest: Digest, size: u64, source: PathBuf) -> Result<u64, ClientError> {
        self.put_blob_with_receipt(digest, size, source).await.map(|(bytes, _)| bytes)
    }

    /// [`Client::put_blob_from_file`], with the upload receipt a server with
    /// authentication answers.
    async fn put_blob_with_receipt(
        &self,
        digest: Digest,
        size: u64,
        source: PathBuf,
    ) -> Result<(u64, Option<String>), ClientError> {
        let sent = self
            .storage_call(|mut storage| {
                let (source, progress) = (source.clone(), self.progress.clone());
                async move {
                    let mut offset = 0;
                    if size >= RESUMABLE_SIZE {
                        let status = storage
                            .get_upload_status(GetUploadStatusRequest { sha256: digest.to_string() })
                            .await?
                            .into_inner();
                        if status.present {
                            return Ok(Ok((0, None)));
                        }
                        offset = status.offset.min(size);
                    }
                    let blob = BlobSource { digest, size, source, progress };
                    match blob.send(&mut storage, offset).await {
                        Err(status) if offset > 0 && resume_refused(&status) => {
                            tracing::info!(sha256 = %digest, offset, "the worker cannot resume; sending from the start");
                            blob.send(&mut storage, 0).await
                        }
                        other => other,
                    }
                }
            })
            .await??;
        Ok(sent)
    }
}

/// Receipts keyed by the blob they name (each receipt carries its digest as its third
/// field; one that does not parse is passed over, and the server then asks for it).
fn receipts_by_digest(receipts: Vec<String>) -> Receipts {
    receipts
        .into_iter()
        .filter_map(|receipt| {
            let digest = receipt.split(':').nth(2).and_then(|hex| Digest::parse_hex(hex).ok())?;
            Some((digest, receipt))
        })
        .collect()
}

/// One upload job: small blobs for one PutBlobs call, or one larger blob.
enum Upload {
    Batch(Vec<(Digest, (PathBuf, u64))>),
    One(Digest, (PathBuf, u64)),
}

/// True when a worker refused to resume at the offset asked (its stored upload is gone).
fn resume_refused(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::FailedPrecondition
        && cairn_proto::error_info(status).is_some_and(|(reason, _)| reason == "RESUME_OFFSET_MISMATCH")
}

/// One file to be sent as one blob.
struct BlobSource {
    digest: Digest,
    size: u64,
    source: PathBuf,
    progress: crate::progress::ProgressHandle,
}

impl BlobSource {
    /// Streams the file from `offset` in one PutBlob; the outer error is the call's, the
    /// inner one a local failure that no retry elsewhere fixes. Answers the bytes sent and
    /// the upload receipt, if the server signs them.
    async fn send(
        &self,
        storage: &mut crate::connection::StorageClient,
        offset: u64,
    ) -> Result<Result<(u64, Option<String>), ClientError>, tonic::Status> {
        let mut file = match tokio::fs::File::open(&self.source).await {
            Ok(file) => file,
            Err(err) => return Ok(Err(ClientError::io(&self.source, err))),
        };
        if let Err(err) = file.seek(std::io::SeekFrom::Start(offset)).await {
            return Ok(Err(ClientError::io(&self.source, err)));
        }
        if offset > 0 {
            tracing::info!(path = %self.source.display(), offset, "resuming an interrupted upload");
            crate::progress::advance(&self.progress, offset);
        }
        let header = PutBlobRequest {
            part: Some(Part::Header(PutBlobHeader { sha256: self.digest.to_string(), size: self.size, offset })),
        };
        let progress = self.progress.clone();
        let chunks = file_chunks(file, self.source.clone()).inspect(move |request| {
            if let Some(Part::Chunk(chunk)) = &request.part {
                crate::progress::advance(&progress, chunk.len() as u64);
            }
        });
        let requests = stream::once(async move { header }).chain(chunks);
        let response = storage.put_blob(requests).await?.into_inner();
        let sent = if response.already_present { 0 } else { self.size - offset };
        Ok(Ok((sent, (!response.receipt.is_empty()).then_some(response.receipt))))
    }
}

/// The file's content as PutBlob chunks, read on a blocking thread straight into the
/// buffers that are sent. A read error ends the stream early; the worker then refuses the
/// short blob, and the local cause is logged.
fn file_chunks(file: tokio::fs::File, source: PathBuf) -> impl futures::Stream<Item = PutBlobRequest> {
    let file = Some(file);
    stream::unfold((file, source), |(file, source)| async move {
        let file = file?;
        let mut std_file = file.try_into_std().ok()?;
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = BytesMut::zeroed(CHUNK);
            let mut filled = 0;
            while filled < CHUNK {
                match std::io::Read::read(&mut std_file, &mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(err) => return Err(err),
                }
            }
            buf.truncate(filled);
            Ok((buf, std_file))
        })
        .await
        .ok()?;
        match read {
            Ok((buf, _)) if buf.is_empty() => None,
            Ok((buf, std_file)) => {
                let next = Some(tokio::fs::File::from_std(std_file));
                Some((PutBlobRequest { part: Some(Part::Chunk(buf.freeze())) }, (next, source)))
            }
            Err(err) => {
                tracing::warn!(path = %source.display(), error = %err, "read failed during upload");
                None
            }
        }
    })
}
