//! The worker's configuration: flags with environment fallbacks, checked at start.

use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run a storage worker.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerConfig {
    /// Address to listen on.
    #[arg(long, env = "CAIRN_WORKER_LISTEN", default_value = "127.0.0.1:7421")]
    pub listen: SocketAddr,
    /// Directory of the local-file BlobStore (`<dir>/blobs`), shared with the coordinator.
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = ".cairn")]
    pub data_dir: PathBuf,
}
