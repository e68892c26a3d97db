//! The scenarios (a)–(f) of docs/performance.md and their report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::dataset::{lognormal_sizes, patch_in_place, write_random_file};
use super::limit::hash_and_copy;
use super::runner::{Secure, Server, cairn};

/// Dataset sizes.
pub struct Scale {
    mixed_files: usize,
    mixed_bytes: u64,
    small_files: usize,
    big_file: u64,
    writers: usize,
    files_per_writer: usize,
    /// (g): many small files.
    tiny_files: usize,
    /// (h): the same kind of files, this many times (g)'s count.
    tiny_scale_factor: usize,
}

impl Scale {
    pub fn full() -> Self {
        Self {
            mixed_files: 1_000,
            mixed_bytes: 500 << 20,
            small_files: 10_000,
            big_file: 2 << 30,
            writers: 16,
            files_per_writer: 5_000,
            tiny_files: 20_000,
            tiny_scale_factor: 10,
        }
    }

    pub fn quick() -> Self {
        Self {
            mixed_files: 100,
            mixed_bytes: 20 << 20,
            small_files: 1_000,
            big_file: 64 << 20,
            writers: 4,
            files_per_writer: 500,
            tiny_files: 2_000,
            tiny_scale_factor: 10,
        }
    }
}

/// One line of the report.
struct Line {
    scenario: &'static str,
    measured: String,
    baseline: String,
    ratio: String,
    target: &'static str,
    met: Option<bool>,
}

/// Every measured line.
#[derive(Default)]
pub struct Report {
    lines: Vec<Line>,
    figures: serde_json::Map<String, serde_json::Value>,
}

impl Report {
    fn add(&mut self, line: Line) {
        self.lines.push(line);
    }

