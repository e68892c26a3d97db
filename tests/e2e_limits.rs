//! Limits against hostile or broken clients: an upload stream that stalls is ended after
//! the idle timeout, releasing the blob for everyone else; a connection holds at most the
//! configured number of calls; a peer that stops answering pings is disconnected.

mod support;

use std::time::{Duration, Instant};

use cairn_proto::v1::{self, put_blob_request::Part};
use futures::StreamExt;
use support::grpc::{log_batch, log_header, store_blob};
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

#[tokio::test]
async fn a_connection_has_at_most_the_configured_calls_open_and_more_wait() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start_with(tmp.path().to_path_buf(), 0, &["--max-concurrent-streams", "2"], &[]);
    let channel = server.channel().await;
    // Two uploads held open on one connection use up its streams.
    let mut senders = Vec::new();
    let mut calls = Vec::new();
    for i in 0..2u8 {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let content = vec![i; 10];
        tx.send(v1::PutBlobsRequest {
            blobs: vec![v1::WholeBlob { sha256: sha256_hex(&content), content: content.into() }],
        })
        .await
        .unwrap();
        let mut storage = v1::storage_service_client::StorageServiceClient::new(channel.clone());
        calls.push(tokio::spawn(
            async move { storage.put_blobs(tokio_stream::wrappers::ReceiverStream::new(rx)).await },
        ));
        senders.push(tx);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut coordinator = v1::coordinator_service_client::CoordinatorServiceClient::new(channel.clone());
    let third = tokio::spawn(async move {
        coordinator
            .find_missing_blobs(v1::FindMissingBlobsRequest { sha256: vec![sha256_hex(b"x")], ..Default::default() })
            .await
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!third.is_finished(), "a third call on the connection waited for a free stream");
    // Ending one upload frees a stream: the waiting call goes through.
    drop(senders.remove(0));
    let answer = tokio::time::timeout(Duration::from_secs(10), third).await.expect("the third call ran").unwrap();
    assert_eq!(answer.unwrap().into_inner().missing.len(), 1);
    drop(senders);
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().into_inner().stored, 1);
    }
}

