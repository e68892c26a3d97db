//! MetaStore metrics (Prometheus, default registry): requests and latency by operation,
//! lease renewals and losses. No keys, artifact names or ids as labels.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{HistogramVec, IntCounterVec, register_histogram_vec, register_int_counter_vec};

/// Requests to the MetaStore by operation and outcome.
pub static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "cairn_metastore_requests_total",
        "MetaStore requests by operation and outcome",
        &["backend", "op", "outcome"]
    )
    .expect("metric registers once")
});

/// Latency of MetaStore requests by operation.
pub static LATENCY: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "cairn_metastore_request_seconds",
        "MetaStore request latency by operation",
        &["backend", "op"],
        vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]
    )
    .expect("metric registers once")
});

/// Lease keep-alives by outcome (`ok`, `failed`, `lost`).
pub static LEASE_RENEWALS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!("cairn_lease_renewals_total", "Lease keep-alives by outcome", &["outcome"])
        .expect("metric registers once")
});

/// Records one MetaStore request.
pub(crate) fn observe(backend: &str, op: &str, ok: bool, elapsed: Duration) {
    REQUESTS.with_label_values(&[backend, op, if ok { "ok" } else { "error" }]).inc();
    LATENCY.with_label_values(&[backend, op]).observe(elapsed.as_secs_f64());
}