    fn figure(&mut self, key: &str, value: serde_json::Value) {
        self.figures.insert(key.to_owned(), value);
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<44} {:>26} {:>30} {:>9}  {:<30} result",
            "scenario", "cairn", "limit (same bytes)", "ratio", "target"
        );
        for l in &self.lines {
            let result = match l.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "-",
            };
            let _ = writeln!(
                out,
                "{:<44} {:>26} {:>30} {:>9}  {:<30} {result}",
                l.scenario, l.measured, l.baseline, l.ratio, l.target
            );
        }
        out.push_str(
            "\nlimit = read + sha256 + write a copy + fsync of the same files on every core, measured in this run;\n\
             ratio = cairn time / limit time (1.0 = as fast as the machine's own hash+copy; lower is better).\n\
             cairn times are wall times of `cairn` client processes (release build) against a `cairn dev` server\n\
             on loopback; the client hashes, the worker re-hashes and stores with fsync + rename.",
        );
        out
    }

    pub fn json(&self) -> String {
        serde_json::Value::Object(self.figures.clone()).to_string()
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn rate(bytes: u64, d: Duration) -> String {
    format!("{:.2} s ({:.0} MiB/s)", secs(d), mib(bytes) / secs(d).max(1e-9))
}

/// Called before each measured step: flushes dirty pages (so writeback of the data just
/// generated does not land in the next measurement's fsyncs) and waits past the stat
/// cache's racy window, so freshly written files can be remembered.
fn settle() {
    let _ = std::process::Command::new("sync").status();
    std::thread::sleep(Duration::from_millis(150));
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn io(err: std::io::Error) -> String {
    err.to_string()
}

pub fn run_all(work: &Path, scale: &Scale, only: &[String]) -> Result<Report, String> {
    let wants = |s: &str| only.iter().any(|o| o == s);
    let mut report = Report::default();
    let cache = work.join("stat-cache");
    if wants("a") || wants("b") {
        mixed_dataset(work, scale, &cache, wants("b"), &mut report)?;
    }
    if wants("c") {
        small_files_relog(work, scale, &cache, &mut report)?;
    }
    if wants("d") {
        one_big_file(work, scale, &cache, &mut report)?;
    }
    if wants("e") {
        many_writers_finish(work, scale, &cache, &mut report)?;
    }
    if wants("g") || wants("h") {
        tiny_files(work, scale, &cache, wants("h"), &mut report)?;
    }
    if wants("i") {
        secure_first_version(work, scale, &mut report)?;
    }
    Ok(report)
}

/// Writes (a)'s mixed dataset into `data` (unless it is there); returns its size.
fn write_mixed(data: &Path, scale: &Scale) -> Result<u64, String> {
    let sizes = lognormal_sizes(scale.mixed_files, scale.mixed_bytes, 1);
    for (i, size) in sizes.iter().enumerate() {
        let path = data.join(format!("part-{:03}/file-{i:05}.bin", i % 37));
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == *size) {
            continue;
        }
        write_random_file(&path, *size, 1000 + i as u64).map_err(io)?;
    }
    Ok(sizes.iter().sum())
}

/// (i) (a)'s first version with TLS and tokens against the same without: alternating
/// runs on fresh servers, medians compared.
fn secure_first_version(work: &Path, scale: &Scale, report: &mut Report) -> Result<(), String> {
    const RUNS: usize = 3;
    let root = work.join("mixed");
    let data = root.join("data");
    write_mixed(&data, scale)?;
    let secure = Secure::generate(&work.join("pki"))?;
    let (mut plain, mut tls) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        for with_tls in [false, true] {
            let dir = root.join(format!("server-i-{run}-{with_tls}"));
            let server = if with_tls { Server::start_secure(&dir, &secure)? } else { Server::start(&dir)? };
            let cache = root.join(format!("cache-i-{run}-{with_tls}"));
            settle();
            let logged = cairn(&server, &root, &cache, &["log", "data", "--name", "mixed", "--type", "dataset"])?;
            if with_tls {
                tls.push(logged.wall)
            } else {
                plain.push(logged.wall)
            }
            drop(server);
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::remove_dir_all(&cache);
        }
    }
    let median = |mut times: Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (plain, tls) = (median(plain), median(tls));
    let ratio = secs(tls) / secs(plain);
    report.add(Line {
        scenario: "(i) (a) with TLS and tokens",
        measured: format!("{:.2} s (median of {RUNS})", secs(tls)),
        baseline: format!("without: {:.2} s (median of {RUNS})", secs(plain)),
        ratio: format!("{ratio:.2}x"),
        target: "<= 1.15x without",
        met: Some(ratio <= 1.15),
    });
    report.figure("i_plain_seconds", secs(plain).into());
    report.figure("i_tls_seconds", secs(tls).into());
    Ok(())
}

