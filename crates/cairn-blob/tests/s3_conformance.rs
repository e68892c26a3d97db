//! The S3 store against the BlobStore conformance suite, on two real S3-compatible servers
//! that answer the same situations differently (s3s-fs, which checks request signatures,
//! and moto), plus multipart uploads.

use std::sync::Arc;

use bytes::Bytes;
use cairn_blob::{BlobStore, BlobStoreExt, S3Config, S3Store, blob_conformance_tests, blob_key, put_verified};
use cairn_core::Digest;
use cairn_testkit::{MotoServer, S3Server, TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY};
use futures::{StreamExt, stream};

const BUCKET: &str = "cairn-test";

async fn store_on(server: &S3Server) -> S3Store {
    store_at(server.endpoint()).await
}

async fn store_at(endpoint: String) -> S3Store {
    let mut config = S3Config::new(BUCKET);
    config.endpoint = Some(endpoint);
    config.region = TEST_REGION.to_owned();
    config.prefix = "cluster-a/".to_owned();
    config.access_key = Some(TEST_ACCESS_KEY.to_owned());
    config.secret_key = Some(TEST_SECRET_KEY.to_owned());
    S3Store::connect(config).await.expect("s3 client")
}

/// Each check gets its own server, stopped by pid when the check ends.
async fn fresh_store() -> (Arc<dyn BlobStore>, S3Server) {
    let server = S3Server::start(&[BUCKET]);
    (Arc::new(store_on(&server).await), server)
}

blob_conformance_tests!(fresh_store().await);

/// The same conformance checks on moto.
mod moto {
    use super::*;

    async fn fresh_store() -> (Arc<dyn BlobStore>, MotoServer) {
        let server = MotoServer::start(&[BUCKET]);
        (Arc::new(store_at(server.endpoint()).await), server)
    }

    blob_conformance_tests!(fresh_store().await);
}

