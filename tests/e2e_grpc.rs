//! The gRPC surface directly: health, reflection, concurrent commits, ranged reads,
//! paginated listings and streamed manifests.

mod support;

use cairn_proto::v1::{self, put_blob_request::Part};
use futures::StreamExt;
use support::grpc::{log_batch, log_header, store_blob};
use support::{DevServer, sha256_hex};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

fn log_messages(artifact: &str, entries: Vec<v1::Entry>) -> Vec<v1::LogRequest> {
    let mut messages = vec![log_header(artifact, "t")];
    messages.extend(entries.chunks(5_000).map(|chunk| log_batch(chunk.to_vec(), vec![])));
    messages
}

#[tokio::test]
async fn health_reports_serving_for_both_services_and_reflection_lists_them() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let mut health = HealthClient::new(server.channel().await);
    for service in ["cairn.v1.CoordinatorService", "cairn.v1.StorageService", ""] {
        let response = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner();
        assert_eq!(response.status, ServingStatus::Serving as i32, "{service}");
    }

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses =
        reflection.server_reflection_info(futures::stream::iter(vec![request])).await.unwrap().into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("no service list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"cairn.v1.CoordinatorService".to_owned()), "{names:?}");
    assert!(names.contains(&"cairn.v1.StorageService".to_owned()), "{names:?}");
}

#[tokio::test]
async fn eight_concurrent_logs_of_one_artifact_get_indices_zero_to_seven() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let content = vec![i; 100];
        store_blob(&server, &content).await;
        let mut coordinator = server.coordinator().await;
        let entry = v1::Entry { path: "f".into(), sha256: sha256_hex(&content), size: 100 };
        tasks.push(tokio::spawn(async move {
            let response = coordinator.log(futures::stream::iter(log_messages("race", vec![entry]))).await.unwrap();
            response.into_inner().version.unwrap().index
        }));
    }
    let mut indices = Vec::new();
    for task in tasks {
        indices.push(task.await.unwrap());
    }
    indices.sort_unstable();
    assert_eq!(indices, (0..8).collect::<Vec<u64>>());
}

#[tokio::test]
async fn get_blob_serves_byte_ranges() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let sha = sha256_hex(&content);
    let messages: Vec<v1::PutBlobRequest> = std::iter::once(v1::PutBlobRequest {
        part: Some(Part::Header(v1::PutBlobHeader { sha256: sha.clone(), size: content.len() as u64, offset: 0 })),
    })
    .chain(
        content
            .chunks(1 << 20)
            .map(|c| v1::PutBlobRequest { part: Some(Part::Chunk(bytes::Bytes::copy_from_slice(c))) }),
    )
    .collect();
    server.storage().await.put_blob(futures::stream::iter(messages)).await.unwrap();
    let read = |offset: u64, length: u64| {
        let sha = sha.clone();
        let server = &server;
        async move {
            let request = v1::GetBlobRequest { sha256: sha, offset, length };
            let mut stream = server.storage().await.get_blob(request).await.unwrap().into_inner();
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                out.extend_from_slice(&chunk.unwrap().chunk);
            }
            out
        }
    };
    assert_eq!(read(0, 0).await, content);
    assert_eq!(read(1_048_570, 20).await, &content[1_048_570..1_048_590]);
    assert_eq!(read(2_999_990, 0).await, &content[2_999_990..]);
    let beyond = v1::GetBlobRequest { sha256: sha.clone(), offset: 3_000_001, length: 0 };
    let status = server.storage().await.get_blob(beyond).await.unwrap_err();
    assert_eq!(support::reason(&status), "INVALID_RANGE");
    let unknown = v1::GetBlobRequest { sha256: sha256_hex(b"nothing"), offset: 0, length: 0 };
    let status = server.storage().await.get_blob(unknown).await.unwrap_err();
    assert_eq!((status.code(), support::reason(&status)), (tonic::Code::NotFound, "BLOB_NOT_FOUND".to_owned()));
}

