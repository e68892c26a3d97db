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
    cairn_proto::server::init_logging("info");
    match cairn_coordinator::run(Cli::parse().config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::from(1)
        }
    }
}
