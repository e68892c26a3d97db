//! Authentication and authorization on every RPC of both services, against `cairn dev
//! --auth`: for each RPC and each bad caller (no token, an unknown, revoked or expired
//! one, a token of another project, a reader writing) the right code and ErrorInfo reason,
//! and afterwards the metadata and the blobs exactly as before.

mod support;

use std::path::Path;
use std::time::Duration;

use cairn_proto::v1::storage_service_client::StorageServiceClient;
use cairn_proto::v1::{self, coordinator_service_client::CoordinatorServiceClient, put_blob_request::Part};
use support::grpc::{log_batch, log_header, put_blob_messages};
use support::{DevServer, sha256_hex, write_tree};
use tonic::transport::Channel;
use tonic::{Code, Request};

const BOOTSTRAP: &str = "bootstrap-token-for-the-authorization-matrix-0123456789";

/// The role an RPC needs, and whether it names a project.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Needs {
    Reader,
    Writer,
    Admin,
    /// An admin of every project (`*`): calls that span them all.
    AdminOfAll,
}

/// Every RPC: name, role needed, true when the request names a project.
const RPCS: &[(&str, Needs, bool)] = &[
    ("Upsert", Needs::Writer, true),
    ("SealWriter", Needs::Writer, true),
    ("Finish", Needs::Writer, true),
    ("Abort", Needs::Writer, true),
    ("GetDraft", Needs::Reader, true),
    ("Log", Needs::Writer, true),
    ("GetVersion", Needs::Reader, true),
    ("ListVersions", Needs::Reader, true),
    ("ListArtifacts", Needs::Reader, true),
    ("GetManifest", Needs::Reader, true),
    ("SetAlias", Needs::Writer, true),
    ("DeleteAlias", Needs::Writer, true),
    ("UpdateVersion", Needs::Writer, true),
    ("FindMissingBlobs", Needs::Writer, false),
    ("ListStorageWorkers", Needs::Reader, false),
    ("DeleteVersion", Needs::Admin, true),
    ("DeleteArtifact", Needs::Admin, true),
    ("CollectGarbage", Needs::AdminOfAll, false),
    ("Fsck", Needs::AdminOfAll, false),
    ("SetRetention", Needs::Admin, true),
    ("CreateToken", Needs::Admin, true),
    ("ListTokens", Needs::Admin, true),
    ("RevokeToken", Needs::Admin, true),
    ("GetQuota", Needs::Reader, true),
    ("SetQuota", Needs::Admin, true),
    ("PutBlob", Needs::Writer, false),
    ("GetBlob", Needs::Reader, false),
    ("GetUploadStatus", Needs::Writer, false),
    ("PutBlobs", Needs::Writer, false),
    ("GetBlobs", Needs::Reader, false),
];

fn with_token<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

/// `message` with `token` and a read grant.
fn with_token_and_grant<T>(message: T, token: Option<&str>, grant: &str) -> Request<T> {
    let mut request = with_token(message, token);
    request.metadata_mut().insert(cairn_proto::READ_GRANT_HEADER, grant.parse().unwrap());
    request
}

/// The read grant GetManifest hands out for `reference` in `project`.
async fn read_grant(channel: &Channel, project: &str, reference: &str, token: &str) -> String {
    let request = v1::GetManifestRequest { project: project.into(), reference: reference.into() };
    let mut c = CoordinatorServiceClient::new(channel.clone());
    let mut pages = c.get_manifest(with_token(request, Some(token))).await.unwrap().into_inner();
    let first = pages.message().await.unwrap().expect("a first manifest message");
    assert!(!first.read_grant.is_empty(), "a server with authentication hands out a read grant");
    first.read_grant
}

