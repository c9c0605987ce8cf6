//! Identical errors in a burst, logged once per interval with a count: a
//! full disk fails every write the same way, and thousands of identical
//! lines a second bury everything else and fill the disk further.
//!
//! The first occurrence of a key is logged at once. Repeats within the
//! interval are only counted; when the interval is over, one line says how
//! many there were (`... (repeated 5120 times in the last 10 s)`), and the
//! next occurrence is logged at once again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long repeats of one error are only counted.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Keys followed at once; beyond that, every occurrence is logged (a
/// bound on memory when errors carry ever-changing text).
const MAX_KEYS: usize = 256;

/// Writes the summary line of a key: (key, repeats, interval).
type Summary = dyn Fn(&str, u64, Duration) + Send + Sync;

/// Counts repeats of keys (an error's text) and writes their summaries.
pub struct RepeatedLog {
    interval: Duration,
    windows: Mutex<HashMap<String, Window>>,
    summary: Box<Summary>,
}

struct Window {
    opened: Instant,
    repeats: u64,
}

impl RepeatedLog {
    /// `summary` writes the line for a key repeated that many times.
    pub fn new(
        interval: Duration,
        summary: impl Fn(&str, u64, Duration) + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            interval,
            windows: Mutex::new(HashMap::new()),
            summary: Box::new(summary),
        })
    }

    /// Whether this occurrence of `key` is to be logged now. A repeat is
    /// counted instead, and its summary written when the interval is over
    /// (by a timer on the current Tokio runtime; without one, with the
    /// first occurrence after the interval).
    pub fn first(self: &Arc<Self>, key: &str) -> bool {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(window) = windows.get_mut(key) {
            if now.duration_since(window.opened) < self.interval {
                window.repeats += 1;
                if window.repeats == 1 {
                    self.flush_later(key, window.opened);
                }
                return false;
            }
            // Over, and its timer has not run (no runtime): summarize now.
            let repeats = std::mem::take(&mut window.repeats);
            window.opened = now;
            drop(windows);
            if repeats > 0 {
                (self.summary)(key, repeats, self.interval);
            }
            return true;
        }
        if windows.len() < MAX_KEYS {
            windows.insert(
                key.to_owned(),
                Window {
                    opened: now,
                    repeats: 0,
                },
            );
        }
        true
    }

    fn flush_later(self: &Arc<Self>, key: &str, opened: Instant) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (log, key) = (Arc::clone(self), key.to_owned());
        runtime.spawn(async move {
            tokio::time::sleep_until((opened + log.interval).into()).await;
            log.flush(&key, opened);
        });
    }

    /// Writes the summary of `key`'s window opened at `opened`, if it is
    /// still the current one, and forgets the key.
    fn flush(&self, key: &str, opened: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.get(key).is_none_or(|w| w.opened != opened) {
            return;
        }
        let repeats = windows.remove(key).map_or(0, |w| w.repeats);
        drop(windows);
        if repeats > 0 {
            (self.summary)(key, repeats, self.interval);
        }
    }
}

/// " (repeated N times in the last S s)", the suffix of a summary line.
pub fn repeated(times: u64, interval: Duration) -> String {
    format!(
        " (repeated {times} times in the last {} s)",
        interval.as_secs()
    )
}

/// Storage failures reaching clients: logged once per [`INTERVAL`] per error text.
pub fn storage_failures() -> &'static Arc<RepeatedLog> {
    static LOG: OnceLock<Arc<RepeatedLog>> = OnceLock::new();
    LOG.get_or_init(|| {
        RepeatedLog::new(INTERVAL, |error, times, interval| {
            tracing::error!(%error, repeated = times, "storage failure{}", repeated(times, interval));
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summaries written: (key, repeats).
    type Written = Arc<Mutex<Vec<(String, u64)>>>;

    fn collecting(interval: Duration) -> (Arc<RepeatedLog>, Written) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let log = RepeatedLog::new(interval, move |key, times, _| {
            sink.lock().unwrap().push((key.to_owned(), times));
        });
        (log, lines)
    }

    #[tokio::test]
    async fn repeats_within_the_interval_are_summarized_once_it_is_over() {
        let (log, lines) = collecting(Duration::from_millis(200));
        assert!(log.first("disk full"));
        for _ in 0..5120 {
            assert!(!log.first("disk full"));
        }
        // Another error is its own.
        assert!(log.first("timeout"));
        assert!(lines.lock().unwrap().is_empty());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(*lines.lock().unwrap(), vec![("disk full".to_owned(), 5120)]);
        // After the interval, the next one is logged at once again.
        assert!(log.first("disk full"));
        assert!(!log.first("disk full"));
    }

    #[test]
    fn without_a_runtime_the_summary_comes_with_the_next_occurrence() {
        let (log, lines) = collecting(Duration::from_millis(50));
        assert!(log.first("e"));
        assert!(!log.first("e"));
        assert!(!log.first("e"));
        std::thread::sleep(Duration::from_millis(80));
        assert!(log.first("e"));
        assert_eq!(*lines.lock().unwrap(), vec![("e".to_owned(), 2)]);
    }

    #[test]
    fn the_suffix_reads_as_a_count() {
        assert_eq!(
            repeated(5120, INTERVAL),
            " (repeated 5120 times in the last 10 s)"
        );
    }
}
