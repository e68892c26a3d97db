//! Coordinator metrics (Prometheus, default registry). No artifact names or ids as labels.

use std::sync::LazyLock;

use prometheus::{
    IntCounter, IntCounterVec, IntGauge, IntGaugeVec, register_int_counter, register_int_counter_vec,
    register_int_gauge, register_int_gauge_vec,
};

/// Commits by kind (`log`, `finish`) and result (`new`, `dedup`, `error`).
pub static COMMITS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!("cairn_commits_total", "Commits by kind and result", &["kind", "result"])
        .expect("registers once")
});

/// Drafts whose entries this replica holds in memory.
pub static OPEN_DRAFTS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!("cairn_open_drafts", "Drafts held in memory by this coordinator replica")
        .expect("registers once")
});

/// Objects and bytes the garbage collector reclaimed, by kind (`blob`, `manifest`,
/// `staging`, `checkpoint`, `journal`, and `bytes`).
pub static GC_RECLAIMED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "cairn_gc_reclaimed_total",
        "Objects and bytes reclaimed by the garbage collector",
        &["kind"]
    )
    .expect("registers once")
});

/// Duration of the last garbage collection, in milliseconds.
pub static GC_LAST_DURATION_MS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!("cairn_gc_last_duration_ms", "Duration of the last garbage collection").expect("registers once")
});

/// Objects live versions or open drafts refer to that a collection found missing.
pub static GC_REFERENCED_MISSING: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "cairn_gc_referenced_missing_total",
        "Objects that live versions or open drafts refer to, found missing by the garbage collector"
    )
    .expect("registers once")
});

/// Bytes in the collector's trash after the last collection.
pub static GC_TRASH_BYTES: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!("cairn_gc_trash_bytes", "Bytes in the garbage collector's trash").expect("registers once")
});

/// Times a request waited because a collection had condemned something it relies on.
pub static GC_CONDEMNED_WAITS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "cairn_gc_condemned_waits_total",
        "Waits of requests for a batch of deletions that condemned what they rely on"
    )
    .expect("registers once")
});

/// Counts a finished collection (a dry run reclaims nothing).
pub(crate) fn record_gc(report: &crate::GcReport, took: std::time::Duration) {
    GC_LAST_DURATION_MS.set(took.as_millis() as i64);
    if report.dry_run {
        return;
    }
    for (kind, count) in [
        ("blob", report.deleted_blobs),
        ("manifest", report.deleted_manifests),
        ("staging", report.deleted_staging),
        ("checkpoint", report.deleted_checkpoints),
        ("upload", report.aborted_uploads),
        ("journal", report.deleted_journals),
        ("bytes", report.freed_bytes),
        ("trash_purged", report.purged_blobs),
    ] {
        GC_RECLAIMED.with_label_values(&[kind]).inc_by(count);
    }
}

/// MetaStore keys by kind (the first segment of the key), counted by every expiry sweep.
pub static META_KEYS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!("cairn_meta_keys", "MetaStore keys by kind, counted by the expiry sweep", &["kind"])
        .expect("registers once")
});

/// The kinds of MetaStore keys, by prefix: what etcd's size is made of.
pub(crate) const META_KEY_KINDS: [&str; 10] =
    ["artifacts", "versions", "digests", "aliases", "drafts", "owners", "requests", "members", "locks", "gc"];
