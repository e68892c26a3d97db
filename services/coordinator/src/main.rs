//! `cairn-coordinator`: a coordinator process (also available as `cairn coordinator`).

use clap::Parser;

/// Runs a cairn coordinator.
#[derive(Debug, Parser)]
#[command(name = "cairn-coordinator", version)]
struct Cli {
    #[command(flatten)]
    config: cairn_coordinator::CoordinatorArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new("info")).init();
    match cairn_coordinator::run(Cli::parse().config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::from(1)
        }
    }
}
