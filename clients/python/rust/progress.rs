//! Progress to Python: the client's byte counts go to a callable
//! `progress(phase, event, amount)` (phase `hashing`/`uploading`/`downloading`, event
//! `begin` with the total, `advance` with bytes moved, `end`), which the SDK turns into
//! tqdm bars. Advances are gathered to at least 1 MiB (or the phase's end) so that the GIL
//! is taken a few hundred times per GiB, not once per chunk.

use std::sync::atomic::{AtomicU64, Ordering};

use cairn_client::{Phase, Progress};
use pyo3::prelude::*;

const REPORT_EVERY: u64 = 1 << 20;

pub struct PyProgress {
    callback: Py<PyAny>,
    pending: AtomicU64,
}

impl PyProgress {
    pub fn new(callback: Py<PyAny>) -> Self {
        Self { callback, pending: AtomicU64::new(0) }
    }

    fn call(&self, phase: Option<&str>, event: &str, amount: u64) {
        Python::attach(|py| {
            // A failing callback must not fail the transfer: it is reported and ignored.
            if let Err(err) = self.callback.call1(py, (phase, event, amount)) {
                err.print(py);
            }
        });
    }

    fn flush(&self) {
        let pending = self.pending.swap(0, Ordering::Relaxed);
        if pending > 0 {
            self.call(None, "advance", pending);
        }
    }
}

impl Progress for PyProgress {
    fn begin(&self, phase: Phase, total: u64) {
        let name = match phase {
            Phase::Hashing => "hashing",
            Phase::Uploading => "uploading",
            Phase::Downloading => "downloading",
        };
        self.call(Some(name), "begin", total);
    }

    fn advance(&self, bytes: u64) {
        if self.pending.fetch_add(bytes, Ordering::Relaxed) + bytes >= REPORT_EVERY {
            self.flush();
        }
    }

    fn end(&self) {
        self.flush();
        self.call(None, "end", 0);
    }
}
