//! Crash safety: `kill -9` of the dev server in the middle of an upload and of an upsert,
//! then a restart on the same data directory; a client that cancels an upload mid-way.

mod support;

use std::time::Duration;

use cairn_proto::v1::{self, put_blob_request::Part};
use support::{DevServer, read_tree, sha256_hex, wait_until, write_tree};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Sizes of the unfinished (resumable) uploads the server holds.
fn partial_uploads(server: &DevServer) -> Vec<u64> {
    std::fs::read_dir(server.data_dir.join("blobs/uploads"))
        .map(|d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_upload_leaves_no_partial_blob_and_committed_versions_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = DevServer::start(tmp.path());
    let committed = [("weights.bin", pattern(3_000_000, 1)), ("config.json", b"{\"lr\": 0.1}".to_vec())];
    let files: Vec<(&str, &[u8])> = committed.iter().map(|(p, c)| (*p, c.as_slice())).collect();
    write_tree(&tmp.path().join("v0"), &files);
    server.cli(tmp.path(), &["log", "v0", "--name", "model", "--type", "model"]).ok();

    // An upload of 8 MiB that stops after 3 MiB and stays open until the server dies.
    let big = pattern(8 << 20, 7);
    let (tx, rx) = tokio::sync::mpsc::channel::<v1::PutBlobRequest>(8);
    tx.send(v1::PutBlobRequest {
        part: Some(Part::Header(v1::PutBlobHeader { sha256: sha256_hex(&big), size: big.len() as u64, offset: 0 })),
    })
    .await
    .unwrap();
    for chunk in big.chunks(1 << 20).take(3) {
        tx.send(v1::PutBlobRequest { part: Some(Part::Chunk(bytes::Bytes::copy_from_slice(chunk))) }).await.unwrap();
    }
    let mut storage = server.storage().await;
    let upload = tokio::spawn(async move { storage.put_blob(tokio_stream::wrappers::ReceiverStream::new(rx)).await });
    assert!(
        wait_until(Duration::from_secs(10), || partial_uploads(&server).iter().any(|len| *len >= 3 << 20)),
        "the partial upload never reached the server's upload area"
    );
    server.kill9();
    assert!(upload.await.unwrap().is_err(), "the interrupted upload must not succeed");
    drop(tx);

    server.crash_and_restart();
    assert!(!partial_uploads(&server).is_empty(), "the partial upload is kept, for a resume");
    let mut coordinator = server.coordinator().await;
    let missing = coordinator
        .find_missing_blobs(v1::FindMissingBlobsRequest { sha256: vec![sha256_hex(&big)], ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .missing;
    assert_eq!(missing, vec![sha256_hex(&big)], "no partial blob is visible");

    server.cli(tmp.path(), &["get", "model:v0", "-o", "restored"]).ok();
    let mut expected: Vec<(String, Vec<u8>)> = committed.iter().map(|(p, c)| (p.to_string(), c.clone())).collect();
    expected.sort();
    assert_eq!(read_tree(&tmp.path().join("restored")), expected, "committed bytes survive the crash");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_upsert_leaves_the_draft_whole_and_finishable() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("a"), &[("a/1.txt", b"one"), ("a/2.txt", b"two"), ("a/3.txt", b"three")]);
    server
        .cli(
            tmp.path(),
            &[
                "upsert",
                "a",
                "--name",
                "ck",
                "--type",
                "checkpoint",
                "--distributed-id",
                "job",
                "--writer",
                "ra",
                "--seal",
            ],
        )
        .ok();

    // Writer rb stages 10,000 entries in one request; the server dies while it is in flight.
    write_tree(&tmp.path().join("shared"), &[("blob", b"shared content")]);
    server.cli(tmp.path(), &["log", "shared", "--name", "holder", "--type", "t"]).ok();
    let entries: Vec<v1::Entry> = (0..10_000)
        .map(|i| v1::Entry { path: format!("b/{i:05}"), sha256: sha256_hex(b"shared content"), size: 14 })
        .collect();
    let request = v1::UpsertRequest {
        project: "default".into(),
        artifact: "ck".into(),
        r#type: "checkpoint".into(),
        distributed_id: "job".into(),
        writer_id: "rb".into(),
        entries,
        ..Default::default()
    };
    let mut coordinator = server.coordinator().await;
    let in_flight = tokio::spawn(async move { coordinator.upsert(request).await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    server.kill9();
    let applied_before_crash = in_flight.await.unwrap().is_ok();

    server.crash_and_restart();
    let draft = server.cli(tmp.path(), &["draft", "--name", "ck", "--distributed-id", "job", "--json"]).json();
    assert_eq!(draft["state"], "open");
    let staged = draft["draft_files"].as_u64().unwrap();
    assert!(staged == 3 || staged == 10_003, "an upsert is all or nothing, found {staged} entries");
    if applied_before_crash {
        assert_eq!(staged, 10_003, "an acknowledged upsert survives the crash");
    }

    let finished =
        server.cli(tmp.path(), &["finish", "--name", "ck", "--distributed-id", "job", "--force", "--json"]).json();
    assert_eq!(finished["files"].as_u64(), Some(staged));
    server.cli(tmp.path(), &["get", "ck", "-o", "out"]).ok();
    let restored = read_tree(&tmp.path().join("out"));
    assert_eq!(restored.len() as u64, staged);
    assert!(restored.iter().any(|(p, c)| p == "a/3.txt" && c == b"three"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_survives_a_server_crash_and_finishes_with_every_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = DevServer::start(tmp.path());
    for w in 0..3 {
        write_tree(&tmp.path().join(format!("w{w}")), &[(&format!("part-{w}"), format!("data {w}").as_bytes())]);
        let dir = format!("w{w}");
        let writer = format!("r{w}");
        server
            .cli(
                tmp.path(),
                &["upsert", &dir, "--name", "p", "--type", "t", "--distributed-id", "j", "--writer", &writer],
            )
            .ok();
    }
    server.crash_and_restart();
    for w in 0..3 {
        let writer = format!("r{w}");
        server.cli(tmp.path(), &["upsert", "--seal", "--name", "p", "--distributed-id", "j", "--writer", &writer]).ok();
    }
    let finished = server.cli(tmp.path(), &["finish", "--name", "p", "--distributed-id", "j", "--json"]).json();
    assert_eq!(finished["files"], 3);
}

#[test]
fn a_killed_client_resumes_its_upload_from_the_last_stored_part() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let big = pattern(96 << 20, 11);
    write_tree(&tmp.path().join("model"), &[("weights.bin", &big)]);
    let partial_bytes = || -> u64 {
        std::fs::read_dir(server.data_dir.join("blobs/uploads"))
            .map(|d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0)
    };
    let mut client = std::process::Command::new(support::cairn_bin())
        .args(["log", "model", "--name", "w", "--type", "model"])
        .current_dir(tmp.path())
        .env("CAIRN_SERVER", &server.url)
        .env("CAIRN_CACHE_DIR", tmp.path().join(".cairn-cache"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while partial_bytes() < 24 << 20 {
        assert!(std::time::Instant::now() < deadline, "the upload never got going");
        assert!(client.try_wait().unwrap().is_none(), "the upload finished before the client could be killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    client.kill().unwrap();
    client.wait().unwrap();

    let logged = server.cli(tmp.path(), &["log", "model", "--name", "w", "--type", "model", "--json"]).json();
    let uploaded = logged["uploaded_bytes"].as_u64().unwrap();
    assert!(uploaded <= big.len() as u64 - (16 << 20), "resumed after at least two stored parts, sent {uploaded}");
    assert!(uploaded > 0);
    server.cli(tmp.path(), &["get", "w", "-o", "back"]).ok();
    let restored = read_tree(&tmp.path().join("back"));
    assert!(restored[0].1 == big, "the resumed upload stored exactly the original bytes");
}

/// A client that cancels its upload mid-way (a deadline, Ctrl-C with the process still
/// alive) looks to the server like a stream that ended early: the parts stored so far are
/// kept, and the next log of the file resumes after them instead of sending it all again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_upload_keeps_its_stored_parts_and_the_next_log_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let big = pattern(20_000_000, 5);
    let sha256 = sha256_hex(&big);
    let (tx, rx) = tokio::sync::mpsc::channel::<v1::PutBlobRequest>(64);
    let header = v1::PutBlobHeader { sha256: sha256.clone(), size: big.len() as u64, offset: 0 };
    tx.send(v1::PutBlobRequest { part: Some(Part::Header(header)) }).await.unwrap();
    for chunk in big[..9 << 20].chunks(1 << 20) {
        tx.send(v1::PutBlobRequest { part: Some(Part::Chunk(bytes::Bytes::copy_from_slice(chunk))) }).await.unwrap();
    }
    let mut storage = server.storage().await;
    let call = tokio::spawn(async move { storage.put_blob(tokio_stream::wrappers::ReceiverStream::new(rx)).await });
    let mut status = server.storage().await;
    let ask = v1::GetUploadStatusRequest { sha256: sha256.clone() };
    let stored = async {
        loop {
            let offset = status.get_upload_status(ask.clone()).await.unwrap().into_inner().offset;
            if offset > 0 {
                return offset;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let offset = tokio::time::timeout(Duration::from_secs(20), stored).await.expect("a part was stored");
    call.abort();
    drop(tx);
    assert!(
        wait_until(Duration::from_secs(5), || partial_uploads(&server).iter().any(|len| *len >= offset)),
        "the cancelled upload's stored part is kept"
    );

    write_tree(&tmp.path().join("model"), &[("weights.bin", &big)]);
    let logged = server.cli(tmp.path(), &["log", "model", "--name", "m", "--type", "model", "--json"]).json();
    let uploaded = logged["uploaded_bytes"].as_u64().unwrap();
    assert_eq!(uploaded, big.len() as u64 - offset, "only what follows the stored part was sent");
    let out = tmp.path().join("out");
    server.cli(tmp.path(), &["get", "m", "-o", out.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read(out.join("weights.bin")).unwrap(), big);
}
