//! `cairn-chaos`: runs seeded chaos runs over a real cluster and prints their figures.
//! Exit code 0 when no run found a violation, 1 otherwise (the failing seeds are printed
//! with the command that replays them).

use std::path::PathBuf;

use cairn_chaos::cluster::S3Kind;
use cairn_chaos::plan::Scale;
use cairn_chaos::{Settings, clean_up, run, sibling_cairn};
use clap::Parser;

/// Seeded fault injection over a real cairn cluster, with invariant checks.
#[derive(Debug, Parser)]
#[command(name = "cairn-chaos")]
struct Args {
    /// First seed; runs use seed, seed+1, …
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of runs (seeds).
    #[arg(long, default_value_t = 1)]
    runs: u64,
    /// Seconds of each run during which work starts and faults are injected.
    #[arg(long, default_value_t = 120)]
    duration: u64,
    /// The S3-compatible server behind the fault proxy.
    #[arg(long, value_enum, default_value_t = S3Kind::S3sFs)]
    s3: S3Kind,
    /// Most writers of one distributed job (2 to 16).
    #[arg(long, default_value_t = 6)]
    max_writers: u64,
    /// Largest file in MiB.
    #[arg(long, default_value_t = 24)]
    max_file_mib: u64,
    /// The cairn binary (default: the one next to this binary).
    #[arg(long, env = "CAIRN_BIN")]
    cairn: Option<PathBuf>,
    /// Collect garbage aggressively (every 2–4 s, grace 0–5 s) while long-lived drafts
    /// finish, deletions race edits, retention runs and collectors are frozen mid-sweep.
    #[arg(long)]
    aggressive_gc: bool,
    /// Keep each run's directory (server logs and data) instead of removing it.
    #[arg(long)]
    keep: bool,
}

fn main() {
    let args = Args::parse();
    let Some(cairn) = args.cairn.clone().or_else(sibling_cairn) else {
        eprintln!("error: no cairn binary next to cairn-chaos; build it (cargo build -p cairn-cli) or pass --cairn");
        std::process::exit(2);
    };
    let scale = Scale {
        duration_secs: args.duration.max(20),
        max_writers: args.max_writers.clamp(2, 16),
        max_file_mib: args.max_file_mib.clamp(1, 64),
        coordinators: 3,
        workers: 3,
        aggressive_gc: args.aggressive_gc,
    };
    let mut failed = Vec::new();
    for seed in args.seed..args.seed + args.runs {
        let dir = tempfile::Builder::new().prefix(&format!("cairn-chaos-{seed}-")).tempdir().expect("run dir").keep();
        let settings = Settings { seed, scale, s3: args.s3, cairn: cairn.clone(), dir: dir.clone() };
        let replay = format!(
            "cargo run -p cairn-chaos -- --seed {seed} --duration {} --s3 {} --max-writers {} --max-file-mib {}{} --keep",
            scale.duration_secs,
            match args.s3 {
                S3Kind::S3sFs => "s3s-fs",
                S3Kind::Moto => "moto",
            },
            scale.max_writers,
            scale.max_file_mib,
            if scale.aggressive_gc { " --aggressive-gc" } else { "" }
        );
        match run(&settings) {
            Ok(report) => {
                print!("{}", report.render(&replay));
                if !report.violations.is_empty() {
                    failed.push(seed);
                    println!("run directory kept: {}", dir.display());
                    continue;
                }
            }
            Err(err) => {
                println!("chaos run with seed {seed} could not run: {err}\nreplay: {replay}");
                failed.push(seed);
                continue;
            }
        }
        clean_up(&dir, args.keep);
    }
    let passed = args.runs - failed.len() as u64;
    println!("chaos: {passed} passed, {} failed", failed.len());
    if !failed.is_empty() {
        println!("failing seeds: {failed:?}");
        std::process::exit(1);
    }
}
