//! The BlobStore conformance suite: every implementation must pass these same checks,
//! including the verification of `put_verified` against that implementation.
//!
//! Each check takes a fresh, empty store. Implementations instantiate the whole suite with
//! [`crate::blob_conformance_tests!`], giving an async expression that builds a fresh store and a guard
//! that keeps its backing resources (directory, server) alive for the check.

use std::sync::Arc;

use bytes::Bytes;
use cairn_core::Digest;
use futures::{StreamExt, stream};

use crate::{
    BlobError, BlobStore, BlobStoreExt, blob_key, put_verified, put_verified_as, put_verified_from, single_chunk,
    trash_key, upload_checkpoint_key, upload_progress, upload_resume_token,
};

/// Instantiates every conformance check as a `#[tokio::test]` for one implementation.
#[macro_export]
macro_rules! blob_conformance_tests {
    ($make_store:expr) => {
        $crate::blob_conformance_tests!(@each $make_store;
            committed_object_reads_back_whole_and_by_range,
            uncommitted_aborted_or_dropped_writes_are_invisible,
            verified_put_stores_matching_content_once,
            verified_put_with_wrong_digest_leaves_nothing,
            verified_put_with_wrong_size_leaves_nothing,
            interrupted_stream_leaves_nothing,
            multi_megabyte_object_round_trips_in_chunks,
            list_is_ordered_prefix_bounded_and_pages,
            delete_removes_and_tolerates_absence,
            missing_objects_and_bad_keys_are_clear_errors,
            an_interrupted_upload_resumes_from_its_last_part_and_stores_the_original_bytes,
            a_resume_past_the_stored_progress_is_refused_and_an_earlier_start_skips_ahead,
            a_resumed_upload_tells_whether_its_caller_began_it,
            a_named_uploader_proves_a_stored_blob_by_sending_all_of_it,
            a_stream_ending_early_is_refused_but_keeps_its_stored_parts_for_a_resume,
            concurrent_uploads_of_one_blob_both_succeed,
            a_poisoned_partial_upload_is_discarded_and_the_retry_succeeds,
            a_resume_whose_stored_upload_vanished_starts_afresh,
            an_upload_vanishing_during_a_resume_fails_and_the_retry_starts_afresh,
            an_unreadable_checkpoint_is_discarded,
            listed_objects_carry_their_size_and_modification_time,
            an_upload_left_behind_is_listed_until_aborted,
            many_objects_put_at_once_read_back_and_are_headed_in_order,
            a_put_of_many_with_a_bad_key_is_refused,
            empty_objects_and_reads_at_the_end_are_empty_and_past_it_refused,
            a_trashed_object_is_kept_apart_dated_now_and_restored_whole,
        );
    };
    (@each $make_store:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                // The guard (a temp dir, a server) lives until the check ends.
                let (store, _guard) = $make_store;
                $crate::conformance::$name(store).await;
            }
        )+
    };
}

fn chunks_of(data: &[u8], size: usize) -> crate::ByteStream {
    let pieces: Vec<Result<Bytes, BlobError>> = data.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    stream::iter(pieces).boxed()
}

/// Deterministic pseudo-random bytes.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

