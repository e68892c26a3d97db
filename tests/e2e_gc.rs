//! The garbage collector through the CLI on `cairn dev`: it frees exactly what nothing
//! refers to (deleted versions, aborted drafts), keeps what versions, open drafts and
//! requests in flight rely on, honours its grace period and dry runs, and never frees a
//! byte that 8 concurrent writers re-referencing the same blobs rely on.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use support::{DevServer, write_tree};

/// Blob files the local store holds (`blobs/objects/blobs/sha256/…`).
fn stored_blobs(server: &DevServer) -> usize {
    fn count(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| if e.path().is_dir() { count(&e.path()) } else { 1 }).sum())
            .unwrap_or(0)
    }
    count(&server.data_dir.join("blobs/objects/blobs/sha256"))
}

/// The indices of an artifact's remaining versions.
fn indices(server: &DevServer, work: &Path, name: &str) -> Vec<u64> {
    let versions = server.cli(work, &["versions", name, "--json"]).json();
    versions.as_array().unwrap().iter().map(|v| v["index"].as_u64().unwrap()).collect()
}

fn gc(server: &DevServer, work: &Path, args: &[&str]) -> serde_json::Value {
    let mut full = vec!["gc", "--json"];
    full.extend_from_slice(args);
    server.cli(work, &full).json()
}

#[test]
fn gc_frees_what_deleted_versions_and_aborted_drafts_left_and_keeps_everything_live() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, work) = (DevServer::start(tmp.path()), tmp.path());
    write_tree(&work.join("v0"), &[("shared.txt", b"in both versions"), ("only-v0.txt", b"only in v0: 20 bytes")]);
    write_tree(&work.join("v1"), &[("shared.txt", b"in both versions"), ("only-v1.txt", b"only in v1")]);
    for dir in ["v0", "v1"] {
        server.cli(work, &["log", dir, "--name", "ds", "--type", "t"]).ok();
    }
    write_tree(&work.join("open"), &[("staged.txt", b"staged in an open draft")]);
    server
        .cli(work, &["upsert", "open", "--name", "job", "--type", "t", "--distributed-id", "d1", "--writer", "w"])
        .ok();
    write_tree(&work.join("gone"), &[("aborted.txt", b"staged then aborted")]);
    server
        .cli(work, &["upsert", "gone", "--name", "job", "--type", "t", "--distributed-id", "d2", "--writer", "w"])
        .ok();
    server.cli(work, &["abort", "--name", "job", "--distributed-id", "d2"]).ok();
    server.cli(work, &["delete", "ds:v0"]).ok();
    assert_eq!(stored_blobs(&server), 5);

    let young = gc(&server, work, &[]);
    assert_eq!((young["deleted_blobs"].as_u64(), young["dry_run"].as_bool()), (Some(0), Some(false)), "{young}");
    assert_eq!(young["kept_blobs"], 5, "all 5 blobs are within the grace period");

    let dry = gc(&server, work, &["--dry-run", "--grace", "0"]);
    assert_eq!((dry["deleted_blobs"].as_u64(), dry["dry_run"].as_bool()), (Some(2), Some(true)), "{dry}");
    assert_eq!(stored_blobs(&server), 5, "a dry run deletes nothing");

    let collected = gc(&server, work, &["--grace", "0"]);
    assert_eq!(collected["deleted_blobs"], 2, "only-v0.txt and aborted.txt: {collected}");
    assert_eq!(collected["deleted_manifests"], 1, "v0's manifest");
    assert!(collected["freed_bytes"].as_u64().unwrap() >= 20 + 19, "{collected}");
    assert_eq!(stored_blobs(&server), 3);
    server.cli(work, &["get", "ds", "-o", "back"]).ok();
    assert_eq!(std::fs::read(work.join("back/only-v1.txt")).unwrap(), b"only in v1");

    // The open draft's staged blob survived: it finishes and reads back.
    server.cli(work, &["upsert", "--seal", "--name", "job", "--distributed-id", "d1", "--writer", "w"]).ok();
    server.cli(work, &["finish", "--name", "job", "--distributed-id", "d1"]).ok();
    server.cli(work, &["get", "job", "-o", "job"]).ok();
    assert_eq!(std::fs::read(work.join("job/staged.txt")).unwrap(), b"staged in an open draft");
    let again = gc(&server, work, &["--grace", "0"]);
    assert_eq!(again["deleted_blobs"], 0, "nothing left to free: {again}");
}

