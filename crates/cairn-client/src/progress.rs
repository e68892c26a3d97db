//! Progress reporting: the client tells an observer how many bytes each phase has moved;
//! the CLI draws bars from that, other callers may log it or ignore it.

use std::sync::Arc;

/// What the client is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading and hashing local files.
    Hashing,
    /// Sending blobs to storage workers.
    Uploading,
    /// Fetching and verifying blobs.
    Downloading,
}

/// Receives byte counts as work proceeds. Called from several threads.
pub trait Progress: Send + Sync {
    /// A phase starts, with `total` bytes to move.
    fn begin(&self, phase: Phase, total: u64);
    /// `bytes` more were moved in the current phase.
    fn advance(&self, bytes: u64);
    /// The current phase is over.
    fn end(&self);
}

/// A shared, optional observer.
pub type ProgressHandle = Option<Arc<dyn Progress>>;

pub(crate) fn begin(progress: &ProgressHandle, phase: Phase, total: u64) {
    if let Some(p) = progress {
        p.begin(phase, total);
    }
}

pub(crate) fn advance(progress: &ProgressHandle, bytes: u64) {
    if let Some(p) = progress {
        p.advance(bytes);
    }
}

pub(crate) fn end(progress: &ProgressHandle) {
    if let Some(p) = progress {
        p.end();
    }
}