#[tokio::test]
async fn large_manifests_stream_in_pages_and_listings_paginate() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"same content").await;
    let entries: Vec<v1::Entry> = (0..12_345)
        .map(|i| v1::Entry { path: format!("dir{}/file{i:05}", i % 7), sha256: sha256_hex(b"same content"), size: 12 })
        .collect();
    let mut coordinator = server.coordinator().await;
    let version =
        coordinator.log(futures::stream::iter(log_messages("big", entries.clone()))).await.unwrap().into_inner();
    assert_eq!(version.version.unwrap().file_count, 12_345);

    let request = v1::GetManifestRequest { project: "default".into(), reference: "big:v0".into() };
    let mut pages = coordinator.get_manifest(request).await.unwrap().into_inner();
    let mut received = Vec::new();
    let mut page_count = 0;
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        assert!(page.entries.len() <= 1000, "pages stay small");
        page_count += 1;
        received.extend(page.entries.into_iter().map(|e| e.path));
    }
    let mut expected: Vec<String> = entries.into_iter().map(|e| e.path).collect();
    expected.sort();
    assert_eq!(received, expected);
    assert!(page_count >= 13, "{page_count} pages");

    for i in 0..5u8 {
        store_blob(&server, &[i]).await;
        let entry = v1::Entry { path: "x".into(), sha256: sha256_hex(&[i]), size: 1 };
        coordinator.log(futures::stream::iter(log_messages("paged", vec![entry]))).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let request = v1::ListVersionsRequest {
            project: "default".into(),
            artifact: "paged".into(),
            page_size: 2,
            page_token: token,
        };
        let page = coordinator.list_versions(request).await.unwrap().into_inner();
        assert!(page.versions.len() <= 2);
        seen.extend(page.versions.iter().map(|v| v.index));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    let request = v1::ListArtifactsRequest { project: "default".into(), page_size: 1, page_token: String::new() };
    let first = coordinator.list_artifacts(request).await.unwrap().into_inner();
    assert_eq!(first.artifacts[0].artifact, "big");
    let request =
        v1::ListArtifactsRequest { project: "default".into(), page_size: 1, page_token: first.next_page_token };
    let second = coordinator.list_artifacts(request).await.unwrap().into_inner();
    assert_eq!(second.artifacts[0].artifact, "paged");
    assert_eq!(second.artifacts[0].version_count, 5);
}

#[tokio::test]
async fn a_corrupted_manifest_object_is_reported_as_data_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"c").await;
    let entry = v1::Entry { path: "f".into(), sha256: sha256_hex(b"c"), size: 1 };
    let mut coordinator = server.coordinator().await;
    let version = coordinator.log(futures::stream::iter(log_messages("m", vec![entry]))).await.unwrap().into_inner();
    let digest = version.version.unwrap().digest;
    let path = server.data_dir.join(format!("blobs/objects/manifests/sha256/{digest}"));
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 2;
    bytes[last] = b'g';
    std::fs::write(&path, bytes).unwrap();
    let request = v1::GetManifestRequest { project: "default".into(), reference: "m".into() };
    let mut pages = coordinator.get_manifest(request).await.unwrap().into_inner();
    let mut error = None;
    while let Some(page) = pages.next().await {
        if let Err(status) = page {
            error = Some(status);
        }
    }
    let status = error.expect("a corrupt manifest must not stream successfully");
    assert_eq!(status.code(), tonic::Code::DataLoss);
    assert_eq!(support::reason(&status), "CORRUPT_MANIFEST");
}