/// Eight writers log versions made of shared and new content, and delete older versions,
/// while collections with no grace period run back to back. Every log must succeed, every
/// remaining version must read back verified, and a final collection must leave exactly
/// the blobs the remaining versions refer to.
#[test]
fn collections_racing_eight_writers_never_free_a_referenced_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, work) = (DevServer::start(tmp.path()), tmp.path());
    let stop = AtomicBool::new(false);
    let mut collections = 0;
    std::thread::scope(|scope| {
        let (server, stop) = (&server, &stop);
        let writers: Vec<_> = (0..8)
            .map(|w| {
                scope.spawn(move || {
                    for round in 0..16 {
                        let dir = work.join(format!("w{w}-r{round}"));
                        // Shared by every writer and round, shared within a round, and new.
                        write_tree(
                            &dir,
                            &[
                                ("common.bin", b"the same bytes everywhere"),
                                ("round.bin", format!("round {round}").as_bytes()),
                                ("own.bin", format!("writer {w} round {round}").as_bytes()),
                            ],
                        );
                        let name = format!("art{}", w % 4);
                        server.cli(work, &["log", dir.to_str().unwrap(), "--name", &name, "--type", "t"]).ok();
                        if round % 2 == 1 {
                            // Delete the oldest remaining version now and then (others race).
                            let _ = server.cli(work, &["delete", &format!("{name}:v{}", round - 1)]);
                        }
                    }
                })
            })
            .collect();
        let collector = scope.spawn(move || {
            let mut runs = 0;
            while !stop.load(Ordering::SeqCst) {
                let result = server.cli(work, &["gc", "--grace", "0", "--json"]);
                if result.code == 0 {
                    runs += 1;
                } else {
                    assert!(result.stderr.contains("GC_RUNNING"), "gc failed: {}", result.stderr);
                }
            }
            runs
        });
        for writer in writers {
            writer.join().expect("a writer failed");
        }
        stop.store(true, Ordering::SeqCst);
        collections = collector.join().unwrap();
    });
    assert!(collections >= 2, "collections ran during the writes: {collections}");

    let mut referenced = std::collections::BTreeSet::new();
    for a in 0..4 {
        let name = format!("art{a}");
        let versions = server.cli(work, &["versions", &name, "--json"]).json();
        for version in versions.as_array().unwrap() {
            let reference = format!("{name}:{}", version["version"].as_str().unwrap());
            let out = format!("check-{name}-{}", version["version"].as_str().unwrap());
            server.cli(work, &["get", &reference, "-o", &out]).ok(); // verifies every sha256
            let manifest = server.cli(work, &["manifest", &reference, "--json"]).json();
            for entry in manifest["entries"].as_array().unwrap() {
                referenced.insert(entry["sha256"].as_str().unwrap().to_owned());
            }
        }
    }
    // Journals of finished requests protect nothing: one collection frees every blob no
    // remaining version refers to, and a second finds nothing more.
    gc(&server, work, &["--grace", "0"]);
    assert_eq!(stored_blobs(&server), referenced.len(), "exactly the referenced blobs remain");
    assert_eq!(gc(&server, work, &["--grace", "0"])["deleted_blobs"], 0);
}

