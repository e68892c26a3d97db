//! The artifact lifecycle end to end through the `cairn` CLI against a real `cairn dev`.

mod support;

use std::time::Duration;

use support::{DevServer, read_tree, sha256_hex, write_tree};

#[test]
fn log_creates_v0_and_relogging_identical_content_is_a_dedup_hit() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("out"), &[("a/b.bin", b"bytes of b"), ("c.txt", b"c")]);

    assert_eq!(server.cli(tmp.path(), &["log", "out", "--name", "ds", "--type", "dataset"]).ok(), "ds:v0");
    let again = server.cli(tmp.path(), &["log", "out", "--name", "ds", "--type", "dataset", "--json"]).json();
    assert_eq!(again["version"], "v0");
    assert_eq!(again["dedup"], true);
    assert_eq!(again["uploaded_bytes"], 0);
    assert_eq!(again["files"], 2);
    assert_eq!(again["bytes"], 11);
    let versions = server.cli(tmp.path(), &["versions", "ds", "--json"]).json();
    assert_eq!(versions.as_array().unwrap().len(), 1);

    write_tree(&tmp.path().join("out"), &[("c.txt", b"changed")]);
    let second = server.cli(tmp.path(), &["log", "out", "--name", "ds", "--type", "dataset", "--json"]).json();
    assert_eq!((second["version"].as_str(), second["dedup"].as_bool()), (Some("v1"), Some(false)));
    assert_eq!(second["uploaded_bytes"], 7, "only the changed file is uploaded");

    let manifest = server.cli(tmp.path(), &["manifest", "ds:v0", "--json"]).json();
    let paths: Vec<&str> =
        manifest["entries"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["a/b.bin", "c.txt"]);
    assert_eq!(manifest["entries"][0]["sha256"], sha256_hex(b"bytes of b"));
}

#[test]
fn a_file_path_contributes_an_entry_named_after_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(tmp.path(), &[("deep/dir/model.pt", b"weights")]);
    server.cli(tmp.path(), &["log", "deep/dir/model.pt", "--name", "m", "--type", "model"]).ok();
    let manifest = server.cli(tmp.path(), &["manifest", "m", "--json"]).json();
    assert_eq!(manifest["entries"][0]["path"], "model.pt");
}

#[test]
fn four_concurrent_writers_make_one_version_whose_download_reproduces_every_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let mut expected = Vec::new();
    for rank in 0..4 {
        let dir = tmp.path().join(format!("rank{rank}"));
        let shard = format!("shard-{rank}").repeat(1000 + rank * 37);
        write_tree(&dir, &[(&format!("shards/{rank}.bin"), shard.as_bytes()), (&format!("logs/{rank}.txt"), b"ok")]);
        expected.push((format!("logs/{rank}.txt"), b"ok".to_vec()));
        expected.push((format!("shards/{rank}.bin"), shard.into_bytes()));
    }
    expected.sort();
    std::thread::scope(|scope| {
        for rank in 0..4 {
            let (server, root) = (&server, tmp.path());
            scope.spawn(move || {
                let dir = format!("rank{rank}");
                let writer = format!("rank-{rank}");
                server
                    .cli(
                        root,
                        &[
                            "upsert",
                            &dir,
                            "--name",
                            "ckpt",
                            "--type",
                            "checkpoint",
                            "--distributed-id",
                            "job-7",
                            "--writer",
                            &writer,
                            "--seal",
                        ],
                    )
                    .ok();
            });
        }
    });
    let finished = server.cli(tmp.path(), &["finish", "--name", "ckpt", "--distributed-id", "job-7", "--json"]).json();
    assert_eq!((finished["version"].as_str(), finished["files"].as_u64()), (Some("v0"), Some(8)));
    let again = server.cli(tmp.path(), &["finish", "--name", "ckpt", "--distributed-id", "job-7", "--json"]).json();
    assert_eq!(again["digest"], finished["digest"], "a repeated finish returns the original result");
    assert_eq!(again["version"], "v0");

    let get = server.cli(tmp.path(), &["get", "ckpt:v0", "-o", "restored", "--json"]).json();
    assert_eq!(get["files"], 8);
    assert_eq!(read_tree(&tmp.path().join("restored")), expected, "no byte differs and nothing extra is written");
    let again = server.cli(tmp.path(), &["get", "ckpt", "-o", "restored", "--json"]).json();
    assert_eq!((again["downloaded_bytes"].as_u64(), again["skipped_files"].as_u64()), (Some(0), Some(8)));
}

