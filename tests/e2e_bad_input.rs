//! Bad input through gRPC: each gets the right code and ErrorInfo reason, and leaves
//! nothing stored or changed.

mod support;

use cairn_proto::v1::{self, put_blob_request::Part};
use support::grpc::{log_batch, log_header, store_blob};
use support::{DevServer, metadata, reason, sha256_hex};
use tonic::Code;

fn entry(path: &str, content: &[u8]) -> v1::Entry {
    v1::Entry { path: path.to_owned(), sha256: sha256_hex(content), size: content.len() as u64 }
}

fn upsert(artifact: &str, distributed_id: &str, writer: &str, entries: Vec<v1::Entry>) -> v1::UpsertRequest {
    v1::UpsertRequest {
        project: "default".into(),
        artifact: artifact.into(),
        r#type: "dataset".into(),
        distributed_id: distributed_id.into(),
        writer_id: writer.into(),
        entries,
        ..Default::default()
    }
}

fn put_messages(sha256: &str, size: u64, chunks: &[&[u8]]) -> Vec<v1::PutBlobRequest> {
    let mut messages = vec![v1::PutBlobRequest {
        part: Some(Part::Header(v1::PutBlobHeader { sha256: sha256.into(), size, offset: 0 })),
    }];
    for chunk in chunks {
        messages.push(v1::PutBlobRequest { part: Some(Part::Chunk(bytes::Bytes::copy_from_slice(chunk))) });
    }
    messages
}

/// Opens draft `distributed_id` of artifact `a` with one sealed writer and finishes it.
async fn commit_sealed_draft(
    coordinator: &mut v1::coordinator_service_client::CoordinatorServiceClient<tonic::transport::Channel>,
    distributed_id: &str,
) {
    let sealed = v1::UpsertRequest { seal: true, ..upsert("a", distributed_id, "w", vec![entry("f", b"c")]) };
    coordinator.upsert(sealed).await.unwrap();
    let finish = v1::FinishRequest {
        project: "default".into(),
        artifact: "a".into(),
        distributed_id: distributed_id.into(),
        ..Default::default()
    };
    coordinator.finish(finish).await.unwrap();
}

async fn missing(server: &DevServer, content: &[u8]) -> bool {
    let request = v1::FindMissingBlobsRequest { sha256: vec![sha256_hex(content)], ..Default::default() };
    !server.coordinator().await.find_missing_blobs(request).await.unwrap().into_inner().missing.is_empty()
}

async fn assert_no_draft(server: &DevServer, artifact: &str, distributed_id: &str) {
    let request = v1::GetDraftRequest {
        project: "default".into(),
        artifact: artifact.into(),
        distributed_id: distributed_id.into(),
    };
    let status = server.coordinator().await.get_draft(request).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::NotFound, "DRAFT_NOT_FOUND".to_owned()));
}

#[tokio::test]
async fn every_unsafe_entry_path_is_invalid_argument_naming_the_path_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"content").await;
    let long = "a".repeat(1025);
    for bad in ["../x", "/abs", "a//b", "a/./b", "a/../b", "", "dir/", "a\0b", "a\u{1}b", "a\\b", long.as_str()] {
        let request = upsert("paths", "d", "w", vec![entry("fine.txt", b"content"), entry(bad, b"content")]);
        let status = server.coordinator().await.upsert(request).await.unwrap_err();
        assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "INVALID_PATH".to_owned()), "{bad:?}");
        assert_eq!(metadata(&status)["path"], bad, "the error names the path");
    }
    assert_no_draft(&server, "paths", "d").await;
    let removal = v1::UpsertRequest { removals: vec!["../etc".into()], ..upsert("paths", "d", "w", vec![]) };
    let status = server.coordinator().await.upsert(removal).await.unwrap_err();
    assert_eq!(reason(&status), "INVALID_PATH");
    assert_no_draft(&server, "paths", "d").await;
}