/// FindMissingBlobs' answer is advice, not a promise: it reports a blob present (its only
/// version was just deleted), a collection with no grace period frees it (no version,
/// draft or request in flight relies on it), and the upsert that then names it is refused
/// with BLOB_NOT_STORED naming the path — never accepted into a draft without its blob.
/// The CLI's upsert of the same file uploads it again and succeeds.
#[tokio::test]
async fn a_blob_find_missing_blobs_reported_present_is_checked_again_when_it_is_relied_on() {
    use cairn_proto::v1;
    let tmp = tempfile::tempdir().unwrap();
    let (server, work) = (DevServer::start(tmp.path()), tmp.path());
    let content = b"reported present, then relied on";
    write_tree(&work.join("old"), &[("x.bin", content)]);
    server.cli(work, &["log", "old", "--name", "old", "--type", "t"]).ok();
    server.cli(work, &["delete", "old"]).ok(); // x.bin is now unreferenced
    let sha256 = support::sha256_hex(content);

    let mut coordinator = server.coordinator().await;
    let asked = v1::FindMissingBlobsRequest { sha256: vec![sha256.clone()], ..Default::default() };
    assert!(coordinator.find_missing_blobs(asked).await.unwrap().into_inner().missing.is_empty());
    let collected = gc(&server, work, &["--grace", "0"]);
    assert_eq!(
        (collected["deleted_blobs"].as_u64(), collected["deleted_manifests"].as_u64()),
        (Some(1), Some(1)),
        "{collected}"
    );

    let upsert = v1::UpsertRequest {
        project: "default".into(),
        artifact: "new".into(),
        r#type: "t".into(),
        distributed_id: "job".into(),
        writer_id: "w".into(),
        entries: vec![v1::Entry { path: "x.bin".into(), sha256, size: content.len() as u64 }],
        seal: true,
        ..Default::default()
    };
    let refused = coordinator.upsert(upsert).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(support::reason(&refused), "BLOB_NOT_STORED", "{refused:?}");
    assert!(refused.message().contains("x.bin"), "{refused:?}");

    write_tree(&work.join("again"), &[("x.bin", content)]);
    let args =
        ["upsert", "again", "--name", "new", "--type", "t", "--distributed-id", "job", "--writer", "w", "--seal"];
    server.cli(work, &args).ok();
    server.cli(work, &["finish", "--name", "new", "--distributed-id", "job"]).ok();
    server.cli(work, &["get", "new", "-o", "new"]).ok();
    assert_eq!(std::fs::read(work.join("new/x.bin")).unwrap(), content);
}

/// Journals of finished requests protect nothing: right after `cairn delete`, one
/// collection with no grace period takes the deleted version's unique blobs and manifest
/// out of the live store (into the trash), and keeps what the remaining version shares.
#[test]
fn one_collection_right_after_a_delete_frees_the_deleted_versions_unique_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, work) = (DevServer::start(tmp.path()), tmp.path());
    write_tree(&work.join("a"), &[("shared.bin", b"shared by both"), ("unique.bin", b"only in v0")]);
    write_tree(&work.join("b"), &[("shared.bin", b"shared by both")]);
    server.cli(work, &["log", "a", "--name", "x", "--type", "t"]).ok();
    server.cli(work, &["log", "b", "--name", "x", "--type", "t"]).ok();
    server.cli(work, &["delete", "x:v0"]).ok();
    let collected = gc(&server, work, &["--grace", "0"]);
    assert_eq!(collected["deleted_blobs"], 1, "{collected}");
    assert_eq!(collected["deleted_manifests"], 1, "{collected}");
    assert_eq!(collected["trashed_bytes"], collected["freed_bytes"], "what left the live store is in the trash");
    assert!(collected["freed_bytes"].as_u64().unwrap() > "only in v0".len() as u64, "the blob and the manifest");
    assert_eq!(stored_blobs(&server), 1);
    server.cli(work, &["get", "x", "-o", "back"]).ok();
    assert_eq!(std::fs::read(work.join("back/shared.bin")).unwrap(), b"shared by both");
}

