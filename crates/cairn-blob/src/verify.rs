//! Verified writes: hash while streaming, commit only when sha256 and size match.
//!
//! Blob uploads are resumable: at every part boundary the bytes so far are made durable
//! (`BlobWriter::persist`) and the hashing state is saved beside them
//! (`uploads/sha256/<digest>.checkpoint`). An interrupted upload keeps both, and a later
//! upload from that offset continues hashing from the saved state instead of re-reading
//! the stored parts. Whatever the path, the blob becomes visible only after its whole
//! content hashed to the expected digest and size.
//!
//! Uploads of one blob within a process are serialized: a second upload of the same content
//! waits, then finds the blob stored (or resumes where the first stopped). An upload that
//! starts before the stored progress skips the bytes already stored.

use bytes::Bytes;
use cairn_core::{Digest, HashCheckpoint, ResumableSha256};
use futures::{Stream, StreamExt};

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use crate::{BlobError, BlobStore, BlobStoreExt, BlobWriter, blob_key};

/// One lock per blob being uploaded in this process.
static UPLOADS: LazyLock<Mutex<HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>> = LazyLock::new(Default::default);

/// Holds the upload lock of one blob; forgets the lock when the last holder is done.
struct UploadGuard {
    digest: Digest,
    lock: Arc<tokio::sync::Mutex<()>>,
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl UploadGuard {
    async fn acquire(digest: Digest) -> Self {
        let lock = UPLOADS.lock().expect("upload locks").entry(digest).or_default().clone();
        let held = lock.clone().lock_owned().await;
        Self { digest, lock, _held: held }
    }
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        let mut uploads = UPLOADS.lock().expect("upload locks");
        // Two references: the map's and ours. More means someone else waits for it.
        if Arc::strong_count(&self.lock) <= 2 {
            uploads.remove(&self.digest);
        }
    }
}

/// What a verified put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutOutcome {
    /// Bytes received and stored by this call.
    pub bytes: u64,
    /// True when the blob was already stored; the stream was not read (unless the call
    /// named an uploader, see [`put_verified_as`]).
    pub already_present: bool,
    /// True when this call completed an upload that another uploader (see
    /// [`put_verified_as`]) had begun: the bytes before the resume point were not sent by
    /// this caller.
    pub resumed_from_another: bool,
}

/// Key of the saved hashing state of an unfinished upload.
pub fn upload_checkpoint_key(sha256: &Digest) -> String {
    format!("uploads/sha256/{sha256}.checkpoint")
}

/// Key of the marker an upload leaves when the blob's own modification time would not say
/// it was just uploaded: a multipart object is dated when its upload *began* (S3), and an
/// upload of a blob stored already rewrites nothing. The collector keeps a blob whose
/// marker is younger than its grace period, and deletes markers older than that.
pub fn upload_marker_key(sha256: &Digest) -> String {
    format!("uploads/sha256/{sha256}.uploaded")
}

/// Leaves the upload marker of `sha256`, dated now.
async fn mark_uploaded(store: &dyn BlobStore, sha256: &Digest) -> Result<(), BlobError> {
    crate::BlobStoreExt::put_bytes(store, &upload_marker_key(sha256), Bytes::new()).await
}

/// Saved progress of an unfinished upload: the hashing state, the upload's part size (kept
/// by a resume on any worker, whatever that worker's configuration) and the store's
/// resume token.
struct SavedProgress {
    hash: HashCheckpoint,
    part_size: u64,
    token: Option<String>,
    /// Who sent the stored bytes (a project, with authentication), if known.
    uploader: Option<String>,
}

/// First bytes of a checkpoint in the current format, and in the one before (no uploader).
const CHECKPOINT_MAGIC: &[u8; 4] = b"CKP3";
const CHECKPOINT_MAGIC_V2: &[u8; 4] = b"CKP2";