#[test]
fn get_defaults_to_a_directory_named_after_the_artifact() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("src"), &[("x.txt", b"x")]);
    server.cli(tmp.path(), &["log", "src", "--name", "preds", "--type", "predictions"]).ok();
    server.cli(tmp.path(), &["get", "preds"]).ok();
    assert_eq!(read_tree(&tmp.path().join("preds")), vec![("x.txt".to_owned(), b"x".to_vec())]);
}

#[test]
fn conflicting_writers_are_refused_with_path_conflict_and_the_draft_is_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("a"), &[("same.txt", b"from a")]);
    write_tree(&tmp.path().join("b"), &[("same.txt", b"from b"), ("other.txt", b"o")]);
    let upsert = |dir: &str, writer: &str| {
        server.cli(
            tmp.path(),
            &["upsert", dir, "--name", "c", "--type", "t", "--distributed-id", "d1", "--writer", writer],
        )
    };
    upsert("a", "wa").ok();
    let refused = upsert("b", "wb");
    refused.fails_with(1, "PATH_CONFLICT");
    assert!(refused.stderr.contains("same.txt"), "{}", refused.stderr);
    let draft = server.cli(tmp.path(), &["draft", "--name", "c", "--distributed-id", "d1", "--json"]).json();
    assert_eq!(draft["draft_files"], 1, "nothing of the refused upsert was staged");
    assert_eq!(draft["unsealed_writers"], serde_json::json!(["wa"]));
}

#[test]
fn upsert_after_finish_is_refused_and_names_the_version() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("a"), &[("f", b"1")]);
    let upsert = |writer: &str| {
        server.cli(
            tmp.path(),
            &["upsert", "a", "--name", "c", "--type", "t", "--distributed-id", "d", "--writer", writer, "--seal"],
        )
    };
    upsert("w1").ok();
    assert_eq!(server.cli(tmp.path(), &["finish", "--name", "c", "--distributed-id", "d"]).ok(), "c:v0");
    let late = upsert("w2");
    late.fails_with(1, "DRAFT_COMMITTED");
    assert!(late.stderr.contains("v0"), "{}", late.stderr);
    let versions = server.cli(tmp.path(), &["versions", "c", "--json"]).json();
    assert_eq!(versions.as_array().unwrap().len(), 1, "no new version was started");
}

#[test]
fn finish_refuses_unsealed_writers_then_waits_until_they_seal() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("a"), &[("a.txt", b"a")]);
    write_tree(&tmp.path().join("b"), &[("b.txt", b"b")]);
    server
        .cli(
            tmp.path(),
            &["upsert", "a", "--name", "w", "--type", "t", "--distributed-id", "j", "--writer", "ra", "--seal"],
        )
        .ok();
    server
        .cli(tmp.path(), &["upsert", "b", "--name", "w", "--type", "t", "--distributed-id", "j", "--writer", "rb"])
        .ok();

    let refused = server.cli(tmp.path(), &["finish", "--name", "w", "--distributed-id", "j"]);
    refused.fails_with(1, "WRITERS_STILL_ACTIVE");
    assert!(refused.stderr.contains("rb"), "the refusal lists the unsealed writer: {}", refused.stderr);

    let short_wait = server.cli(tmp.path(), &["finish", "--name", "w", "--distributed-id", "j", "--wait", "1"]);
    short_wait.fails_with(1, "WRITERS_STILL_ACTIVE");

    std::thread::scope(|scope| {
        let waiting = scope.spawn(|| {
            server.cli(tmp.path(), &["finish", "--name", "w", "--distributed-id", "j", "--wait", "30", "--json"])
        });
        std::thread::sleep(Duration::from_millis(700));
        assert!(!waiting.is_finished(), "finish --wait returned before the writer sealed");
        server.cli(tmp.path(), &["upsert", "--seal", "--name", "w", "--distributed-id", "j", "--writer", "rb"]).ok();
        let finished = waiting.join().unwrap().json();
        assert_eq!((finished["version"].as_str(), finished["files"].as_u64()), (Some("v0"), Some(2)));
    });
}