#[tokio::test]
async fn invalid_names_are_refused_before_anything_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"c").await;
    let cases = vec![
        v1::UpsertRequest { project: "Bad Project".into(), ..upsert("a", "d", "w", vec![entry("f", b"c")]) },
        upsert("bad/name", "d", "w", vec![entry("f", b"c")]),
        upsert(&"n".repeat(129), "d", "w", vec![entry("f", b"c")]),
        v1::UpsertRequest { r#type: "no spaces".into(), ..upsert("a", "d", "w", vec![entry("f", b"c")]) },
        upsert("a", "bad/id", "w", vec![entry("f", b"c")]),
        upsert("a", "d", "", vec![entry("f", b"c")]),
    ];
    for request in cases {
        let status = server.coordinator().await.upsert(request.clone()).await.unwrap_err();
        assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "INVALID_NAME".to_owned()), "{request:?}");
    }
    let listed = server
        .coordinator()
        .await
        .list_artifacts(v1::ListArtifactsRequest { project: "default".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.artifacts.is_empty());
}

#[tokio::test]
async fn aliases_v3_and_latest_are_refused_and_nothing_is_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"c").await;
    let mut coordinator = server.coordinator().await;
    coordinator
        .upsert(v1::UpsertRequest { seal: true, ..upsert("a", "d", "w", vec![entry("f", b"c")]) })
        .await
        .unwrap();
    for alias in ["v3", "latest", "has space"] {
        let finish = v1::FinishRequest {
            project: "default".into(),
            artifact: "a".into(),
            distributed_id: "d".into(),
            aliases: vec![alias.into()],
            ..Default::default()
        };
        let status = coordinator.finish(finish).await.unwrap_err();
        assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "INVALID_NAME".to_owned()), "{alias}");
    }
    let draft = coordinator
        .get_draft(v1::GetDraftRequest { project: "default".into(), artifact: "a".into(), distributed_id: "d".into() })
        .await
        .unwrap()
        .into_inner()
        .draft
        .unwrap();
    assert_eq!(draft.state, v1::DraftState::Open as i32, "the refused finish left the draft open");
}

#[tokio::test]
async fn a_second_type_for_an_existing_artifact_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"c").await;
    let mut coordinator = server.coordinator().await;
    commit_sealed_draft(&mut coordinator, "d1").await;
    let other_type = v1::UpsertRequest { r#type: "model".into(), ..upsert("a", "d2", "w", vec![entry("f", b"c")]) };
    let status = coordinator.upsert(other_type).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "TYPE_MISMATCH".to_owned()));
    assert_eq!(metadata(&status)["existing_type"], "dataset");
    assert_no_draft(&server, "a", "d2").await;
}

#[tokio::test]
async fn put_blob_with_wrong_digest_or_size_leaves_no_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let mut storage = server.storage().await;
    let promised = b"what was promised";
    let messages = put_messages(&sha256_hex(promised), promised.len() as u64, &[b"something else!!!"]);
    let status = storage.put_blob(futures::stream::iter(messages)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::DataLoss, "DIGEST_MISMATCH".to_owned()));
    assert!(missing(&server, promised).await);

    let content = b"exact";
    let short = put_messages(&sha256_hex(content), 99, &[content]);
    let status = storage.put_blob(futures::stream::iter(short)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "SIZE_MISMATCH".to_owned()));
    let long = put_messages(&sha256_hex(content), 3, &[content]);
    let status = storage.put_blob(futures::stream::iter(long)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "SIZE_MISMATCH".to_owned()));
    assert!(missing(&server, content).await);

    let no_header = vec![v1::PutBlobRequest { part: Some(Part::Chunk(bytes::Bytes::from_static(b"x"))) }];
    let status = storage.put_blob(futures::stream::iter(no_header)).await.unwrap_err();
    assert_eq!(reason(&status), "MALFORMED_STREAM");
    let bad_digest = put_messages("NOT-HEX", 1, &[b"x"]);
    let status = storage.put_blob(futures::stream::iter(bad_digest)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "INVALID_DIGEST".to_owned()));
    assert!(std::fs::read_dir(server.data_dir.join("blobs/tmp")).unwrap().next().is_none(), "no temp file is left");
}

