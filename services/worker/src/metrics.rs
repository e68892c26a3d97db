//! Storage worker metrics (Prometheus, default registry). No digests as labels.

use std::sync::LazyLock;

use prometheus::{
    Histogram, IntCounter, IntCounterVec, register_histogram, register_int_counter, register_int_counter_vec,
};

/// Blob bytes received and stored.
pub static BYTES_RECEIVED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!("cairn_storage_bytes_received_total", "Blob bytes received and stored")
        .expect("registers once")
});

/// Blob bytes sent to readers.
pub static BYTES_SENT: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!("cairn_storage_bytes_sent_total", "Blob bytes sent").expect("registers once")
});

/// Bytes not stored again because the blob was already present.
pub static DEDUP_BYTES: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!("cairn_dedup_bytes_skipped_total", "Bytes of uploads skipped because the blob was stored")
        .expect("registers once")
});

/// PutBlob calls by outcome (`stored`, `present`, `refused`, `interrupted`).
pub static UPLOADS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!("cairn_uploads_total", "PutBlob calls by outcome", &["outcome"]).expect("registers once")
});

/// Duration of PutBlob and PutBlobs calls.
pub static UPLOAD_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "cairn_upload_seconds",
        "Duration of PutBlob and PutBlobs calls",
        vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0]
    )
    .expect("registers once")
});
