//! Coordinator metrics (Prometheus, default registry). No artifact names or ids as labels.

use std::sync::LazyLock;

use prometheus::{IntCounterVec, IntGauge, register_int_counter_vec, register_int_gauge};

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
