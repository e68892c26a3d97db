//! Per-project quotas: a commit that would take a project past its stored bytes, or an
//! upsert that would open a draft past its open drafts, is refused with RESOURCE_EXHAUSTED
//! QUOTA_EXCEEDED and changes nothing; other projects are not affected; only an admin of
//! every project changes limits.

mod support;

use support::{DevServer, write_tree};

const BOOTSTRAP: &str = "bootstrap-token-for-the-quota-tests-0123456789abcdef";

#[test]
fn commits_past_the_byte_limit_are_refused_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start_with(tmp.path().join("data"), 0, &["--project-max-bytes", "1000"], &[]);
    let cwd = tmp.path();
    write_tree(&cwd.join("a"), &[("x.bin", &[1u8; 600])]);
    write_tree(&cwd.join("b"), &[("y.bin", &[2u8; 600])]);
    server.cli(cwd, &["log", "a", "--name", "first", "--type", "dataset"]).ok();

    let refused = server.cli(cwd, &["log", "b", "--name", "second", "--type", "dataset"]);
    refused.fails_with(1, "QUOTA_EXCEEDED");
    assert!(refused.stderr.contains("stored_bytes"), "{}", refused.stderr);
    server.cli(cwd, &["versions", "second"]).fails_with(1, "ARTIFACT_NOT_FOUND");

    // Re-logging what is already the latest version adds no version and is not refused.
    let again = server.cli(cwd, &["log", "a", "--name", "first", "--type", "dataset", "--json"]).json();
    assert_eq!(again["dedup"], true);

    // The usage shows what counts against the limit; another project has its own.
    let usage = server.cli(cwd, &["quota", "show", "--json"]).json();
    assert_eq!((usage["stored_bytes"].as_u64(), usage["versions"].as_u64()), (Some(600), Some(1)));
    assert_eq!((usage["max_bytes"].as_u64(), usage["quota_is_set"].as_bool()), (Some(1000), Some(false)));
    server.cli(cwd, &["log", "b", "--name", "second", "--type", "dataset", "--project", "other"]).ok();

    // A distributed draft whose finish would pass the limit stays open, so that it can be
    // finished once the limit is raised (or aborted).
    server
        .cli(
            cwd,
            &[
                "upsert",
                "b",
                "--name",
                "second",
                "--type",
                "dataset",
                "--distributed-id",
                "job-1",
                "--writer",
                "w",
                "--seal",
            ],
        )
        .ok();
    server.cli(cwd, &["finish", "--name", "second", "--distributed-id", "job-1"]).fails_with(1, "QUOTA_EXCEEDED");
    let draft = server.cli(cwd, &["draft", "--name", "second", "--distributed-id", "job-1", "--json"]).json();
    assert_eq!(draft["state"], "open", "{draft}");
    let raised = server.cli(cwd, &["quota", "set", "--max-bytes", "2KiB", "--max-open-drafts", "0", "--json"]).json();
    assert_eq!((raised["max_bytes"].as_u64(), raised["quota_is_set"].as_bool()), (Some(2048), Some(true)));
    assert!(raised["max_open_drafts"].is_null(), "0 is no limit: {raised}");
    let done = server.cli(cwd, &["finish", "--name", "second", "--distributed-id", "job-1", "--json"]).json();
    assert_eq!(done["version"], "v0");

    // Back on the defaults, the next new version is refused again.
    let reset = server.cli(cwd, &["quota", "reset", "--json"]).json();
    assert_eq!((reset["max_bytes"].as_u64(), reset["stored_bytes"].as_u64()), (Some(1000), Some(1200)));
    write_tree(&cwd.join("c"), &[("z.bin", &[3u8; 10])]);
    server.cli(cwd, &["log", "c", "--name", "third", "--type", "dataset"]).fails_with(1, "QUOTA_EXCEEDED");
}

#[test]
fn opening_a_draft_past_the_open_drafts_limit_is_refused_until_one_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start_with(tmp.path().join("data"), 0, &["--project-max-open-drafts", "2"], &[]);
    let cwd = tmp.path();
    write_tree(&cwd.join("a"), &[("x.txt", b"x")]);
    let upsert = |id: &str| {
        server.cli(cwd, &["upsert", "a", "--name", "ds", "--type", "dataset", "--distributed-id", id, "--writer", "w"])
    };
    upsert("job-1").ok();
    upsert("job-2").ok();
    // More writers of an open draft are not more drafts.
    server
        .cli(cwd, &["upsert", "a", "--name", "ds", "--type", "dataset", "--distributed-id", "job-1", "--writer", "w2"])
        .ok();
    let refused = upsert("job-3");
    refused.fails_with(1, "QUOTA_EXCEEDED");
    assert!(refused.stderr.contains("open_drafts"), "{}", refused.stderr);
    server.cli(cwd, &["draft", "--name", "ds", "--distributed-id", "job-3"]).fails_with(1, "DRAFT_NOT_FOUND");
    assert_eq!(server.cli(cwd, &["quota", "show", "--json"]).json()["open_drafts"], 2);

    server.cli(cwd, &["abort", "--name", "ds", "--distributed-id", "job-2"]).ok();
    upsert("job-3").ok();
}

#[test]
fn only_an_admin_of_every_project_changes_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let server =
        DevServer::start_with(tmp.path().join("data"), 0, &["--auth"], &[("CAIRN_BOOTSTRAP_TOKEN", BOOTSTRAP)]);
    let cwd = tmp.path();
    let operator = [("CAIRN_TOKEN", BOOTSTRAP)];
    let made = server.cli_env(cwd, &["token", "create", "--role", "admin", "--json"], &operator).json();
    let project_admin = [("CAIRN_TOKEN", made["token"].as_str().unwrap())];

    let set = ["quota", "set", "--max-bytes", "1TiB", "--max-open-drafts", "50", "--json"];
    server.cli_env(cwd, &set, &project_admin).fails_with(1, "PROJECT_NOT_ALLOWED");
    let shown = server.cli_env(cwd, &["quota", "show", "--json"], &project_admin).json();
    assert_eq!(shown["quota_is_set"], false, "the refused call changed nothing");

    let set_by_operator = server.cli_env(cwd, &set, &operator).json();
    assert_eq!(set_by_operator["max_bytes"].as_u64(), Some(1 << 40));
    let shown = server.cli_env(cwd, &["quota", "show", "--json"], &project_admin).json();
    assert_eq!((shown["max_open_drafts"].as_u64(), shown["quota_is_set"].as_bool()), (Some(50), Some(true)));
}