impl SavedProgress {
    /// The magic, the part size (8 bytes LE), 40 bytes of hash state, the uploader's
    /// length (2 bytes LE) and UTF-8, the token as UTF-8.
    fn encode(&self) -> Bytes {
        let mut out = CHECKPOINT_MAGIC.to_vec();
        out.extend_from_slice(&self.part_size.to_le_bytes());
        out.extend_from_slice(&self.hash.to_bytes());
        let uploader = self.uploader.as_deref().unwrap_or("").as_bytes();
        let uploader = &uploader[..uploader.len().min(u16::MAX as usize)];
        out.extend_from_slice(&(uploader.len() as u16).to_le_bytes());
        out.extend_from_slice(uploader);
        out.extend_from_slice(self.token.as_deref().unwrap_or("").as_bytes());
        Bytes::from(out)
    }

    /// `None` for anything else: such a checkpoint is discarded.
    fn decode(bytes: &[u8]) -> Option<Self> {
        let (rest, v3) = match bytes.strip_prefix(CHECKPOINT_MAGIC) {
            Some(rest) => (rest, true),
            None => (bytes.strip_prefix(CHECKPOINT_MAGIC_V2)?, false),
        };
        let part_size = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
        let hash = HashCheckpoint::from_bytes(rest.get(8..48)?).ok()?;
        let (uploader, token) = if v3 {
            let len = u16::from_le_bytes(rest.get(48..50)?.try_into().ok()?) as usize;
            let uploader = std::str::from_utf8(rest.get(50..50 + len)?).ok()?;
            (uploader, std::str::from_utf8(&rest[50 + len..]).ok()?)
        } else {
            ("", std::str::from_utf8(&rest[48..]).ok()?)
        };
        if part_size == 0 || !hash.len.is_multiple_of(part_size) {
            return None;
        }
        let some = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        Some(Self { hash, part_size, token: some(token), uploader: some(uploader) })
    }
}

/// The saved progress of `sha256`'s unfinished upload. A checkpoint that cannot be decoded
/// is treated as absent (and replaced by the next upload's).
async fn load_checkpoint(store: &dyn BlobStore, sha256: &Digest) -> Result<Option<SavedProgress>, BlobError> {
    match store.get_bytes(&upload_checkpoint_key(sha256)).await {
        Ok(bytes) => Ok(SavedProgress::decode(&bytes)),
        Err(BlobError::NotFound(_)) => Ok(None),
        Err(err) => Err(err),
    }
}

/// How many bytes of the blob an interrupted upload has stored and can resume from
/// (0 when there is none).
pub async fn upload_progress(store: &dyn BlobStore, sha256: &Digest) -> Result<u64, BlobError> {
    Ok(load_checkpoint(store, sha256).await?.map_or(0, |c| c.hash.len))
}

/// The resume token (an S3 upload id) the saved progress of `sha256` refers to. For tests
/// that make the stored upload vanish, as a bucket's lifecycle rule would.
pub async fn upload_resume_token(store: &dyn BlobStore, sha256: &Digest) -> Result<Option<String>, BlobError> {
    Ok(load_checkpoint(store, sha256).await?.and_then(|c| c.token))
}

/// Throws away the unfinished upload of `sha256` and its checkpoint, best effort: the
/// upload may be gone already (completed elsewhere, aborted, reaped by a lifecycle rule),
/// and S3-compatible servers say so in different ways, none of which matters here.
pub async fn discard_stale_upload(store: &dyn BlobStore, sha256: &Digest, token: Option<&str>) {
    let key = blob_key(sha256);
    if let Err(err) = store.discard_upload(&key, token).await {
        tracing::debug!(sha256 = %sha256, error = %err, "stale upload already gone");
    }
    if let Err(err) = store.delete(&upload_checkpoint_key(sha256)).await {
        tracing::warn!(sha256 = %sha256, error = %err, "could not delete a stale upload checkpoint");
    }
}

/// Stores `chunks` as the blob `expected` from the first byte. See [`put_verified_from`].
pub async fn put_verified<S>(
    store: &dyn BlobStore,
    expected: &Digest,
    expected_size: u64,
    chunks: S,
) -> Result<PutOutcome, BlobError>
where
    S: Stream<Item = Result<Bytes, BlobError>> + Send + Unpin,
{
    put_verified_from(store, expected, expected_size, 0, chunks).await
}