#[tokio::test]
async fn upsert_of_a_blob_that_is_not_stored_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"stored").await;
    let request = upsert("a", "d", "w", vec![entry("ok", b"stored"), entry("ghost", b"never uploaded")]);
    let status = server.coordinator().await.upsert(request).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::FailedPrecondition, "BLOB_NOT_STORED".to_owned()));
    assert_eq!(metadata(&status)["path"], "ghost");
    let lying_size = v1::Entry { size: 999, ..entry("ok", b"stored") };
    let status = server.coordinator().await.upsert(upsert("a", "d", "w", vec![lying_size])).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "SIZE_MISMATCH".to_owned()));
    assert_no_draft(&server, "a", "d").await;
}

#[tokio::test]
async fn finish_and_abort_of_an_unknown_draft_are_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let mut coordinator = server.coordinator().await;
    let finish = v1::FinishRequest {
        project: "default".into(),
        artifact: "a".into(),
        distributed_id: "nope".into(),
        ..Default::default()
    };
    let status = coordinator.finish(finish).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::NotFound, "DRAFT_NOT_FOUND".to_owned()));
    let abort = v1::AbortRequest { project: "default".into(), artifact: "a".into(), distributed_id: "nope".into() };
    let status = coordinator.abort(abort).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::NotFound, "DRAFT_NOT_FOUND".to_owned()));
    let seal = v1::SealWriterRequest {
        project: "default".into(),
        artifact: "a".into(),
        distributed_id: "nope".into(),
        writer_id: "w".into(),
    };
    let status = coordinator.seal_writer(seal).await.unwrap_err();
    assert_eq!(reason(&status), "DRAFT_NOT_FOUND");
    assert_no_draft(&server, "a", "nope").await;
}

#[tokio::test]
async fn conflicting_writers_get_already_exists_naming_path_digests_and_writers() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"one").await;
    store_blob(&server, b"two").await;
    let mut coordinator = server.coordinator().await;
    coordinator.upsert(upsert("a", "d", "rank-0", vec![entry("shared.bin", b"one")])).await.unwrap();
    let status = coordinator.upsert(upsert("a", "d", "rank-1", vec![entry("shared.bin", b"two")])).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::AlreadyExists, "PATH_CONFLICT".to_owned()));
    let meta = metadata(&status);
    assert_eq!(meta["path"], "shared.bin");
    assert_eq!((meta["existing_writer"].as_str(), meta["writer"].as_str()), ("rank-0", "rank-1"));
    assert_eq!((meta["existing_sha256"].clone(), meta["sha256"].clone()), (sha256_hex(b"one"), sha256_hex(b"two")));
    // The same writer re-sending the same entry is a safe no-op.
    let retry =
        coordinator.upsert(upsert("a", "d", "rank-0", vec![entry("shared.bin", b"one")])).await.unwrap().into_inner();
    assert_eq!(retry.draft.unwrap().staged_entries, 1);
}

#[tokio::test]
async fn upsert_after_finish_is_failed_precondition_naming_the_version() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"c").await;
    let mut coordinator = server.coordinator().await;
    commit_sealed_draft(&mut coordinator, "d").await;
    let status = coordinator.upsert(upsert("a", "d", "w2", vec![entry("g", b"c")])).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::FailedPrecondition, "DRAFT_COMMITTED".to_owned()));
    assert_eq!(metadata(&status)["version"], "v0");
    let sealed_again = coordinator.upsert(upsert("a", "d", "w", vec![entry("f", b"c")])).await.unwrap_err();
    assert_eq!(reason(&sealed_again), "DRAFT_COMMITTED");
}

