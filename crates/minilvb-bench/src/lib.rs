//! The load generator behind `minilvb-bench` (`docs/BENCHMARKS.md`).
//!
//! It starts the server in-process (its own runtime, port 0, a fresh SQLite
//! file by default, or the database `database_url` names) or targets a
//! running one, seeds the database through the [`Store`] trait, and drives
//! each scenario over keep-alive connections with a minimal HTTP/1.1 client
//! on a runtime of its own (one thread by default: it shares the cores with
//! the server). Each scenario runs at its peak (closed loop), then rate
//! limited at half that peak; then its exactness checks run.
//!
//! - `scenarios`: what each scenario seeds, sends and checks;
//! - [`client`]: the HTTP client;
//! - [`stats`]: latency histograms, counters, resident memory;
//! - [`report`]: the text and Markdown reports; [`chart`]: the SVG chart.

mod baseline;
pub mod chart;
pub mod client;
mod databases;
pub mod report;
mod results;
mod runner;
mod scenarios;
pub mod stats;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::runtime::Runtime;

use client::{Conn, return_value};
use databases::ScenarioDatabase;
use minilvb::Application;
use minilvb::config::{Backend, DatabaseSettings, Overrides, Settings};
use minilvb_store::Store;
pub use results::*;
use runner::Runner;
pub use scenarios::ScenarioKind;
use scenarios::{Checker, Scenario, Worker};
use stats::{Memory, PhaseStats};

/// The protocol's path.
const PATH: &str = "/interface.php";

/// The sizes of what the scenarios seed and use.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// `list`: rooms, of which `online` are online, and recordings.
    pub rooms: usize,
    pub online: usize,
    pub recordings: usize,
    /// `churn`: rooms, and the members seeded into the first (hot) one.
    pub churn_rooms: usize,
    pub hot_members: usize,
    /// `churn` and `mixed`: distinct viewers each connection plays.
    pub viewers_per_connection: usize,
    /// `mixed`: rooms (the first `mixed_online` online, joined and liked),
    /// recordings, and anchors that start sessions and go on and off air.
    pub mixed_rooms: usize,
    pub mixed_online: usize,
    pub mixed_recordings: usize,
    pub mixed_hosts: usize,
    /// `scale`: online rooms and members of one room, first at the small
    /// size, then at the large one.
    pub scale_small: usize,
    pub scale_large: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Self {
            rooms: 10_000,
            online: 2_000,
            recordings: 50_000,
            churn_rooms: 100,
            hot_members: 100_000,
            viewers_per_connection: 50,
            mixed_rooms: 1_000,
            mixed_online: 200,
            mixed_recordings: 1_000,
            mixed_hosts: 50,
            scale_small: 100,
            scale_large: 100_000,
        }
    }
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// Run in this order: `baseline` first (the others are reported as a
    /// fraction of it), `scale` last.
    pub scenarios: Vec<ScenarioKind>,
    /// Where the in-process server's databases go: each scenario gets a
    /// fresh one, a SQLite file (in the temporary directory when `None`) or
    /// a database created on the PostgreSQL or MySQL server this URL names
    /// (and dropped afterwards). With `target`: the target's database,
    /// which the scenarios seed directly.
    pub database_url: Option<String>,
    /// A running server, `http://host:port`, instead of the in-process one
    /// (run it with `rate_limit.enabled = false` and a `server.max_connections_per_ip`
    /// above `connections`). `baseline` still runs
    /// in-process.
    pub target: Option<String>,
    pub connections: usize,
    /// Each phase runs `warmup` unmeasured, then `duration` measured.
    pub warmup: Duration,
    pub duration: Duration,
    /// After each peak run, a run at half its throughput (for its p99).
    pub half_rate: bool,
    pub client_threads: usize,
    /// Worker threads of the in-process server's runtime.
    pub server_threads: usize,
    pub sizes: Sizes,
    /// `scale`: how long each size is measured (one connection).
    pub scale_duration: Duration,
    /// Connection counts for the `mixed` and `baseline` sweep (the chart).
    pub sweep: Vec<usize>,
    pub sweep_duration: Duration,
    /// Settings of the in-process server (a TOML file as `minilvb.toml`, and
    /// the `MINILVB_*` environment), under the generator's own: port 0, the
    /// database, no rate limits. Default: the built-in defaults.
    pub server_config: Option<PathBuf>,
    /// A tracing filter for the in-process server's logs (to stderr); none by default.
    pub server_log: Option<String>,
    /// Progress lines on stderr.
    pub progress: bool,
    /// Seed of the workers' random choices.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            scenarios: ScenarioKind::ALL.to_vec(),
            database_url: None,
            target: None,
            connections: 32,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(8),
            half_rate: true,
            client_threads: 1,
            server_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            sizes: Sizes::default(),
            scale_duration: Duration::from_secs(2),
            sweep: Vec::new(),
            sweep_duration: Duration::from_secs(3),
            server_config: None,
            server_log: None,
            progress: false,
            seed: 1,
        }
    }
}

