//! Latency histograms and per-operation counters.
//!
//! The histogram is HDR-style: log-linear buckets (32 per power of two, so
//! about 3 % precision) over nanoseconds, fixed size, cheap to record into and
//! to merge. The exact maximum is kept beside it.

use std::time::Duration;

/// Sub-buckets per power of two (as a power of two).
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Enough buckets for values up to 2^42 ns (about 73 minutes).
const BUCKETS: usize = ((42 - SUB_BITS as usize) + 1) * SUB as usize + SUB as usize;

#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            max: 0,
            sum: 0,
        }
    }
}

fn index(value: u64) -> usize {
    if value < 2 * SUB {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros() - SUB_BITS;
    let mantissa = value >> exponent;
    (exponent as usize * SUB as usize + mantissa as usize).min(BUCKETS - 1)
}

/// The middle of a bucket's range.
fn value_of(index: usize) -> u64 {
    let index = index as u64;
    if index < 2 * SUB {
        return index;
    }
    let exponent = index / SUB - 1;
    let mantissa = index - exponent * SUB;
    (mantissa << exponent) + (1 << exponent) / 2
}

impl Histogram {
    pub fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.counts[index(ns)] += 1;
        self.total += 1;
        self.max = self.max.max(ns);
        self.sum += u128::from(ns);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    pub fn mean(&self) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos((self.sum / u128::from(self.total)) as u64)
    }

    /// The latency at quantile `q` (0..=1); never above the exact maximum.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Duration::from_nanos(value_of(i).min(self.max));
            }
        }
        self.max()
    }
}

/// What happened to one kind of request in one phase.
#[derive(Clone, Default)]
pub struct OpStats {
    /// From when the request was due (see `drive`).
    pub latency: Histogram,
    /// From when it was sent.
    pub service: Histogram,
    /// Answered with a `returnValue` the scenario did not expect.
    pub unexpected: u64,
    /// No answer: connection refused or reset, HTTP error status, bad reply.
    pub failed: u64,
}

impl OpStats {
    pub fn errors(&self) -> u64 {
        self.unexpected + self.failed
    }

    pub fn merge(&mut self, other: &OpStats) {
        self.latency.merge(&other.latency);
        self.service.merge(&other.service);
        self.unexpected += other.unexpected;
        self.failed += other.failed;
    }
}

/// One phase's counters, one [`OpStats`] per operation of the scenario.
#[derive(Clone, Default)]
pub struct PhaseStats {
    pub ops: Vec<OpStats>,
    /// The first few error descriptions, for the report.
    pub samples: Vec<String>,
}

impl PhaseStats {
    pub fn new(ops: usize) -> Self {
        Self {
            ops: vec![OpStats::default(); ops],
            samples: Vec::new(),
        }
    }

    pub fn merge(&mut self, other: &PhaseStats) {
        if self.ops.len() < other.ops.len() {
            self.ops.resize(other.ops.len(), OpStats::default());
        }
        for (mine, theirs) in self.ops.iter_mut().zip(&other.ops) {
            mine.merge(theirs);
        }
        for sample in &other.samples {
            if self.samples.len() < 5 {
                self.samples.push(sample.clone());
            }
        }
    }

    pub fn note(&mut self, sample: impl FnOnce() -> String) {
        if self.samples.len() < 5 {
            self.samples.push(sample());
        }
    }

    /// All operations together.
    pub fn total(&self) -> OpStats {
        let mut all = OpStats::default();
        for op in &self.ops {
            all.merge(op);
        }
        all
    }
}

/// The process's resident memory, from `/proc/self/status` (Linux).
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Peak resident set (VmHWM) since the last [`reset_peak_memory`], KiB.
    pub peak_kib: u64,
    /// Current resident set (VmRSS), KiB.
    pub current_kib: u64,
}

pub fn memory() -> Option<Memory> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some(Memory {
        peak_kib: field("VmHWM:")?,
        current_kib: field("VmRSS:")?,
    })
}

/// Resets VmHWM to the current resident set, so that the next reading is the
/// peak of what follows. Best effort: false where the kernel does not allow it.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU time counters, to tell how much of the machine other processes took
/// while a phase ran (the load average counts the benchmark's own threads).
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    /// All CPUs: busy and total ticks since boot.
    busy: u64,
    total: u64,
    /// This process (server and client).
    own: u64,
    /// The database server's processes (PostgreSQL, MySQL/MariaDB).
    database: u64,
}

/// utime + stime of a `/proc/PID/stat` text.
fn process_ticks(stat: &str) -> Option<u64> {
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn database_ticks() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| {
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            matches!(comm.trim(), "postgres" | "mariadbd" | "mysqld")
                .then(|| std::fs::read_to_string(e.path().join("stat")).ok())
                .flatten()
                .and_then(|stat| process_ticks(&stat))
        })
        .sum()
}

pub fn cpu_sample() -> Option<CpuSample> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest counted in user).
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4).unwrap_or(&0);
    Some(CpuSample {
        busy: total - idle,
        total,
        own: process_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)?,
        database: database_ticks(),
    })
}

/// The share of all CPUs that other processes (not this one, not the
/// database server) used between two samples, 0..=1.
pub fn others_share(before: &CpuSample, after: &CpuSample) -> f64 {
    let total = after.total.saturating_sub(before.total).max(1) as f64;
    let busy = after.busy.saturating_sub(before.busy);
    let ours =
        after.own.saturating_sub(before.own) + after.database.saturating_sub(before.database);
    (busy.saturating_sub(ours) as f64 / total).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn process_ticks_skip_the_command_name() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0 1 1 1";
        assert_eq!(process_ticks(stat), Some(300));
        assert!(cpu_sample().is_some_and(|s| s.total >= s.busy));
    }

    use super::*;

    #[test]
    fn buckets_round_trip_within_precision() {
        for value in [
            0u64,
            1,
            63,
            64,
            65,
            100,
            1_000,
            12_345,
            1_000_000,
            987_654_321,
        ] {
            let back = value_of(index(value));
            let error = back.abs_diff(value) as f64 / value.max(1) as f64;
            assert!(error <= 1.0 / SUB as f64, "{value} -> {back}");
        }
    }

    #[test]
    fn quantiles_of_a_uniform_spread() {
        let mut h = Histogram::default();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile(0.5).as_micros() as f64;
        let p99 = h.quantile(0.99).as_micros() as f64;
        assert!((p50 - 500.0).abs() / 500.0 < 0.04, "{p50}");
        assert!((p99 - 990.0).abs() / 990.0 < 0.04, "{p99}");
        assert_eq!(h.quantile(1.0), Duration::from_micros(1000));
        assert_eq!(h.count(), 1000);
    }
}