/// (a) first version of a mixed dataset; (b) a second version after a small change.
fn mixed_dataset(work: &Path, scale: &Scale, cache: &Path, with_b: bool, report: &mut Report) -> Result<(), String> {
    let root = work.join("mixed");
    let data = root.join("data");
    let total = write_mixed(&data, scale)?;
    settle();
    let limit = hash_and_copy(&files_under(&data), &root.join("copy")).map_err(io)?;
    std::fs::remove_dir_all(root.join("copy")).map_err(io)?;
    let server = Server::start(&root.join("server"))?;
    settle();
    let server_cpu_before = server.cpu();
    let first = cairn(&server, &root, cache, &["log", "data", "--name", "mixed", "--type", "dataset"])?;
    let cpu = first.client_cpu + server.cpu().saturating_sub(server_cpu_before);
    let ratio = secs(first.wall) / secs(limit);
    report.add(Line {
        scenario: "(a) first version, mixed dataset",
        measured: rate(total, first.wall),
        baseline: rate(total, limit),
        ratio: format!("{ratio:.2}x"),
        target: "<= 1.6x",
        met: Some(ratio <= 1.6),
    });
    let cpu_per_gib = secs(cpu) / (total as f64 / (1u64 << 30) as f64);
    report.add(Line {
        scenario: "(a) CPU, client + server, per GiB",
        measured: format!("{cpu_per_gib:.2} CPU-s/GiB"),
        baseline: format!("client {:.2} s + server {:.2} s", secs(first.client_cpu), secs(cpu - first.client_cpu)),
        ratio: "-".into(),
        target: "<= 3.5 CPU-s/GiB",
        met: Some(first.client_cpu > Duration::ZERO && cpu_per_gib <= 3.5),
    });
    let download = download_into_empty_dir(
        &server,
        &root,
        cache,
        "mixed",
        total,
        limit,
        1.3,
        "(a) download into an empty dir",
        report,
    )?;
    report.figure("a_files", scale.mixed_files.into());
    report.figure("a_bytes", total.into());
    report.figure("a_cairn_seconds", secs(first.wall).into());
    report.figure("a_limit_seconds", secs(limit).into());
    report.figure("a_cpu_seconds_per_gib", cpu_per_gib.into());
    report.figure("a_download_seconds", secs(download).into());
    if !with_b {
        return Ok(());
    }

    // (b): patch 2 % of the files in place, add 5, delete 5.
    let files = files_under(&data);
    let mut changed: Vec<PathBuf> = Vec::new();
    let step = (files.len() / (files.len() / 50).max(1)).max(1);
    for (k, path) in files.iter().enumerate().filter(|(k, _)| k % step == 0).take((files.len() / 50).max(1)) {
        let size = std::fs::metadata(path).map_err(io)?.len();
        patch_in_place(path, size / 2, 4096.min(size as usize), 7_000 + k as u64).map_err(io)?;
        changed.push(path.clone());
    }
    let deleted: Vec<&PathBuf> = files.iter().rev().filter(|p| !changed.contains(p)).take(5).collect();
    for path in &deleted {
        std::fs::remove_file(path).map_err(io)?;
    }
    let new_sizes = lognormal_sizes(5, scale.mixed_bytes / scale.mixed_files as u64 * 5, 2);
    for (k, size) in new_sizes.iter().enumerate() {
        let path = data.join(format!("new/added-{k}.bin"));
        write_random_file(&path, *size, 9_000 + k as u64).map_err(io)?;
        changed.push(path);
    }
    let changed_bytes: u64 = changed.iter().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).sum();
    settle();
    let limit_changed = hash_and_copy(&changed, &root.join("copy-b")).map_err(io)?;
    settle();
    let second = cairn(&server, &root, cache, &["log", "data", "--name", "mixed", "--type", "dataset"])?;
    let uploaded = second.json["uploaded_bytes"].as_u64().unwrap_or(u64::MAX);
    let hashed = second.json["hashed_bytes"].as_u64().unwrap_or(0);
    let time_budget = 0.3 + 1.5 * secs(limit_changed);
    report.add(Line {
        scenario: "(b) 2 % patched + 5 added + 5 deleted: time",
        measured: format!("{:.3} s", secs(second.wall)),
        baseline: format!("{:.3} s for changed bytes", secs(limit_changed)),
        ratio: format!("{:.2}x", secs(second.wall) / secs(limit_changed)),
        target: "<= 0.3 s + 1.5 x limit",
        met: Some(secs(second.wall) <= time_budget),
    });
    report.add(Line {
        scenario: "(b) uploaded bytes vs changed+added bytes",
        measured: format!("{:.1} MiB up, {:.1} MiB read", mib(uploaded), mib(hashed)),
        baseline: format!("{:.1} MiB changed+added", mib(changed_bytes)),
        ratio: format!("{:.2}x", uploaded as f64 / changed_bytes.max(1) as f64),
        target: "<= 1.1x",
        met: Some(uploaded as f64 <= 1.1 * changed_bytes as f64),
    });
    report.figure("b_cairn_seconds", secs(second.wall).into());
    report.figure("b_limit_changed_seconds", secs(limit_changed).into());
    report.figure("b_uploaded_bytes", uploaded.into());
    report.figure("b_hashed_bytes", hashed.into());
    report.figure("b_changed_bytes", changed_bytes.into());
    Ok(())
}

