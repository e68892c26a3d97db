//! Downloads: a killed download never leaves a partial file under its final name, and
//! the local content cache is trusted only when its bytes hash right.

mod support;

use std::time::{Duration, Instant};

use support::{DevServer, read_tree, sha256_hex, write_tree};

#[test]
fn a_killed_download_leaves_no_partial_file_under_its_final_name_and_the_next_get_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let big: Vec<u8> = (0..(256u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    write_tree(&tmp.path().join("src"), &[("big.bin", &big)]);
    server.cli(tmp.path(), &["log", "src", "--name", "big", "--type", "model"]).ok();

    let out = tmp.path().join("out");
    let mut child = std::process::Command::new(support::cairn_bin())
        .args(["get", "big", "-o"])
        .arg(&out)
        .env("CAIRN_SERVER", &server.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let partial_started = || {
        std::fs::read_dir(&out)
            .map(|d| {
                d.flatten().any(|e| {
                    e.file_name().to_string_lossy().contains(".cairn-partial-")
                        && e.metadata().map(|m| m.len() > 0).unwrap_or(false)
                })
            })
            .unwrap_or(false)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !partial_started() {
        assert!(Instant::now() < deadline, "the download never started writing");
        assert!(child.try_wait().unwrap().is_none(), "the download finished before it could be killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.join("big.bin").exists(), "no file under its final name after a killed download");

    let again = server.cli(tmp.path(), &["get", "big", "-o", "out", "--json"]).json();
    assert_eq!(again["downloaded_bytes"].as_u64(), Some(big.len() as u64));
    let files = read_tree(&out);
    assert_eq!(
        files.len(),
        1,
        "the leftover temporary file was removed: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(files[0].1 == big);
}

#[test]
fn the_content_cache_serves_verified_blobs_and_refetches_a_corrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("src"), &[("a.bin", &[1u8; 50_000]), ("b.bin", &[2u8; 70_000])]);
    server.cli(tmp.path(), &["log", "src", "--name", "d", "--type", "dataset"]).ok();

    let first = server.cli(tmp.path(), &["get", "d", "-o", "one", "--cache", "cache", "--json"]).json();
    assert_eq!((first["downloaded_bytes"].as_u64(), first["cached_files"].as_u64()), (Some(120_000), Some(0)));
    let second = server.cli(tmp.path(), &["get", "d", "-o", "two", "--cache", "cache", "--json"]).json();
    assert_eq!((second["downloaded_bytes"].as_u64(), second["cached_files"].as_u64()), (Some(0), Some(2)));

    // Corrupt the cached copy of b.bin without changing its size.
    let hex = sha256_hex(&[2u8; 70_000]);
    let cached = tmp.path().join("cache/sha256").join(&hex[..2]).join(&hex);
    let mut bytes = std::fs::read(&cached).unwrap();
    bytes[123] ^= 0xFF;
    std::fs::write(&cached, &bytes).unwrap();
    let third = server.cli(tmp.path(), &["get", "d", "-o", "three", "--cache", "cache", "--json"]).json();
    assert_eq!((third["downloaded_bytes"].as_u64(), third["cached_files"].as_u64()), (Some(70_000), Some(1)));
    assert_eq!(
        read_tree(&tmp.path().join("three")),
        vec![("a.bin".into(), vec![1u8; 50_000]), ("b.bin".into(), vec![2u8; 70_000])]
    );
    assert_eq!(sha256_hex(&std::fs::read(&cached).unwrap()), hex, "the cache was repaired by the verified download");
}

/// `get --path`, `get --prefix` and `cat` fetch one file or a subtree, verified; a path
/// that is not in the version is an error, and `cat` prints nothing it could not verify.
#[test]
fn partial_downloads_and_cat_fetch_only_what_is_asked_and_only_verified_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, work) = (DevServer::start(tmp.path()), tmp.path());
    let binary: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    write_tree(
        &work.join("src"),
        &[("a/x.txt", b"x in a"), ("a/b/y.bin", &binary), ("c.txt", b"c at the top\n"), ("ab/z.txt", b"not under a/")],
    );
    server.cli(work, &["log", "src", "--name", "tree", "--type", "t"]).ok();

    let one = server.cli(work, &["get", "tree", "--path", "a/b/y.bin", "-o", "one", "--json"]).json();
    assert_eq!((one["files"].as_u64(), one["bytes"].as_u64()), (Some(1), Some(10_000)));
    assert_eq!(read_tree(&work.join("one")), vec![("a/b/y.bin".to_owned(), binary.clone())]);

    server.cli(work, &["get", "tree", "--prefix", "a/", "-o", "sub"]).ok();
    let names: Vec<String> = read_tree(&work.join("sub")).into_iter().map(|(p, _)| p).collect();
    assert_eq!(names, ["a/b/y.bin", "a/x.txt"], "ab/z.txt is not under a/");
    server.cli(work, &["get", "tree", "--path", "nope.txt"]).fails_with(1, "has no file \"nope.txt\"");
    server.cli(work, &["get", "tree", "--prefix", "zzz/"]).fails_with(1, "has no directory");

    let cat = std::process::Command::new(support::cairn_bin())
        .args(["cat", "tree", "a/b/y.bin"])
        .env("CAIRN_SERVER", &server.url)
        .output()
        .unwrap();
    assert!(cat.status.success(), "{}", String::from_utf8_lossy(&cat.stderr));
    assert_eq!(cat.stdout, binary, "cat writes the exact bytes");
    assert_eq!(server.cli(work, &["cat", "tree:v0", "c.txt"]).ok(), "c at the top");

    // Corrupt the stored blob: cat refuses and writes nothing to stdout.
    let hex = sha256_hex(b"c at the top\n");
    let stored = server.data_dir.join("blobs/objects/blobs/sha256").join(&hex[..2]).join(&hex);
    std::fs::write(&stored, b"c at the tip\n").unwrap();
    let corrupted = server.cli(work, &["cat", "tree", "c.txt"]);
    assert_eq!(corrupted.code, 1, "{corrupted:?}");
    assert!(corrupted.stdout.is_empty(), "nothing unverified is printed: {:?}", corrupted.stdout);
}

#[cfg(unix)]
#[test]
fn a_download_never_writes_through_a_symbolic_link_in_the_output_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    write_tree(&tmp.path().join("src"), &[("data/a.bin", b"a"), ("top.txt", b"t")]);
    server.cli(tmp.path(), &["log", "src", "--name", "d", "--type", "dataset"]).ok();

    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(tmp.path().join("out")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, tmp.path().join("out/data")).unwrap();
    let refused = server.cli(tmp.path(), &["get", "d", "-o", "out"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("symbolic link"), "{}", refused.stderr);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "nothing was written through the link");
}

#[test]
fn a_download_that_fails_verification_leaves_no_temporary_file_of_any_entry() {
    // A corrupted blob fails its file, which cancels the files downloading beside it:
    // none of them may leave a temporary file in the user's directory.
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut files: Vec<(String, Vec<u8>)> = (0..40).map(|i| (format!("f{i:02}.bin"), vec![i as u8; 200_000])).collect();
    files.push(("m-corrupt.bin".into(), big.clone()));
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (n.as_str(), c.as_slice())).collect();
    write_tree(&tmp.path().join("src"), &refs);
    server.cli(tmp.path(), &["log", "src", "--name", "d", "--type", "dataset"]).ok();
    corrupt_stored_blob(&server, &big, 10);

    let failed = server.cli(tmp.path(), &["get", "d", "-o", "out"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stderr.contains("DIGEST_MISMATCH") || failed.stderr.contains("hashes to"), "{}", failed.stderr);
    let left = read_tree(&tmp.path().join("out"));
    assert!(left.iter().all(|(name, _)| !name.contains("cairn-partial")), "temporary files left: {left:?}");
    assert!(left.iter().all(|(name, _)| name != "m-corrupt.bin"), "the corrupt file was written");
}

#[test]
fn small_files_fetched_in_batches_are_verified_one_by_one() {
    // Small files come many to a GetBlobs call; one corrupted blob among them fails the
    // download with a verification error, and neither it nor any temporary file is left.
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path());
    let files: Vec<(String, Vec<u8>)> = (0..300)
        .map(|i| (format!("d{:02}/f{i:03}.txt", i % 30), format!("line {i}\n").repeat(1 + i % 40).into_bytes()))
        .collect();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (n.as_str(), c.as_slice())).collect();
    write_tree(&tmp.path().join("src"), &refs);
    server.cli(tmp.path(), &["log", "src", "--name", "small", "--type", "dataset"]).ok();

    server.cli(tmp.path(), &["get", "small", "-o", "whole"]).ok();
    assert_eq!(read_tree(&tmp.path().join("whole")), read_tree(&tmp.path().join("src")));

    corrupt_stored_blob(&server, &files[123].1, 0);
    let failed = server.cli(tmp.path(), &["get", "small", "-o", "out"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stderr.contains("hashes to") && failed.stderr.contains(&files[123].0), "{}", failed.stderr);
    let left = read_tree(&tmp.path().join("out"));
    assert!(left.iter().all(|(name, _)| !name.contains("cairn-partial")), "temporary files left: {left:?}");
    assert!(left.iter().all(|(name, _)| name != &files[123].0), "the corrupt file was written");
}

/// Flips the byte at `at` of the stored copy of the blob of `content` in a dev server's store.
fn corrupt_stored_blob(server: &DevServer, content: &[u8], at: usize) {
    let hex = sha256_hex(content);
    let stored = server.data_dir.join("blobs/objects/blobs/sha256").join(&hex[..2]).join(&hex);
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[at] ^= 0xFF;
    std::fs::write(&stored, bytes).unwrap();
}
