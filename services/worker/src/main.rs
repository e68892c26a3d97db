//! `cairn-worker`: a storage worker process (also available as `cairn worker`).

use clap::Parser;

/// Runs a cairn storage worker.
#[derive(Debug, Parser)]
#[command(name = "cairn-worker", version)]
struct Cli {
    #[command(flatten)]
    config: cairn_worker::WorkerConfig,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new("info")).init();
    match cairn_worker::run(Cli::parse().config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::from(1)
        }
    }
}