async fn read_range(store: &dyn BlobStore, key: &str, offset: u64, length: Option<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunks = store.get(key, offset, length).await.unwrap();
    while let Some(chunk) = chunks.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// A committed object has its size, its bytes, and any sub-range of them.
pub async fn committed_object_reads_back_whole_and_by_range(store: Arc<dyn BlobStore>) {
    let data = pattern(10_000, 1);
    store.put_bytes("objects/a", Bytes::from(data.clone())).await.unwrap();
    assert_eq!(store.head("objects/a").await.unwrap(), Some(10_000));
    assert_eq!(read_range(&*store, "objects/a", 0, None).await, data);
    assert_eq!(read_range(&*store, "objects/a", 1234, Some(100)).await, &data[1234..1334]);
    assert_eq!(read_range(&*store, "objects/a", 9_990, Some(100)).await, &data[9_990..]);
    assert_eq!(read_range(&*store, "objects/a", 10_000, None).await, Vec::<u8>::new());
    assert!(matches!(store.get("objects/a", 10_001, None).await, Err(BlobError::InvalidRange { .. })));
}

/// Nothing is visible before commit, after abort, or after the writer is dropped.
pub async fn uncommitted_aborted_or_dropped_writes_are_invisible(store: Arc<dyn BlobStore>) {
    let mut writer = store.begin_put("w/pending").await.unwrap();
    writer.write(Bytes::from_static(b"partial")).await.unwrap();
    assert_eq!(store.head("w/pending").await.unwrap(), None);
    writer.abort().await.unwrap();
    assert_eq!(store.head("w/pending").await.unwrap(), None);

    let mut writer = store.begin_put("w/dropped").await.unwrap();
    writer.write(Bytes::from_static(b"partial")).await.unwrap();
    drop(writer);
    assert_eq!(store.head("w/dropped").await.unwrap(), None);
    assert!(store.list("w/", None, 10).await.unwrap().is_empty());
}

/// A verified put of matching bytes stores them at the content address; a second put of
/// the same blob reports it present without reading.
pub async fn verified_put_stores_matching_content_once(store: Arc<dyn BlobStore>) {
    let data = pattern(3_000, 2);
    let digest = Digest::of(&data);
    let outcome = put_verified(&*store, &digest, 3_000, chunks_of(&data, 700)).await.unwrap();
    assert_eq!((outcome.bytes, outcome.already_present), (3_000, false));
    assert_eq!(store.get_bytes(&blob_key(&digest)).await.unwrap(), data);
    let again = put_verified(&*store, &digest, 3_000, chunks_of(&data, 700)).await.unwrap();
    assert!(again.already_present);
}

/// Bytes that do not hash to the declared digest are refused and leave no object.
pub async fn verified_put_with_wrong_digest_leaves_nothing(store: Arc<dyn BlobStore>) {
    let claimed = Digest::of(b"what the client promised");
    let err = put_verified(&*store, &claimed, 5, single_chunk(Bytes::from_static(b"other"))).await.unwrap_err();
    assert!(matches!(err, BlobError::DigestMismatch { .. }), "{err}");
    assert_eq!(store.head(&blob_key(&claimed)).await.unwrap(), None);
    assert!(store.list("blobs/", None, 10).await.unwrap().is_empty());
}

/// Too few or too many bytes are refused and leave no object.
pub async fn verified_put_with_wrong_size_leaves_nothing(store: Arc<dyn BlobStore>) {
    let data = b"exact content".to_vec();
    let digest = Digest::of(&data);
    let short = put_verified(&*store, &digest, 100, chunks_of(&data, 4)).await.unwrap_err();
    assert!(matches!(short, BlobError::SizeMismatch { expected: 100, actual: 13 }), "{short}");
    let long = put_verified(&*store, &digest, 5, chunks_of(&data, 4)).await.unwrap_err();
    assert!(matches!(long, BlobError::SizeMismatch { expected: 5, .. }), "{long}");
    assert_eq!(store.head(&blob_key(&digest)).await.unwrap(), None);
}

/// A stream that breaks off mid-way leaves no object.
pub async fn interrupted_stream_leaves_nothing(store: Arc<dyn BlobStore>) {
    let data = pattern(4_096, 3);
    let digest = Digest::of(&data);
    let broken = stream::iter(vec![
        Ok(Bytes::copy_from_slice(&data[..1_000])),
        Err(BlobError::Interrupted("client went away".into())),
    ])
    .boxed();
    let err = put_verified(&*store, &digest, 4_096, broken).await.unwrap_err();
    assert!(matches!(err, BlobError::Interrupted(_)), "{err}");
    assert_eq!(store.head(&blob_key(&digest)).await.unwrap(), None);
}

/// A blob of several megabytes in odd-sized chunks reads back with the same digest.
pub async fn multi_megabyte_object_round_trips_in_chunks(store: Arc<dyn BlobStore>) {
    let data = pattern(5 * 1024 * 1024 + 17, 4);
    let digest = Digest::of(&data);
    put_verified(&*store, &digest, data.len() as u64, chunks_of(&data, 300_001)).await.unwrap();
    let back = read_range(&*store, &blob_key(&digest), 0, None).await;
    assert_eq!(back.len(), data.len());
    assert_eq!(Digest::of(&back), digest);
}

/// Listing returns keys under a prefix, in order, paged by `start_after` and `limit`.
pub async fn list_is_ordered_prefix_bounded_and_pages(store: Arc<dyn BlobStore>) {
    for key in ["l/b", "l/a", "l/c/d", "l2/x", "k/z"] {
        store.put_bytes(key, Bytes::from_static(b"x")).await.unwrap();
    }
    assert_eq!(store.list("l/", None, 100).await.unwrap(), ["l/a", "l/b", "l/c/d"]);
    assert_eq!(store.list("l/", None, 2).await.unwrap(), ["l/a", "l/b"]);
    assert_eq!(store.list("l/", Some("l/b"), 100).await.unwrap(), ["l/c/d"]);
    assert_eq!(store.list("l", None, 100).await.unwrap(), ["l/a", "l/b", "l/c/d", "l2/x"]);
    assert!(store.list("m/", None, 100).await.unwrap().is_empty());
}

/// Deleting makes an object absent; deleting an absent object succeeds.
pub async fn delete_removes_and_tolerates_absence(store: Arc<dyn BlobStore>) {
    store.put_bytes("d/x", Bytes::from_static(b"x")).await.unwrap();
    store.delete("d/x").await.unwrap();
    assert_eq!(store.head("d/x").await.unwrap(), None);
    store.delete("d/x").await.unwrap();
}

/// Reading a missing object says NotFound; keys that could escape are refused.
pub async fn missing_objects_and_bad_keys_are_clear_errors(store: Arc<dyn BlobStore>) {
    assert!(matches!(store.get("nope/x", 0, None).await, Err(BlobError::NotFound(_))));
    for bad in ["", "/abs", "a/../b", "a//b", "..", "a\\b"] {
        assert!(matches!(store.begin_put(bad).await, Err(BlobError::InvalidKey { .. })), "{bad:?}");
    }
}

/// An empty object reads back empty; a read at an object's end is empty, past it an
/// InvalidRange; a ranged read of a missing object is NotFound (S3 answers these with one
/// GET and looks at the size only on a 416).
pub async fn empty_objects_and_reads_at_the_end_are_empty_and_past_it_refused(store: Arc<dyn BlobStore>) {
    store.put_bytes("e/empty", Bytes::new()).await.unwrap();
    assert_eq!(store.head("e/empty").await.unwrap(), Some(0));
    assert_eq!(read_range(&*store, "e/empty", 0, None).await, Vec::<u8>::new());
    assert_eq!(read_range(&*store, "e/empty", 0, Some(10)).await, Vec::<u8>::new());
    assert!(matches!(store.get("e/empty", 1, None).await, Err(BlobError::InvalidRange { .. })));
    store.put_bytes("e/three", Bytes::from_static(b"abc")).await.unwrap();
    assert_eq!(read_range(&*store, "e/three", 3, Some(5)).await, Vec::<u8>::new());
    assert_eq!(read_range(&*store, "e/three", 1, Some(0)).await, Vec::<u8>::new());
    assert_eq!(read_range(&*store, "e/three", 0, Some(1 << 20)).await, b"abc".to_vec());
    assert!(matches!(store.get("e/three", 4, Some(1)).await, Err(BlobError::InvalidRange { .. })));
    assert!(matches!(store.get("e/missing", 5, Some(3)).await, Err(BlobError::NotFound(_))));
}

/// `put_many` stores every object whole, across directories, including overwrites with
/// identical content; `head_many` answers in the order asked, `None` for the missing.
pub async fn many_objects_put_at_once_read_back_and_are_headed_in_order(store: Arc<dyn BlobStore>) {
    let objects: Vec<(String, Bytes)> = (0..40u64)
        .map(|i| (format!("many/{:02x}/obj-{i}", i % 7), Bytes::from(pattern(100 + i as usize * 37, i))))
        .collect();
    store.put_many(objects.clone()).await.unwrap();
    store.put_many(objects[..3].to_vec()).await.unwrap();
    for (key, data) in &objects {
        assert_eq!(read_range(&*store, key, 0, None).await, data.to_vec(), "{key}");
    }
    let mut keys: Vec<String> = objects.iter().map(|(key, _)| key.clone()).collect();
    keys.insert(5, "many/none/missing".into());
    let sizes = store.head_many(keys.clone()).await.unwrap();
    assert_eq!(sizes.len(), keys.len());
    assert_eq!(sizes[5], None);
    for (key, size) in keys.iter().zip(&sizes).filter(|(key, _)| !key.ends_with("missing")) {
        let expected = objects.iter().find(|(k, _)| k == key).unwrap().1.len() as u64;
        assert_eq!(*size, Some(expected), "{key}");
    }
    assert_eq!(store.head_many(Vec::new()).await.unwrap(), Vec::<Option<u64>>::new());
}

/// A `put_many` naming a key that could escape the store is refused.
pub async fn a_put_of_many_with_a_bad_key_is_refused(store: Arc<dyn BlobStore>) {
    let objects =
        vec![("fine/a".to_owned(), Bytes::from_static(b"a")), ("a/../b".to_owned(), Bytes::from_static(b"b"))];
    assert!(matches!(store.put_many(objects).await, Err(BlobError::InvalidKey { .. })));
    assert!(matches!(store.head_many(vec!["a//b".into()]).await, Err(BlobError::InvalidKey { .. })));
}

/// A stream of `data` in 1 MiB chunks that breaks off after `cut` bytes.
fn interrupted_after(data: &[u8], cut: usize) -> crate::ByteStream {
    let mut pieces: Vec<Result<Bytes, BlobError>> =
        data[..cut].chunks(1 << 20).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    pieces.push(Err(BlobError::Interrupted("connection lost".into())));
    stream::iter(pieces).boxed()
}

/// An upload cut off mid-way keeps its stored parts; resuming from the reported offset
/// sends only the rest, and the blob holds exactly the original bytes.
pub async fn an_interrupted_upload_resumes_from_its_last_part_and_stores_the_original_bytes(store: Arc<dyn BlobStore>) {
    let part = store.part_size() as usize;
    let data = pattern(2 * part + part / 2 + 17, 9);
    let digest = Digest::of(&data);
    let size = data.len() as u64;
    let err = put_verified(&*store, &digest, size, interrupted_after(&data, 2 * part + 1_000)).await.unwrap_err();
    assert!(matches!(err, BlobError::Interrupted(_)), "{err}");
    assert_eq!(store.head(&blob_key(&digest)).await.unwrap(), None, "nothing visible before completion");
    let offset = upload_progress(&*store, &digest).await.unwrap();
    assert_eq!(offset, 2 * part as u64, "resumes from the last stored part");

    let rest = chunks_of(&data[offset as usize..], 1 << 20);
    let resumed = put_verified_from(&*store, &digest, size, offset, rest).await.unwrap();
    assert_eq!(resumed.bytes, size - offset, "only the rest was sent");
    let stored = store.get_bytes(&blob_key(&digest)).await.unwrap();
    assert_eq!(Digest::of(&stored), digest);
    assert_eq!(stored.len(), data.len());
    assert_eq!(upload_progress(&*store, &digest).await.unwrap(), 0, "the finished upload left no progress behind");
}

/// Resuming past the stored progress is refused; an upload from an earlier offset (even 0)
/// skips the bytes already stored and completes.
pub async fn a_resume_past_the_stored_progress_is_refused_and_an_earlier_start_skips_ahead(store: Arc<dyn BlobStore>) {
    let part = store.part_size() as usize;
    let data = pattern(part + part / 2, 10);
    let digest = Digest::of(&data);
    let size = data.len() as u64;
    put_verified(&*store, &digest, size, interrupted_after(&data, part + 4_096)).await.unwrap_err();
    assert_eq!(upload_progress(&*store, &digest).await.unwrap(), part as u64);
    let wrong =
        put_verified_from(&*store, &digest, size, 2 * part as u64, chunks_of(&data[..10], 10)).await.unwrap_err();
    assert!(matches!(wrong, BlobError::ResumeMismatch { available, .. } if available == part as u64), "{wrong}");
    assert_eq!(store.head(&blob_key(&digest)).await.unwrap(), None);
    let fresh = put_verified(&*store, &digest, size, chunks_of(&data, 1 << 20)).await.unwrap();
    assert_eq!(fresh.bytes, size - part as u64, "the stored part was skipped, not written again");
    assert_eq!(Digest::of(&store.get_bytes(&blob_key(&digest)).await.unwrap()), digest);
}

/// An upload names who began it in its checkpoints: the caller who resumes it is told
/// whether it sent the stored prefix itself (what an upload receipt needs).
pub async fn a_resumed_upload_tells_whether_its_caller_began_it(store: Arc<dyn BlobStore>) {
    let part = store.part_size() as usize;
    for (resumer, from_another) in [("vision", false), ("nlp", true)] {
        let data = pattern(part + part / 2, if from_another { 31 } else { 32 });
        let digest = Digest::of(&data);
        let size = data.len() as u64;
        let cut = interrupted_after(&data, part + 1_000);
        put_verified_as(&*store, &digest, size, 0, cut, Some("vision")).await.unwrap_err();
        let offset = upload_progress(&*store, &digest).await.unwrap();
        assert_eq!(offset, part as u64);
        let rest = chunks_of(&data[part..], 1 << 20);
        let done = put_verified_as(&*store, &digest, size, offset, rest, Some(resumer)).await.unwrap();
        assert_eq!(done.resumed_from_another, from_another, "resumed by {resumer}");
        assert_eq!(Digest::of(&store.get_bytes(&blob_key(&digest)).await.unwrap()), digest);
    }
    let data = pattern(part / 2, 33);
    let digest = Digest::of(&data);
    let whole = put_verified_as(&*store, &digest, data.len() as u64, 0, chunks_of(&data, 1 << 20), Some("x")).await;
    assert!(!whole.unwrap().resumed_from_another, "an upload sent whole began with its caller");
}

/// On behalf of an uploader, a blob that is stored already is acknowledged only once the
/// whole stream hashed to it: other bytes, a short stream or a resume offset are refused.
pub async fn a_named_uploader_proves_a_stored_blob_by_sending_all_of_it(store: Arc<dyn BlobStore>) {
    let data = pattern(300_000, 51);
    let digest = Digest::of(&data);
    let size = data.len() as u64;
    put_verified(&*store, &digest, size, chunks_of(&data, 1 << 20)).await.unwrap();
    let wrong = pattern(300_000, 52);
    let err = put_verified_as(&*store, &digest, size, 0, chunks_of(&wrong, 1 << 16), Some("p")).await.unwrap_err();
    assert!(matches!(err, BlobError::DigestMismatch { .. }), "{err}");
    let err = put_verified_as(&*store, &digest, size, 0, chunks_of(&data[..1000], 1 << 16), Some("p")).await;
    assert!(matches!(err, Err(BlobError::SizeMismatch { .. })), "{err:?}");
    let err = put_verified_as(&*store, &digest, size, 4096, chunks_of(&data[4096..], 1 << 16), Some("p")).await;
    assert!(matches!(err, Err(BlobError::ResumeMismatch { available: 0, .. })), "{err:?}");
    let proven = put_verified_as(&*store, &digest, size, 0, chunks_of(&data, 1 << 16), Some("p")).await.unwrap();
    assert!(proven.already_present);
    assert_eq!(Digest::of(&store.get_bytes(&blob_key(&digest)).await.unwrap()), digest, "the stored blob is untouched");
}

/// A stream that ends before the declared size (a cancelled call looks so to a server) is
/// refused as SizeMismatch, nothing becomes visible, and the parts stored before the end
/// are kept, so that the caller's next attempt resumes after them.
pub async fn a_stream_ending_early_is_refused_but_keeps_its_stored_parts_for_a_resume(store: Arc<dyn BlobStore>) {
    let part = store.part_size() as usize;
    let data = pattern(2 * part + 100, 41);
    let digest = Digest::of(&data);
    let size = data.len() as u64;
    let short = chunks_of(&data[..part + 5_000], 1 << 20);
    let err = put_verified(&*store, &digest, size, short).await.unwrap_err();
    assert!(matches!(err, BlobError::SizeMismatch { .. }), "{err}");
    assert_eq!(store.head(&blob_key(&digest)).await.unwrap(), None, "nothing visible");
    let offset = upload_progress(&*store, &digest).await.unwrap();
    assert_eq!(offset, part as u64, "the stored part is kept");
    let rest = chunks_of(&data[part..], 1 << 20);
    let resumed = put_verified_from(&*store, &digest, size, offset, rest).await.unwrap();
    assert_eq!(resumed.bytes, size - offset);
    assert_eq!(Digest::of(&store.get_bytes(&blob_key(&digest)).await.unwrap()), digest);
}

/// Two uploads of the same content at once both succeed and store it once.
pub async fn concurrent_uploads_of_one_blob_both_succeed(store: Arc<dyn BlobStore>) {
    let part = store.part_size() as usize;
    let data = pattern(2 * part + 999, 12);
    let digest = Digest::of(&data);
    let size = data.len() as u64;
    let (a, b) = tokio::join!(
        put_verified(&*store, &digest, size, chunks_of(&data, 1 << 20)),
        put_verified(&*store, &digest, size, chunks_of(&data, 777_777)),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.already_present != b.already_present, "one stored it, the other found it stored");
    assert_eq!(Digest::of(&store.get_bytes(&blob_key(&digest)).await.unwrap()), digest);
}

/// Parts stored by an interrupted upload of wrong bytes cannot poison the blob: the upload
/// that resumes from them fails its digest check with a retryable error, nothing is kept,
/// and the retry from the start stores the right bytes.
pub async fn a_poisoned_partial_upload_is_discarded_and_the_retry_succeeds(store: Arc<dyn BlobStore>) {
    let part = store.part_size() as usize;
    let data = pattern(part + part / 2, 13);
    let digest = Digest::of(&data);
    let size = data.len() as u64;
    let garbage = pattern(part + 1_000, 99);
    put_verified(&*store, &digest, size, interrupted_after(&garbage, part + 1_000)).await.unwrap_err();
    assert_eq!(upload_progress(&*store, &digest).await.unwrap(), part as u64);

    let resumed = put_verified(&*store, &digest, size, chunks_of(&data, 1 << 20)).await.unwrap_err();
    assert!(matches!(resumed, BlobError::ResumeDiscarded), "{resumed}");
    assert_eq!(store.head(&blob_key(&digest)).await.unwrap(), None);
    assert_eq!(upload_progress(&*store, &digest).await.unwrap(), 0, "the poisoned progress is gone");
    let retried = put_verified(&*store, &digest, size, chunks_of(&data, 1 << 20)).await.unwrap();
    assert_eq!(retried.bytes, size);
    assert_eq!(Digest::of(&store.get_bytes(&blob_key(&digest)).await.unwrap()), digest);
}

/// Makes the stored upload behind a blob's checkpoint disappear, as a bucket's
/// AbortIncompleteMultipartUpload rule or another worker completing it would.
async fn vanish_stored_upload(store: &dyn BlobStore, digest: &Digest) {
    let token = upload_resume_token(store, digest).await.unwrap();
    store.discard_upload(&blob_key(digest), token.as_deref()).await.unwrap();
}

/// A checkpoint whose upload is gone never blocks the blob: a resume from its offset fails
/// and cleans up the stale state, and an upload from the start stores the whole blob.
pub async fn a_resume_whose_stored_upload_vanished_starts_afresh(store: Arc<dyn BlobStore>) {
    let part = store.part_size() as usize;
    let data = pattern(2 * part + 333, 14);
    let digest = Digest::of(&data);
    let size = data.len() as u64;
    put_verified(&*store, &digest, size, interrupted_after(&data, part + 10)).await.unwrap_err();
    assert_eq!(upload_progress(&*store, &digest).await.unwrap(), part as u64);
    vanish_stored_upload(&*store, &digest).await;

    let resumed =
        put_verified_from(&*store, &digest, size, part as u64, chunks_of(&data[part..], 1 << 20)).await.unwrap_err();
    // A store that can tell before streaming refuses the offset; one that finds out when
    // it sends the next part fails with a (retryable) storage error. Either way the stale
    // state is gone and the next upload starts from byte 0.
    assert!(matches!(resumed, BlobError::ResumeMismatch { available: 0, .. } | BlobError::Io(_)), "{resumed}");
    assert_eq!(upload_progress(&*store, &digest).await.unwrap(), 0, "the stale checkpoint is gone");
    assert_eq!(store.head(&blob_key(&digest)).await.unwrap(), None);

    // Once more with a stale checkpoint left in place: an upload from 0 goes through, at
    // the latest on its retry (a store that cannot tell the upload is gone before sending
    // to it fails the first attempt retryably, and cleans up).
    put_verified(&*store, &digest, size, interrupted_after(&data, part + 10)).await.unwrap_err();
    vanish_stored_upload(&*store, &digest).await;
    let fresh = match put_verified(&*store, &digest, size, chunks_of(&data, 1 << 20)).await {
        Ok(fresh) => fresh,
        Err(BlobError::Io(_)) => {
            assert_eq!(upload_progress(&*store, &digest).await.unwrap(), 0, "the failed attempt cleaned up");
            put_verified(&*store, &digest, size, chunks_of(&data, 1 << 20)).await.unwrap()
        }
        Err(err) => panic!("an upload from byte 0 must not be refused: {err}"),
    };
    assert_eq!(fresh.bytes, size, "everything was sent again");
    assert_eq!(Digest::of(&store.get_bytes(&blob_key(&digest)).await.unwrap()), digest);
    assert_eq!(upload_progress(&*store, &digest).await.unwrap(), 0);
}

/// The stored upload disappears while a resumed upload is sending the rest: that upload
/// fails (retryably, as a storage error), leaves no checkpoint behind, and the retry from
/// the start stores the blob.
pub async fn an_upload_vanishing_during_a_resume_fails_and_the_retry_starts_afresh(store: Arc<dyn BlobStore>) {
    let part = store.part_size() as usize;
    let data = pattern(3 * part + 77, 15);
    let digest = Digest::of(&data);
    let size = data.len() as u64;
    put_verified(&*store, &digest, size, interrupted_after(&data, part + 10)).await.unwrap_err();
    let token = upload_resume_token(&*store, &digest).await.unwrap();
    let rest: Vec<Bytes> = data[part..].chunks(1 << 20).map(Bytes::copy_from_slice).collect();
    let vanishing = {
        let store = store.clone();
        stream::iter(rest.into_iter().enumerate())
            .then(move |(i, chunk)| {
                let (store, token) = (store.clone(), token.clone());
                async move {
                    if i == 1 {
                        // After the first chunk of the resumed upload went in.
                        let _ = store.discard_upload(&blob_key(&digest), token.as_deref()).await;
                    }
                    Ok::<_, BlobError>(chunk)
                }
            })
            .boxed()
    };
    match put_verified_from(&*store, &digest, size, part as u64, vanishing).await {
        // A store that keeps the open file can finish anyway: then the blob must be right.
        Ok(_) => assert_eq!(Digest::of(&store.get_bytes(&blob_key(&digest)).await.unwrap()), digest),
        Err(err) => {
            assert!(matches!(err, BlobError::Io(_) | BlobError::ResumeDiscarded), "{err}");
            assert_eq!(store.head(&blob_key(&digest)).await.unwrap(), None);
        }
    }
    assert_eq!(upload_progress(&*store, &digest).await.unwrap(), 0, "no checkpoint points at the vanished upload");
    put_verified(&*store, &digest, size, chunks_of(&data, 1 << 20)).await.unwrap();
    assert_eq!(Digest::of(&store.get_bytes(&blob_key(&digest)).await.unwrap()), digest);
}

/// A checkpoint that does not decode (truncated, written by something else) is replaced,
/// not obeyed or reported.
pub async fn an_unreadable_checkpoint_is_discarded(store: Arc<dyn BlobStore>) {
    let part = store.part_size() as usize;
    let data = pattern(part + 5, 16);
    let digest = Digest::of(&data);
    store.put_bytes(&upload_checkpoint_key(&digest), Bytes::from_static(b"garbage")).await.unwrap();
    assert_eq!(upload_progress(&*store, &digest).await.unwrap(), 0);
    put_verified(&*store, &digest, data.len() as u64, chunks_of(&data, 1 << 20)).await.unwrap();
    assert_eq!(Digest::of(&store.get_bytes(&blob_key(&digest)).await.unwrap()), digest);
    assert_eq!(store.head(&upload_checkpoint_key(&digest)).await.unwrap(), None);
}

/// `list_info` reports each object's size and a modification time close to now.
pub async fn listed_objects_carry_their_size_and_modification_time(store: Arc<dyn BlobStore>) {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    store.put_bytes("info/a", Bytes::from_static(b"12345")).await.unwrap();
    store.put_bytes("info/b", Bytes::new()).await.unwrap();
    let listed = store.list_info("info/", None, 10).await.unwrap();
    let summary: Vec<(&str, u64)> = listed.iter().map(|o| (o.key.as_str(), o.size)).collect();
    assert_eq!(summary, [("info/a", 5), ("info/b", 0)]);
    for object in &listed {
        assert!(object.modified_ms.abs_diff(now_ms) < 120_000, "{object:?} was written just now");
    }
    let after = store.list_info("info/", Some("info/a"), 10).await.unwrap();
    assert_eq!(after.len(), 1);
}

/// An upload a worker left behind before saving any checkpoint is listed as incomplete
/// (where the store can list uploads) until aborted; aborting it twice is not an error.
pub async fn an_upload_left_behind_is_listed_until_aborted(store: Arc<dyn BlobStore>) {
    let part = store.part_size();
    let data = pattern(2 * part as usize, 21);
    let key = blob_key(&Digest::of(&data));
    let mut writer = store.resume_put(&key, 0, None, part).await.unwrap();
    writer.write(Bytes::copy_from_slice(&data[..part as usize])).await.unwrap();
    writer.write(Bytes::copy_from_slice(&data[part as usize..])).await.unwrap();
    writer.persist().await.unwrap();
    drop(writer); // the worker died

    let Some(listed) = store.list_incomplete_uploads("blobs/", 100).await.unwrap() else {
        // This store cannot list uploads (s3s-fs): recorded upload ids are all there is.
        return;
    };
    let ours: Vec<_> = listed.iter().filter(|u| u.key == key).collect();
    assert_eq!(ours.len(), 1, "the upload left behind is listed once: {listed:?}");
    // Its start time is not checked: moto reports the same fixed date for every upload
    // (the collector relies on its own first sighting too).
    assert!(store.list_incomplete_uploads("manifests/", 100).await.unwrap().unwrap().is_empty(), "prefix-bounded");

    let upload = ours[0].clone();
    store.abort_incomplete_upload(&upload).await.unwrap();
    let after = store.list_incomplete_uploads("blobs/", 100).await.unwrap().unwrap();
    assert!(after.iter().all(|u| u.key != key), "the aborted upload is still listed: {after:?}");
    store.abort_incomplete_upload(&upload).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None, "nothing became visible");
}