/// Makes one valid call of `rpc` with `token`; the status when refused.
async fn call(channel: &Channel, rpc: &str, token: Option<&str>, victim: &str) -> Result<(), tonic::Status> {
    let mut c = CoordinatorServiceClient::new(channel.clone());
    let mut s = StorageServiceClient::new(channel.clone());
    let project = || "default".to_owned();
    let blob = b"a blob the matrix tries to store".to_vec();
    let entry = v1::Entry { path: "m.bin".into(), sha256: sha256_hex(&blob), size: blob.len() as u64 };
    let draft = |extra: fn(&mut v1::UpsertRequest)| {
        let mut request = v1::UpsertRequest {
            project: project(),
            artifact: "ds".into(),
            r#type: "dataset".into(),
            distributed_id: "matrix-job".into(),
            writer_id: "rank-0".into(),
            ..Default::default()
        };
        extra(&mut request);
        request
    };
    let t = token;
    match rpc {
        "Upsert" => c.upsert(with_token(draft(|_| {}), t)).await.map(drop),
        "SealWriter" => c
            .seal_writer(with_token(
                v1::SealWriterRequest {
                    project: project(),
                    artifact: "ds".into(),
                    distributed_id: "matrix-job".into(),
                    writer_id: "rank-0".into(),
                },
                t,
            ))
            .await
            .map(drop),
        "Finish" => c
            .finish(with_token(
                v1::FinishRequest {
                    project: project(),
                    artifact: "ds".into(),
                    distributed_id: "matrix-job".into(),
                    force: true,
                    ..Default::default()
                },
                t,
            ))
            .await
            .map(drop),
        "Abort" => c
            .abort(with_token(
                v1::AbortRequest { project: project(), artifact: "ds".into(), distributed_id: "matrix-job".into() },
                t,
            ))
            .await
            .map(drop),
        "GetDraft" => c
            .get_draft(with_token(
                v1::GetDraftRequest { project: project(), artifact: "ds".into(), distributed_id: "matrix-job".into() },
                t,
            ))
            .await
            .map(drop),
        "Log" => {
            let messages = vec![
                v1::LogRequest {
                    part: Some(v1::log_request::Part::Header(v1::LogHeader {
                        project: project(),
                        artifact: "ds".into(),
                        r#type: "dataset".into(),
                        ..Default::default()
                    })),
                },
                v1::LogRequest {
                    part: Some(v1::log_request::Part::Batch(v1::EntryBatch {
                        entries: vec![entry.clone()],
                        ..Default::default()
                    })),
                },
            ];
            c.log(with_token(futures::stream::iter(messages), t)).await.map(drop)
        }
        "GetVersion" => c
            .get_version(with_token(v1::GetVersionRequest { project: project(), reference: "ds".into() }, t))
            .await
            .map(drop),
        "ListVersions" => c
            .list_versions(with_token(
                v1::ListVersionsRequest { project: project(), artifact: "ds".into(), ..Default::default() },
                t,
            ))
            .await
            .map(drop),
        "ListArtifacts" => c
            .list_artifacts(with_token(v1::ListArtifactsRequest { project: project(), ..Default::default() }, t))
            .await
            .map(drop),
        "GetManifest" => {
            let request = v1::GetManifestRequest { project: project(), reference: "ds".into() };
            let mut stream = c.get_manifest(with_token(request, t)).await?.into_inner();
            stream.message().await.map(drop)
        }
        "SetAlias" => c
            .set_alias(with_token(
                v1::SetAliasRequest { project: project(), reference: "ds:v0".into(), alias: "matrix".into() },
                t,
            ))
            .await
            .map(drop),
        "DeleteAlias" => c
            .delete_alias(with_token(
                v1::DeleteAliasRequest { project: project(), artifact: "ds".into(), alias: "best".into() },
                t,
            ))
            .await
            .map(drop),
        "UpdateVersion" => c
            .update_version(with_token(
                v1::UpdateVersionRequest {
                    project: project(),
                    reference: "ds:v0".into(),
                    metadata_json: r#"{"changed": true}"#.into(),
                },
                t,
            ))
            .await
            .map(drop),
        "FindMissingBlobs" => c
            .find_missing_blobs(with_token(
                v1::FindMissingBlobsRequest { sha256: vec![entry.sha256.clone()], ..Default::default() },
                t,
            ))
            .await
            .map(drop),
        "ListStorageWorkers" => {
            c.list_storage_workers(with_token(v1::ListStorageWorkersRequest::default(), t)).await.map(drop)
        }
        "DeleteVersion" => c
            .delete_version(with_token(
                v1::DeleteVersionRequest { project: project(), reference: "ds:v0".into(), force: true },
                t,
            ))
            .await
            .map(drop),
        "DeleteArtifact" => c
            .delete_artifact(with_token(
                v1::DeleteArtifactRequest { project: project(), artifact: "ds".into(), force: true },
                t,
            ))
            .await
            .map(drop),
        "CollectGarbage" => c
            .collect_garbage(with_token(
                v1::CollectGarbageRequest { dry_run: false, grace_seconds: Some(0), purge_trash: false },
                t,
            ))
            .await
            .map(drop),
        "Fsck" => c.fsck(with_token(v1::FsckRequest { deep: true, repair: true }, t)).await.map(drop),
        "SetRetention" => c
            .set_retention(with_token(
                v1::SetRetentionRequest { project: project(), artifact: "ds".into(), keep_last: 1 },
                t,
            ))
            .await
            .map(drop),
        "CreateToken" => c
            .create_token(with_token(
                v1::CreateTokenRequest {
                    project: project(),
                    role: v1::TokenRole::Admin as i32,
                    expires_in_seconds: None,
                },
                t,
            ))
            .await
            .map(drop),
        "ListTokens" => c.list_tokens(with_token(v1::ListTokensRequest { project: project() }, t)).await.map(drop),
        "GetQuota" => c.get_quota(with_token(v1::GetQuotaRequest { project: project() }, t)).await.map(drop),
        "SetQuota" => c
            .set_quota(with_token(
                v1::SetQuotaRequest {
                    project: project(),
                    quota: Some(v1::ProjectQuota { max_bytes: Some(1), max_open_drafts: Some(1) }),
                },
                t,
            ))
            .await
            .map(drop),
        "RevokeToken" => {
            c.revoke_token(with_token(v1::RevokeTokenRequest { id: victim.to_owned() }, t)).await.map(drop)
        }
        "PutBlob" => {
            let messages = vec![
                v1::PutBlobRequest {
                    part: Some(Part::Header(v1::PutBlobHeader {
                        sha256: entry.sha256.clone(),
                        size: entry.size,
                        offset: 0,
                    })),
                },
                v1::PutBlobRequest { part: Some(Part::Chunk(bytes::Bytes::from(blob))) },
            ];
            s.put_blob(with_token(futures::stream::iter(messages), t)).await.map(drop)
        }
        "GetBlob" => {
            let grant = read_grant(channel, "default", "ds:latest", BOOTSTRAP).await;
            let request = v1::GetBlobRequest { sha256: sha256_hex(b"content of a.txt"), ..Default::default() };
            let mut stream = s.get_blob(with_token_and_grant(request, t, &grant)).await?.into_inner();
            stream.message().await.map(drop)
        }
        "GetUploadStatus" => s
            .get_upload_status(with_token(v1::GetUploadStatusRequest { sha256: entry.sha256.clone() }, t))
            .await
            .map(drop),
        "PutBlobs" => {
            let blobs = vec![v1::WholeBlob { sha256: entry.sha256.clone(), content: bytes::Bytes::from(blob) }];
            let messages = vec![v1::PutBlobsRequest { blobs }];
            s.put_blobs(with_token(futures::stream::iter(messages), t)).await.map(drop)
        }
        "GetBlobs" => {
            let grant = read_grant(channel, "default", "ds:latest", BOOTSTRAP).await;
            let request = v1::GetBlobsRequest { sha256: vec![sha256_hex(b"content of a.txt")] };
            let mut stream = s.get_blobs(with_token_and_grant(request, t, &grant)).await?.into_inner();
            stream.message().await.map(drop)
        }
        other => panic!("no call for {other}"),
    }
}

