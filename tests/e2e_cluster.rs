//! Cluster mode end to end: 3 coordinator replicas and 2 storage workers on a real etcd
//! and a real S3-compatible server (s3s-fs), all separate processes on loopback, with real
//! `kill -9`s. Every test asserts on the committed manifest and on the bytes read back.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::cluster::Cluster;
use support::{read_tree, write_tree};

/// Writes writer `w`'s files under `root/w{w}` and returns them as (path, bytes).
fn writer_files(root: &Path, w: usize) -> Vec<(String, Vec<u8>)> {
    let files = vec![
        (format!("shards/{w}.bin"), format!("shard {w} ").repeat(5_000 + w * 101).into_bytes()),
        (format!("meta/{w}.json"), format!("{{\"rank\": {w}}}").into_bytes()),
    ];
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (p.as_str(), c.as_slice())).collect();
    write_tree(&root.join(format!("w{w}")), &refs);
    files
}

fn upsert_args<'a>(dir: &'a str, writer: &'a str, id: &'a str, seal: bool) -> Vec<&'a str> {
    let mut args =
        vec!["upsert", dir, "--name", "ckpt", "--type", "checkpoint", "--distributed-id", id, "--writer", writer];
    if seal {
        args.push("--seal");
    }
    args
}

fn sorted(mut files: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    files.sort();
    files
}

#[test]
fn eight_writers_spread_over_three_replicas_make_one_version() {
    let cluster = Cluster::start(3, 2);
    let work = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for w in 0..8 {
        expected.extend(writer_files(work.path(), w));
    }
    std::thread::scope(|scope| {
        for w in 0..8 {
            let (cluster, root) = (&cluster, work.path());
            scope.spawn(move || {
                let (dir, writer) = (format!("w{w}"), format!("rank-{w}"));
                cluster.cli_on(w % 3, root, &upsert_args(&dir, &writer, "job-8", true)).ok();
            });
        }
    });
    let started = Instant::now();
    let finished =
        cluster.cli_on(1, work.path(), &["finish", "--name", "ckpt", "--distributed-id", "job-8", "--json"]).json();
    let finish_latency = started.elapsed();
    eprintln!(
        "finish of the 8-writer version through a non-owner replica on etcd took {finish_latency:?} (CLI process included)"
    );
    assert_eq!((finished["version"].as_str(), finished["files"].as_u64()), (Some("v0"), Some(16)));

    cluster.cli_on(2, work.path(), &["get", "ckpt:v0", "-o", "restored"]).ok();
    assert_eq!(read_tree(&work.path().join("restored")), sorted(expected));
    let again =
        cluster.cli_on(0, work.path(), &["finish", "--name", "ckpt", "--distributed-id", "job-8", "--json"]).json();
    assert_eq!(again["digest"], finished["digest"]);
}

#[test]
fn killing_the_owning_replica_mid_draft_hands_the_draft_to_another() {
    let mut cluster = Cluster::start(3, 2);
    let work = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for w in 0..8 {
        expected.extend(writer_files(work.path(), w));
    }
    // Writers 0..4 go through replica 0, which becomes the draft's owner.
    for w in 0..4 {
        let (dir, writer) = (format!("w{w}"), format!("rank-{w}"));
        cluster.cli_on(0, work.path(), &upsert_args(&dir, &writer, "job-k", true)).ok();
    }
    cluster.coordinators[0].kill9();
    // The rest talk to the survivors; the first of them waits out the dead owner's lease.
    for w in 4..8 {
        let (dir, writer) = (format!("w{w}"), format!("rank-{w}"));
        let servers = cluster.servers_from(1 + w % 2);
        cluster.cli_via(&servers, work.path(), &upsert_args(&dir, &writer, "job-k", true)).ok();
    }
    let finished = cluster
        .cli_via(
            &cluster.servers_from(2),
            work.path(),
            &["finish", "--name", "ckpt", "--distributed-id", "job-k", "--json"],
        )
        .json();
    assert_eq!(finished["files"], 16, "the new owner rebuilt every writer's entries from stored state");
    cluster.cli_on(1, work.path(), &["get", "ckpt", "-o", "restored"]).ok();
    assert_eq!(read_tree(&work.path().join("restored")), sorted(expected));
}