/// The collector's trash: a copy under `trash/`, listed apart from the live objects and
/// dated when it was trashed (not when the object was written), that survives the live
/// object's deletion and restores it byte for byte; an absent object trashes and restores
/// as nothing.
pub async fn a_trashed_object_is_kept_apart_dated_now_and_restored_whole(store: Arc<dyn BlobStore>) {
    let data = Bytes::from((0..300_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let key = blob_key(&Digest::of(&data));
    store.put_bytes(&key, data.clone()).await.unwrap();
    let written = store.list_info("blobs/", None, 10).await.unwrap()[0].modified_ms;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // S3 dates to the second
    assert_eq!(store.copy_into_trash(&key).await.unwrap(), Some(data.len() as u64));
    let trashed = store.list_info("trash/", None, 10).await.unwrap();
    assert_eq!(
        trashed.iter().map(|o| (o.key.as_str(), o.size)).collect::<Vec<_>>(),
        [(trash_key(&key).as_str(), data.len() as u64)]
    );
    assert!(trashed[0].modified_ms > written, "dated when trashed: {} vs {written}", trashed[0].modified_ms);
    assert_eq!(
        store.list("blobs/", None, 10).await.unwrap(),
        std::slice::from_ref(&key),
        "the live object is untouched"
    );
    store.delete(&key).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
    assert!(store.restore_from_trash(&key).await.unwrap());
    assert_eq!(store.get_bytes(&key).await.unwrap(), data);
    let absent = blob_key(&Digest::of(b"never stored"));
    assert_eq!(store.copy_into_trash(&absent).await.unwrap(), None);
    assert!(!store.restore_from_trash(&absent).await.unwrap());
    assert_eq!(store.head(&absent).await.unwrap(), None);
}
