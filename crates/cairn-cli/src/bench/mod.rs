//! `cairn bench`: generates deterministic datasets and measures cairn against this
//! machine's own limit on the same bytes, measured in the same run (read + sha256 + write
//! a copy + fsync, on every core). Every figure printed is measured here and now; the
//! ratios, not the absolute times, are what compare across runs on a shared machine.

mod dataset;
mod limit;
mod runner;
mod scenarios;

use std::path::PathBuf;

use clap::Args;
pub use runner::cpu_of;

/// Benchmark options.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Work directory for datasets and servers (default: a new directory under /var/tmp).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Small datasets (seconds instead of minutes), to check the bench itself works.
    #[arg(long)]
    pub quick: bool,
    /// Scenarios to run, comma-separated letters (default: all of a,b,c,d,e,g,h,i; f is
    /// measured with d).
    #[arg(long, value_delimiter = ',', default_value = "a,b,c,d,e,g,h,i")]
    pub only: Vec<String>,
    /// Keep the work directory afterwards.
    #[arg(long)]
    pub keep: bool,
    /// Also print the results as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs the selected scenarios and prints the report.
pub fn run(args: BenchArgs) -> Result<(), String> {
    let work = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("cairn-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let scale = if args.quick { scenarios::Scale::quick() } else { scenarios::Scale::full() };
    println!("{}", machine_summary());
    println!("work dir: {}  scale: {}", work.display(), if args.quick { "quick" } else { "full" });
    let report = scenarios::run_all(&work, &scale, &args.only);
    if !args.keep {
        let _ = std::fs::remove_dir_all(&work);
    }
    let report = report?;
    println!("\n{}", report.table());
    if args.json {
        println!("{}", report.json());
    }
    Ok(())
}

fn machine_summary() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model =
        cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("?").trim();
    let sha_ni = cpuinfo.lines().any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "sha_ni"));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<u64>().ok()))
        .map_or(0, |kb| kb / 1024 / 1024);
    let sha_rate = limit::sha256_single_core(256 << 20);
    format!(
        "machine: {model}, {cores} cores, {memory} GiB; CPU SHA extensions: {}; sha256 on one core: {:.0} MiB/s (measured, 256 MiB in memory)",
        if sha_ni { "yes" } else { "no" },
        sha_rate / (1 << 20) as f64
    )
}
