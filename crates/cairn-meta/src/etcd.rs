//! The MetaStore on etcd (cluster mode), via `etcd-client`.
//!
//! Every key is stored under a namespace prefix, so several clusters (or test runs) can
//! share one etcd. Requests require a leader, so a partitioned member never serves stale
//! reads. A keep-alive opens a fresh keep-alive stream each time: etcd's stream does not
//! heal after an etcd restart, and a renewal that re-establishes it always works.

use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{
    Client, Compare as EtcdCompare, CompareOp, ConnectOptions, GetOptions, PutOptions, Txn as EtcdTxn,
    TxnOp as EtcdTxnOp,
};

use crate::{Compare, EtcdSecurity, KeyValue, LeaseId, MetaError, MetaStore, Snapshot, Txn, TxnOp};

/// The etcd MetaStore.
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
    namespace: String,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore").field("namespace", &self.namespace).finish()
    }
}

impl EtcdStore {
    /// Connects to `endpoints` (e.g. `http://127.0.0.1:2379`); every key lives under `namespace`.
    pub async fn connect(
        endpoints: &[String],
        namespace: &str,
        timeout: Duration,
        security: &EtcdSecurity,
    ) -> Result<Self, MetaError> {
        let mut options = ConnectOptions::new()
            .with_require_leader(true)
            .with_connect_timeout(timeout)
            .with_timeout(timeout)
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
        let tls_wanted = security.ca_cert.is_some()
            || security.client_cert.is_some()
            || endpoints.iter().any(|e| e.starts_with("https://"));
        if tls_wanted {
            options = options.with_tls(tls_options(security)?);
        }
        if let (Some(user), Some(password)) = (&security.user, &security.password) {
            options = options.with_user(user, password);
        }
        let client = Client::connect(endpoints, Some(options)).await.map_err(to_meta_error)?;
        Ok(Self { client, namespace: namespace.to_owned() })
    }

    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.namespace)
    }

    fn strip(&self, key: &[u8]) -> Result<String, MetaError> {
        let key = std::str::from_utf8(key).map_err(MetaError::backend)?;
        key.strip_prefix(&self.namespace)
            .map(str::to_owned)
            .ok_or_else(|| MetaError::Backend(format!("key {key:?} outside namespace")))
    }

    /// Up to `limit` keys under `prefix` after `start_after`, at `revision` (0: now).
    async fn range_at(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        revision: i64,
    ) -> Result<Vec<KeyValue>, MetaError> {
        let full_prefix = self.full(prefix);
        let start = match start_after {
            // The smallest key after `start_after` is `start_after` followed by a NUL byte.
            Some(after) if after >= prefix => {
                let mut start = self.full(after).into_bytes();
                start.push(0);
                start
            }
            _ => full_prefix.clone().into_bytes(),
        };
        let mut options = GetOptions::new().with_range(prefix_end(&full_prefix)).with_limit(limit as i64);
        if revision > 0 {
            options = options.with_revision(revision);
        }
        let mut kv = self.client.kv_client();
        let response = kv.get(start, Some(options)).await.map_err(|err| match compacted(&err) {
            true => MetaError::Compacted(revision),
            false => to_meta_error(err),
        })?;
        response.kvs().iter().map(|kv| self.convert(kv)).collect()
    }

    fn convert(&self, kv: &etcd_client::KeyValue) -> Result<KeyValue, MetaError> {
        Ok(KeyValue {
            key: self.strip(kv.key())?,
            value: kv.value().to_vec(),
            mod_revision: kv.mod_revision(),
            lease: (kv.lease() != 0).then_some(kv.lease()),
        })
    }
}

/// The smallest key greater than every key starting with `prefix`.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0] // the whole key space
}

/// True when etcd refused a read at a revision it has compacted away.
fn compacted(err: &etcd_client::Error) -> bool {
    matches!(err, etcd_client::Error::GRpcStatus(status)
        if status.code() == tonic::Code::OutOfRange && status.message().contains("compacted"))
}

fn to_meta_error(err: etcd_client::Error) -> MetaError {
    match &err {
        etcd_client::Error::GRpcStatus(status) => match status.code() {
            tonic::Code::NotFound if status.message().contains("lease") => MetaError::LeaseNotFound(0),
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                MetaError::Unavailable(err.to_string())
            }
            _ => MetaError::Backend(err.to_string()),
        },
        etcd_client::Error::LeaseKeepAliveError(message) if message.contains("not found") => {
            MetaError::LeaseNotFound(0)
        }
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => {
            MetaError::Unavailable(err.to_string())
        }
        _ => MetaError::Backend(err.to_string()),
    }
}