/// A writer positioned where the upload continues, with the hashing state of the bytes
/// before it.
struct Continuation {
    writer: Box<dyn BlobWriter>,
    hasher: ResumableSha256,
    at: u64,
    part_size: u64,
    uploader: Option<String>,
}

/// Opens the stored unfinished upload of `expected` if it can continue. Any stored state
/// that cannot (a checkpoint past the blob's size, an upload that vanished or lost parts)
/// is discarded, so the next upload starts afresh instead of failing on it forever.
async fn continue_stored_upload(
    store: &dyn BlobStore,
    expected: &Digest,
    expected_size: u64,
    requested: u64,
) -> Result<Option<Continuation>, BlobError> {
    let Some(saved) = load_checkpoint(store, expected).await? else {
        if store.head(&upload_checkpoint_key(expected)).await?.is_some() {
            tracing::warn!(sha256 = %expected, "unreadable upload checkpoint discarded");
            discard_stale_upload(store, expected, None).await;
        }
        return Ok(None);
    };
    let at = saved.hash.len;
    if at == 0 || at > expected_size {
        discard_stale_upload(store, expected, saved.token.as_deref()).await;
        return Ok(None);
    }
    if requested > at {
        // The caller must send from an earlier offset; the stored upload stays for it.
        return Err(BlobError::ResumeMismatch { requested, available: at });
    }
    match store.resume_put(&blob_key(expected), at, saved.token.as_deref(), saved.part_size).await {
        Ok(writer) => Ok(Some(Continuation {
            writer,
            hasher: ResumableSha256::resume(&saved.hash),
            at,
            part_size: saved.part_size,
            uploader: saved.uploader,
        })),
        Err(err) => {
            tracing::info!(sha256 = %expected, offset = at, error = %err, "stored upload cannot continue; starting afresh");
            discard_stale_upload(store, expected, saved.token.as_deref()).await;
            Ok(None)
        }
    }
}

/// Stores `chunks` — the blob's bytes from `offset` on — as the blob `expected`, making it
/// visible only if the whole content hashes to `expected` and has exactly `expected_size`
/// bytes. `offset` must be 0 or at most what [`upload_progress`] reports; a resume that
/// cannot continue from `offset` is refused with `ResumeMismatch` naming the offset that
/// can (0 once the stored state was discarded), and from offset 0 an upload always
/// proceeds, starting afresh if the stored state is unusable. On a mismatch nothing is
/// visible and the partial upload is discarded; on an interrupted stream the parts stored
/// so far are kept for a resume; on any other failure they are discarded.
pub async fn put_verified_from<S>(
    store: &dyn BlobStore,
    expected: &Digest,
    expected_size: u64,
    offset: u64,
    chunks: S,
) -> Result<PutOutcome, BlobError>
where
    S: Stream<Item = Result<Bytes, BlobError>> + Send + Unpin,
{
    put_verified_as(store, expected, expected_size, offset, chunks, None).await
}