#[test]
fn killing_a_worker_mid_upload_the_client_finishes_through_the_other() {
    let cluster = Cluster::start(1, 2);
    let work = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..(96u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    write_tree(&work.path().join("data"), &[("big.bin", &big), ("small.txt", b"small")]);
    // Clients use the workers in address order: kill the first once its parts arrive.
    let first = (0..2).min_by_key(|&i| cluster.workers[i].url.clone()).unwrap();
    let pid = cluster.workers[first].pid().unwrap();
    let logged = std::thread::scope(|scope| {
        let upload = scope
            .spawn(|| cluster.cli_on(0, work.path(), &["log", "data", "--name", "big", "--type", "dataset", "--json"]));
        let deadline = Instant::now() + Duration::from_secs(120);
        while cluster.s3_part_bytes() < 16 << 20 {
            assert!(Instant::now() < deadline, "the upload never reached S3");
            assert!(!upload.is_finished(), "the upload ended before the worker could be killed");
            std::thread::sleep(Duration::from_millis(10));
        }
        support::cluster::kill9_pid(pid);
        upload.join().unwrap()
    });
    let logged = logged.json();
    assert_eq!((logged["version"].as_str(), logged["files"].as_u64()), (Some("v0"), Some(2)));
    // The other worker resumed after the parts the dead one had stored (at least 8 MiB).
    let uploaded = logged["uploaded_bytes"].as_u64().unwrap();
    assert!(uploaded <= big.len() as u64 - (8 << 20) + 5, "the upload restarted from byte 0: {uploaded} bytes sent");

    cluster.cli_on(0, work.path(), &["get", "big", "-o", "restored"]).ok();
    let restored = read_tree(&work.path().join("restored"));
    assert_eq!(restored.len(), 2);
    assert!(restored[0].1 == big, "the blob committed after the worker died is complete and verified");
    assert_eq!(restored[1], ("small.txt".to_owned(), b"small".to_vec()));
}

#[test]
fn a_client_killed_mid_upload_leaves_no_upload_lock_behind() {
    // The worker's handler is dropped when its client goes away; the blob's upload lock
    // must go with it, or every later upload of the blob waits on a lock that the (live)
    // worker's lease keeps forever.
    let cluster = Cluster::start(1, 1);
    let work = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..(64u32 << 20)).map(|i| (i.wrapping_mul(2_246_822_519) >> 11) as u8).collect();
    write_tree(&work.path().join("data"), &[("big.bin", &big)]);
    let mut client = std::process::Command::new(support::cairn_bin())
        .args(["log", "data", "--name", "big", "--type", "dataset"])
        .current_dir(work.path())
        .env("CAIRN_SERVER", &cluster.coordinators[0].url)
        .env("CAIRN_CACHE_DIR", work.path().join(".cairn-cache"))
        .env("CAIRN_TOKEN", &cluster.bootstrap_token)
        .env("CAIRN_CA_CERT", &cluster.pki.ca)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while cluster.s3_part_bytes() < 8 << 20 {
        assert!(Instant::now() < deadline, "the upload never reached S3");
        assert!(client.try_wait().unwrap().is_none(), "the upload ended before the client could be killed");
        std::thread::sleep(Duration::from_millis(10));
    }
    client.kill().unwrap();
    client.wait().unwrap();

    let started = Instant::now();
    let logged =
        cluster.cli_on(0, work.path(), &["log", "data", "--name", "big", "--type", "dataset", "--json"]).json();
    // A lock left behind would hold the next upload 30 s per attempt until it gave up.
    assert!(started.elapsed() < Duration::from_secs(25), "the next upload waited {:?}", started.elapsed());
    assert_eq!(logged["version"], "v0");
    cluster.cli_on(0, work.path(), &["get", "big", "-o", "restored"]).ok();
    assert!(read_tree(&work.path().join("restored"))[0].1 == big, "the blob read back is the one uploaded");
}

#[test]
fn an_etcd_restart_during_an_open_draft_does_not_lose_it() {
    let mut cluster = Cluster::start(2, 1);
    let work = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for w in 0..4 {
        expected.extend(writer_files(work.path(), w));
    }
    for w in 0..2 {
        let (dir, writer) = (format!("w{w}"), format!("rank-{w}"));
        cluster.cli_on(w % 2, work.path(), &upsert_args(&dir, &writer, "job-e", true)).ok();
    }
    cluster.etcd.restart();
    for w in 2..4 {
        let (dir, writer) = (format!("w{w}"), format!("rank-{w}"));
        cluster.cli_via(&cluster.servers_from(w % 2), work.path(), &upsert_args(&dir, &writer, "job-e", true)).ok();
    }
    let finished = cluster
        .cli_via(
            &cluster.servers_from(0),
            work.path(),
            &["finish", "--name", "ckpt", "--distributed-id", "job-e", "--json"],
        )
        .json();
    assert_eq!(finished["files"], 8);
    cluster.cli_on(1, work.path(), &["get", "ckpt", "-o", "restored"]).ok();
    assert_eq!(read_tree(&work.path().join("restored")), sorted(expected));
}