/// A Log retried with its request id after its first attempt committed (the answer was
/// lost) returns that first version, even though another commit landed in between; an
/// Upsert retried with its request id is answered again, not applied twice.
#[tokio::test]
async fn retries_with_the_same_request_id_return_the_first_result() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let mut coordinator = server.coordinator().await;
    let (first, other) = (b"first content".to_vec(), b"other content".to_vec());
    store_blob(&server, &first).await;
    store_blob(&server, &other).await;
    let entry =
        |content: &[u8]| v1::Entry { path: "f".into(), sha256: sha256_hex(content), size: content.len() as u64 };
    let with_id = |mut messages: Vec<v1::LogRequest>, id: &str| {
        if let Some(v1::log_request::Part::Header(header)) = &mut messages[0].part {
            header.request_id = id.into();
        }
        messages
    };
    let log = |messages: Vec<v1::LogRequest>| {
        let mut coordinator = coordinator.clone();
        async move { coordinator.log(futures::stream::iter(messages)).await.unwrap().into_inner() }
    };
    let original = log(with_id(log_messages("retried", vec![entry(&first)]), "log-req-1")).await;
    let between = log(log_messages("retried", vec![entry(&other)])).await;
    let retried = log(with_id(log_messages("retried", vec![entry(&first)]), "log-req-1")).await;
    let (original, between, retried) = (original.version.unwrap(), between.version.unwrap(), retried.version.unwrap());
    assert_eq!((original.index, between.index), (0, 1));
    assert_eq!(retried.index, 0, "the retry returns the version its first attempt made");
    let fresh = log(with_id(log_messages("retried", vec![entry(&first)]), "log-req-2")).await;
    assert_eq!(fresh.version.unwrap().index, 2, "a new request id is a new commit");

    // An edit draft removes `f` from v0; its retry must not fail with PATH_NOT_FOUND.
    let removal = v1::UpsertRequest {
        project: "default".into(),
        artifact: "retried".into(),
        r#type: "t".into(),
        distributed_id: "edit-1".into(),
        writer_id: "editor".into(),
        removals: vec!["f".into()],
        base: "v0".into(),
        request_id: "upsert-req-1".into(),
        ..Default::default()
    };
    coordinator.upsert(removal.clone()).await.expect("first attempt");
    let again = coordinator.upsert(removal.clone()).await.expect("the retry is answered, not refused");
    assert_eq!(again.into_inner().draft.unwrap().staged_entries, 0);
    let other_request = v1::UpsertRequest { request_id: "upsert-req-2".into(), ..removal };
    let status = coordinator.upsert(other_request).await.unwrap_err();
    assert_eq!(support::reason(&status), "PATH_NOT_FOUND", "a different request is applied, and refused");
}