/// (c) re-logging 10,000 small unchanged files.
fn small_files_relog(work: &Path, scale: &Scale, cache: &Path, report: &mut Report) -> Result<(), String> {
    let root = work.join("small");
    let data = root.join("data");
    let sizes = lognormal_sizes(scale.small_files, scale.small_files as u64 * 2048, 3);
    for (i, size) in sizes.iter().enumerate() {
        write_random_file(
            &data.join(format!("{:02}/{i:05}.txt", i % 100)),
            (*size).clamp(1, 64 << 10),
            50_000 + i as u64,
        )
        .map_err(io)?;
    }
    settle();
    let server = Server::start(&root.join("server"))?;
    cairn(&server, &root, cache, &["log", "data", "--name", "small", "--type", "dataset"])?;
    let again = cairn(&server, &root, cache, &["log", "data", "--name", "small", "--type", "dataset"])?;
    let dedup = again.json["dedup"].as_bool().unwrap_or(false);
    report.add(Line {
        scenario: "(c) no-op re-log of small files",
        measured: format!("{:.3} s ({} files)", secs(again.wall), scale.small_files),
        baseline: "-".into(),
        ratio: "-".into(),
        target: "< 0.3 s, dedup",
        met: Some(secs(again.wall) < 0.3 && dedup),
    });
    report.figure("c_files", scale.small_files.into());
    report.figure("c_relog_seconds", secs(again.wall).into());
    report.figure("c_hashed_bytes", again.json["hashed_bytes"].clone());
    Ok(())
}

/// (d) one large file; (f) peak memory of server and client while ingesting it.
fn one_big_file(work: &Path, scale: &Scale, cache: &Path, report: &mut Report) -> Result<(), String> {
    let root = work.join("big");
    let file = root.join("data/big.bin");
    write_random_file(&file, scale.big_file, 4).map_err(io)?;
    settle();
    let limit = hash_and_copy(std::slice::from_ref(&file), &root.join("copy")).map_err(io)?;
    std::fs::remove_dir_all(root.join("copy")).map_err(io)?;
    let server = Server::start(&root.join("server"))?;
    let run = cairn(&server, &root, cache, &["log", "data", "--name", "big", "--type", "model"])?;
    let ratio = secs(run.wall) / secs(limit);
    report.add(Line {
        scenario: "(d) one large file",
        measured: rate(scale.big_file, run.wall),
        baseline: rate(scale.big_file, limit),
        ratio: format!("{ratio:.2}x"),
        target: "(no target; compare to (a))",
        met: None,
    });
    let server_rss = server.peak_rss();
    report.add(Line {
        scenario: "(f) peak RSS, server, ingesting (d)",
        measured: format!("{:.0} MiB", mib(server_rss)),
        baseline: "-".into(),
        ratio: "-".into(),
        target: "< 200 MiB",
        met: Some(server_rss < 200 << 20),
    });
    report.add(Line {
        scenario: "(f) peak RSS, client, logging (d)",
        measured: format!("{:.0} MiB", mib(run.client_peak_rss)),
        baseline: "-".into(),
        ratio: "-".into(),
        target: "< 300 MiB",
        met: Some(run.client_peak_rss > 0 && run.client_peak_rss < 300 << 20),
    });
    report.figure("d_bytes", scale.big_file.into());
    report.figure("d_cairn_seconds", secs(run.wall).into());
    report.figure("d_limit_seconds", secs(limit).into());
    report.figure("f_server_peak_rss_bytes", server_rss.into());
    report.figure("f_client_peak_rss_bytes", run.client_peak_rss.into());
    Ok(())
}

