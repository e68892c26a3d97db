//! PutBlobs and GetBlobs: many small blobs in one call, each verified on its own. One call
//! per file costs a round trip, a stream and a task per file; datasets of many small files
//! (images, text shards, labels) spent most of their time there.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use cairn_blob::{BlobError, BlobStore, BlobStoreExt, blob_key};
use cairn_core::Digest;
use cairn_proto::v1::{GetBlobsResponse, PutBlobsRequest, PutBlobsResponse, WholeBlob};
use cairn_proto::{MAX_BATCHED_BLOB, MAX_BLOBS_PER_CALL, core_error_status, error_status};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt, stream};
use tonic::{Code, Status, Streaming};

use crate::service::blob_status;

/// Blobs of one call written, or read, at once: enough to overlap fsyncs (a local disk
/// commits them together) and S3 round trips.
const IN_FLIGHT: usize = 16;

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

/// Stores every blob of the stream after verifying it. Blobs are written as a whole put
/// (temporary object, then renamed or completed), so a reader never sees part of one.
pub async fn put_blobs(
    store: Arc<dyn BlobStore>,
    messages: Streaming<PutBlobsRequest>,
) -> Result<PutBlobsResponse, Status> {
    let blobs = messages
        .map_err(|status| {
            error_status(
                Code::Cancelled,
                "UPLOAD_INTERRUPTED",
                format!("PutBlobs stream failed: {}", status.message()),
                vec![],
            )
        })
        .map_ok(|message| stream::iter(message.blobs.into_iter().map(Ok::<WholeBlob, Status>)))
        .try_flatten();
    let stores = blobs.map(|blob| {
        let store = store.clone();
        async move {
            let (digest, content) = verified(&*store, blob?)?;
            let size = content.len() as u64;
            store.put_bytes(&blob_key(&digest), content).await.map_err(|e| blob_status(e, &digest.to_string()))?;
            crate::metrics::UPLOADS.with_label_values(&["stored"]).inc();
            crate::metrics::BYTES_RECEIVED.inc_by(size);
            Ok::<u64, Status>(size)
        }
    });
    let mut response = PutBlobsResponse::default();
    let mut stores = stores.buffer_unordered(IN_FLIGHT);
    while let Some(stored) = stores.next().await {
        match stored {
            Ok(size) => {
                response.stored += 1;
                response.bytes_stored += size;
            }
            Err(status) => {
                let kind = if status.code() == Code::Cancelled { "interrupted" } else { "refused" };
                crate::metrics::UPLOADS.with_label_values(&[kind]).inc();
                return Err(status);
            }
        }
    }
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