#[test]
fn expected_writers_and_force() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("a"), &[("a.txt", b"a")]);
    server
        .cli(
            tmp.path(),
            &[
                "upsert",
                "a",
                "--name",
                "e",
                "--type",
                "t",
                "--distributed-id",
                "j",
                "--writer",
                "r0",
                "--seal",
                "--expected-writers",
                "2",
            ],
        )
        .ok();
    let refused = server.cli(tmp.path(), &["finish", "--name", "e", "--distributed-id", "j"]);
    refused.fails_with(1, "WRITERS_STILL_ACTIVE");
    server
        .cli(tmp.path(), &["finish", "--name", "e", "--distributed-id", "j", "--expected-writers", "3"])
        .fails_with(1, "EXPECTED_WRITERS_MISMATCH");
    let forced =
        server.cli(tmp.path(), &["finish", "--name", "e", "--distributed-id", "j", "--force", "--json"]).json();
    assert_eq!((forced["version"].as_str(), forced["files"].as_u64()), (Some("v0"), Some(1)));
}

#[test]
fn abort_ends_the_draft_and_its_id_is_not_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("a"), &[("a.txt", b"a")]);
    let upsert = || {
        server.cli(
            tmp.path(),
            &["upsert", "a", "--name", "x", "--type", "t", "--distributed-id", "gone", "--writer", "w"],
        )
    };
    upsert().ok();
    let aborted = server.cli(tmp.path(), &["abort", "--name", "x", "--distributed-id", "gone", "--json"]).json();
    assert_eq!(aborted["state"], "aborted");
    upsert().fails_with(1, "DRAFT_ABORTED");
    server.cli(tmp.path(), &["finish", "--name", "x", "--distributed-id", "gone"]).fails_with(1, "DRAFT_ABORTED");
    assert_eq!(server.cli(tmp.path(), &["ls", "--json"]).json(), serde_json::json!([]));
}

#[test]
fn an_idle_draft_expires_after_its_ttl_and_refuses_further_work() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("a"), &[("a.txt", b"a")]);
    let staged = server
        .cli(
            tmp.path(),
            &[
                "upsert",
                "a",
                "--name",
                "x",
                "--type",
                "t",
                "--distributed-id",
                "idle",
                "--writer",
                "w",
                "--ttl",
                "1",
                "--json",
            ],
        )
        .json();
    assert_eq!(staged["state"], "open");
    assert_eq!(count_files(&server.data_dir.join("blobs/objects/staging")), 1, "one staged segment");
    std::thread::sleep(Duration::from_millis(2500));
    let draft = server.cli(tmp.path(), &["draft", "--name", "x", "--distributed-id", "idle", "--json"]).json();
    assert_eq!(draft["state"], "expired");
    server
        .cli(tmp.path(), &["upsert", "a", "--name", "x", "--type", "t", "--distributed-id", "idle", "--writer", "w"])
        .fails_with(1, "DRAFT_EXPIRED");
    server
        .cli(tmp.path(), &["finish", "--name", "x", "--distributed-id", "idle", "--force"])
        .fails_with(1, "DRAFT_EXPIRED");
    // The staged segment the upsert wrote stays until a collection finds the draft ended
    // (a collection marking while it was open must still read it), then goes.
    let staging = server.data_dir.join("blobs/objects/staging");
    assert_eq!(count_files(&staging), 1);
    let collected = server.cli(tmp.path(), &["gc", "--grace", "0", "--json"]).json();
    assert_eq!(collected["deleted_staging"], 1, "{collected}");
    assert_eq!(count_files(&staging), 0, "staged data was not released");
}