/// Files under the server's bucket directory, excluding s3s-fs's own bookkeeping.
fn stored_files(server: &S3Server) -> Vec<String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(&server.root().join(BUCKET), &server.root().join(BUCKET), &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_larger_than_a_part_goes_multipart_and_reads_back_whole() {
    let server = S3Server::start(&[BUCKET]);
    let store = store_on(&server).await;
    let data: Vec<u8> = (0..(20 << 20) + 12_345u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let digest = Digest::of(&data);
    // A slow producer lets early parts finish while later ones are still being sent,
    // so the writer must keep the parts it collected early.
    let chunks = stream::iter(data.chunks(1 << 20).map(Bytes::copy_from_slice).collect::<Vec<_>>())
        .then(|chunk| async move {
            tokio::time::sleep(std::time::Duration::from_millis(15)).await;
            Ok::<_, cairn_blob::BlobError>(chunk)
        })
        .boxed();
    put_verified(&store, &digest, data.len() as u64, chunks).await.unwrap();
    assert_eq!(store.head(&blob_key(&digest)).await.unwrap(), Some(data.len() as u64));
    let back = store.get_bytes(&blob_key(&digest)).await.unwrap();
    assert_eq!(Digest::of(&back), digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_upload_with_a_wrong_digest_is_aborted_and_leaves_nothing() {
    let server = S3Server::start(&[BUCKET]);
    let store = store_on(&server).await;
    let data = vec![7u8; 18 << 20];
    let claimed = Digest::of(b"not these bytes");
    let chunks: Vec<Result<Bytes, cairn_blob::BlobError>> =
        data.chunks(1 << 20).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let err = put_verified(&store, &claimed, data.len() as u64, stream::iter(chunks).boxed()).await.unwrap_err();
    assert!(matches!(err, cairn_blob::BlobError::DigestMismatch { .. }), "{err}");
    assert_eq!(store.head(&blob_key(&claimed)).await.unwrap(), None);
    let leftovers: Vec<String> = stored_files(&server).into_iter().filter(|f| f.contains("blobs/")).collect();
    assert!(leftovers.is_empty(), "objects left behind: {leftovers:?}");
}

/// A store whose uploads may have at most 16 parts, so that a 200 MiB blob needs 13 MiB
/// parts instead of the configured 8 MiB.
async fn store_with_max_parts(server: &S3Server, max_parts: u64) -> S3Store {
    let mut config = S3Config::new(BUCKET);
    config.endpoint = Some(server.endpoint());
    config.region = TEST_REGION.to_owned();
    config.prefix = "cluster-a/".to_owned();
    config.access_key = Some(TEST_ACCESS_KEY.to_owned());
    config.secret_key = Some(TEST_SECRET_KEY.to_owned());
    config.max_parts = max_parts;
    S3Store::connect(config).await.expect("s3 client")
}

fn patterned(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32).map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 24) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_that_needs_larger_parts_round_trips_and_resumes_with_them_on_any_worker() {
    const MIB: usize = 1024 * 1024;
    let server = S3Server::start(&[BUCKET]);
    let store = store_with_max_parts(&server, 16).await;
    let data = patterned(200 * MIB + 12_345, 3);
    let (digest, size) = (Digest::of(&data), data.len() as u64);
    let part = store.part_size_for(size).unwrap();
    assert_eq!(part, 13 * MIB as u64, "the smallest whole MiB that fits 200 MiB in 16 parts");

    // Interrupted after two parts and a bit.
    let cut = 2 * part as usize + 5 * MIB;
    let mut pieces: Vec<Result<Bytes, cairn_blob::BlobError>> =
        data[..cut].chunks(MIB).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    pieces.push(Err(cairn_blob::BlobError::Interrupted("connection lost".into())));
    put_verified(&store, &digest, size, stream::iter(pieces).boxed()).await.unwrap_err();
    assert_eq!(cairn_blob::upload_progress(&store, &digest).await.unwrap(), 2 * part);

    // Another worker, configured for S3's 10,000 parts (it would pick 8 MiB), resumes with
    // the upload's 13 MiB parts.
    let other = store_with_max_parts(&server, 10_000).await;
    assert_eq!(other.part_size_for(size).unwrap(), 8 * MIB as u64);
    let rest: Vec<Result<Bytes, cairn_blob::BlobError>> =
        data[2 * part as usize..].chunks(MIB).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let resumed =
        cairn_blob::put_verified_from(&other, &digest, size, 2 * part, stream::iter(rest).boxed()).await.unwrap();
    assert_eq!(resumed.bytes, size - 2 * part, "only the rest was sent");

    let whole = store.get_bytes(&blob_key(&digest)).await.unwrap();
    assert_eq!(Digest::of(&whole), digest);
    let mut ranged = Vec::new();
    let mut chunks = store.get(&blob_key(&digest), 27 * MIB as u64 - 10, Some(1_000)).await.unwrap();
    while let Some(chunk) = chunks.next().await {
        ranged.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(ranged, &data[27 * MIB - 10..27 * MIB + 990], "a range across a part boundary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_larger_than_the_store_holds_is_refused_before_any_byte_is_read() {
    let server = S3Server::start(&[BUCKET]);
    let store = store_with_max_parts(&server, 16).await;
    let limit = 16 * 5 * 1024 * 1024 * 1024u64; // 16 parts of at most 5 GiB
    assert!(store.part_size_for(limit).is_ok());
    let err = store.part_size_for(limit + 1).unwrap_err();
    assert!(matches!(err, cairn_blob::BlobError::TooLarge { limit: l, .. } if l == limit), "{err}");
    let aws = store_at(server.endpoint()).await;
    let five_tib = 5 * 1024 * 1024 * 1024 * 1024u64;
    assert_eq!(aws.part_size_for(five_tib).unwrap(), 525 * 1024 * 1024, "5 TiB fits in 10,000 parts of 525 MiB");
    assert!(matches!(aws.part_size_for(five_tib + 1), Err(cairn_blob::BlobError::TooLarge { .. })));

    let never_read = stream::poll_fn(|_| -> std::task::Poll<Option<Result<Bytes, cairn_blob::BlobError>>> {
        panic!("the stream of a refused blob must not be read")
    });
    let err = put_verified(&aws, &Digest::of(b"x"), five_tib + 1, never_read.boxed()).await.unwrap_err();
    assert!(matches!(err, cairn_blob::BlobError::TooLarge { .. }), "{err}");
}

/// Above CopyObject's limit (lowered here to 6 MiB) an object goes to the trash and back
/// in parts (UploadPartCopy), byte for byte, on both servers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_object_is_trashed_and_restored_by_copying_parts() {
    let (s3s, moto) = (S3Server::start(&[BUCKET]), MotoServer::start(&[BUCKET]));
    for endpoint in [s3s.endpoint(), moto.endpoint()] {
        let mut config = S3Config::new(BUCKET);
        config.endpoint = Some(endpoint.clone());
        config.region = TEST_REGION.to_owned();
        config.access_key = Some(TEST_ACCESS_KEY.to_owned());
        config.secret_key = Some(TEST_SECRET_KEY.to_owned());
        config.part_size = 5 << 20;
        config.copy_part_limit = 6 << 20;
        let store = S3Store::connect(config).await.unwrap();
        let data: Vec<u8> = (0..(13 << 20) + 7u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let digest = Digest::of(&data);
        put_verified(&store, &digest, data.len() as u64, cairn_blob::single_chunk(Bytes::from(data.clone())))
            .await
            .unwrap();
        let key = blob_key(&digest);
        assert_eq!(store.copy_into_trash(&key).await.unwrap(), Some(data.len() as u64), "{endpoint}");
        store.delete(&key).await.unwrap();
        assert!(store.restore_from_trash(&key).await.unwrap(), "{endpoint}");
        assert_eq!(Digest::of(&store.get_bytes(&key).await.unwrap()), digest, "{endpoint}");
    }
}
