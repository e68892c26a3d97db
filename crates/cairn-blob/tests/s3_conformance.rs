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