#[test]
fn edit_adds_replaces_and_removes_and_leaves_the_base_version_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("v0"), &[("keep.txt", b"keep"), ("replace.txt", b"old"), ("remove.txt", b"bye")]);
    server.cli(tmp.path(), &["log", "v0", "--name", "ds", "--type", "dataset"]).ok();
    let v0_before = server.cli(tmp.path(), &["manifest", "ds:v0", "--json"]).json();

    write_tree(tmp.path(), &[("new/replace.txt", b"new content"), ("added.bin", b"added"), ("dir/x.txt", b"x")]);
    let edited = server
        .cli(
            tmp.path(),
            &[
                "edit",
                "ds:v0",
                "--add",
                "new/replace.txt=replace.txt",
                "--add",
                "added.bin",
                "--add",
                "dir=sub",
                "--remove",
                "remove.txt",
                "--alias",
                "best",
                "--json",
            ],
        )
        .json();
    assert_eq!((edited["version"].as_str(), edited["dedup"].as_bool()), (Some("v1"), Some(false)));
    assert_eq!(edited["uploaded_bytes"], 11 + 5 + 1, "only the added and replaced bytes were sent");

    server.cli(tmp.path(), &["get", "ds:best", "-o", "v1out"]).ok();
    assert_eq!(
        read_tree(&tmp.path().join("v1out")),
        vec![
            ("added.bin".to_owned(), b"added".to_vec()),
            ("keep.txt".to_owned(), b"keep".to_vec()),
            ("replace.txt".to_owned(), b"new content".to_vec()),
            ("sub/x.txt".to_owned(), b"x".to_vec()),
        ]
    );
    assert_eq!(server.cli(tmp.path(), &["manifest", "ds:v0", "--json"]).json(), v0_before, "v0 is immutable");
    server.cli(tmp.path(), &["get", "ds:v0", "-o", "v0out"]).ok();
    assert_eq!(read_tree(&tmp.path().join("v0out")).len(), 3);

    let missing = server.cli(tmp.path(), &["edit", "ds:v1", "--remove", "not-there.txt"]);
    missing.fails_with(1, "PATH_NOT_FOUND");
    assert_eq!(
        server.cli(tmp.path(), &["versions", "ds", "--json"]).json().as_array().unwrap().len(),
        2,
        "nothing committed"
    );
}

#[test]
fn aliases_latest_moves_with_commits_and_user_aliases_move_when_set() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    for (i, content) in [&b"zero"[..], b"one", b"two"].iter().enumerate() {
        write_tree(&tmp.path().join(format!("d{i}")), &[("f", content)]);
        let alias: &[&str] = if i == 0 { &["--alias", "prod"] } else { &[] };
        let dir = format!("d{i}");
        let mut args = vec!["log", dir.as_str(), "--name", "a", "--type", "t"];
        args.extend_from_slice(alias);
        server.cli(tmp.path(), &args).ok();
    }
    let resolve = |reference: &str| {
        let manifest = server.cli(tmp.path(), &["manifest", reference, "--json"]).json();
        manifest["version"].as_str().unwrap().to_owned()
    };
    assert_eq!(resolve("a"), "v2");
    assert_eq!(resolve("a:latest"), "v2");
    assert_eq!(resolve("a:prod"), "v0");
    let moved = server.cli(tmp.path(), &["alias", "set", "a:v1", "prod", "--json"]).json();
    assert_eq!(moved["version"], "v1");
    assert_eq!(resolve("a:prod"), "v1");
    assert_eq!(resolve("default/a:prod"), "v1");
    let versions = server.cli(tmp.path(), &["versions", "a", "--json"]).json();
    assert_eq!(versions[1]["aliases"], serde_json::json!(["prod"]));
    assert_eq!(versions[2]["aliases"], serde_json::json!(["latest"]));
    let digest = versions[0]["digest"].as_str().unwrap().to_owned();
    assert_eq!(resolve(&format!("a@sha256:{digest}")), "v0");
    server.cli(tmp.path(), &["alias", "set", "a:v1", "v3"]).fails_with(1, "INVALID_NAME");
    server.cli(tmp.path(), &["alias", "set", "a:v1", "latest"]).fails_with(1, "INVALID_NAME");
    server.cli(tmp.path(), &["alias", "delete", "a", "prod"]).ok();
    server.cli(tmp.path(), &["manifest", "a:prod"]).fails_with(1, "VERSION_NOT_FOUND");
}