impl Config {
    /// Tiny sizes and fractions of a second: the CI smoke run.
    pub fn smoke() -> Self {
        Self {
            connections: 4,
            warmup: Duration::from_millis(50),
            duration: Duration::from_millis(250),
            client_threads: 1,
            server_threads: 2,
            sizes: Sizes {
                rooms: 60,
                online: 15,
                recordings: 120,
                churn_rooms: 5,
                hot_members: 300,
                viewers_per_connection: 5,
                mixed_rooms: 30,
                mixed_online: 10,
                mixed_recordings: 20,
                mixed_hosts: 3,
                scale_small: 10,
                scale_large: 200,
            },
            scale_duration: Duration::from_millis(150),
            sweep: vec![1, 4],
            sweep_duration: Duration::from_millis(150),
            ..Self::default()
        }
    }
}

/// One exactness check after a scenario.
#[derive(Debug, Clone)]
pub struct Check {
    pub what: String,
    /// Empty when the check passed.
    pub problems: Vec<String>,
    /// Writes that got no clear answer, which the check allowed for.
    pub ambiguous: i64,
}

impl Check {
    pub fn new(what: String, problems: Vec<String>, ambiguous: i64) -> Self {
        Self {
            what,
            problems,
            ambiguous,
        }
    }

    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Runs the configured scenarios; blocks (it makes its own runtimes, so call
/// it outside of any).
pub fn run(config: &Config) -> anyhow::Result<RunReport> {
    let runner = Runner::new(config)?;
    let mut kinds = config.scenarios.clone();
    kinds.sort();
    kinds.dedup();
    let mut report = RunReport {
        machine: machine(),
        backend: runner.backend(),
        target: config.target.clone(),
        connections: config.connections,
        duration: config.duration,
        warmup: config.warmup,
        client_threads: config.client_threads,
        server_threads: config.server_threads,
        load_before: load_average(),
        load_after: String::new(),
        scenarios: Vec::new(),
        scale: None,
        sweep: Vec::new(),
        sweep_checks: Vec::new(),
    };
    // The latest baseline measured: before the next scenario.
    let mut baseline_rps = None;
    for kind in kinds {
        let sizes = &config.sizes;
        let mut scenario = match kind {
            ScenarioKind::Baseline => runner.scenario(kind, scenarios::Baseline::new())?,
            ScenarioKind::List => runner.scenario(kind, scenarios::List::new(sizes))?,
            ScenarioKind::Likes => runner.scenario(kind, scenarios::Likes::new())?,
            ScenarioKind::Churn => runner.scenario(kind, scenarios::Churn::new(sizes))?,
            ScenarioKind::Mixed => runner.scenario(kind, scenarios::Mixed::new(sizes))?,
            ScenarioKind::Scale => {
                report.scale = Some(runner.scale()?);
                continue;
            }
        };
        scenario.baseline = match (kind, baseline_rps) {
            (ScenarioKind::Baseline, _) => {
                let rps = scenario.peak.rps();
                baseline_rps = Some(rps);
                Some(Bracket {
                    before: rps,
                    after: rps,
                })
            }
            (_, Some(before)) => {
                let after = runner.baseline_again()?;
                baseline_rps = Some(after);
                Some(Bracket { before, after })
            }
            (_, None) => None,
        };
        if config.progress {
            eprintln!("{}", report::scenario_text(&scenario));
        }
        report.scenarios.push(scenario);
    }
    if !config.sweep.is_empty() {
        let (points, checks) = runner.sweep()?;
        report.sweep = points;
        report.sweep_checks = checks;
    }
    report.load_after = load_average();
    Ok(report)
}