/// (e) many writers stage small files, then one finish.
fn many_writers_finish(work: &Path, scale: &Scale, cache: &Path, report: &mut Report) -> Result<(), String> {
    let root = work.join("writers");
    for w in 0..scale.writers {
        for i in 0..scale.files_per_writer {
            let path = root.join(format!("w{w:02}/rank-{w:02}/{:02}/{i:05}.json", i % 50));
            write_random_file(&path, 256, (w * 1_000_000 + i) as u64).map_err(io)?;
        }
    }
    let server = Server::start(&root.join("server"))?;
    let staged = std::time::Instant::now();
    let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..scale.writers)
            .map(|w| {
                let (server, root) = (&server, &root);
                scope.spawn(move || {
                    let (dir, writer) = (format!("w{w:02}"), format!("rank-{w:02}"));
                    let args = [
                        "upsert",
                        &dir,
                        "--name",
                        "e",
                        "--type",
                        "checkpoint",
                        "--distributed-id",
                        "bench-e",
                        "--writer",
                        &writer,
                        "--seal",
                    ];
                    cairn(server, root, cache, &args).map(|_| ())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("writer thread panicked".into()))).collect()
    });
    results.into_iter().collect::<Result<Vec<()>, String>>()?;
    let staging = staged.elapsed();
    let finish = cairn(&server, &root, cache, &["finish", "--name", "e", "--distributed-id", "bench-e"])?;
    let files = finish.json["files"].as_u64().unwrap_or(0);
    report.add(Line {
        scenario: "(e) finish after many writers",
        measured: format!("{:.3} s ({files} files)", secs(finish.wall)),
        baseline: format!("staging took {:.1} s", secs(staging)),
        ratio: "-".into(),
        target: "< 1 s",
        met: Some(secs(finish.wall) < 1.0 && files == (scale.writers * scale.files_per_writer) as u64),
    });
    report.add(Line {
        scenario: "(e) staging by many writers",
        measured: format!("{:.2} s", secs(staging)),
        baseline: format!("{} writers x {} files of 256 B", scale.writers, scale.files_per_writer),
        ratio: "-".into(),
        target: "<= 3 s",
        met: Some(secs(staging) <= 3.0),
    });
    report.figure("e_writers", scale.writers.into());
    report.figure("e_files", files.into());
    report.figure("e_finish_seconds", secs(finish.wall).into());
    report.figure("e_staging_seconds", secs(staging).into());
    Ok(())
}

/// Downloads the latest version of `name` into a new directory and reports it against
/// the limit of the same bytes; returns the download's wall time.
#[allow(clippy::too_many_arguments)]
fn download_into_empty_dir(
    server: &Server,
    root: &Path,
    cache: &Path,
    name: &str,
    bytes: u64,
    limit: Duration,
    target_ratio: f64,
    scenario: &'static str,
    report: &mut Report,
) -> Result<Duration, String> {
    let output = root.join(format!("download-{name}"));
    let output_arg = output.to_string_lossy().into_owned();
    settle();
    let run = cairn(server, root, cache, &["get", &format!("{name}:latest"), "--output", &output_arg])?;
    let ratio = secs(run.wall) / secs(limit);
    report.add(Line {
        scenario,
        measured: rate(bytes, run.wall),
        baseline: rate(bytes, limit),
        ratio: format!("{ratio:.2}x"),
        target: if target_ratio <= 1.3 { "<= 1.3x" } else { "<= 1.5x" },
        met: Some(ratio <= target_ratio),
    });
    std::fs::remove_dir_all(&output).map_err(io)?;
    Ok(run.wall)
}

/// Writes `count` files of 256 B to 8 KiB (uniform, seeded) in directories of 100.
fn write_tiny_files(data: &Path, count: usize, seed: u64) -> Result<u64, String> {
    let mut rng = super::dataset::Rng::new(seed);
    let mut total = 0;
    for i in 0..count {
        let size = 256 + rng.next_u64() % (8192 - 256 + 1);
        write_random_file(&data.join(format!("{:04}/{i:06}.bin", i / 100)), size, seed * 1_000_000 + i as u64)
            .map_err(io)?;
        total += size;
    }
    Ok(total)
}