#[test]
fn a_peer_that_never_answers_pings_is_disconnected() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start_with(tmp.path().to_path_buf(), 0, &["--http2-keepalive-secs", "1"], &[]);
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut socket = std::net::TcpStream::connect(&address).unwrap();
    // An HTTP/2 client preface and empty SETTINGS, then silence: PINGs go unanswered.
    socket.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    socket.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = Instant::now();
    let (mut frames, mut buffer) = (Vec::new(), [0u8; 4096]);
    loop {
        match socket.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => frames.extend_from_slice(&buffer[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(err) => panic!("the server kept the silent connection open: {err} after {:?}", started.elapsed()),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(15), "closed after {:?}", started.elapsed());
    // Frame type 6 is PING: the server asked before giving up.
    let mut at = 0;
    let mut pinged = false;
    while at + 9 <= frames.len() {
        let length = u32::from_be_bytes([0, frames[at], frames[at + 1], frames[at + 2]]) as usize;
        pinged |= frames[at + 3] == 6;
        at += 9 + length;
    }
    assert!(pinged, "the server sent a PING before closing");
}

#[tokio::test]
async fn put_blobs_calls_beyond_the_upload_buffer_wait_their_turn_and_all_finish() {
    // A 1 MiB buffer and six calls of three ~600 KiB messages each: at most one message is
    // held at a time, and a call that must wait writes what it holds first, so none waits
    // for ever on another.
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start_with(tmp.path().to_path_buf(), 0, &["--upload-buffer-mib", "1"], &[]);
    let mut contents = Vec::new();
    let mut calls = Vec::new();
    for call in 0..6u32 {
        let messages: Vec<v1::PutBlobsRequest> = (0..3u32)
            .map(|m| {
                let content: Vec<u8> = (0..600_000u32).map(|i| (i ^ (call * 7 + m * 131)) as u8).collect();
                contents.push(content.clone());
                v1::PutBlobsRequest {
                    blobs: vec![v1::WholeBlob { sha256: sha256_hex(&content), content: content.into() }],
                }
            })
            .collect();
        let mut storage = server.storage().await;
        calls.push(tokio::spawn(async move { storage.put_blobs(futures::stream::iter(messages)).await }));
    }
    for call in calls {
        let stored = tokio::time::timeout(Duration::from_secs(30), call).await.expect("no call waits for ever");
        assert_eq!(stored.unwrap().unwrap().into_inner().stored, 3);
    }
    let request =
        v1::FindMissingBlobsRequest { sha256: contents.iter().map(|c| sha256_hex(c)).collect(), ..Default::default() };
    assert!(server.coordinator().await.find_missing_blobs(request).await.unwrap().into_inner().missing.is_empty());
}

/// `count` entries of one stored blob under distinct paths, as Log batches of 5,000.
fn log_batches(count: usize, blob: &[u8]) -> Vec<v1::LogRequest> {
    let entries: Vec<v1::Entry> = (0..count)
        .map(|i| v1::Entry { path: format!("shard-{i:08}.bin"), sha256: sha256_hex(blob), size: blob.len() as u64 })
        .collect();
    entries.chunks(5_000).map(|chunk| log_batch(chunk.to_vec(), vec![])).collect()
}

/// A Log's entries are all held until its manifest is written: the entries of all Logs in
/// flight are bounded. One Log larger than the budget is refused for good; one that finds
/// the budget taken by another is told to retry, and succeeds once the other ends.
#[tokio::test]
async fn log_entries_in_memory_are_bounded_per_replica() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start_with(tmp.path().to_path_buf(), 0, &["--log-buffer-mib", "1"], &[]);
    let blob = b"one blob named by every entry";
    store_blob(&server, blob).await;
    let mut coordinator = server.coordinator().await;

    // 10,000 entries cost about 10,000 × (160 + 2 × 20) bytes: twice the budget.
    let mut too_large = vec![log_header("huge", "dataset")];
    too_large.extend(log_batches(10_000, blob));
    let status = coordinator.log(futures::stream::iter(too_large)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert_eq!(cairn_proto::error_info(&status).unwrap().0, "LOG_TOO_LARGE");

    // A Log holding 3,000 entries (~600 KB) and not yet finished...
    let (held_tx, held_rx) = tokio::sync::mpsc::channel(8);
    for message in std::iter::once(log_header("first", "dataset")).chain(log_batches(3_000, blob)) {
        held_tx.send(message).await.unwrap();
    }
    let mut other = server.coordinator().await;
    let first = tokio::spawn(async move { other.log(tokio_stream::wrappers::ReceiverStream::new(held_rx)).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // ...leaves too little for a second one of the same size: retry later, not refused.
    let second =
        || std::iter::once(log_header("second", "dataset")).chain(log_batches(3_000, blob)).collect::<Vec<_>>();
    let status = coordinator.log(futures::stream::iter(second())).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert_eq!(cairn_proto::error_info(&status).unwrap().0, "COORDINATOR_BUSY");

    drop(held_tx);
    let committed = first.await.unwrap().expect("the first log commits").into_inner();
    assert_eq!(committed.version.unwrap().file_count, 3_000);
    let committed = coordinator.log(futures::stream::iter(second())).await.expect("the budget was given back");
    assert_eq!(committed.into_inner().version.unwrap().file_count, 3_000);
}

/// A caller's deadline (`grpc-timeout`) bounds the call on the server: a finish waiting
/// for writers gives up when the caller's deadline passes, not after its own wait.
#[tokio::test]
async fn the_servers_end_a_call_at_the_callers_deadline() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let mut coordinator = server.coordinator().await;
    let upsert = v1::UpsertRequest {
        project: "default".into(),
        artifact: "ds".into(),
        r#type: "dataset".into(),
        distributed_id: "job".into(),
        writer_id: "still-writing".into(),
        ..Default::default()
    };
    coordinator.upsert(upsert).await.unwrap();
    let finish = v1::FinishRequest {
        project: "default".into(),
        artifact: "ds".into(),
        distributed_id: "job".into(),
        wait_seconds: 60,
        ..Default::default()
    };
    let mut request = tonic::Request::new(finish);
    request.set_timeout(Duration::from_secs(1));
    let started = Instant::now();
    let status = coordinator.finish(request).await.unwrap_err();
    assert!(matches!(status.code(), tonic::Code::DeadlineExceeded | tonic::Code::Cancelled), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "ended after {:?}", started.elapsed());
    // The draft is still open for the writer.
    let draft = v1::GetDraftRequest { project: "default".into(), artifact: "ds".into(), distributed_id: "job".into() };
    let view = coordinator.get_draft(draft).await.unwrap().into_inner().draft.unwrap();
    assert_eq!(view.state, v1::DraftState::Open as i32);
}
