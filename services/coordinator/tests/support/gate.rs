//! A gate that stops one operation at an exact point until the test lets it go on: how the
//! race tests force an interleaving without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

/// Stops the first operation that passes it once armed.
pub struct Gate {
    armed: AtomicBool,
    reached: watch::Sender<bool>,
    released: watch::Sender<bool>,
}

impl Gate {
    /// A gate, not armed yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            armed: AtomicBool::new(false),
            reached: watch::channel(false).0,
            released: watch::channel(false).0,
        })
    }

    /// From now on, the next operation to pass stops here.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Called where the operation would go on: the first call after `arm` waits for `release`.
    pub async fn pass(&self) {
        if !self.armed.swap(false, Ordering::SeqCst) {
            return;
        }
        let mut released = self.released.subscribe();
        self.reached.send_replace(true);
        let _ = released.wait_for(|go| *go).await;
    }

    /// Waits until an operation stopped at the gate.
    pub async fn reached(&self) {
        let mut reached = self.reached.subscribe();
        let waited = tokio::time::timeout(std::time::Duration::from_secs(60), reached.wait_for(|r| *r)).await;
        assert!(waited.is_ok(), "nothing reached the gate within a minute");
    }

    /// Lets the stopped operation go on.
    pub fn release(&self) {
        self.released.send_replace(true);
    }
}