/// What a refused call may not have changed: blobs, versions, aliases, tokens, drafts.
fn snapshot(server: &DevServer, cwd: &Path) -> (Vec<String>, String, String, String, String) {
    let mut blobs: Vec<String> = walk(&server.data_dir.join("blobs"));
    blobs.sort();
    let admin = [("CAIRN_TOKEN", BOOTSTRAP)];
    let versions = server.cli_env(cwd, &["versions", "ds", "--json"], &admin).ok();
    let artifacts = server.cli_env(cwd, &["ls", "--json"], &admin).ok();
    let tokens = server.cli_env(cwd, &["token", "list", "--all-projects", "--json"], &admin).ok();
    let draft = server.cli_env(cwd, &["draft", "--name", "ds", "--distributed-id", "matrix-job", "--json"], &admin);
    (blobs, versions, artifacts, tokens, draft.stderr)
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(format!("{} {}", path.display(), entry.metadata().map(|m| m.len()).unwrap_or(0)));
            }
        }
    }
    out
}

fn token(server: &DevServer, cwd: &Path, args: &[&str]) -> (String, String) {
    let mut all = vec!["token", "create", "--json"];
    all.extend_from_slice(args);
    let made = server.cli_env(cwd, &all, &[("CAIRN_TOKEN", BOOTSTRAP)]).json();
    (made["id"].as_str().unwrap().to_owned(), made["token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn every_rpc_refuses_every_bad_caller_with_its_reason_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let server =
        DevServer::start_with(tmp.path().join("data"), 0, &["--auth"], &[("CAIRN_BOOTSTRAP_TOKEN", BOOTSTRAP)]);
    let cwd = tmp.path();
    write_tree(&cwd.join("files"), &[("a.txt", b"content of a.txt")]);
    let admin = [("CAIRN_TOKEN", BOOTSTRAP)];
    server.cli_env(cwd, &["log", "files", "--name", "ds", "--type", "dataset", "--alias", "best"], &admin).ok();

    let (_, reader) = token(&server, cwd, &["--role", "reader"]);
    let (_, other_project) = token(&server, cwd, &["--role", "writer", "--project", "nlp"]);
    let (_, project_admin) = token(&server, cwd, &["--role", "admin"]);
    let (revoked_id, revoked) = token(&server, cwd, &["--role", "admin"]);
    server.cli_env(cwd, &["token", "revoke", &revoked_id], &admin).ok();
    let (_, expired) = token(&server, cwd, &["--role", "admin", "--expires-in", "1"]);
    let (victim, _) = token(&server, cwd, &["--role", "writer"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let unknown = format!("cairn_0123456789ab_{}", "0".repeat(64));

    let before = snapshot(&server, cwd);
    let channel = server.channel().await;
    let mut checked = 0;
    for &(rpc, needs, names_project) in RPCS {
        let mut expect = vec![
            ("no token", None, Code::Unauthenticated, "TOKEN_MISSING"),
            ("unknown token", Some(unknown.as_str()), Code::Unauthenticated, "TOKEN_UNKNOWN"),
            ("revoked token", Some(revoked.as_str()), Code::Unauthenticated, "TOKEN_REVOKED"),
            ("expired token", Some(expired.as_str()), Code::Unauthenticated, "TOKEN_EXPIRED"),
        ];
        if needs == Needs::AdminOfAll {
            // Even an admin of one project: the call reaches every project's data.
            for (who, token) in
                [("reader", &reader), ("writer of another project", &other_project), ("project admin", &project_admin)]
            {
                expect.push((who, Some(token.as_str()), Code::PermissionDenied, "PROJECT_NOT_ALLOWED"));
            }
        } else if names_project {
            expect.push(("other project", Some(other_project.as_str()), Code::PermissionDenied, "PROJECT_NOT_ALLOWED"));
        } else if needs > Needs::Writer {
            expect.push((
                "writer of another project",
                Some(other_project.as_str()),
                Code::PermissionDenied,
                "ROLE_TOO_LOW",
            ));
        }
        if needs > Needs::Reader && needs != Needs::AdminOfAll {
            expect.push(("reader", Some(reader.as_str()), Code::PermissionDenied, "ROLE_TOO_LOW"));
        }
        for (who, token, code, reason) in expect {
            let status = call(&channel, rpc, token, &victim).await.expect_err(&format!("{rpc} by {who} succeeded"));
            assert_eq!(status.code(), code, "{rpc} by {who}: {status:?}");
            let info = cairn_proto::error_info(&status).unwrap_or_else(|| panic!("{rpc} by {who}: no ErrorInfo"));
            assert_eq!(info.0, reason, "{rpc} by {who}");
            checked += 1;
        }
    }
    assert!(checked >= RPCS.len() * 5, "{checked} refusals checked");
    assert_eq!(snapshot(&server, cwd), before, "refused calls changed something");

    // The same calls succeed for the right caller: the matrix refused by rule, not always.
    call(&channel, "GetVersion", Some(&reader), &victim).await.unwrap();
    call(&channel, "GetBlob", Some(&reader), &victim).await.unwrap();
    call(&channel, "FindMissingBlobs", Some(&other_project), &victim).await.unwrap();
    call(&channel, "UpdateVersion", Some(BOOTSTRAP), &victim).await.unwrap();
    call(&channel, "Fsck", Some(BOOTSTRAP), &victim).await.unwrap();
    call(&channel, "CollectGarbage", Some(BOOTSTRAP), &victim).await.unwrap();
}

/// Blobs are stored once whatever project logged them: a valid token is not enough to read
/// one. A reader needs a grant from a version it may read that holds the blob.
#[tokio::test]
async fn a_reader_cannot_read_another_projects_blob_by_naming_its_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let server =
        DevServer::start_with(tmp.path().join("data"), 0, &["--auth"], &[("CAIRN_BOOTSTRAP_TOKEN", BOOTSTRAP)]);
    let cwd = tmp.path();
    let admin = [("CAIRN_TOKEN", BOOTSTRAP)];
    write_tree(&cwd.join("mine"), &[("a.txt", b"vision data"), ("b.txt", b"more vision data")]);
    write_tree(&cwd.join("theirs"), &[("secret.txt", b"the nlp team's secret")]);
    server.cli_env(cwd, &["log", "mine", "--name", "ds", "--type", "dataset"], &admin).ok();
    server.cli_env(cwd, &["log", "theirs", "--name", "s", "--type", "dataset", "--project", "nlp"], &admin).ok();
    let (_, reader) = token(&server, cwd, &["--role", "reader"]);
    let channel = server.channel().await;
    let mut s = StorageServiceClient::new(channel.clone());
    let secret = sha256_hex(b"the nlp team's secret");
    let mine = sha256_hex(b"vision data");
    let get = |sha256: &str| v1::GetBlobRequest { sha256: sha256.to_owned(), ..Default::default() };
    let refused = |status: tonic::Status, reason: &str| {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        assert_eq!(cairn_proto::error_info(&status).unwrap().0, reason, "{status:?}");
    };

    let own_grant = read_grant(&channel, "default", "ds:latest", &reader).await;
    let mut read = s.get_blob(with_token_and_grant(get(&mine), Some(&reader), &own_grant)).await.unwrap().into_inner();
    assert_eq!(read.message().await.unwrap().unwrap().chunk.as_ref(), b"vision data", "its own version's blob");

    // No grant, a grant of its own version for another blob, a forged or altered grant,
    // and another project's genuine grant: all refused.
    refused(s.get_blob(with_token(get(&secret), Some(&reader))).await.unwrap_err(), "GRANT_MISSING");
    let status = s.get_blob(with_token_and_grant(get(&secret), Some(&reader), &own_grant)).await.unwrap_err();
    refused(status, "BLOB_NOT_GRANTED");
    let both = v1::GetBlobsRequest { sha256: vec![mine.clone(), secret.clone()] };
    let status = s.get_blobs(with_token_and_grant(both, Some(&reader), &own_grant)).await.unwrap_err();
    refused(status, "BLOB_NOT_GRANTED");
    let theirs = read_grant(&channel, "nlp", "s:latest", BOOTSTRAP).await;
    let forged = theirs.replacen(":nlp:", ":default:", 1);
    let status = s.get_blob(with_token_and_grant(get(&secret), Some(&reader), &forged)).await.unwrap_err();
    refused(status, "GRANT_INVALID");
    let status = s.get_blob(with_token_and_grant(get(&secret), Some(&reader), &theirs)).await.unwrap_err();
    refused(status, "PROJECT_NOT_ALLOWED");

    // The CLI fetches and sends grants by itself.
    let out = cwd.join("out");
    server.cli_env(cwd, &["get", "ds", "-o", out.to_str().unwrap()], &[("CAIRN_TOKEN", reader.as_str())]).ok();
    assert_eq!(std::fs::read(out.join("b.txt")).unwrap(), b"more vision data");
    let nlp_reader = [("CAIRN_TOKEN", reader.as_str())];
    server.cli_env(cwd, &["get", "s", "--project", "nlp"], &nlp_reader).fails_with(1, "PROJECT_NOT_ALLOWED");
}

fn log_messages(artifact: &str, entries: Vec<v1::Entry>, receipts: Vec<String>) -> Vec<v1::LogRequest> {
    vec![log_header(artifact, "dataset"), log_batch(entries, receipts)]
}

/// A writer learns nothing about what other projects store, and cannot put a blob into
/// its version by naming its digest: it must send the bytes, which earns it a receipt.
#[tokio::test]
async fn a_writer_cannot_probe_for_or_claim_a_blob_it_has_not_uploaded() {
    let tmp = tempfile::tempdir().unwrap();
    let server =
        DevServer::start_with(tmp.path().join("data"), 0, &["--auth"], &[("CAIRN_BOOTSTRAP_TOKEN", BOOTSTRAP)]);
    let cwd = tmp.path();
    let admin = [("CAIRN_TOKEN", BOOTSTRAP)];
    let secret: &[u8] = b"the nlp team's secret model weights";
    write_tree(&cwd.join("theirs"), &[("weights.bin", secret)]);
    server.cli_env(cwd, &["log", "theirs", "--name", "m", "--type", "model", "--project", "nlp"], &admin).ok();
    let (_, writer) = token(&server, cwd, &["--role", "writer"]);
    let (_, nlp_writer) = token(&server, cwd, &["--role", "writer", "--project", "nlp"]);
    let channel = server.channel().await;
    let mut c = CoordinatorServiceClient::new(channel.clone());
    let mut s = StorageServiceClient::new(channel.clone());
    let digest = sha256_hex(secret);
    let entry = v1::Entry { path: "stolen.bin".into(), sha256: digest.clone(), size: secret.len() as u64 };
    let denied = |status: tonic::Status, reason: &str| {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        assert_eq!(cairn_proto::error_info(&status).unwrap().0, reason, "{status:?}");
    };

    // No probe tells that the blob exists.
    for (project, artifact) in [("", ""), ("default", "ds")] {
        let ask = v1::FindMissingBlobsRequest {
            sha256: vec![digest.clone()],
            project: project.into(),
            artifact: artifact.into(),
        };
        let missing = c.find_missing_blobs(with_token(ask, Some(&writer))).await.unwrap().into_inner().missing;
        assert_eq!(missing, vec![digest.clone()], "reported missing, though stored");
    }
    let status = v1::GetUploadStatusRequest { sha256: digest.clone() };
    assert!(!s.get_upload_status(with_token(status, Some(&writer))).await.unwrap().into_inner().present);

    // Naming it is not enough to claim it, in a draft or a log; nothing is made.
    let upsert = v1::UpsertRequest {
        project: "default".into(),
        artifact: "ds".into(),
        r#type: "dataset".into(),
        distributed_id: "job".into(),
        writer_id: "w".into(),
        entries: vec![entry.clone()],
        ..Default::default()
    };
    denied(c.upsert(with_token(upsert.clone(), Some(&writer))).await.unwrap_err(), "UPLOAD_RECEIPT_MISSING");
    let draft = v1::GetDraftRequest { project: "default".into(), artifact: "ds".into(), distributed_id: "job".into() };
    assert_eq!(c.get_draft(with_token(draft, Some(&writer))).await.unwrap_err().code(), Code::NotFound);
    let log = log_messages("ds", vec![entry.clone()], vec![]);
    denied(c.log(with_token(futures::stream::iter(log), Some(&writer))).await.unwrap_err(), "UPLOAD_RECEIPT_MISSING");

    // Sending other bytes under its digest earns nothing, though the blob is stored.
    let wrong = vec![b'x'; secret.len()];
    let status = s.put_blob(with_token(futures::stream::iter(put_blob_messages(&digest, &wrong)), Some(&writer)));
    assert_eq!(status.await.unwrap_err().code(), Code::DataLoss);

    // A receipt is bound to its blob, its project and the cluster's key.
    let own: &[u8] = b"a file the writer really has";
    let own_sha = sha256_hex(own);
    let put = s.put_blob(with_token(futures::stream::iter(put_blob_messages(&own_sha, own)), Some(&writer)));
    let receipt = put.await.unwrap().into_inner().receipt;
    assert!(receipt.contains(&own_sha), "{receipt}");
    let forged = receipt.replace(&own_sha, &digest);
    let log = log_messages("ds", vec![entry.clone()], vec![forged]);
    denied(c.log(with_token(futures::stream::iter(log), Some(&writer))).await.unwrap_err(), "UPLOAD_RECEIPT_INVALID");
    let put = s.put_blob(with_token(futures::stream::iter(put_blob_messages(&digest, secret)), Some(&nlp_writer)));
    let nlp_receipt = put.await.unwrap().into_inner().receipt;
    let log = log_messages("ds", vec![entry.clone()], vec![nlp_receipt]);
    let status = c.log(with_token(futures::stream::iter(log), Some(&writer))).await.unwrap_err();
    denied(status, "UPLOAD_RECEIPT_OTHER_PROJECT");

    // Whoever has the bytes sends them all (the stored blob is not written again) and
    // gets its receipt; then the blob is theirs to name.
    let put = s.put_blob(with_token(futures::stream::iter(put_blob_messages(&digest, secret)), Some(&writer)));
    let answer = put.await.unwrap().into_inner();
    assert!(answer.already_present && !answer.receipt.is_empty(), "{answer:?}");
    let log = log_messages("ds", vec![entry.clone()], vec![answer.receipt]);
    c.log(with_token(futures::stream::iter(log), Some(&writer))).await.expect("a proven blob is accepted");
    // Its latest version now holds it: naming it again needs no receipt.
    let ask =
        v1::FindMissingBlobsRequest { sha256: vec![digest.clone()], project: "default".into(), artifact: "ds".into() };
    assert!(c.find_missing_blobs(with_token(ask, Some(&writer))).await.unwrap().into_inner().missing.is_empty());
    let again =
        vec![entry.clone(), v1::Entry { path: "own.bin".into(), sha256: own_sha.clone(), size: own.len() as u64 }];
    let log = log_messages("ds", again, vec![receipt]);
    c.log(with_token(futures::stream::iter(log), Some(&writer))).await.expect("latest blobs need no receipt");

    // The CLI does all of it by itself: first version, unchanged and changed re-logs, and
    // the same files under another artifact (sent again: a blob of another artifact is
    // not told to exist).
    let as_writer = [("CAIRN_TOKEN", writer.as_str())];
    write_tree(&cwd.join("mine"), &[("a.txt", b"alpha"), ("b.txt", b"beta")]);
    server.cli_env(cwd, &["log", "mine", "--name", "cli", "--type", "dataset"], &as_writer).ok();
    let same = server.cli_env(cwd, &["log", "mine", "--name", "cli", "--type", "dataset", "--json"], &as_writer).json();
    assert_eq!(same["dedup"], true);
    write_tree(&cwd.join("mine"), &[("c.txt", b"gamma")]);
    let changed =
        server.cli_env(cwd, &["log", "mine", "--name", "cli", "--type", "dataset", "--json"], &as_writer).json();
    assert_eq!((changed["version"].as_str(), changed["uploaded_bytes"].as_u64()), (Some("v1"), Some(5)));
    let other = server.cli_env(cwd, &["log", "mine", "--name", "cli-copy", "--type", "dataset", "--json"], &as_writer);
    assert_eq!(other.json()["uploaded_bytes"].as_u64(), Some(14), "all three files sent again");
    let edit = ["edit", "cli:v1", "--add", "theirs/weights.bin=w.bin", "--json"];
    let edited = server.cli_env(cwd, &edit, &as_writer).json();
    assert_eq!(edited["version"], "v2", "an edit sends and proves its new file");
}

/// Starts an upload of `content` with `token`, sends its first `sent` bytes and stalls
/// until the worker ends the stream (its idle timeout), which keeps the stored parts for a
/// resume; returns the offset to resume from.
async fn interrupted_upload(server: &DevServer, token: &str, content: &[u8], sent: usize) -> u64 {
    let (tx, rx) = tokio::sync::mpsc::channel::<v1::PutBlobRequest>(64);
    let mut messages = put_blob_messages(&sha256_hex(content), &[]);
    if let Some(Part::Header(header)) = &mut messages[0].part {
        header.size = content.len() as u64;
    }
    tx.send(messages.remove(0)).await.unwrap();
    for chunk in content[..sent].chunks(1 << 20) {
        tx.send(v1::PutBlobRequest { part: Some(Part::Chunk(bytes::Bytes::copy_from_slice(chunk))) }).await.unwrap();
    }
    let mut storage = server.storage().await;
    let request = with_token(tokio_stream::wrappers::ReceiverStream::new(rx), Some(token));
    let status = storage.put_blob(request).await.unwrap_err();
    assert_eq!(cairn_proto::error_info(&status).unwrap().0, "UPLOAD_INTERRUPTED", "{status:?}");
    drop(tx);
    let ask = v1::GetUploadStatusRequest { sha256: sha256_hex(content) };
    storage.get_upload_status(with_token(ask, Some(token))).await.unwrap().into_inner().offset
}

/// A resumed upload proves only the bytes sent after the resume point: whoever completes
/// an upload another project began gets no receipt until it sends the blob whole; the
/// project that began it resumes and gets its receipt as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_another_projects_interrupted_upload_earns_no_receipt() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--auth", "--stream-idle-timeout-secs", "1"];
    let server = DevServer::start_with(tmp.path().join("data"), 0, &args, &[("CAIRN_BOOTSTRAP_TOKEN", BOOTSTRAP)]);
    let cwd = tmp.path();
    let (_, vision) = token(&server, cwd, &["--role", "writer"]);
    let (_, nlp) = token(&server, cwd, &["--role", "writer", "--project", "nlp"]);
    let resume = |content: &[u8], offset: u64| {
        let header = v1::PutBlobHeader { sha256: sha256_hex(content), size: content.len() as u64, offset };
        let chunks = content[offset as usize..]
            .chunks(1 << 20)
            .map(|chunk| v1::PutBlobRequest { part: Some(Part::Chunk(bytes::Bytes::copy_from_slice(chunk))) });
        std::iter::once(v1::PutBlobRequest { part: Some(Part::Header(header)) }).chain(chunks).collect::<Vec<_>>()
    };

    let secret: Vec<u8> = (0..20_000_000u32).map(|i| (i % 251) as u8).collect();
    let offset = interrupted_upload(&server, &vision, &secret, 9 << 20).await;
    assert_eq!(offset, 8 << 20, "the stored part is kept for a resume");
    let mut s = server.storage().await;
    let status = s.put_blob(with_token(futures::stream::iter(resume(&secret, offset)), Some(&nlp))).await.unwrap_err();
    assert_eq!(status.code(), Code::Aborted, "{status:?}");
    assert_eq!(cairn_proto::error_info(&status).unwrap().0, "RESUMED_UPLOAD_UNPROVEN");
    let whole = s.put_blob(with_token(futures::stream::iter(resume(&secret, 0)), Some(&nlp))).await.unwrap();
    let whole = whole.into_inner();
    assert!(whole.already_present && whole.receipt.contains(":nlp:"), "{whole:?}");

    let own: Vec<u8> = (0..20_000_000u32).map(|i| (i % 241) as u8).collect();
    let offset = interrupted_upload(&server, &vision, &own, 9 << 20).await;
    let done = s.put_blob(with_token(futures::stream::iter(resume(&own, offset)), Some(&vision))).await.unwrap();
    let done = done.into_inner();
    assert!(!done.already_present && done.receipt.contains(":default:"), "its own upload, resumed: {done:?}");
}

#[test]
fn a_coordinator_or_worker_without_tokens_refuses_to_start_unless_told_to_serve_anyone() {
    let tmp = tempfile::tempdir().unwrap();
    let worker = std::process::Command::new(support::cairn_bin())
        .args(["worker", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("w"))
        .output()
        .unwrap();
    assert!(!worker.status.success());
    assert!(String::from_utf8_lossy(&worker.stderr).contains("--insecure-no-auth"), "the refusal names the way out");
    let dev = std::process::Command::new(support::cairn_bin())
        .args(["dev", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(tmp.path().join("d"))
        .output()
        .unwrap();
    assert!(!dev.status.success(), "cairn dev beyond loopback needs --auth or --insecure-no-auth");
    assert!(String::from_utf8_lossy(&dev.stderr).contains("--auth"));
}

#[test]
fn mtls_refuses_clients_without_a_certificate_of_the_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = cairn_testkit::TestPki::generate(&tmp.path().join("pki"), "mtls").unwrap();
    let stranger = cairn_testkit::TestPki::generate(&tmp.path().join("other"), "stranger").unwrap();
    let server = DevServer::start_with(
        tmp.path().join("data"),
        0,
        &[],
        &[
            ("CAIRN_TLS_CERT", pki.server_cert.to_str().unwrap()),
            ("CAIRN_TLS_KEY", pki.server_key.to_str().unwrap()),
            ("CAIRN_CLIENT_CA", pki.ca.to_str().unwrap()),
        ],
    );
    let url = server.url.replace("http://", "https://");
    let cwd = tmp.path();
    write_tree(&cwd.join("files"), &[("a.txt", b"over mTLS")]);
    let ls = |env: &[(&str, &str)]| {
        let mut all = vec![("CAIRN_SERVER", url.as_str())];
        all.extend_from_slice(env);
        server.cli_env(cwd, &["ls", "--json"], &all)
    };
    let ca = ("CAIRN_CA_CERT", pki.ca.to_str().unwrap());
    let (cert, key) = (pki.client_cert.to_str().unwrap(), pki.client_key.to_str().unwrap());
    let (other_cert, other_key) = (stranger.client_cert.to_str().unwrap(), stranger.client_key.to_str().unwrap());

    assert_ne!(ls(&[ca]).code, 0, "no client certificate: refused");
    assert_ne!(ls(&[ca, ("CAIRN_CLIENT_CERT", other_cert), ("CAIRN_CLIENT_KEY", other_key)]).code, 0, "another CA's");
    assert_ne!(ls(&[("CAIRN_CLIENT_CERT", cert), ("CAIRN_CLIENT_KEY", key)]).code, 0, "the server's CA not trusted");
    assert_ne!(server.cli_env(cwd, &["ls"], &[ca]).code, 0, "plaintext to a TLS port");

    // The right certificate, and the whole lifecycle works over mTLS.
    let good = [ca, ("CAIRN_CLIENT_CERT", cert), ("CAIRN_CLIENT_KEY", key), ("CAIRN_SERVER", url.as_str())];
    server.cli_env(cwd, &["log", "files", "--name", "secure", "--type", "t"], &good).ok();
    server.cli_env(cwd, &["get", "secure", "-o", "back"], &good).ok();
    assert_eq!(std::fs::read(cwd.join("back/a.txt")).unwrap(), b"over mTLS");
}