/// [`put_verified_from`] on behalf of `uploader` (a project, with authentication): the
/// checkpoints of the upload name it, the outcome tells whether this call completed an
/// upload someone else began, and a blob that is stored already is acknowledged only
/// after the stream was read to the end and hashed to it (proof of having the bytes,
/// from offset 0: `ResumeMismatch` otherwise).
// model: Upload
pub async fn put_verified_as<S>(
    store: &dyn BlobStore,
    expected: &Digest,
    expected_size: u64,
    offset: u64,
    chunks: S,
    uploader: Option<&str>,
) -> Result<PutOutcome, BlobError>
where
    S: Stream<Item = Result<Bytes, BlobError>> + Send + Unpin,
{
    // A blob the store cannot hold is refused before anything else happens.
    let part_size = store.part_size_for(expected_size)?;
    let _guard = UploadGuard::acquire(*expected).await;
    let key = blob_key(expected);
    if store.head(&key).await? == Some(expected_size) {
        if uploader.is_some() {
            if offset != 0 {
                return Err(BlobError::ResumeMismatch { requested: offset, available: 0 });
            }
            verify_sent(chunks, expected, expected_size).await?;
        }
        mark_uploaded(store, expected).await?;
        return Ok(PutOutcome { bytes: 0, already_present: true, resumed_from_another: false });
    }
    let checkpoint_key = upload_checkpoint_key(expected);
    let Continuation { mut writer, hasher, at: resume_at, part_size, uploader: began_by } =
        match continue_stored_upload(store, expected, expected_size, offset).await? {
            Some(continuation) => continuation,
            None if offset > 0 => return Err(BlobError::ResumeMismatch { requested: offset, available: 0 }),
            None => Continuation {
                writer: store.resume_put(&key, 0, None, part_size).await?,
                hasher: ResumableSha256::new(),
                at: 0,
                part_size,
                uploader: uploader.map(str::to_owned),
            },
        };
    let resumed_from_another = resume_at > 0 && began_by.as_deref() != uploader;
    // Skip incoming bytes that are stored already.
    let chunks = skip_bytes(chunks, resume_at - offset);
    // A resumed upload keeps naming whoever began it.
    let progress = Progress { store, checkpoint_key: &checkpoint_key, part_size, uploader: began_by.as_deref() };
    let streamed = stream_into(&mut *writer, hasher, expected_size, &progress, chunks).await;
    let hasher = match streamed {
        Ok(hasher) => hasher,
        Err(BlobError::Interrupted(why)) => {
            tracing::info!(sha256 = %expected, why = %why, "upload interrupted; its stored parts are kept for a resume");
            writer.suspend().await?;
            return Err(BlobError::Interrupted(why));
        }
        Err(BlobError::SizeMismatch { expected: declared, actual }) if actual < declared && actual >= part_size => {
            // The stream ended before the declared size: a file that shrank, or a client
            // that cancelled its call (gRPC shows a cancel to the server as the end of the
            // stream). The parts stored so far are kept, as for an interruption, so that a
            // resume continues after them; the short upload is refused all the same, and
            // the collector frees parts nobody resumes.
            tracing::info!(sha256 = %expected, received = actual, "upload ended early; its stored parts are kept for a resume");
            writer.suspend().await?;
            return Err(BlobError::SizeMismatch { expected: declared, actual });
        }
        Err(err) => {
            tracing::info!(sha256 = %expected, error = %err, "upload refused; its stored parts are discarded");
            abandon(writer, store, &checkpoint_key).await;
            return Err(err);
        }
    };
    let bytes = hasher.len() - resume_at;
    let actual = hasher.finish();
    if &actual != expected {
        abandon(writer, store, &checkpoint_key).await;
        if resume_at > 0 {
            // The stored part may be what was wrong (an earlier upload sent other
            // bytes): nothing of it is kept, and the caller can simply retry.
            return Err(BlobError::ResumeDiscarded);
        }
        return Err(BlobError::DigestMismatch { expected: expected.to_string(), actual: actual.to_string() });
    }
    if expected_size > part_size {
        // In parts: the completed object will be dated when its upload began.
        mark_uploaded(store, expected).await?;
    }
    // A failed commit aborted the upload: its checkpoint must go too, or every later
    // upload of this blob would try to continue an upload that no longer exists.
    let committed = writer.commit().await;
    store.delete(&checkpoint_key).await?;
    committed?;
    Ok(PutOutcome { bytes, already_present: false, resumed_from_another })
}

/// Discards a failed upload and its checkpoint, best effort: the caller reports the
/// failure that led here, not a failure to clean up after it.
async fn abandon(writer: Box<dyn BlobWriter>, store: &dyn BlobStore, checkpoint_key: &str) {
    if let Err(err) = writer.abort().await {
        tracing::warn!(key = %checkpoint_key, error = %err, "could not abort a failed upload");
    }
    if let Err(err) = store.delete(checkpoint_key).await {
        tracing::warn!(key = %checkpoint_key, error = %err, "could not delete a failed upload's checkpoint");
    }
}

