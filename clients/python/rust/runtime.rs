//! One tokio runtime per process, created on first use and created again in a child after
//! `fork` (a forked child has none of its parent's threads, so the parent's runtime and
//! connections are unusable there: DataLoader workers and `multiprocessing` fork).
//!
//! Calls block the calling Python thread with the GIL released, and look at Python's
//! signals every 100 ms: Ctrl-C raises KeyboardInterrupt and drops the operation, which
//! cancels its transfers (and stops hashing after the files being read).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;

static RUNTIME: Mutex<Option<(u32, Arc<tokio::runtime::Runtime>)>> = Mutex::new(None);

/// This process's runtime.
pub fn runtime() -> Arc<tokio::runtime::Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((owner, runtime)) = slot.as_ref()
        && *owner == pid
    {
        return runtime.clone();
    }
    if let Some((_, inherited)) = slot.take() {
        // The parent's runtime: its threads do not exist here, so shutting it down could
        // wait for ever. It is left alone.
        std::mem::forget(inherited);
    }
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("cairn-core")
            .build()
            .expect("a tokio runtime can be built"),
    );
    *slot = Some((pid, runtime.clone()));
    runtime
}

/// Runs the future `start` makes to completion without the GIL; Ctrl-C (any Python signal
/// handler that raises) cancels it and the exception is returned. The future is made and
/// polled on this thread, so it need not be `Send`.
pub fn block_on<T, F, Fut>(py: Python<'_>, start: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = PyResult<T>>,
{
    let runtime = runtime();
    py.detach(move || {
        runtime.block_on(async move {
            let mut future = std::pin::pin!(start());
            let mut signals = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    result = &mut future => return result,
                    _ = signals.tick() => Python::attach(|py| py.check_signals())?,
                }
            }
        })
    })
}
