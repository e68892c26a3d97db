//! Choosing the BlobStore from configuration: S3 when a bucket is given, else local files
//! in the data directory.

use std::path::Path;
use std::sync::Arc;

use crate::{BlobError, BlobStore, LocalFileStore, Metered, S3Config, S3Store};

/// S3 settings shared by the coordinator and the worker. Credentials come from these
/// flags when both are given, else from the standard AWS chain (environment, profile,
/// web identity / IRSA).
#[derive(Debug, Clone, clap::Args)]
pub struct S3Args {
    /// Bucket for blobs and manifests. Empty: use local files in the data directory.
    #[arg(long = "s3-bucket", env = "CAIRN_S3_BUCKET")]
    pub bucket: Option<String>,
    /// Endpoint of an S3-compatible store (`http://minio:9000`); unset for AWS S3.
    #[arg(long = "s3-endpoint", env = "CAIRN_S3_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Region to sign requests for.
    #[arg(long = "s3-region", env = "CAIRN_S3_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Prefix of every key cairn writes in the bucket.
    #[arg(long = "s3-prefix", env = "CAIRN_S3_PREFIX", default_value = "")]
    pub prefix: String,
    /// Access key (with --s3-secret-key); otherwise the AWS credential chain is used.
    #[arg(long = "s3-access-key", env = "CAIRN_S3_ACCESS_KEY")]
    pub access_key: Option<String>,
    /// Secret key (with --s3-access-key).
    #[arg(long = "s3-secret-key", env = "CAIRN_S3_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Use virtual-hosted-style addressing instead of path-style.
    #[arg(long = "s3-virtual-hosted", env = "CAIRN_S3_VIRTUAL_HOSTED")]
    pub virtual_hosted: bool,
    /// Multipart part size in MiB (5 to 5120).
    #[arg(long = "s3-part-size-mib", env = "CAIRN_S3_PART_SIZE_MIB", default_value_t = 8)]
    pub part_size_mib: usize,
    /// Parts of one blob uploaded at once.
    #[arg(long = "s3-part-concurrency", env = "CAIRN_S3_PART_CONCURRENCY", default_value_t = 4)]
    pub part_concurrency: usize,
    /// Most parts of one multipart upload; a blob's parts grow so that it fits. S3 allows
    /// 10,000; lower it only to test large parts.
    #[arg(long = "s3-max-parts", env = "CAIRN_S3_MAX_PARTS", default_value_t = crate::s3::S3_MAX_PARTS)]
    pub max_parts: u64,
    /// Seconds one attempt of one S3 request may take before it is retried.
    #[arg(long = "s3-timeout-secs", env = "CAIRN_S3_TIMEOUT_SECS", default_value_t = 60)]
    pub s3_timeout_secs: u64,
    /// Attempts per S3 request (retries of throttling, 5xx answers and timeouts).
    #[arg(long = "s3-max-attempts", env = "CAIRN_S3_MAX_ATTEMPTS", default_value_t = 3)]
    pub s3_max_attempts: u32,
}

impl S3Args {
    /// True when a bucket is configured.
    pub fn is_cluster(&self) -> bool {
        self.bucket.is_some()
    }

    /// Opens the configured store: S3, or local files at `<data_dir>/blobs`. A process
    /// that receives uploads (`owns_uploads`) clears the local store's unfinished writes.
    pub async fn open(&self, data_dir: &Path, owns_uploads: bool) -> Result<Arc<dyn BlobStore>, BlobError> {
        let Some(bucket) = &self.bucket else {
            let root = data_dir.join("blobs");
            let store = if owns_uploads { LocalFileStore::open(&root)? } else { LocalFileStore::open_shared(&root)? };
            return Ok(Metered::wrap(Arc::new(store), "local"));
        };
        if self.access_key.is_some() != self.secret_key.is_some() {
            return Err(BlobError::Io("give both --s3-access-key and --s3-secret-key, or neither".into()));
        }
        let mut config = S3Config::new(bucket);
        config.endpoint = self.endpoint.clone();
        config.region = self.region.clone();
        config.prefix = self.prefix.clone();
        config.access_key = self.access_key.clone();
        config.secret_key = self.secret_key.clone();
        config.force_path_style = !self.virtual_hosted;
        config.part_size = self.part_size_mib * 1024 * 1024;
        config.part_concurrency = self.part_concurrency;
        config.max_parts = self.max_parts;
        config.attempt_timeout = std::time::Duration::from_secs(self.s3_timeout_secs.max(1));
        config.max_attempts = self.s3_max_attempts.max(1);
        Ok(Arc::new(S3Store::connect(config).await?))
    }
}