#[tokio::test]
async fn sealed_writer_may_resend_identical_entries_but_nothing_new() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"c").await;
    store_blob(&server, b"d").await;
    let mut coordinator = server.coordinator().await;
    coordinator
        .upsert(v1::UpsertRequest { seal: true, ..upsert("a", "d", "w", vec![entry("f", b"c")]) })
        .await
        .unwrap();
    coordinator.upsert(upsert("a", "d", "w", vec![entry("f", b"c")])).await.expect("identical re-send is a no-op");
    let status = coordinator.upsert(upsert("a", "d", "w", vec![entry("g", b"d")])).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::FailedPrecondition, "WRITER_SEALED".to_owned()));
}

#[tokio::test]
async fn duplicate_paths_in_one_request_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"c").await;
    store_blob(&server, b"d").await;
    let request = upsert("a", "d", "w", vec![entry("same", b"c"), entry("same", b"d")]);
    let status = server.coordinator().await.upsert(request).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "DUPLICATE_PATH".to_owned()));
    assert_no_draft(&server, "a", "d").await;

    let header = v1::LogRequest {
        part: Some(v1::log_request::Part::Header(v1::LogHeader {
            project: "default".into(),
            artifact: "l".into(),
            r#type: "t".into(),
            ..Default::default()
        })),
    };
    let batch = |e: Vec<v1::Entry>| v1::LogRequest {
        part: Some(v1::log_request::Part::Batch(v1::EntryBatch { entries: e, ..Default::default() })),
    };
    let messages = vec![header, batch(vec![entry("same", b"c")]), batch(vec![entry("same", b"d")])];
    let status = server.coordinator().await.log(futures::stream::iter(messages)).await.unwrap_err();
    assert_eq!(reason(&status), "DUPLICATE_PATH", "duplicates across batches of one log are caught");
}

/// Paths that differ only in case cannot both be checked out on macOS or Windows, and a
/// path cannot be a file and a directory anywhere: the upsert or log that would make such
/// a version is refused, naming both paths, and changes nothing.
#[tokio::test]
async fn paths_no_file_system_can_hold_together_are_refused_when_staged_or_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"c").await;
    store_blob(&server, b"d").await;
    let mut coordinator = server.coordinator().await;
    let status = coordinator
        .upsert(upsert("a", "d", "w", vec![entry("img/Cat.png", b"c"), entry("img/cat.PNG", b"d")]))
        .await
        .unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "PATH_CASE_COLLISION".to_owned()));
    assert_no_draft(&server, "a", "d").await;

    // Across writers of one draft: rank-1's spelling collides with what rank-0 staged.
    coordinator.upsert(upsert("a", "d", "rank-0", vec![entry("img/Cat.png", b"c")])).await.unwrap();
    let status = coordinator.upsert(upsert("a", "d", "rank-1", vec![entry("IMG/cat.png", b"d")])).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "PATH_CASE_COLLISION".to_owned()));
    let meta = metadata(&status);
    assert_eq!((meta["path"].as_str(), meta["existing_path"].as_str()), ("IMG/cat.png", "img/Cat.png"));
    let draft = v1::GetDraftRequest { project: "default".into(), artifact: "a".into(), distributed_id: "d".into() };
    let view = coordinator.get_draft(draft).await.unwrap().into_inner().draft.unwrap();
    assert_eq!(view.staged_entries, 1, "the refused upsert staged nothing");

    let log = |entries| vec![log_header("l", "t"), log_batch(entries, vec![])];
    let case = log(vec![entry("README", b"c"), entry("readme", b"d")]);
    let status = coordinator.log(futures::stream::iter(case)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "PATH_CASE_COLLISION".to_owned()));
    // A path that would be a file in one entry and a directory in another.
    let shape = log(vec![entry("model", b"c"), entry("Model/weights.bin", b"d")]);
    let status = coordinator.log(futures::stream::iter(shape)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "PATH_FILE_DIRECTORY_CONFLICT".to_owned()));
    let status = coordinator.upsert(upsert("a", "d", "rank-1", vec![entry("img/Cat.png/x", b"d")])).await.unwrap_err();
    assert_eq!(reason(&status), "PATH_FILE_DIRECTORY_CONFLICT", "under a file rank-0 staged");
    let versions = v1::ListVersionsRequest { project: "default".into(), artifact: "l".into(), ..Default::default() };
    let listed = coordinator.list_versions(versions).await;
    assert!(listed.map(|r| r.into_inner().versions.is_empty()).unwrap_or(true), "no version was logged");
}

