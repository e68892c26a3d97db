//! Deleting versions and artifacts through the CLI and gRPC: `latest` moves to the newest
//! remaining version, indices are never reused, aliased versions are refused unless
//! forced, and a refusal changes nothing.

mod support;

use std::path::Path;

use cairn_proto::v1;
use support::{DevServer, reason, write_tree};

/// Logs `content` as the next version of `name` from a directory of its own.
fn log(server: &DevServer, work: &Path, name: &str, content: &str) -> serde_json::Value {
    let dir = work.join(format!("src-{content}"));
    write_tree(&dir, &[("f.txt", content.as_bytes())]);
    server.cli(work, &["log", dir.to_str().unwrap(), "--name", name, "--type", "t", "--json"]).json()
}

fn indices(server: &DevServer, work: &Path, name: &str) -> Vec<u64> {
    let listed = server.cli(work, &["versions", name, "--json"]).json();
    listed.as_array().unwrap().iter().map(|v| v["index"].as_u64().unwrap()).collect()
}

#[test]
fn deleting_the_latest_moves_latest_down_and_its_index_is_never_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, work) = (DevServer::start(tmp.path()), tmp.path());
    for content in ["zero", "one", "two"] {
        log(&server, work, "ds", content);
    }
    let deleted = server.cli(work, &["delete", "ds:v2", "--json"]).json();
    assert_eq!(deleted["name"], "ds");
    assert_eq!(deleted["deleted"], serde_json::json!(["v2"]));
    assert_eq!(deleted["latest"], "v1");
    assert_eq!(indices(&server, work, "ds"), [0, 1]);
    server.cli(work, &["get", "ds", "-o", "latest"]).ok();
    assert_eq!(std::fs::read_to_string(work.join("latest/f.txt")).unwrap(), "one", "a bare name is the new latest");

    let next = log(&server, work, "ds", "three");
    assert_eq!(next["version"], "v3", "v2 is not reused");
    server.cli(work, &["get", "ds:v2"]).fails_with(1, "VERSION_NOT_FOUND");

    // A middle version: latest stays.
    let deleted = server.cli(work, &["delete", "ds:v1", "--json"]).json();
    assert_eq!((deleted["deleted"].clone(), deleted["latest"].clone()), (serde_json::json!(["v1"]), "v3".into()));
    assert_eq!(indices(&server, work, "ds"), [0, 3]);
    let listed = server.cli(work, &["ls", "--json"]).json();
    assert_eq!(listed[0]["versions"], 2, "ls counts the remaining versions");
}

#[test]
fn an_aliased_version_is_refused_unchanged_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, work) = (DevServer::start(tmp.path()), tmp.path());
    log(&server, work, "model", "a");
    log(&server, work, "model", "b");
    server.cli(work, &["alias", "set", "model:v0", "best"]).ok();
    server.cli(work, &["delete", "model:best"]).fails_with(1, "VERSION_HAS_ALIASES");
    assert_eq!(indices(&server, work, "model"), [0, 1], "the refusal deleted nothing");
    server.cli(work, &["get", "model:best", "-o", "best"]).ok();

    let forced = server.cli(work, &["delete", "model:v0", "--force", "--json"]).json();
    assert_eq!(forced["deleted"], serde_json::json!(["v0"]));
    assert_eq!(forced["deleted_aliases"], serde_json::json!(["best"]));
    server.cli(work, &["get", "model:best"]).fails_with(1, "NOT_FOUND");
    assert_eq!(indices(&server, work, "model"), [1]);
}

#[test]
fn deleting_an_artifact_removes_every_version_and_later_versions_continue_its_indices() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, work) = (DevServer::start(tmp.path()), tmp.path());
    for content in ["p", "q", "r"] {
        log(&server, work, "preds", content);
    }
    log(&server, work, "other", "kept");
    server.cli(work, &["alias", "set", "preds:v1", "prod"]).ok();
    server.cli(work, &["delete", "preds", "--all"]).fails_with(1, "VERSION_HAS_ALIASES");
    assert_eq!(indices(&server, work, "preds"), [0, 1, 2]);
    server.cli(work, &["delete", "preds:v1", "--all"]).fails_with(2, "--all takes an artifact name");

    let deleted = server.cli(work, &["delete", "preds", "--all", "--force", "--json"]).json();
    assert_eq!(deleted["deleted"], serde_json::json!(["v0", "v1", "v2"]));
    assert_eq!(deleted["latest"], serde_json::Value::Null);
    let listed = server.cli(work, &["ls", "--json"]).json();
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["other"], "a deleted artifact is not listed; others are untouched");
    server.cli(work, &["get", "preds"]).fails_with(1, "NOT_FOUND");
    server.cli(work, &["delete", "preds", "--all"]).fails_with(1, "ARTIFACT_NOT_FOUND");

    let again = log(&server, work, "preds", "p");
    assert_eq!(again["version"], "v3", "indices continue after the artifact was deleted");
}

#[tokio::test]
async fn delete_rpcs_refuse_unknown_versions_and_report_what_they_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    log(&server, tmp.path(), "g", "x");
    let mut coordinator = server.coordinator().await;
    let unknown = v1::DeleteVersionRequest { project: "default".into(), reference: "g:v7".into(), force: false };
    let status = coordinator.delete_version(unknown).await.unwrap_err();
    assert_eq!((status.code(), reason(&status)), (tonic::Code::NotFound, "VERSION_NOT_FOUND".to_owned()));
    let bad =
        v1::DeleteVersionRequest { project: "default".into(), reference: "g@sha256:not-hex".into(), force: false };
    let status = coordinator.delete_version(bad).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let request = v1::DeleteVersionRequest { project: "default".into(), reference: "g".into(), force: false };
    let response = coordinator.delete_version(request).await.unwrap().into_inner();
    assert_eq!((response.artifact.as_str(), response.deleted_indices, response.latest_index), ("g", vec![0], None));
}