#[test]
fn projects_are_implicit_and_listing_an_unknown_project_is_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    assert_eq!(server.cli(tmp.path(), &["ls"]).ok(), "");
    assert_eq!(server.cli(tmp.path(), &["ls", "--json", "--project", "nobody"]).json(), serde_json::json!([]));
    write_tree(&tmp.path().join("d"), &[("f", b"f")]);
    server.cli_env(tmp.path(), &["log", "d", "--name", "n", "--type", "t"], &[("CAIRN_PROJECT", "team-a")]).ok();
    let listed = server.cli(tmp.path(), &["ls", "--project", "team-a", "--json"]).json();
    assert_eq!(listed[0]["name"], "n");
    assert_eq!(listed[0]["latest"], "v0");
    assert_eq!(server.cli(tmp.path(), &["ls", "--json"]).json(), serde_json::json!([]));
}

#[test]
fn writer_defaults_to_cairn_writer_and_usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("d"), &[("f", b"f")]);
    let staged = server
        .cli_env(
            tmp.path(),
            &["upsert", "d", "--name", "n", "--type", "t", "--distributed-id", "j", "--json"],
            &[("CAIRN_WRITER", "rank-3")],
        )
        .json();
    assert_eq!(staged["writer"], "rank-3");
    assert_eq!(server.cli(tmp.path(), &["log", "--name", "n"]).code, 2);
    assert_eq!(server.cli(tmp.path(), &["frobnicate"]).code, 2);
    server
        .cli(tmp.path(), &["upsert", "d", "--name", "n", "--distributed-id", "j", "--writer", "w"])
        .fails_with(2, "--type");
    // Nothing identifies the writer: refused, naming what to set — never the host name.
    let anonymous = server.cli(tmp.path(), &["upsert", "d", "--name", "n", "--type", "t", "--distributed-id", "j"]);
    anonymous.fails_with(2, "CAIRN_WRITER");
    let unreachable = support::CliResult::from(
        std::process::Command::new(support::cairn_bin())
            .args(["ls", "--server", "http://127.0.0.1:1"])
            .output()
            .unwrap(),
    );
    assert_eq!(unreachable.code, 1);
    assert!(unreachable.stderr.starts_with("error: cannot reach cairn server"), "{}", unreachable.stderr);
}

fn count_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 }).sum()
}

#[test]
fn the_stat_cache_skips_unchanged_files_and_still_sees_a_same_size_same_mtime_rewrite() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let files: Vec<(String, Vec<u8>)> = (0..20).map(|i| (format!("f{i:02}.bin"), vec![i as u8; 10_000])).collect();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (p.as_str(), c.as_slice())).collect();
    write_tree(&tmp.path().join("d"), &refs);
    std::thread::sleep(Duration::from_millis(200)); // past the racy window
    let first = server.cli(tmp.path(), &["log", "d", "--name", "c", "--type", "t", "--json"]).json();
    assert_eq!((first["hashed_bytes"].as_u64(), first["stat_cache_hits"].as_u64()), (Some(200_000), Some(0)));
    let again = server.cli(tmp.path(), &["log", "d", "--name", "c", "--type", "t", "--json"]).json();
    assert_eq!((again["hashed_bytes"].as_u64(), again["stat_cache_hits"].as_u64()), (Some(0), Some(20)));
    assert_eq!(again["dedup"], true);

    // Rewrite one file with other bytes of the same size and put its mtime back.
    let target = tmp.path().join("d/f07.bin");
    let mtime = std::fs::metadata(&target).unwrap().modified().unwrap();
    std::fs::write(&target, vec![0xEE; 10_000]).unwrap();
    std::fs::File::options().write(true).open(&target).unwrap().set_modified(mtime).unwrap();
    let changed = server.cli(tmp.path(), &["log", "d", "--name", "c", "--type", "t", "--json"]).json();
    assert_eq!((changed["version"].as_str(), changed["dedup"].as_bool()), (Some("v1"), Some(false)));
    assert_eq!(changed["hashed_bytes"], 10_000, "only the rewritten file was read");
    let manifest = server.cli(tmp.path(), &["manifest", "c:v1", "--json"]).json();
    assert_eq!(manifest["entries"][7]["sha256"], sha256_hex(&[0xEE; 10_000]));
}