#[tokio::test]
async fn update_version_replaces_metadata_only_and_refuses_bad_metadata_changing_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    store_blob(&server, b"content").await;
    let entry = v1::Entry { path: "a.txt".into(), sha256: sha256_hex(b"content"), size: 7 };
    let mut coordinator = server.coordinator().await;
    let logged = coordinator.log(futures::stream::iter(log_messages("props", vec![entry]))).await.unwrap().into_inner();
    let before = logged.version.unwrap();

    let update = |reference: &str, metadata: &str| v1::UpdateVersionRequest {
        project: "default".into(),
        reference: reference.into(),
        metadata_json: metadata.into(),
    };
    let updated = coordinator
        .update_version(update("props:v0", r#"{"description": "reviewed", "score": 0.91}"#))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    assert_eq!(updated.metadata_json, r#"{"description":"reviewed","score":0.91}"#);
    assert_eq!((updated.digest.as_str(), updated.file_count), (before.digest.as_str(), 1), "content unchanged");

    for (reference, metadata, code, reason) in [
        ("props:v0", "[1, 2]", tonic::Code::InvalidArgument, "INVALID_METADATA"),
        ("props:v0", "{not json", tonic::Code::InvalidArgument, "INVALID_METADATA"),
        ("props:v9", "{}", tonic::Code::NotFound, "VERSION_NOT_FOUND"),
        ("nothing:v0", "{}", tonic::Code::NotFound, "ARTIFACT_NOT_FOUND"),
    ] {
        let status = coordinator.update_version(update(reference, metadata)).await.unwrap_err();
        assert_eq!(status.code(), code, "{reference} {metadata}");
        assert_eq!(cairn_proto::error_info(&status).unwrap().0, reason, "{reference} {metadata}");
    }
    let read = coordinator
        .get_version(v1::GetVersionRequest { project: "default".into(), reference: "props".into() })
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    assert_eq!(read.metadata_json, updated.metadata_json, "refused updates changed nothing");
}

fn whole(content: &[u8]) -> v1::WholeBlob {
    v1::WholeBlob { sha256: sha256_hex(content), content: bytes::Bytes::copy_from_slice(content) }
}

async fn missing(server: &DevServer, contents: &[&[u8]]) -> Vec<String> {
    let request =
        v1::FindMissingBlobsRequest { sha256: contents.iter().map(|c| sha256_hex(c)).collect(), ..Default::default() };
    server.coordinator().await.find_missing_blobs(request).await.unwrap().into_inner().missing
}

#[tokio::test]
async fn put_blobs_and_get_blobs_carry_many_small_blobs_each_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let contents: Vec<Vec<u8>> =
        (0..300u32).map(|i| format!("small blob {i}\n").repeat(1 + i as usize % 50).into()).collect();
    let largest = vec![7u8; cairn_proto::MAX_BATCHED_BLOB as usize];
    let (first, second) = contents.split_at(120);
    let messages = vec![
        v1::PutBlobsRequest { blobs: first.iter().map(|c| whole(c)).collect() },
        v1::PutBlobsRequest { blobs: second.iter().map(|c| whole(c)).chain([whole(&largest)]).collect() },
    ];
    let stored = server.storage().await.put_blobs(futures::stream::iter(messages)).await.unwrap().into_inner();
    assert_eq!(stored.stored, 301);
    assert_eq!(stored.bytes_stored, contents.iter().map(|c| c.len() as u64).sum::<u64>() + largest.len() as u64);
    let refs: Vec<&[u8]> = contents.iter().map(Vec::as_slice).chain([largest.as_slice()]).collect();
    assert!(missing(&server, &refs).await.is_empty(), "every blob is stored");

    // Read back in the order asked, duplicates included, each whole.
    let mut asked: Vec<&[u8]> = refs.iter().rev().copied().collect();
    asked.push(refs[0]);
    let request = v1::GetBlobsRequest { sha256: asked.iter().map(|c| sha256_hex(c)).collect() };
    let mut stream = server.storage().await.get_blobs(request).await.unwrap().into_inner();
    let mut got = Vec::new();
    while let Some(message) = stream.next().await {
        got.push(message.unwrap().blob.unwrap());
    }
    assert_eq!(got.len(), asked.len());
    for (blob, content) in got.iter().zip(&asked) {
        assert_eq!((blob.sha256.as_str(), blob.content.as_ref()), (sha256_hex(content).as_str(), *content));
    }
}

#[tokio::test]
async fn put_blobs_refuses_a_wrong_digest_an_oversized_blob_and_a_bad_digest_storing_none_of_them() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let good: &[u8] = b"good bytes";
    let lying =
        v1::WholeBlob { sha256: sha256_hex(b"what was promised"), content: bytes::Bytes::from_static(b"other") };
    let message = v1::PutBlobsRequest { blobs: vec![lying] };
    let status = server.storage().await.put_blobs(futures::stream::iter(vec![message])).await.unwrap_err();
    assert_eq!((status.code(), support::reason(&status)), (tonic::Code::DataLoss, "DIGEST_MISMATCH".to_owned()));
    assert_eq!(missing(&server, &[b"what was promised", b"other"]).await.len(), 2, "nothing stored");

    let oversized = vec![1u8; cairn_proto::MAX_BATCHED_BLOB as usize + 1];
    let message = v1::PutBlobsRequest { blobs: vec![whole(&oversized)] };
    let status = server.storage().await.put_blobs(futures::stream::iter(vec![message])).await.unwrap_err();
    assert_eq!((status.code(), support::reason(&status)), (tonic::Code::InvalidArgument, "BLOB_TOO_LARGE".to_owned()));
    assert_eq!(missing(&server, &[&oversized]).await.len(), 1);

    let bad = v1::WholeBlob { sha256: "not-a-digest".into(), content: bytes::Bytes::from_static(b"x") };
    let message = v1::PutBlobsRequest { blobs: vec![whole(good), bad] };
    let status = server.storage().await.put_blobs(futures::stream::iter(vec![message])).await.unwrap_err();
    assert_eq!(support::reason(&status), "INVALID_DIGEST");
    // The message is checked whole before any of it is written.
    assert_eq!(missing(&server, &[good]).await.len(), 1);
    let leftovers = std::fs::read_dir(server.data_dir.join("blobs/tmp")).unwrap().count();
    assert_eq!(leftovers, 0, "no temporary object is left behind");
}

