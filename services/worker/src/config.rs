//! The worker's configuration: flags with environment fallbacks, checked at start.

use std::net::SocketAddr;
use std::path::PathBuf;

use cairn_blob::S3Args;
use cairn_meta::EtcdArgs;

/// How to run a storage worker.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerConfig {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, env = "CAIRN_LISTEN", default_value = "127.0.0.1:7421")]
    pub listen: SocketAddr,
    /// Address clients reach this worker at (default `http://<listen>`).
    #[arg(long, env = "CAIRN_ADVERTISE")]
    pub advertise: Option<String>,
    /// This worker's id (default: random per process).
    #[arg(long, env = "CAIRN_NODE_ID")]
    pub node_id: Option<String>,
    /// Directory of the local-file BlobStore, used when S3 is not configured.
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = ".cairn")]
    pub data_dir: PathBuf,
    /// etcd, where the worker registers so coordinators can hand it to clients.
    #[command(flatten)]
    pub etcd: EtcdArgs,
    #[command(flatten)]
    pub s3: S3Args,
    /// Seconds of the worker's registration lease.
    #[arg(long, env = "CAIRN_LEASE_TTL_SECS", default_value_t = 10)]
    pub lease_ttl_secs: u64,
    /// Address of the admin HTTP server (Prometheus `/metrics`); unset: no admin server.
    #[arg(long, env = "CAIRN_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub tls: cairn_proto::tls::TlsArgs,
    #[command(flatten)]
    pub limits: crate::StreamLimits,
    #[command(flatten)]
    pub connections: cairn_proto::server::ConnectionLimits,
    /// Serve without authentication: anyone who reaches the worker may read and write
    /// blobs. Without it, callers need a token (docs/security.md).
    #[arg(long, env = "CAIRN_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
}
