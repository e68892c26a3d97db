//! Choosing the MetaStore from configuration: etcd when endpoints are given, else the
//! embedded store in the data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::{EmbeddedStore, EtcdStore, MetaError, MetaStore, Metered};

/// etcd settings shared by the coordinator and the worker.
#[derive(Debug, Clone, clap::Args)]
pub struct EtcdArgs {
    /// etcd client endpoints, comma-separated (`http://10.0.0.1:2379,…`). Empty: use the
    /// embedded store in the data directory.
    #[arg(long = "etcd-endpoints", env = "CAIRN_ETCD_ENDPOINTS", value_delimiter = ',')]
    pub endpoints: Vec<String>,
    /// Prefix of every key cairn writes in etcd, so clusters can share one etcd.
    #[arg(long = "etcd-namespace", env = "CAIRN_ETCD_NAMESPACE", default_value = "/cairn/")]
    pub namespace: String,
    /// Connect and request timeout for etcd, in seconds.
    #[arg(long = "etcd-timeout-secs", env = "CAIRN_ETCD_TIMEOUT_SECS", default_value_t = 5)]
    pub timeout_secs: u64,
    #[command(flatten)]
    pub security: EtcdSecurity,
}

/// How cairn proves itself to etcd and checks etcd's certificate (docs/security.md).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EtcdSecurity {
    /// PEM CA certificate that signed etcd's server certificate; turns on TLS to etcd
    /// (`https://` endpoints without it trust the system's CAs).
    #[arg(long = "etcd-ca-cert", env = "CAIRN_ETCD_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate for etcd's `--client-cert-auth` (with --etcd-client-key).
    #[arg(long = "etcd-client-cert", env = "CAIRN_ETCD_CLIENT_CERT", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// PEM key of --etcd-client-cert.
    #[arg(long = "etcd-client-key", env = "CAIRN_ETCD_CLIENT_KEY", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// etcd user, when etcd has authentication on (with --etcd-password).
    #[arg(long = "etcd-user", env = "CAIRN_ETCD_USER", requires = "password")]
    pub user: Option<String>,
    /// Password of --etcd-user (prefer the environment variable, e.g. from a Secret).
    #[arg(long = "etcd-password", env = "CAIRN_ETCD_PASSWORD", hide_env_values = true, requires = "user")]
    pub password: Option<String>,
}

impl EtcdArgs {
    /// True when etcd endpoints are configured.
    pub fn is_cluster(&self) -> bool {
        !self.endpoints.is_empty()
    }

    /// Opens the configured store: etcd, or the embedded store at `<data_dir>/meta.redb`.
    pub async fn open(&self, data_dir: &Path) -> Result<Arc<dyn MetaStore>, MetaError> {
        if self.is_cluster() {
            let timeout = Duration::from_secs(self.timeout_secs.max(1));
            let store = EtcdStore::connect(&self.endpoints, &self.namespace, timeout, &self.security).await?;
            return Ok(Metered::wrap(Arc::new(store), "etcd"));
        }
        std::fs::create_dir_all(data_dir).map_err(MetaError::backend)?;
        Ok(Metered::wrap(Arc::new(EmbeddedStore::open(&data_dir.join("meta.redb"))?), "embedded"))
    }
}