/// `--ttl` on log, edit and finish: once it passes, the collector deletes the version,
/// except while a user alias names it; versions without a time to live stay.
#[test]
fn versions_past_their_time_to_live_are_deleted_by_the_collector_unless_aliased() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, work) = (DevServer::start(tmp.path()), tmp.path());
    for (dir, content) in [("a", "short-lived"), ("b", "aliased"), ("c", "kept")] {
        write_tree(&work.join(dir), &[("f.txt", content.as_bytes())]);
    }
    server.cli(work, &["log", "a", "--name", "m", "--type", "t", "--ttl", "1s"]).ok();
    server.cli(work, &["log", "b", "--name", "m", "--type", "t", "--ttl", "1", "--alias", "prod"]).ok();
    server.cli(work, &["edit", "m:v1", "--add", "c/f.txt=g.txt", "--ttl", "1"]).ok(); // v2
    server.cli(work, &["log", "c", "--name", "m", "--type", "t"]).ok(); // v3, no ttl
    let bogus = server.cli(work, &["log", "a", "--name", "m", "--type", "t", "--ttl", "bogus"]);
    assert!(bogus.code == 2 && bogus.stderr.contains("--ttl"), "{bogus:?}");
    let versions = server.cli(work, &["versions", "m", "--json"]).json();
    assert!(versions[0]["expires_unix_ms"].as_i64().is_some() && versions[3]["expires_unix_ms"].is_null());
    std::thread::sleep(std::time::Duration::from_millis(1_200));

    let dry = gc(&server, work, &["--dry-run", "--grace", "0"]);
    assert_eq!(dry["expired_versions"], 2, "v0 and v2; v1 is aliased: {dry}");
    let collected = gc(&server, work, &["--grace", "0"]);
    assert_eq!(collected["expired_versions"], 2, "{collected}");
    let left = indices(&server, work, "m");
    assert_eq!(left, [1, 3]);
    server.cli(work, &["get", "m:prod", "-o", "prod"]).ok();
}

/// A retention policy keeps the newest N versions and every aliased one; the collector
/// deletes the others.
#[test]
fn a_retention_policy_keeps_the_newest_versions_and_the_aliased_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, work) = (DevServer::start(tmp.path()), tmp.path());
    for i in 0..5 {
        let dir = format!("r{i}");
        write_tree(&work.join(&dir), &[("f.txt", format!("version {i}").as_bytes())]);
        server.cli(work, &["log", &dir, "--name", "kept", "--type", "t"]).ok();
    }
    server.cli(work, &["alias", "set", "kept:v1", "best"]).ok();
    let policy = server.cli(work, &["retention", "kept", "--keep-last", "2", "--json"]).json();
    assert_eq!(policy["keep_last"], 2);
    server.cli(work, &["retention", "nothing", "--keep-last", "2"]).fails_with(1, "ARTIFACT_NOT_FOUND");

    let dry = gc(&server, work, &["--dry-run", "--grace", "0"]);
    assert_eq!(dry["retired_versions"], 2, "{dry}");
    let collected = gc(&server, work, &["--grace", "0"]);
    assert_eq!(collected["retired_versions"], 2, "v0 and v2 go; v1 is aliased, v3 and v4 are the newest: {collected}");
    let left = indices(&server, work, "kept");
    assert_eq!(left, [1, 3, 4]);

    assert_eq!(server.cli(work, &["retention", "kept", "--keep-last", "0", "--json"]).json()["keep_last"], 0);
    write_tree(&work.join("r5"), &[("f.txt", b"version 5")]);
    server.cli(work, &["log", "r5", "--name", "kept", "--type", "t"]).ok();
    assert_eq!(gc(&server, work, &["--grace", "0"])["retired_versions"], 0, "no policy, nothing retired");
}

