//! Whether writes work. Reads can keep working while every write fails (a
//! full disk, a database turned read-only), which a ping does not notice:
//! every write's outcome is noted here, and the readiness check asks
//! `Upkeep::write_failure`, then tries `Upkeep::probe_write` to learn
//! whether writes work again (a node taken out of its load balancer gets no
//! writes to learn that from).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::StoreResult;

#[derive(Debug, Default)]
pub(super) struct WriteHealth {
    /// Set by a failed write, cleared by a successful one.
    failing: AtomicBool,
    /// The last failed write's error.
    reason: Mutex<String>,
}

impl WriteHealth {
    /// Notes a write's outcome and hands it on.
    pub(super) fn note<T>(&self, result: StoreResult<T>) -> StoreResult<T> {
        match &result {
            Ok(_) => {
                if self.failing.load(Ordering::Relaxed) {
                    self.failing.store(false, Ordering::Relaxed);
                }
            }
            Err(error) => {
                *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = error.to_string();
                self.failing.store(true, Ordering::Relaxed);
            }
        }
        result
    }

    /// The last write's error, while no write has succeeded since.
    pub(super) fn failure(&self) -> Option<String> {
        self.failing.load(Ordering::Relaxed).then(|| {
            self.reason
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        })
    }
}
