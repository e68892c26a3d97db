//! Connections: one or more coordinator replicas (the `--server` list) and the storage
//! workers the coordinator hands out, with retries that move to another replica or
//! worker when one is unreachable.
//!
//! Retried: UNAVAILABLE (a replica or worker is down, a draft's owner is changing hands)
//! and ABORTED (a lost compare-and-swap race). Every coordinator call cairn makes is safe
//! to repeat (docs/api.md), so a retry never duplicates work.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use cairn_proto::v1::ListStorageWorkersRequest;
use cairn_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use cairn_proto::v1::storage_service_client::StorageServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::credentials::{BearerToken, Credentials};

/// A coordinator client that sends the caller's token.
pub(crate) type CoordinatorClient = CoordinatorServiceClient<InterceptedService<Channel, BearerToken>>;
/// A storage client that sends the caller's token.
pub(crate) type StorageClient = StorageServiceClient<InterceptedService<Channel, BearerToken>>;

use crate::ClientError;

/// Largest gRPC message the client accepts (manifest pages stay far below this).
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// How long a call keeps retrying (in total backoff) before it reports the last error.
const RETRY_BUDGET: Duration = Duration::from_secs(60);

/// Jittered exponential backoff from 100 ms to 2 s between attempts, for up to
/// [`RETRY_BUDGET`]: jitter keeps the many ranks of a job that failed together from
/// retrying in lockstep.
fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(2))
        .with_jitter()
        .without_max_times()
        .with_total_delay(Some(RETRY_BUDGET))
}

fn endpoint(address: &str, credentials: &Credentials) -> Result<Endpoint, ClientError> {
    let connect_error = |message: String| ClientError::Connect { server: address.to_owned(), message };
    let mut endpoint = Endpoint::from_shared(address.to_owned()).map_err(|e| connect_error(e.to_string()))?;
    if address.starts_with("https://") {
        endpoint = endpoint.tls_config(credentials.tls()).map_err(|e| connect_error(format!("TLS: {e}")))?;
    }
    Ok(endpoint
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .initial_stream_window_size(cairn_proto::server::STREAM_WINDOW)
        .initial_connection_window_size(cairn_proto::server::CONNECTION_WINDOW)
        .max_frame_size(cairn_proto::server::MAX_FRAME))
}

/// True for failures another attempt (maybe elsewhere) can fix.
pub(crate) fn retryable(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::Aborted)
        || (status.code() == Code::Unknown && status.message().contains("transport"))
        || (status.code() == Code::Cancelled && status.message().contains("connection"))
}

/// Rotating channels to a set of equivalent servers.
pub(crate) struct Pool {
    channels: std::sync::RwLock<Vec<(String, Channel)>>,
    next: AtomicUsize,
}

impl Pool {
    fn new(channels: Vec<(String, Channel)>) -> Self {
        Self { channels: std::sync::RwLock::new(channels), next: AtomicUsize::new(0) }
    }

    /// The current channel and its index.
    fn current(&self) -> (usize, Channel) {
        let channels = self.channels.read().expect("channel pool lock poisoned");
        let i = self.next.load(Ordering::Relaxed) % channels.len();
        (i, channels[i].1.clone())
    }