#[tokio::test]
async fn oversize_messages_and_too_many_entries_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"c").await;
    let too_many: Vec<v1::Entry> = (0..10_001).map(|i| entry(&format!("f{i}"), b"c")).collect();
    let status = server.coordinator().await.upsert(upsert("a", "d", "w", too_many)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "TOO_MANY_ENTRIES".to_owned()));

    // 5,000 entries with ~1 KiB paths exceed the 4 MiB message limit.
    let huge: Vec<v1::Entry> = (0..5_000).map(|i| entry(&format!("{i}/{}", "p".repeat(1000)), b"c")).collect();
    let status = server.coordinator().await.upsert(upsert("a", "d", "w", huge)).await.unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert_no_draft(&server, "a", "d").await;
}

/// A blob larger than the store can hold is refused at its header, with a code clients do
/// not retry: the Rust client gives up at once instead of re-sending for a minute.
#[tokio::test]
async fn a_blob_larger_than_the_free_space_is_refused_at_once_and_not_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    // A sparse file: 15 TiB declared, nothing written.
    let huge = tmp.path().join("huge.bin");
    let size = 15u64 << 40;
    std::fs::File::create(&huge).unwrap().set_len(size).unwrap();
    let client = cairn_client::Client::connect(&server.url, "default").await.unwrap();
    let started = std::time::Instant::now();
    let digest = cairn_core::Digest::of(b"a digest nobody will check");
    let err = client.put_blob_from_file(digest, size, huge).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::ResourceExhausted), "{err}");
    assert_eq!(err.reason(), Some("INSUFFICIENT_STORAGE"));
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "refused without retries: {:?}", started.elapsed());
    assert!(read_blob_dir_is_clean(&server), "nothing was stored");
}

fn read_blob_dir_is_clean(server: &DevServer) -> bool {
    let uploads = server.data_dir.join("blobs").join("uploads");
    std::fs::read_dir(uploads).map(|d| d.count() == 0).unwrap_or(true)
}

#[tokio::test]
async fn a_draft_time_to_live_beyond_the_servers_limit_is_refused_and_opens_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start_with(tmp.path().to_path_buf(), 0, &["--max-draft-ttl-secs", "3600"], &[]);
    store_blob(&server, b"c").await;
    let mut coordinator = server.coordinator().await;
    let forever = v1::UpsertRequest { ttl_seconds: u64::MAX, ..upsert("a", "d", "w", vec![entry("f", b"c")]) };
    let status = coordinator.upsert(forever).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::InvalidArgument, "TTL_TOO_LONG".to_owned()));
    assert_eq!(metadata(&status)["limit_seconds"], "3600");
    let draft = v1::GetDraftRequest { project: "default".into(), artifact: "a".into(), distributed_id: "d".into() };
    assert_eq!(reason(&coordinator.get_draft(draft).await.unwrap_err()), "DRAFT_NOT_FOUND", "no draft was opened");
    let within = v1::UpsertRequest { ttl_seconds: 3600, ..upsert("a", "d", "w", vec![entry("f", b"c")]) };
    assert_eq!(coordinator.upsert(within).await.unwrap().into_inner().draft.unwrap().staged_entries, 1);
}
