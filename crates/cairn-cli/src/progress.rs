//! Progress bars (bytes, rate, ETA) on a terminal; nothing with --json or when stderr is
//! not a terminal, so scripts and logs stay clean.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use cairn_client::{Phase, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// indicatif bars, one per phase.
#[derive(Default)]
pub struct Bars {
    current: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// Bars when they can be seen and are wanted.
    pub fn for_terminal(json: bool) -> Option<Arc<dyn Progress>> {
        (!json && std::io::stderr().is_terminal()).then(|| Arc::new(Bars::default()) as Arc<dyn Progress>)
    }
}

impl Progress for Bars {
    fn begin(&self, phase: Phase, total: u64) {
        let label = match phase {
            Phase::Hashing => "hashing",
            Phase::Uploading => "uploading",
            Phase::Downloading => "downloading",
        };
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:>11} [{bar:32}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label);
        if let Some(previous) = self.current.lock().expect("progress lock").replace(bar) {
            previous.finish_and_clear();
        }
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = &*self.current.lock().expect("progress lock") {
            bar.inc(bytes);
        }
    }

    fn end(&self) {
        if let Some(bar) = self.current.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
    }
}
