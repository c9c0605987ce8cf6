//! What a run measured: each scenario's phases, the baseline around it,
//! the scale and sweep points, and the machine it ran on.

use super::*;

/// One measured phase.
#[derive(Clone)]
pub struct PhaseReport {
    pub connections: usize,
    /// The offered rate (requests/s) when rate limited.
    pub rate: Option<f64>,
    /// The measured window.
    pub window: Duration,
    pub stats: PhaseStats,
    /// The share of all CPUs other processes (not this one, not the
    /// database server) used meanwhile: the noise of the measurement.
    pub others_cpu: Option<f64>,
}

impl PhaseReport {
    /// Completed requests per second, all operations.
    pub fn rps(&self) -> f64 {
        self.stats.total().latency.count() as f64 / self.window.as_secs_f64()
    }

    pub fn op_rps(&self, op: usize) -> f64 {
        self.stats.ops[op].latency.count() as f64 / self.window.as_secs_f64()
    }

    pub fn errors(&self) -> u64 {
        self.stats.total().errors()
    }

    /// Adds a later phase of the same connections and rate.
    pub fn merge(&mut self, later: PhaseReport) {
        self.window += later.window;
        self.stats.merge(&later.stats);
        self.others_cpu = match (self.others_cpu, later.others_cpu) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

pub struct ScenarioReport {
    pub kind: ScenarioKind,
    pub ops: &'static [&'static str],
    pub seed_time: Duration,
    pub peak: PhaseReport,
    pub half: Option<PhaseReport>,
    pub checks: Vec<Check>,
    /// The process's memory while the scenario ran (server and client).
    pub memory: Option<Memory>,
    /// The `baseline` scenario's peak in the same run, measured just
    /// before and just after this scenario (see [`Bracket`]).
    pub baseline: Option<Bracket>,
}

/// The baseline measured on either side of a scenario. A machine's speed
/// can change between phases, with no other load and no steal time
/// (docs/BENCHMARKS.md, method): a fraction is only meaningful against a baseline measured at the same
/// speed, so each scenario is compared with the mean of the two, and the
/// report says when they differ by more than [`Bracket::STEADY`].
#[derive(Debug, Clone, Copy)]
pub struct Bracket {
    pub before: f64,
    pub after: f64,
}

impl Bracket {
    /// The largest difference between the two baselines, as a fraction of
    /// the smaller, that still counts as the same speed.
    pub const STEADY: f64 = 0.10;

    pub fn rps(&self) -> f64 {
        (self.before + self.after) / 2.0
    }

    pub fn steady(&self) -> bool {
        (self.before - self.after).abs() <= Self::STEADY * self.before.min(self.after)
    }
}

impl ScenarioReport {
    pub fn fraction(&self) -> Option<f64> {
        self.baseline.map(|b| self.peak.rps() / b.rps())
    }
}

/// Page-1 latency at a small and at a large size.
pub struct ScaleReport {
    pub small: usize,
    pub large: usize,
    pub ops: &'static [&'static str],
    pub small_phase: PhaseReport,
    pub large_phase: PhaseReport,
    pub seed_time: Duration,
    pub checks: Vec<Check>,
    pub memory: Option<Memory>,
}

/// Throughput and p99 at one connection count.
#[derive(Debug, Clone, Copy)]
pub struct SweepPoint {
    pub connections: usize,
    pub baseline_rps: f64,
    pub baseline_p99: Duration,
    pub mixed_rps: f64,
    pub mixed_p99: Duration,
    pub errors: u64,
    /// The most other processes took of the CPUs in either phase.
    pub others_cpu: Option<f64>,
}

pub struct RunReport {
    /// Cores, CPU model, memory.
    pub machine: String,
    /// `sqlite`, `postgres`, `mysql` (the URL's scheme).
    pub backend: String,
    pub target: Option<String>,
    pub connections: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub client_threads: usize,
    pub server_threads: usize,
    /// `/proc/loadavg` before and after.
    pub load_before: String,
    pub load_after: String,
    pub scenarios: Vec<ScenarioReport>,
    pub scale: Option<ScaleReport>,
    pub sweep: Vec<SweepPoint>,
    pub sweep_checks: Vec<Check>,
}

impl RunReport {
    /// No request failed or got an unexpected answer, and every check passed.
    pub fn passed(&self) -> bool {
        let scenarios = self.scenarios.iter().all(|s| {
            s.peak.errors() == 0
                && s.half.as_ref().is_none_or(|h| h.errors() == 0)
                && s.checks.iter().all(Check::passed)
        });
        let scale = self.scale.as_ref().is_none_or(|s| {
            s.small_phase.errors() == 0
                && s.large_phase.errors() == 0
                && s.checks.iter().all(Check::passed)
        });
        let sweep =
            self.sweep.iter().all(|p| p.errors == 0) && self.sweep_checks.iter().all(Check::passed);
        scenarios && scale && sweep
    }
}

/// The CPU model, the number of cores and the memory, from `/proc`.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or_else(|| "?".into(), |kib| format!("{:.1}", kib / 1024.0 / 1024.0));
    format!("{cores} cores, {model}, {memory} GiB")
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