/// A commit that dedups onto the latest version never makes it expire sooner: no time to
/// live asked clears the existing one, a longer one extends it, a shorter one leaves it.
#[test]
fn a_dedup_hit_never_shortens_a_time_to_live() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, work) = (DevServer::start(tmp.path()), tmp.path());
    write_tree(&work.join("d"), &[("f.bin", b"the same content every time")]);
    let expires = |ttl: Option<&str>| {
        let mut args = vec!["log", "d", "--name", "t", "--type", "t", "--json"];
        if let Some(ttl) = ttl {
            args.extend(["--ttl", ttl]);
        }
        server.cli(work, &args).ok();
        let versions = server.cli(work, &["versions", "t", "--json"]).json();
        assert_eq!(versions.as_array().unwrap().len(), 1, "every log after the first dedups");
        versions[0]["expires_unix_ms"].as_i64()
    };
    let two_hours = expires(Some("2h")).expect("a time to live");
    assert_eq!(expires(Some("1h")), Some(two_hours), "a shorter one leaves it");
    let three_hours = expires(Some("3h")).expect("a time to live");
    assert!(three_hours >= two_hours + 3_500_000, "a longer one extends it: {two_hours} -> {three_hours}");
    assert_eq!(expires(None), None, "none asked clears it");
    assert_eq!(expires(Some("1h")), None, "and a version that never expires still never does");
}

/// The one blob file of the local store (there is one version with one file).
fn only_blob_file(server: &DevServer) -> std::path::PathBuf {
    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() { files(&entry.path(), out) } else { out.push(entry.path()) }
        }
    }
    let mut found = Vec::new();
    files(&server.data_dir.join("blobs/objects/blobs/sha256"), &mut found);
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

/// `cairn fsck` through the CLI: a clean store passes; a blob a version needs that is
/// missing from the live store is reported (reference, path, digest) and fails the command
/// (exit 1); `--repair` restores it from the trash; a blob in neither is reported as not
/// repaired, and stays a failure.
#[test]
fn fsck_reports_missing_blobs_and_repairs_them_from_the_trash() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, work) = (DevServer::start(tmp.path()), tmp.path());
    write_tree(&work.join("a"), &[("weights.bin", b"the bytes a version needs")]);
    server.cli(work, &["log", "a", "--name", "m", "--type", "model"]).ok();
    let clean = server.cli(work, &["fsck", "--deep", "--json"]).json();
    assert_eq!((clean["missing_count"].as_u64(), clean["corrupt_count"].as_u64()), (Some(0), Some(0)), "{clean}");
    assert_eq!(clean["versions_checked"], 1, "{clean}");

    // What a collector bug would do: the live blob moved into the trash.
    let live = only_blob_file(&server);
    let relative = live.strip_prefix(server.data_dir.join("blobs/objects")).unwrap().to_owned();
    let trashed = server.data_dir.join("blobs/objects/trash").join(&relative);
    std::fs::create_dir_all(trashed.parent().unwrap()).unwrap();
    std::fs::rename(&live, &trashed).unwrap();
    let broken = server.cli(work, &["fsck", "--json"]);
    assert_eq!(broken.code, 1, "missing blobs fail fsck: {broken:?}");
    let report: serde_json::Value = serde_json::from_str(broken.stdout.trim()).unwrap();
    assert_eq!(report["missing_count"], 1, "{report}");
    assert_eq!(report["missing"][0]["ref"], "default/m:v0", "{report}");
    assert_eq!(report["missing"][0]["path"], "weights.bin", "{report}");

    let repaired = server.cli(work, &["fsck", "--repair", "--json"]).json();
    assert_eq!(repaired["repaired"], 1, "{repaired}");
    server.cli(work, &["get", "m", "-o", "back"]).ok();
    assert_eq!(std::fs::read(work.join("back/weights.bin")).unwrap(), b"the bytes a version needs");
    let after = server.cli(work, &["fsck", "--deep", "--json"]).json();
    assert_eq!(after["missing_count"], 0, "{after}");

    // Gone from both: reported, not repaired, still a failure.
    std::fs::remove_file(only_blob_file(&server)).unwrap();
    let _ = std::fs::remove_file(&trashed);
    let lost = server.cli(work, &["fsck", "--repair", "--json"]);
    assert_eq!(lost.code, 1, "{lost:?}");
    let report: serde_json::Value = serde_json::from_str(lost.stdout.trim()).unwrap();
    assert_eq!((report["missing_count"].as_u64(), report["repaired"].as_u64()), (Some(1), Some(0)), "{report}");
}
