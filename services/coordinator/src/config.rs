//! The coordinator's configuration: flags with environment fallbacks, checked at start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cairn_blob::S3Args;
use cairn_meta::EtcdArgs;

/// What is freed, and when, and how much a project may hold: shared by `cairn coordinator`
/// and `cairn dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct HousekeepingArgs {
    /// Seconds between garbage collections (one replica collects at a time); 0: only when
    /// asked (`cairn gc`).
    #[arg(long, env = "CAIRN_GC_INTERVAL_SECS", default_value_t = 3600)]
    pub gc_interval_secs: u64,
    /// Objects younger than this many seconds are never collected.
    #[arg(long, env = "CAIRN_GC_GRACE_SECS", default_value_t = 6 * 3600)]
    pub gc_grace_secs: u64,
    /// Unfinished uploads idle for this many seconds (or the grace period, if longer) are
    /// discarded by the collector.
    #[arg(long, env = "CAIRN_GC_UPLOAD_IDLE_SECS", default_value_t = 3600)]
    pub gc_upload_idle_secs: u64,
    /// How long what the collector deleted stays in its trash (`trash/` in the store)
    /// before a collection purges it: `7d`, `36h`, `90m` or seconds. `cairn fsck --repair`
    /// restores from it.
    #[arg(long, env = "CAIRN_GC_TRASH_RETENTION", default_value = "7d", value_parser = parse_duration)]
    pub gc_trash_retention: Duration,
    /// Seconds the records of committed, aborted and expired drafts are kept before the
    /// expiry sweep deletes them.
    #[arg(long, env = "CAIRN_DRAFT_RETENTION_SECS", default_value_t = 24 * 3600)]
    pub draft_retention_secs: u64,
    /// Longest draft time to live (seconds of inactivity) an upsert may ask for; longer
    /// is refused with TTL_TOO_LONG.
    #[arg(long, env = "CAIRN_MAX_DRAFT_TTL_SECS", default_value_t = 7 * 24 * 3600)]
    pub max_draft_ttl_secs: u64,
    /// Logical bytes of committed versions a project may hold unless `cairn quota set`
    /// says otherwise; 0: no limit.
    #[arg(long, env = "CAIRN_PROJECT_MAX_BYTES", default_value_t = 0)]
    pub project_max_bytes: u64,
    /// Open drafts a project may have at once unless `cairn quota set` says otherwise;
    /// 0: no limit.
    #[arg(long, env = "CAIRN_PROJECT_MAX_OPEN_DRAFTS", default_value_t = crate::DEFAULT_MAX_OPEN_DRAFTS)]
    pub project_max_open_drafts: u64,
    /// MiB of entries all Log calls in flight may hold together (a Log's entries are
    /// kept until its manifest is written); past it a Log is told to retry, and one larger
    /// than all of it is refused (LOG_TOO_LARGE).
    #[arg(long, env = "CAIRN_LOG_BUFFER_MIB", default_value_t = 1024)]
    pub log_buffer_mib: u64,
}

impl HousekeepingArgs {
    /// Sets these values in `config`.
    pub fn apply(&self, config: &mut crate::CoordinatorConfig) {
        config.gc_interval = (self.gc_interval_secs > 0).then(|| Duration::from_secs(self.gc_interval_secs));
        config.gc_grace = Duration::from_secs(self.gc_grace_secs);
        config.gc_upload_idle = Duration::from_secs(self.gc_upload_idle_secs);
        config.gc_trash_retention = self.gc_trash_retention;
        config.draft_retention = Duration::from_secs(self.draft_retention_secs);
        config.max_draft_ttl = Duration::from_secs(self.max_draft_ttl_secs);
        config.log_buffer_bytes = self.log_buffer_mib.saturating_mul(1 << 20);
        config.default_quota = crate::ProjectQuota {
            max_bytes: (self.project_max_bytes > 0).then_some(self.project_max_bytes),
            max_open_drafts: (self.project_max_open_drafts > 0).then_some(self.project_max_open_drafts),
        };
    }
}

/// How to run a coordinator replica.
#[derive(Debug, Clone, clap::Args)]
pub struct CoordinatorArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, env = "CAIRN_LISTEN", default_value = "127.0.0.1:7420")]
    pub listen: SocketAddr,
    /// Address other replicas forward draft requests to (default `http://<listen>`).
    #[arg(long, env = "CAIRN_ADVERTISE")]
    pub advertise: Option<String>,
    /// This replica's id (default: random per process).
    #[arg(long, env = "CAIRN_NODE_ID")]
    pub node_id: Option<String>,
    /// Directory of the embedded MetaStore and the local-file BlobStore, used when etcd
    /// or S3 is not configured.
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = ".cairn")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub etcd: EtcdArgs,
    #[command(flatten)]
    pub s3: S3Args,
    /// Seconds of this replica's lease: how soon after its death others take over its drafts.
    #[arg(long, env = "CAIRN_LEASE_TTL_SECS", default_value_t = 10)]
    pub lease_ttl_secs: u64,
    /// Seconds a request forwarded to a draft's owning replica may take (a finish adds its
    /// --wait); past it the client is told to retry.
    #[arg(long, env = "CAIRN_FORWARD_TIMEOUT_SECS", default_value_t = 30)]
    pub forward_timeout_secs: u64,
    #[command(flatten)]
    pub housekeeping: HousekeepingArgs,
    /// Seconds between scans that expire idle drafts.
    #[arg(long, env = "CAIRN_EXPIRY_SWEEP_SECS", default_value_t = 30)]
    pub expiry_sweep_secs: u64,
    /// Address of the admin HTTP server (Prometheus `/metrics`); unset: no admin server.
    #[arg(long, env = "CAIRN_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub tls: cairn_proto::tls::TlsArgs,
    #[command(flatten)]
    pub connections: cairn_proto::server::ConnectionLimits,
    /// Serve without authentication: anyone who reaches the coordinator may read, write
    /// and delete. Without it, callers need a token (docs/security.md).
    #[arg(long, env = "CAIRN_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
}

/// A duration as cairn-core parses it (`7d`, `36h`, seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    cairn_core::parse_duration_secs(text).map(Duration::from_secs)
}