#[tokio::test]
async fn get_blobs_refuses_too_many_unknown_and_oversized_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let too_many = v1::GetBlobsRequest { sha256: vec![sha256_hex(b"x"); cairn_proto::MAX_BLOBS_PER_CALL + 1] };
    let status = server.storage().await.get_blobs(too_many).await.unwrap_err();
    assert_eq!((status.code(), support::reason(&status)), (tonic::Code::InvalidArgument, "TOO_MANY_BLOBS".to_owned()));
    let bad = v1::GetBlobsRequest { sha256: vec!["zz".into()] };
    assert_eq!(support::reason(&server.storage().await.get_blobs(bad).await.unwrap_err()), "INVALID_DIGEST");

    let big = vec![3u8; cairn_proto::MAX_BATCHED_BLOB as usize + 10];
    store_blob(&server, &big).await;
    store_blob(&server, b"small").await;
    for (asked, code, reason) in [
        (vec![sha256_hex(b"small"), sha256_hex(b"never stored")], tonic::Code::NotFound, "BLOB_NOT_FOUND"),
        (vec![sha256_hex(b"small"), sha256_hex(&big)], tonic::Code::InvalidArgument, "BLOB_TOO_LARGE"),
    ] {
        let mut stream =
            server.storage().await.get_blobs(v1::GetBlobsRequest { sha256: asked }).await.unwrap().into_inner();
        let first = stream.next().await.unwrap().unwrap().blob.unwrap();
        assert_eq!(first.content.as_ref(), b"small");
        let status = stream.next().await.unwrap().unwrap_err();
        assert_eq!((status.code(), support::reason(&status)), (code, reason.to_owned()));
    }
}

#[tokio::test]
async fn a_log_changing_a_few_files_still_checks_every_blob_the_latest_version_lacks() {
    // Blobs the latest version refers to are taken as stored; anything else — a new
    // digest, or a known digest declared with another size — is checked and refused.
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let (kept, added) = (b"kept content".to_vec(), b"added content".to_vec());
    store_blob(&server, &kept).await;
    let entry =
        |path: &str, content: &[u8], size: u64| v1::Entry { path: path.into(), sha256: sha256_hex(content), size };
    let log = |entries: Vec<v1::Entry>| {
        let server = &server;
        async move { server.coordinator().await.log(futures::stream::iter(log_messages("few", entries))).await }
    };
    // One digest under two sizes in one log: both are checked, before any version exists.
    let twins = vec![entry("a", &kept, kept.len() as u64), entry("c", &kept, 3)];
    let status = server.coordinator().await.log(futures::stream::iter(log_messages("twins", twins))).await.unwrap_err();
    assert_eq!(support::reason(&status), "SIZE_MISMATCH");
    log(vec![entry("a", &kept, kept.len() as u64)]).await.unwrap();

    let refused = log(vec![entry("a", &kept, kept.len() as u64), entry("b", &added, added.len() as u64)]).await;
    let status = refused.unwrap_err();
    assert_eq!(
        (status.code(), support::reason(&status)),
        (tonic::Code::FailedPrecondition, "BLOB_NOT_STORED".to_owned())
    );
    assert!(status.message().contains('b'), "{}", status.message());
    let lying = log(vec![entry("a", &kept, kept.len() as u64), entry("c", &kept, 3)]).await.unwrap_err();
    assert_eq!(support::reason(&lying), "SIZE_MISMATCH");

    store_blob(&server, &added).await;
    let second = log(vec![entry("a", &kept, kept.len() as u64), entry("b", &added, added.len() as u64)]).await;
    assert_eq!(second.unwrap().into_inner().version.unwrap().index, 1);
}
