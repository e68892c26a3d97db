//! PutBlobs and GetBlobs: many small blobs in one call, each verified on its own. One call
//! per file costs a round trip, a stream and a task per file; datasets of many small files
//! (images, text shards, labels) spent most of their time there.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use cairn_blob::{BlobError, BlobStore, blob_key};
use cairn_core::Digest;
use cairn_proto::v1::{GetBlobsResponse, PutBlobsRequest, PutBlobsResponse, WholeBlob};
use cairn_proto::{MAX_BATCHED_BLOB, MAX_BLOBS_PER_CALL, core_error_status, error_status};
use futures::stream::BoxStream;
use futures::{StreamExt, stream};
use tonic::{Code, Status};

use crate::service::blob_status;

/// Blobs of one GetBlobs call read at once: enough to overlap S3 round trips.
const IN_FLIGHT: usize = 16;
/// Bytes of verified blobs of one PutBlobs call held before they are written: bounds the
/// call's memory, and is more than a client sends per call, so a call is one group.
const GROUP_BYTES: u64 = 16 * 1024 * 1024;
/// KiB of small blobs all PutBlobs calls of a worker may hold at once (`--upload-buffer-mib`):
/// many clients uploading small files at the same time wait (their streams are not read
/// meanwhile, so HTTP/2 flow control holds them back) instead of growing the worker's memory.
#[derive(Clone)]
pub struct UploadBudget {
    kib: Arc<tokio::sync::Semaphore>,
    total_kib: usize,
}

impl UploadBudget {
    /// A budget of `mib` MiB.
    pub fn new(mib: u64) -> Self {
        let total_kib = usize::try_from(mib.max(1).saturating_mul(1024))
            .unwrap_or(usize::MAX)
            .min(tokio::sync::Semaphore::MAX_PERMITS)
            .min(u32::MAX as usize);
        Self { kib: Arc::new(tokio::sync::Semaphore::new(total_kib)), total_kib }
    }
}

fn too_large(sha256: &str, size: u64, rpc: &str) -> Status {
    error_status(
        Code::InvalidArgument,
        "BLOB_TOO_LARGE",
        format!("blob {sha256} has {size} bytes; {rpc} carries blobs of at most {MAX_BATCHED_BLOB} bytes"),
        vec![("sha256", sha256.to_owned()), ("size", size.to_string()), ("limit", MAX_BATCHED_BLOB.to_string())],
    )
}

/// Checks one blob of a PutBlobs call: a valid digest, a size the call may carry and the
/// store can hold, and bytes that hash to the digest.
fn verified(store: &dyn BlobStore, blob: WholeBlob) -> Result<(Digest, Bytes), Status> {
    let digest = Digest::parse_hex(&blob.sha256).map_err(|e| core_error_status(&e))?;
    let size = blob.content.len() as u64;
    if size > MAX_BATCHED_BLOB {
        return Err(too_large(&blob.sha256, size, "PutBlobs"));
    }
    store.part_size_for(size).map_err(|e| blob_status(e, &blob.sha256))?;
    let actual = Digest::of(&blob.content);
    if actual != digest {
        let err = BlobError::DigestMismatch { expected: digest.to_string(), actual: actual.to_string() };
        return Err(blob_status(err, &blob.sha256));
    }
    Ok((digest, blob.content))
}

/// Verified blobs of one PutBlobs call waiting to be written, and their share of the
/// worker-wide budget.
#[derive(Default)]
struct Group {
    objects: Vec<(String, Bytes)>,
    bytes: u64,
    held: Vec<tokio::sync::OwnedSemaphorePermit>,
}

impl Group {
    /// Writes the group (if any) and releases its share of the budget.
    async fn flush(&mut self, store: &dyn BlobStore, response: &mut PutBlobsResponse) -> Result<(), Status> {
        if self.objects.is_empty() {
            return Ok(());
        }
        let count = self.objects.len() as u64;
        store.put_many(std::mem::take(&mut self.objects)).await.map_err(|e| blob_status(e, ""))?;
        crate::metrics::UPLOADS.with_label_values(&["stored"]).inc_by(count);
        crate::metrics::BYTES_RECEIVED.inc_by(self.bytes);
        response.stored += count;
        response.bytes_stored += self.bytes;
        self.bytes = 0;
        self.held.clear();
        Ok(())
    }
}

