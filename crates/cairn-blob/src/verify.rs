//! Verified writes: hash while streaming, commit only when sha256 and size match.

use bytes::Bytes;
use cairn_core::{Digest, Sha256Hasher};
use futures::{Stream, StreamExt};

use crate::{BlobError, BlobStore, BlobWriter, blob_key};

/// What a verified put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutOutcome {
    /// Bytes received and stored.
    pub bytes: u64,
    /// True when the blob was already stored; the stream was not read.
    pub already_present: bool,
}

/// Stores `chunks` as the blob `expected`, making it visible only if the bytes hash to
/// `expected` and number exactly `expected_size`. On any mismatch or stream error nothing
/// is visible and the error says which check failed.
pub async fn put_verified<S>(
    store: &dyn BlobStore,
    expected: &Digest,
    expected_size: u64,
    chunks: S,
) -> Result<PutOutcome, BlobError>
where
    S: Stream<Item = Result<Bytes, BlobError>> + Send + Unpin,
{
    let key = blob_key(expected);
    if store.head(&key).await? == Some(expected_size) {
        return Ok(PutOutcome { bytes: 0, already_present: true });
    }
    let mut writer = store.begin_put(&key).await?;
    match stream_into(&mut *writer, expected_size, chunks).await {
        Ok(hasher) => {
            let bytes = hasher.len();
            let actual = hasher.finish();
            if &actual != expected {
                writer.abort().await?;
                return Err(BlobError::DigestMismatch { expected: expected.to_string(), actual: actual.to_string() });
            }
            writer.commit().await?;
            Ok(PutOutcome { bytes, already_present: false })
        }
        Err(err) => {
            writer.abort().await?;
            Err(err)
        }
    }
}

async fn stream_into<S>(
    writer: &mut dyn BlobWriter,
    expected_size: u64,
    mut chunks: S,
) -> Result<Sha256Hasher, BlobError>
where
    S: Stream<Item = Result<Bytes, BlobError>> + Send + Unpin,
{
    let mut hasher = Sha256Hasher::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        let received = hasher.len() + chunk.len() as u64;
        if received > expected_size {
            return Err(BlobError::SizeMismatch { expected: expected_size, actual: received });
        }
        // Hashing a ~1 MiB chunk is CPU work: it runs on a blocking thread, at the same time
        // as the chunk is written (both only read the shared, reference-counted bytes).
        let to_hash = chunk.clone();
        let hashed = tokio::task::spawn_blocking(move || {
            hasher.update(&to_hash);
            hasher
        });
        let (hashed, written) = tokio::join!(hashed, writer.write(chunk));
        hasher = hashed.map_err(|e| BlobError::Io(e.to_string()))?;
        written?;
    }
    if hasher.len() != expected_size {
        return Err(BlobError::SizeMismatch { expected: expected_size, actual: hasher.len() });
    }
    Ok(hasher)
}
