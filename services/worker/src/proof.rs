//! Proof of possession: the bytes a caller sends for a blob that is stored already are
//! read and hashed, not stored, so that a caller who only knows a digest gets nothing.

use bytes::Bytes;
use cairn_blob::BlobError;
use cairn_core::{Digest, Sha256Hasher};
use futures::{Stream, StreamExt};

/// Reads `chunks` to the end and checks that they are `size` bytes hashing to `digest`.
pub(crate) async fn verify_sent(
    mut chunks: impl Stream<Item = Result<Bytes, BlobError>> + Unpin,
    digest: &Digest,
    size: u64,
) -> Result<(), BlobError> {
    let mut hasher = Sha256Hasher::new();
    let mut seen = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > size {
            return Err(BlobError::SizeMismatch { expected: size, actual: seen });
        }
        hasher.update(&chunk);
    }
    if seen != size {
        return Err(BlobError::SizeMismatch { expected: size, actual: seen });
    }
    let actual = hasher.finish();
    if &actual != digest {
        return Err(BlobError::DigestMismatch { expected: digest.to_string(), actual: actual.to_string() });
    }
    Ok(())
}