#[test]
fn two_concurrent_finishes_on_two_replicas_make_exactly_one_version() {
    let cluster = Cluster::start(3, 1);
    let work = tempfile::tempdir().unwrap();
    for w in 0..3 {
        writer_files(work.path(), w);
        let (dir, writer) = (format!("w{w}"), format!("rank-{w}"));
        cluster.cli_on(0, work.path(), &upsert_args(&dir, &writer, "job-f", true)).ok();
    }
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| {
            cluster.cli_on(1, work.path(), &["finish", "--name", "ckpt", "--distributed-id", "job-f", "--json"])
        });
        let b = scope.spawn(|| {
            cluster.cli_on(2, work.path(), &["finish", "--name", "ckpt", "--distributed-id", "job-f", "--json"])
        });
        (a.join().unwrap().json(), b.join().unwrap().json())
    });
    assert_eq!((a["version"].as_str(), b["version"].as_str()), (Some("v0"), Some("v0")));
    assert_eq!(a["digest"], b["digest"]);
    let versions = cluster.cli_on(0, work.path(), &["versions", "ckpt", "--json"]).json();
    assert_eq!(versions.as_array().unwrap().len(), 1, "exactly one version");
}

#[test]
fn eight_concurrent_logs_through_three_replicas_get_indices_zero_to_seven() {
    let cluster = Cluster::start(3, 2);
    let work = tempfile::tempdir().unwrap();
    for i in 0..8 {
        write_tree(&work.path().join(format!("d{i}")), &[("data.txt", format!("content {i}").as_bytes())]);
    }
    let mut indices: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (cluster, root) = (&cluster, work.path());
                scope.spawn(move || {
                    let dir = format!("d{i}");
                    let logged =
                        cluster.cli_on(i % 3, root, &["log", &dir, "--name", "race", "--type", "t", "--json"]).json();
                    logged["index"].as_u64().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    indices.sort_unstable();
    assert_eq!(indices, (0..8).collect::<Vec<u64>>(), "no duplicates, no gaps");
    let versions = cluster.cli_on(1, work.path(), &["versions", "race", "--json"]).json();
    let digests: std::collections::BTreeSet<&str> =
        versions.as_array().unwrap().iter().map(|v| v["digest"].as_str().unwrap()).collect();
    assert_eq!(digests.len(), 8, "each index holds a distinct committed manifest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_entry_draft_commits_on_etcd_with_nothing_per_entry_in_etcd() {
    use cairn_proto::v1;
    let cluster = Cluster::start(2, 1);
    let work = tempfile::tempdir().unwrap();
    write_tree(&work.path().join("seed"), &[("blob", b"shared content")]);
    // The artifact's first version holds the blob, so that the writers below may name it
    // without upload receipts (the cluster runs with authentication).
    cluster.cli_on(0, work.path(), &["log", "seed", "--name", "huge", "--type", "dataset"]).ok();
    let sha256 = support::sha256_hex(b"shared content");

    const WRITERS: usize = 4;
    const BATCHES: usize = 25;
    const BATCH: usize = 10_000;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (mut client, sha256) = (cluster.grpc(w % 2).await, sha256.clone());
        tasks.push(tokio::spawn(async move {
            for b in 0..BATCHES {
                let entries = (0..BATCH)
                    .map(|i| v1::Entry { path: format!("w{w}/b{b:02}/f{i:05}"), sha256: sha256.clone(), size: 14 })
                    .collect();
                let request = v1::UpsertRequest {
                    project: "default".into(),
                    artifact: "huge".into(),
                    r#type: "dataset".into(),
                    distributed_id: "million".into(),
                    writer_id: format!("rank-{w}"),
                    entries,
                    seal: b == BATCHES - 1,
                    ..Default::default()
                };
                // Requests through the non-owner are forwarded; both replicas serve them.
                let mut attempt = 0;
                loop {
                    match client.upsert(request.clone()).await {
                        Ok(_) => break,
                        Err(status) if status.code() == tonic::Code::Aborted && attempt < 20 => attempt += 1,
                        Err(status) => panic!("upsert failed: {status:?}"),
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let staged = started.elapsed();
    let finish_started = Instant::now();
    let finished =
        cluster.cli_on(1, work.path(), &["finish", "--name", "huge", "--distributed-id", "million", "--json"]).json();
    eprintln!(
        "1,000,000 entries: staged in {staged:?} (100 upserts of 10,000), finished in {:?}",
        finish_started.elapsed()
    );
    assert_eq!(finished["files"].as_u64(), Some((WRITERS * BATCHES * BATCH) as u64));

    // The draft lived in a handful of small etcd values, not one key per entry.
    let endpoints = [cluster.etcd.endpoint()];
    let etcd =
        cairn_meta::EtcdStore::connect(&endpoints, "/cluster-test/", Duration::from_secs(5), &Default::default())
            .await
            .unwrap();
    use cairn_meta::MetaStore;
    let all = etcd.range("", None, 100_000).await.unwrap();
    assert!(all.len() < 100, "etcd holds {} keys", all.len());
    let largest = all.iter().map(|kv| kv.value.len()).max().unwrap();
    assert!(largest < 16 * 1024, "largest etcd value is {largest} bytes");

    let manifest = cluster.cli_on(0, work.path(), &["manifest", "huge", "--json"]).json();
    let entries = manifest["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1_000_000);
    assert_eq!(entries[0]["path"], "w0/b00/f00000");
    assert_eq!(entries[999_999]["path"], "w3/b24/f09999");

    // The collector's mark phase reads the million-entry manifest: the blob it names, and
    // the manifest itself, are kept; nothing is deleted.
    let gc_started = Instant::now();
    let collected = cluster.cli_on(0, work.path(), &["gc", "--grace", "0", "--json"]).json();
    let gc_took = gc_started.elapsed();
    // Whichever replica collected, its peak is the larger one.
    let coordinator_rss = cluster.coordinators.iter().filter_map(|c| c.pid()).map(peak_rss).max().unwrap();
    eprintln!(
        "gc over a live 1,000,000-entry version: {gc_took:?} ({} ms in the collector), coordinators' peak RSS {} MiB",
        collected["duration_ms"],
        coordinator_rss >> 20
    );
    assert_eq!(collected["deleted_blobs"], 0, "{collected}");
    assert_eq!(collected["deleted_manifests"], 0, "{collected}");
    cluster.cli_on(1, work.path(), &["get", "huge", "--path", "w3/b24/f09999", "-o", "back"]).ok();
    assert_eq!(std::fs::read(work.path().join("back/w3/b24/f09999")).unwrap(), b"shared content");
}

/// Peak resident memory of a process (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// A worker limited to 16 parts per upload stores a 1 GiB file in 64 MiB parts; its memory
/// stays bounded (one part in flight and one filling), measured and printed.
#[test]
fn a_file_needing_64_mib_parts_uploads_with_bounded_worker_memory() {
    let cluster = Cluster::start_with(1, 1, &["--s3-max-parts", "16"]);
    let work = tempfile::tempdir().unwrap();
    let block: Vec<u8> = (0..256 * 1024u32).flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()).collect();
    let mut data = Vec::with_capacity(1 << 30);
    for n in 0..1024u64 {
        data.extend_from_slice(&n.to_le_bytes()); // every MiB differs
        data.extend_from_slice(&block[8..]);
    }
    std::fs::create_dir_all(work.path().join("big")).unwrap();
    std::fs::write(work.path().join("big/model.bin"), &data).unwrap();
    let before = peak_rss(cluster.workers[0].pid().unwrap());
    let started = Instant::now();
    let logged = cluster.cli_on(0, work.path(), &["log", "big", "--name", "huge", "--type", "model", "--json"]).json();
    let elapsed = started.elapsed();
    let peak = peak_rss(cluster.workers[0].pid().unwrap());
    eprintln!(
        "1 GiB in 64 MiB parts: worker peak RSS {} MiB (before the upload {} MiB), log took {elapsed:?}",
        peak >> 20,
        before >> 20
    );
    assert_eq!(logged["bytes"], 1u64 << 30);
    assert!(peak < 400 << 20, "worker peak RSS {} MiB is over the 400 MiB cap", peak >> 20);
    cluster.cli_on(0, work.path(), &["get", "huge", "-o", "back"]).ok();
    assert!(std::fs::read(work.path().join("back/model.bin")).unwrap() == data, "read back whole");
}