/// The stream without its first `skip` bytes.
fn skip_bytes<S>(chunks: S, skip: u64) -> impl Stream<Item = Result<Bytes, BlobError>> + Send + Unpin
where
    S: Stream<Item = Result<Bytes, BlobError>> + Send + Unpin,
{
    let mut left = skip;
    chunks.filter_map(move |chunk| {
        let out = match chunk {
            Ok(mut bytes) if left > 0 => {
                let drop = (left as usize).min(bytes.len());
                left -= drop as u64;
                let _ = bytes.split_to(drop);
                (!bytes.is_empty()).then_some(Ok(bytes))
            }
            other => Some(other),
        };
        std::future::ready(out)
    })
}

/// Where and how often an upload saves its progress.
struct Progress<'a> {
    store: &'a dyn BlobStore,
    checkpoint_key: &'a str,
    part_size: u64,
    uploader: Option<&'a str>,
}

impl Progress<'_> {
    /// Persists the writer and saves the hashing state, at a part boundary.
    async fn save(&self, writer: &mut dyn BlobWriter, hasher: &ResumableSha256) -> Result<(), BlobError> {
        let Some(hash) = hasher.checkpoint() else { return Ok(()) };
        let token = writer.persist().await?;
        let saved =
            SavedProgress { hash, part_size: self.part_size, token, uploader: self.uploader.map(str::to_owned) };
        self.store.put_bytes(self.checkpoint_key, saved.encode()).await
    }
}

async fn stream_into<S>(
    writer: &mut dyn BlobWriter,
    mut hasher: ResumableSha256,
    expected_size: u64,
    progress: &Progress<'_>,
    mut chunks: S,
) -> Result<ResumableSha256, BlobError>
where
    S: Stream<Item = Result<Bytes, BlobError>> + Send + Unpin,
{
    while let Some(chunk) = chunks.next().await {
        let mut chunk = chunk?;
        let received = hasher.len() + chunk.len() as u64;
        if received > expected_size {
            return Err(BlobError::SizeMismatch { expected: expected_size, actual: received });
        }
        while !chunk.is_empty() {
            // Split at part boundaries, so progress is saved exactly there.
            let room = progress.part_size - hasher.len() % progress.part_size;
            let piece = chunk.split_to((room as usize).min(chunk.len()));
            // Hashing is CPU work: it runs on a blocking thread while the piece is written.
            let to_hash = piece.clone();
            let hashed = tokio::task::spawn_blocking(move || {
                hasher.update(&to_hash);
                hasher
            });
            let (hashed, written) = tokio::join!(hashed, writer.write(piece));
            hasher = hashed.map_err(|e| BlobError::Io(e.to_string()))?;
            written?;
            if hasher.len().is_multiple_of(progress.part_size) && hasher.len() < expected_size {
                progress.save(writer, &hasher).await?;
            }
        }
    }
    if hasher.len() != expected_size {
        return Err(BlobError::SizeMismatch { expected: expected_size, actual: hasher.len() });
    }
    Ok(hasher)
}

/// Reads `chunks` to the end and checks that they are `size` bytes hashing to `digest`,
/// storing nothing: how a caller proves it has a blob that is stored already.
async fn verify_sent<S>(mut chunks: S, digest: &Digest, size: u64) -> Result<(), BlobError>
where
    S: Stream<Item = Result<Bytes, BlobError>> + Send + Unpin,
{
    let mut hasher = ResumableSha256::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if hasher.len() + chunk.len() as u64 > size {
            return Err(BlobError::SizeMismatch { expected: size, actual: hasher.len() + chunk.len() as u64 });
        }
        hasher.update(&chunk);
    }
    if hasher.len() != size {
        return Err(BlobError::SizeMismatch { expected: size, actual: hasher.len() });
    }
    let actual = hasher.finish();
    if &actual != digest {
        return Err(BlobError::DigestMismatch { expected: digest.to_string(), actual: actual.to_string() });
    }
    Ok(())
}
