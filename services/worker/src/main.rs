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
    cairn_proto::server::init_logging("info");
    match cairn_worker::run(Cli::parse().config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::from(1)
        }
    }
}
