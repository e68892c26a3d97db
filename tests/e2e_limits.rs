//! Limits against hostile or broken clients: an upload stream that stalls is ended after
//! the idle timeout, releasing the blob for everyone else.

mod support;

use std::time::{Duration, Instant};

use cairn_proto::v1::{self, put_blob_request::Part};
use futures::StreamExt;
use support::{DevServer, sha256_hex};

#[tokio::test]
async fn a_stalled_put_blob_is_ended_and_no_longer_blocks_the_same_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start_with(tmp.path().to_path_buf(), 0, &["--stream-idle-timeout-secs", "1"], &[]);
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 241) as u8).collect();
    let header = || v1::PutBlobRequest {
        part: Some(Part::Header(v1::PutBlobHeader {
            sha256: sha256_hex(&content),
            size: content.len() as u64,
            offset: 0,
        })),
    };
    let chunk = |range: std::ops::Range<usize>| v1::PutBlobRequest {
        part: Some(Part::Chunk(bytes::Bytes::copy_from_slice(&content[range]))),
    };

    // A client sends the header and 1 MiB, then stalls with its stream still open.
    let (stall_tx, stall_rx) = tokio::sync::mpsc::channel(4);
    stall_tx.send(header()).await.unwrap();
    stall_tx.send(chunk(0..1 << 20)).await.unwrap();
    let mut staller = server.storage().await;
    let stalled = tokio::spawn(async move {
        staller.put_blob(tokio_stream::wrappers::ReceiverStream::new(stall_rx)).await.map(|r| r.into_inner())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Another client uploading the same blob is not blocked for ever by the stalled one.
    let started = Instant::now();
    let messages: Vec<v1::PutBlobRequest> = std::iter::once(header())
        .chain(
            content
                .chunks(1 << 20)
                .map(|c| v1::PutBlobRequest { part: Some(Part::Chunk(bytes::Bytes::copy_from_slice(c))) }),
        )
        .collect();
    let stored =
        tokio::time::timeout(Duration::from_secs(20), server.storage().await.put_blob(futures::stream::iter(messages)))
            .await
            .expect("the second upload finished")
            .expect("the second upload succeeded");
    assert_eq!(stored.into_inner().size, content.len() as u64);
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());

    let ended = tokio::time::timeout(Duration::from_secs(20), stalled).await.expect("the stalled call ended").unwrap();
    let status = ended.expect_err("the stalled upload was ended");
    assert_eq!((status.code(), support::reason(&status)), (tonic::Code::Cancelled, "UPLOAD_INTERRUPTED".to_owned()));
    drop(stall_tx);

    let mut read = server
        .storage()
        .await
        .get_blob(v1::GetBlobRequest { sha256: sha256_hex(&content), offset: 0, length: 0 })
        .await
        .unwrap()
        .into_inner();
    let mut back = Vec::new();
    while let Some(chunk) = read.next().await {
        back.extend_from_slice(&chunk.unwrap().chunk);
    }
    assert!(back == content, "the blob reads back whole and right");
}

#[tokio::test]
async fn a_stalled_put_blobs_is_ended_as_interrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start_with(tmp.path().to_path_buf(), 0, &["--stream-idle-timeout-secs", "1"], &[]);
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let blob = v1::WholeBlob { sha256: sha256_hex(b"first"), content: bytes::Bytes::from_static(b"first") };
    tx.send(v1::PutBlobsRequest { blobs: vec![blob] }).await.unwrap();
    let started = Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(20),
        server.storage().await.put_blobs(tokio_stream::wrappers::ReceiverStream::new(rx)),
    )
    .await
    .expect("the stalled call ended");
    let status = answer.expect_err("a stalled PutBlobs fails");
    assert_eq!((status.code(), support::reason(&status)), (tonic::Code::Cancelled, "UPLOAD_INTERRUPTED".to_owned()));
    assert!(started.elapsed() >= Duration::from_millis(900), "not before the idle timeout: {:?}", started.elapsed());
    drop(tx);
}
