//! The coordinator's configuration: flags with environment fallbacks, checked at start.

use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run a coordinator.
#[derive(Debug, Clone, clap::Args)]
pub struct CoordinatorArgs {
    /// Address to listen on.
    #[arg(long, env = "CAIRN_COORDINATOR_LISTEN", default_value = "127.0.0.1:7420")]
    pub listen: SocketAddr,
    /// Directory of the embedded MetaStore (`<dir>/meta.redb`) and the local-file
    /// BlobStore (`<dir>/blobs`, shared with the workers).
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = ".cairn")]
    pub data_dir: PathBuf,
    /// Seconds between scans that expire idle drafts.
    #[arg(long, default_value_t = 30)]
    pub expiry_sweep_secs: u64,
}
