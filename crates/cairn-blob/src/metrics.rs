//! BlobStore metrics (Prometheus, default registry): requests and latency by backend and
//! operation, including every S3 call a writer makes. No keys or digests as labels.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Instant;

use prometheus::{HistogramVec, IntCounterVec, register_histogram_vec, register_int_counter_vec};

/// BlobStore requests by backend, operation and outcome.
pub static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "cairn_blobstore_requests_total",
        "BlobStore requests by operation and outcome",
        &["backend", "op", "outcome"]
    )
    .expect("metric registers once")
});

/// Latency of BlobStore requests by backend and operation.
pub static LATENCY: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "cairn_blobstore_request_seconds",
        "BlobStore request latency by operation",
        &["backend", "op"],
        vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
    )
    .expect("metric registers once")
});

/// Runs `request` and records it.
pub(crate) async fn timed<T, E>(backend: &str, op: &str, request: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    let started = Instant::now();
    let result = request.await;
    REQUESTS.with_label_values(&[backend, op, if result.is_ok() { "ok" } else { "error" }]).inc();
    LATENCY.with_label_values(&[backend, op]).observe(started.elapsed().as_secs_f64());
    result
}