/// (g) many small files: first version, download, re-log after 2 % were patched;
/// (h) ten times as many: first version, to show the cost is linear in the file count.
fn tiny_files(work: &Path, scale: &Scale, cache: &Path, with_h: bool, report: &mut Report) -> Result<(), String> {
    let root = work.join("tiny");
    let data = root.join("data");
    let total = write_tiny_files(&data, scale.tiny_files, 11)?;
    settle();
    let limit = hash_and_copy(&files_under(&data), &root.join("copy")).map_err(io)?;
    std::fs::remove_dir_all(root.join("copy")).map_err(io)?;
    let server = Server::start(&root.join("server"))?;
    settle();
    let first = cairn(&server, &root, cache, &["log", "data", "--name", "tiny", "--type", "dataset"])?;
    let ratio = secs(first.wall) / secs(limit);
    report.add(Line {
        scenario: "(g) first version, small files",
        measured: format!("{:.2} s ({} files)", secs(first.wall), scale.tiny_files),
        baseline: rate(total, limit),
        ratio: format!("{ratio:.2}x"),
        target: "<= 1.5x",
        met: Some(ratio <= 1.5),
    });
    let download = download_into_empty_dir(
        &server,
        &root,
        cache,
        "tiny",
        total,
        limit,
        1.5,
        "(g) download into an empty dir",
        report,
    )?;

    let files = files_under(&data);
    let patched = files.len() / 50;
    for (k, path) in files.iter().step_by(50).take(patched).enumerate() {
        patch_in_place(path, 0, 64, 70_000 + k as u64).map_err(io)?;
    }
    settle();
    let relog = cairn(&server, &root, cache, &["log", "data", "--name", "tiny", "--type", "dataset"])?;
    report.add(Line {
        scenario: "(g) re-log after 2 % patched",
        measured: format!("{:.3} s ({patched} files changed)", secs(relog.wall)),
        baseline: "-".into(),
        ratio: "-".into(),
        target: "<= 0.3 s",
        met: Some(secs(relog.wall) <= 0.3),
    });
    report.figure("g_files", scale.tiny_files.into());
    report.figure("g_bytes", total.into());
    report.figure("g_limit_seconds", secs(limit).into());
    report.figure("g_cairn_seconds", secs(first.wall).into());
    report.figure("g_download_seconds", secs(download).into());
    report.figure("g_relog_seconds", secs(relog.wall).into());
    report.figure("g_relog_uploaded_bytes", relog.json["uploaded_bytes"].clone());
    drop(server);
    std::fs::remove_dir_all(&root).map_err(io)?;
    if !with_h {
        return Ok(());
    }

    let root = work.join("tiny-h");
    let count = scale.tiny_files * scale.tiny_scale_factor;
    write_tiny_files(&root.join("data"), count, 12)?;
    settle();
    let server = Server::start(&root.join("server"))?;
    let big = cairn(&server, &root, cache, &["log", "data", "--name", "tiny-h", "--type", "dataset"])?;
    let growth = secs(big.wall) / secs(first.wall);
    let allowed = 1.1 * scale.tiny_scale_factor as f64;
    report.add(Line {
        scenario: "(h) first version, 10x the small files",
        measured: format!("{:.2} s ({count} files)", secs(big.wall)),
        baseline: format!("(g): {:.2} s", secs(first.wall)),
        ratio: format!("{growth:.2}x (g)"),
        target: "<= 11x (g)",
        met: Some(growth <= allowed),
    });
    report.figure("h_files", count.into());
    report.figure("h_cairn_seconds", secs(big.wall).into());
    drop(server);
    std::fs::remove_dir_all(&root).map_err(io)?;
    Ok(())
}