#[test]
fn an_edit_of_a_ten_thousand_entry_version_reads_none_of_the_unchanged_files() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let dir = tmp.path().join("big");
    for i in 0..10_000 {
        let sub = dir.join(format!("{:02}", i % 100));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("{i:05}.txt")), format!("file {i}")).unwrap();
    }
    let base = server.cli(tmp.path(), &["log", "big", "--name", "many", "--type", "dataset", "--json"]).json();
    assert_eq!(base["files"], 10_000);
    write_tree(tmp.path(), &[("extra.txt", b"one more file")]);
    let edited = server
        .cli_env(
            tmp.path(),
            &["edit", "many:v0", "--add", "extra.txt", "--remove", "00/00000.txt", "--json"],
            &[("CAIRN_STAT_CACHE", "off")],
        )
        .json();
    assert_eq!(edited["files"], 10_000);
    assert_eq!(edited["hashed_bytes"], 13, "only the added file was read, even without the stat cache");
    assert_eq!(edited["uploaded_bytes"], 13);
}

/// The job environment supplies --distributed-id and --writer (Indexed Job, torchrun,
/// SLURM), and `cairn whoami` says what would be used and where each value came from.
#[test]
fn the_job_environment_identifies_draft_and_writer_and_whoami_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("d"), &[("f", b"f")]);
    let indexed = [("JOB_NAME", "train"), ("JOB_COMPLETION_INDEX", "2")];
    let staged =
        server.cli_env(tmp.path(), &["upsert", "d", "--name", "n", "--type", "t", "--seal", "--json"], &indexed).json();
    assert_eq!((staged["distributed_id"].as_str(), staged["writer"].as_str()), (Some("job-train"), Some("rank-2")));
    let finished = server.cli_env(tmp.path(), &["finish", "--name", "n", "--json"], &indexed).json();
    assert_eq!(finished["version"], "v0");

    let slurm = [("SLURM_JOB_ID", "77"), ("SLURM_PROCID", "5"), ("CAIRN_PROJECT", "lab")];
    let who = server.cli_env(tmp.path(), &["whoami", "--json"], &slurm).json();
    assert_eq!((who["distributed_id"].as_str(), who["writer"].as_str()), (Some("slurm-77"), Some("rank-5")));
    assert_eq!((who["project"].as_str(), who["sources"]["project"].as_str()), (Some("lab"), Some("CAIRN_PROJECT")));
    assert_eq!(who["sources"]["writer"], "SLURM_PROCID");
    assert_eq!(who["server"].as_str(), Some(server.url.as_str()));

    let torchrun_default = [("TORCHELASTIC_RUN_ID", "none"), ("RANK", "1")];
    let who = server.cli_env(tmp.path(), &["whoami", "--json"], &torchrun_default).json();
    assert!(who["distributed_id"].is_null());
    assert!(who["sources"]["distributed_id"].as_str().unwrap().contains("--rdzv-id"), "{who}");
    server
        .cli_env(tmp.path(), &["upsert", "d", "--name", "n2", "--type", "t"], &torchrun_default)
        .fails_with(2, "--rdzv-id");
}
