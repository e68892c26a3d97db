//! Upload streams that stop sending are ended: a PutBlob or PutBlobs whose next message
//! does not come within the idle timeout fails as interrupted, which releases what the
//! upload holds (the per-digest upload lock and guard, the writer) — otherwise a client
//! that stalls mid-stream would block every other upload of that blob for ever.

use std::time::Duration;

use futures::{Stream, StreamExt, stream};
use tonic::Status;

/// Default time an upload stream may go without a message.
pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The flag that sets it, for the worker and `cairn dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct StreamLimits {
    /// Seconds an upload stream (PutBlob, PutBlobs) may go without a message before it is
    /// ended as interrupted and its upload lock released.
    #[arg(long, env = "CAIRN_STREAM_IDLE_TIMEOUT_SECS", default_value_t = DEFAULT_STREAM_IDLE_TIMEOUT.as_secs())]
    pub stream_idle_timeout_secs: u64,
    /// MiB of small blobs all PutBlobs calls together may hold in memory before writing
    /// them; more callers wait.
    #[arg(long, env = "CAIRN_UPLOAD_BUFFER_MIB", default_value_t = 256)]
    pub upload_buffer_mib: u64,
}

impl StreamLimits {
    /// The idle timeout (at least one second).
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.stream_idle_timeout_secs.max(1))
    }
}

/// `messages`, ended with an error when the next one takes longer than `idle`.
pub fn idle_limited<T, S>(messages: S, idle: Duration) -> impl Stream<Item = Result<T, Status>> + Send + Unpin
where
    T: Send + 'static,
    S: Stream<Item = Result<T, Status>> + Send + Unpin + 'static,
{
    stream::unfold(Some(messages), move |messages| async move {
        let mut messages = messages?;
        match tokio::time::timeout(idle, messages.next()).await {
            Ok(Some(item)) => Some((item, Some(messages))),
            Ok(None) => None,
            Err(_) => {
                tracing::warn!(idle_secs = idle.as_secs(), "an upload stream sent nothing for too long: ending it");
                Some((
                    Err(Status::cancelled(format!("no message for {} s: the upload stream was ended", idle.as_secs()))),
                    None,
                ))
            }
        }
    })
    .boxed()
}
