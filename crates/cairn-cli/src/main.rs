//! The `cairn` command: `cairn dev` runs the embedded server; every other command is a
//! client of a running server. Exit codes: 0 success, 1 refused or failed, 2 usage error.

mod args;
mod bench;
mod commands;
mod dev;
mod output;
mod progress;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    // Inside the runtime: the optional OTLP exporter runs on it.
    let _runtime_context = runtime.enter();
    init_tracing(matches!(cli.command, Command::Dev(_) | Command::Coordinator(_) | Command::Worker(_)));
    match cli.command {
        Command::Dev(args) => match runtime.block_on(dev::run(args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::from(1)
            }
        },
        Command::Bench(args) => match bench::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::from(1)
            }
        },
        Command::Coordinator(args) => exit(runtime.block_on(cairn_coordinator::run(args))),
        Command::Worker(args) => exit(runtime.block_on(cairn_worker::run(args))),
        command => {
            let code = runtime.block_on(commands::run(command));
            report_peak_rss();
            code
        }
    }
}

/// With `CAIRN_REPORT_PEAK_RSS=1`, prints this process's peak resident memory and the CPU
/// time it used on stderr (used by `cairn bench` to measure clients).
fn report_peak_rss() {
    if std::env::var("CAIRN_REPORT_PEAK_RSS").is_ok_and(|v| v == "1") {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if let Some(kb) = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)) {
            eprintln!("peak_rss_bytes={}", kb.parse::<u64>().unwrap_or(0) * 1024);
        }
        eprintln!("cpu_seconds={:.2}", bench::cpu_of("/proc/self/stat").as_secs_f64());
    }
}

fn exit(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(1)
        }
    }
}

/// Servers log at info by default; client commands only warn, keeping output clean.
fn init_tracing(server: bool) {
    cairn_proto::server::init_logging(if server { "info" } else { "warn" });
}