    /// Moves on from channel `failed` to the next one.
    fn rotate(&self, failed: usize) {
        let _ = self.next.compare_exchange(failed, failed + 1, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn replace(&self, channels: Vec<(String, Channel)>) {
        if !channels.is_empty() {
            *self.channels.write().expect("channel pool lock poisoned") = channels;
        }
    }

    fn len(&self) -> usize {
        self.channels.read().expect("channel pool lock poisoned").len()
    }
}

/// Channels to the coordinators and the storage workers.
pub(crate) struct Connection {
    coordinators: Pool,
    storage: Pool,
    credentials: Credentials,
    bearer: BearerToken,
}

impl Connection {
    /// Connects to the first reachable of the comma-separated `servers`, then asks it
    /// for the live storage workers (none registered: the server serves storage itself).
    pub(crate) async fn open(servers: &str, credentials: Credentials) -> Result<Arc<Self>, ClientError> {
        let addresses: Vec<&str> = servers.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if addresses.is_empty() {
            return Err(ClientError::Usage("--server is empty".into()));
        }
        let mut last_error = None;
        let mut reachable = None;
        for (i, address) in addresses.iter().enumerate() {
            match endpoint(address, &credentials)?.connect().await {
                Ok(channel) => {
                    reachable = Some((i, channel));
                    break;
                }
                Err(err) => {
                    let detail = std::error::Error::source(&err).map(|s| format!(": {s}")).unwrap_or_default();
                    last_error =
                        Some(ClientError::Connect { server: address.to_string(), message: format!("{err}{detail}") });
                }
            }
        }
        let Some((first, channel)) = reachable else {
            return Err(last_error.expect("at least one address was tried"));
        };
        // The reachable replica first; the others connect when a retry needs them.
        let mut channels = vec![(addresses[first].to_owned(), channel)];
        for (i, address) in addresses.iter().enumerate() {
            if i != first {
                channels.push((address.to_string(), endpoint(address, &credentials)?.connect_lazy()));
            }
        }
        let bearer = credentials.bearer()?;
        let connection = Arc::new(Self {
            coordinators: Pool::new(channels.clone()),
            storage: Pool::new(channels),
            credentials,
            bearer,
        });
        connection.refresh_workers().await?;
        Ok(connection)
    }

    /// Replaces the storage pool with the workers the coordinator lists now.
    pub(crate) async fn refresh_workers(&self) -> Result<(), ClientError> {
        let request = ListStorageWorkersRequest { page_size: 1000, page_token: String::new() };
        let addresses = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.list_storage_workers(request).await.map(|r| r.into_inner().addresses) }
            })
            .await?;
        let mut channels = Vec::new();
        for address in addresses {
            channels.push((address.clone(), endpoint(&address, &self.credentials)?.connect_lazy()));
        }
        self.storage.replace(channels);
        Ok(())
    }

    /// Runs a coordinator call, retrying retryable failures (on the next replica, unless
    /// the failure was a lost compare-and-swap race) with jittered exponential backoff
    /// for up to [`RETRY_BUDGET`].
    pub(crate) async fn coordinator_call<T, F, Fut>(&self, mut call: F) -> Result<T, ClientError>
    where
        F: FnMut(CoordinatorClient) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let attempt = || {
            let (index, channel) = self.coordinators.current();
            let answer = call(
                CoordinatorServiceClient::with_interceptor(channel, self.bearer.clone())
                    .max_decoding_message_size(MAX_MESSAGE_BYTES),
            );
            async move { answer.await.map_err(|status| (index, status)) }
        };
        attempt
            .retry(backoff())
            .when(|(_, status)| retryable(status))
            .notify(|(index, status), _| {
                tracing::debug!(code = ?status.code(), message = status.message(), "retrying coordinator call");
                if status.code() != Code::Aborted {
                    self.coordinators.rotate(*index);
                }
            })
            .await
            .map_err(|(_, status)| status.into())
    }

    /// Runs a coordinator call once, on the current replica: for calls that must not be
    /// repeated after an unknown outcome.
    pub(crate) async fn coordinator_once<T, F, Fut>(&self, call: F) -> Result<T, ClientError>
    where
        F: FnOnce(CoordinatorClient) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let (_, channel) = self.coordinators.current();
        call(CoordinatorServiceClient::with_interceptor(channel, self.bearer.clone())).await.map_err(ClientError::from)
    }

    /// Runs a storage call, moving to another worker when one fails in a retryable way,
    /// and refreshing the worker list once every worker failed (it may name dead ones).
    /// `call` must be safe to repeat from scratch.
    pub(crate) async fn storage_call<T, F, Fut>(&self, mut call: F) -> Result<T, ClientError>
    where
        F: FnMut(StorageClient) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let failures = &AtomicUsize::new(0);
        let attempt = || {
            let (index, channel) = self.storage.current();
            let answer = call(
                StorageServiceClient::with_interceptor(channel, self.bearer.clone())
                    .max_decoding_message_size(MAX_MESSAGE_BYTES),
            );
            async move {
                match answer.await {
                    Ok(value) => Ok(value),
                    Err(status) => {
                        self.storage.rotate(index);
                        let failed = failures.fetch_add(1, Ordering::Relaxed) + 1;
                        if retryable(&status) && failed.is_multiple_of(self.storage.len().max(1)) {
                            let _ = self.refresh_workers().await;
                        }
                        Err(status)
                    }
                }
            }
        };
        attempt
            .retry(backoff())
            .when(retryable)
            .notify(|status, _| {
                tracing::debug!(code = ?status.code(), message = status.message(), "retrying on another worker");
            })
            .await
            .map_err(ClientError::from)
    }
}