#[async_trait]
impl MetaStore for EtcdStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, MetaError> {
        let mut kv = self.client.kv_client();
        let response = kv.get(self.full(key), None).await.map_err(to_meta_error)?;
        response.kvs().first().map(|kv| self.convert(kv)).transpose()
    }

    async fn count(&self, prefix: &str) -> Result<u64, MetaError> {
        let full_prefix = self.full(prefix);
        let options = GetOptions::new().with_range(prefix_end(&full_prefix)).with_count_only();
        let response = self.client.kv_client().get(full_prefix, Some(options)).await.map_err(to_meta_error)?;
        Ok(response.count().max(0) as u64)
    }

    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<KeyValue>, MetaError> {
        self.range_at(prefix, start_after, limit, 0).await
    }

    async fn snapshot(&self) -> Result<Box<dyn Snapshot>, MetaError> {
        // Any read tells the store's current revision in its header.
        let mut kv = self.client.kv_client();
        let response = kv.get(self.full(""), Some(GetOptions::new().with_count_only())).await.map_err(to_meta_error)?;
        let revision = response.header().map(|h| h.revision()).ok_or_else(|| MetaError::backend("no header"))?;
        Ok(Box::new(EtcdSnapshot { store: self.clone(), revision }))
    }

    async fn txn(&self, txn: Txn) -> Result<bool, MetaError> {
        txn.validate()?;
        let compares: Vec<EtcdCompare> = txn
            .compares
            .iter()
            .map(|Compare::ModRevision { key, revision }| {
                EtcdCompare::mod_revision(self.full(key), CompareOp::Equal, *revision)
            })
            .collect();
        let ops: Vec<EtcdTxnOp> = txn
            .ops
            .into_iter()
            .map(|op| match op {
                TxnOp::Put { key, value, lease } => {
                    let options = lease.map(|id| PutOptions::new().with_lease(id));
                    EtcdTxnOp::put(self.full(&key), value, options)
                }
                TxnOp::Delete { key } => EtcdTxnOp::delete(self.full(&key), None),
            })
            .collect();
        let request = EtcdTxn::new().when(compares).and_then(ops);
        let response = self.client.kv_client().txn(request).await.map_err(to_meta_error)?;
        Ok(response.succeeded())
    }

    async fn grant_lease(&self, ttl: Duration) -> Result<LeaseId, MetaError> {
        let seconds = ttl.as_secs().max(1) as i64;
        let response = self.client.lease_client().grant(seconds, None).await.map_err(to_meta_error)?;
        Ok(response.id())
    }

    async fn keep_alive(&self, lease: LeaseId) -> Result<(), MetaError> {
        let name_lease = |err: MetaError| match err {
            MetaError::LeaseNotFound(_) => MetaError::LeaseNotFound(lease),
            other => other,
        };
        let mut leases = self.client.lease_client();
        let (mut keeper, mut responses) = leases.keep_alive(lease).await.map_err(to_meta_error).map_err(name_lease)?;
        keeper.keep_alive().await.map_err(to_meta_error).map_err(name_lease)?;
        match responses.message().await.map_err(to_meta_error).map_err(name_lease)? {
            Some(response) if response.ttl() > 0 => Ok(()),
            _ => Err(MetaError::LeaseNotFound(lease)),
        }
    }

    async fn revoke_lease(&self, lease: LeaseId) -> Result<(), MetaError> {
        match self.client.lease_client().revoke(lease).await {
            Ok(_) => Ok(()),
            Err(err) => match to_meta_error(err) {
                MetaError::LeaseNotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }
}

/// A past revision of etcd, read with `Range` at that revision.
struct EtcdSnapshot {
    store: EtcdStore,
    revision: i64,
}

#[async_trait]
impl Snapshot for EtcdSnapshot {
    fn revision(&self) -> i64 {
        self.revision
    }

    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<KeyValue>, MetaError> {
        self.store.range_at(prefix, start_after, limit, self.revision).await
    }
}

/// TLS to etcd: its CA (else the system's), and a client certificate when given.
fn tls_options(security: &EtcdSecurity) -> Result<etcd_client::TlsOptions, MetaError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| MetaError::Backend(format!("cannot read {}: {e}", path.display())))
    };
    let mut tls = etcd_client::TlsOptions::new().with_native_roots();
    if let Some(ca) = &security.ca_cert {
        tls = tls.ca_certificate(etcd_client::Certificate::from_pem(read(ca)?));
    }
    if let (Some(cert), Some(key)) = (&security.client_cert, &security.client_key) {
        tls = tls.identity(etcd_client::Identity::from_pem(read(cert)?, read(key)?));
    }
    Ok(tls)
}