/// Stores every blob of the stream after verifying it. Verified blobs are gathered into
/// groups of up to GROUP_BYTES and each group is written at once (a local store then
/// fsyncs each directory once per group, not once per blob). Blobs are written whole
/// (temporary object, then renamed or completed), so a reader never sees part of one.
pub async fn put_blobs(
    store: Arc<dyn BlobStore>,
    budget: UploadBudget,
    receipts: Option<&crate::grants::ReceiptSigner>,
    mut messages: impl futures::Stream<Item = Result<PutBlobsRequest, Status>> + Unpin,
) -> Result<PutBlobsResponse, Status> {
    let mut response = PutBlobsResponse::default();
    let mut group = Group::default();
    loop {
        let message = match messages.next().await.transpose() {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(status) => {
                crate::metrics::UPLOADS.with_label_values(&["interrupted"]).inc();
                let why = format!("PutBlobs stream failed: {}", status.message());
                return Err(error_status(Code::Cancelled, "UPLOAD_INTERRUPTED", why, vec![]));
            }
        };
        // The message counts against the worker-wide budget until its group is written.
        // A call that must wait writes what it holds first, so waiting calls hold nothing
        // and the budget always drains.
        let kib =
            message.blobs.iter().map(|b| b.content.len()).sum::<usize>().div_ceil(1024).clamp(1, budget.total_kib);
        let permit = match budget.kib.clone().try_acquire_many_owned(kib as u32) {
            Ok(permit) => permit,
            Err(_) => {
                group.flush(&*store, &mut response).await?;
                budget
                    .kib
                    .clone()
                    .acquire_many_owned(kib as u32)
                    .await
                    .map_err(|_| Status::internal("the upload budget closed"))?
            }
        };
        // Hashing a message's few MiB is done off the async threads.
        let verifier = store.clone();
        let objects = tokio::task::spawn_blocking(move || {
            message.blobs.into_iter().map(|blob| verified(&*verifier, blob)).collect::<Result<Vec<_>, Status>>()
        })
        .await
        .map_err(|e| Status::internal(format!("verifying thread failed: {e}")))?
        .inspect_err(|_| crate::metrics::UPLOADS.with_label_values(&["refused"]).inc())?;
        // Every blob was sent whole and hashed right: proof of having its bytes.
        if let Some(signer) = receipts {
            response.receipts.extend(objects.iter().map(|(digest, content)| signer.sign(digest, content.len() as u64)));
        }
        let objects: Vec<(String, Bytes)> =
            objects.into_iter().map(|(digest, content)| (blob_key(&digest), content)).collect();
        group.bytes += objects.iter().map(|(_, content)| content.len() as u64).sum::<u64>();
        group.objects.extend(objects);
        group.held.push(permit);
        if group.bytes >= GROUP_BYTES {
            group.flush(&*store, &mut response).await?;
        }
    }
    group.flush(&*store, &mut response).await?;
    tracing::debug!(blobs = response.stored, bytes = response.bytes_stored, "blobs stored");
    Ok(response)
}

/// Reads one blob whole, refusing one too large to carry in a message.
async fn read_whole(store: &dyn BlobStore, sha256: String, digest: Digest) -> Result<GetBlobsResponse, Status> {
    let mut chunks =
        store.get(&blob_key(&digest), 0, Some(MAX_BATCHED_BLOB + 1)).await.map_err(|e| blob_status(e, &sha256))?;
    let mut content = BytesMut::new();
    while let Some(chunk) = chunks.next().await {
        content.extend_from_slice(&chunk.map_err(|e| blob_status(e, &sha256))?);
        if content.len() as u64 > MAX_BATCHED_BLOB {
            return Err(too_large(&sha256, content.len() as u64, "GetBlobs"));
        }
    }
    crate::metrics::BYTES_SENT.inc_by(content.len() as u64);
    Ok(GetBlobsResponse { blob: Some(WholeBlob { sha256, content: content.freeze() }) })
}

/// The blobs asked for, whole and in order. Every digest is checked before any is read.
pub fn get_blobs(
    store: Arc<dyn BlobStore>,
    sha256: Vec<String>,
) -> Result<BoxStream<'static, Result<GetBlobsResponse, Status>>, Status> {
    if sha256.len() > MAX_BLOBS_PER_CALL {
        return Err(error_status(
            Code::InvalidArgument,
            "TOO_MANY_BLOBS",
            format!("GetBlobs asked for {} blobs; at most {MAX_BLOBS_PER_CALL} per call", sha256.len()),
            vec![("count", sha256.len().to_string()), ("limit", MAX_BLOBS_PER_CALL.to_string())],
        ));
    }
    let wanted = sha256
        .into_iter()
        .map(|hex| Digest::parse_hex(&hex).map(|digest| (hex, digest)).map_err(|e| core_error_status(&e)))
        .collect::<Result<Vec<_>, Status>>()?;
    let reads = stream::iter(wanted).map(move |(hex, digest)| {
        let store = store.clone();
        async move { read_whole(&*store, hex, digest).await }
    });
    Ok(reads.buffered(IN_FLIGHT).boxed())
}
