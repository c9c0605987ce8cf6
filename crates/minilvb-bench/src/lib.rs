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

/// The turns `scale` measures each size in.
const SCALE_SLICES: u32 = 8;

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

/// The baseline measured on either side of a scenario. This machine's
/// speed can change between phases (the same baseline measured 117k and
/// 210k req/s minutes apart here, with no other load and no steal time):
/// a fraction is only meaningful against a baseline measured at the same
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

/// A server under test: in-process, or the target.
struct Server {
    addr: SocketAddr,
    host: String,
    store: Option<Arc<dyn Store>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    database: Option<ScenarioDatabase>,
}

struct Runner<'a> {
    config: &'a Config,
    server_rt: Runtime,
    client_rt: Runtime,
    target: Option<(SocketAddr, String)>,
    target_store: Option<Arc<dyn Store>>,
}

fn runtime(threads: usize, name: &str) -> anyhow::Result<Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name(name)
        .enable_all()
        .build()?)
}

impl<'a> Runner<'a> {
    fn new(config: &'a Config) -> anyhow::Result<Self> {
        anyhow::ensure!(config.connections > 0, "connections must be at least 1");
        anyhow::ensure!(!config.duration.is_zero(), "duration must not be zero");
        if let Some(level) = &config.server_log {
            minilvb::telemetry::init(&minilvb::config::LogSettings {
                level: level.clone(),
                ..Default::default()
            });
        }
        let server_rt = runtime(config.server_threads, "minilvb")?;
        let client_rt = runtime(config.client_threads, "bench-client")?;
        let (target, target_store) = match &config.target {
            None => (None, None),
            Some(url) => {
                let host = url
                    .strip_prefix("http://")
                    .ok_or_else(|| anyhow::anyhow!("--target: only http://host:port"))?
                    .trim_end_matches('/')
                    .to_owned();
                let addr = host
                    .to_socket_addrs()
                    .with_context(|| format!("--target: cannot resolve {host}"))?
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--target: no address for {host}"))?;
                let seeding = config
                    .scenarios
                    .iter()
                    .any(|k| *k != ScenarioKind::Baseline);
                let store = match &config.database_url {
                    Some(url) => Some(server_rt.block_on(minilvb_store::connect(
                        &DatabaseSettings {
                            url: url.clone(),
                            ..Default::default()
                        },
                        None,
                    ))?),
                    None if seeding => anyhow::bail!(
                        "--target needs --database-url (the target's database) to seed the scenarios"
                    ),
                    None => None,
                };
                (Some((addr, host)), store)
            }
        };
        Ok(Self {
            config,
            server_rt,
            client_rt,
            target,
            target_store,
        })
    }

    fn backend(&self) -> String {
        self.config
            .database_url
            .as_deref()
            .map_or(Ok(Backend::Sqlite), Backend::from_url)
            .map_or_else(|_| "?".into(), |b| b.name().to_owned())
    }

    fn progress(&self, line: impl FnOnce() -> String) {
        if self.config.progress {
            eprintln!("{}", line());
        }
    }

    fn start_server(&self, baseline: bool) -> anyhow::Result<Server> {
        if let (Some((addr, host)), false) = (&self.target, baseline) {
            return Ok(Server {
                addr: *addr,
                host: host.clone(),
                store: self.target_store.clone(),
                stop: None,
                task: None,
                database: None,
            });
        }
        let mut settings = match &self.config.server_config {
            Some(path) => Settings::load(Some(path), &Overrides::default())?,
            None => Settings::demo(),
        };
        settings.server.listen = "127.0.0.1:0".into();
        // One client address plays thousands of viewers: per-address
        // budgets would answer most requests 4003, and the per-address
        // connection cap would refuse most of its connections.
        settings.rate_limit.enabled = false;
        settings.server.max_connections_per_ip = usize::MAX;
        // The baseline needs no database of the backend's: a SQLite file.
        let base = match (&self.config.database_url, baseline) {
            (Some(url), false) => Some(url.as_str()),
            _ => None,
        };
        let database = self.server_rt.block_on(ScenarioDatabase::create(base))?;
        settings.database.url = database.url.clone();
        let app = match self.server_rt.block_on(Application::build(settings)) {
            Ok(app) => app,
            Err(error) => {
                self.server_rt.block_on(database.remove());
                return Err(error);
            }
        };
        let addr = app.local_addr();
        let store = app.store();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = match baseline {
            true => baseline::router,
            false => minilvb::http::router,
        };
        let task = self.server_rt.spawn(app.serve_until(router, async {
            let _ = stopped.await;
        }));
        Ok(Server {
            addr,
            host: addr.to_string(),
            store: Some(store),
            stop: Some(stop),
            task: Some(task),
            database: Some(database),
        })
    }

    fn stop_server(&self, mut server: Server) -> anyhow::Result<()> {
        if let Some(stop) = server.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = server.task.take() {
            self.server_rt
                .block_on(task)
                .context("the server task panicked")??;
        }
        if let Some(database) = server.database.take() {
            self.server_rt.block_on(database.remove());
        }
        Ok(())
    }

    fn seed<S: Scenario>(&self, scenario: &mut S, server: &Server) -> anyhow::Result<Duration> {
        let started = Instant::now();
        if let Some(store) = &server.store {
            self.server_rt.block_on(async {
                scenario.seed(store).await?;
                store.analyze().await?;
                anyhow::Ok(())
            })?;
        }
        Ok(started.elapsed())
    }

    fn phase<S: Scenario>(
        &self,
        scenario: &mut S,
        server: &Server,
        connections: usize,
        rate: Option<f64>,
        duration: Duration,
    ) -> PhaseReport {
        let warmup = self.config.warmup;
        self.phase_after(scenario, server, connections, rate, duration, warmup)
    }

    /// [`Runner::phase`] after `warmup` rather than the configured one.
    fn phase_after<S: Scenario>(
        &self,
        scenario: &mut S,
        server: &Server,
        connections: usize,
        rate: Option<f64>,
        duration: Duration,
        warmup: Duration,
    ) -> PhaseReport {
        let plan = Plan {
            addr: server.addr,
            host: Arc::from(server.host.as_str()),
            ops: scenario.ops().len(),
            rate,
            warmup,
            duration,
            seed: self.config.seed,
        };
        let workers = scenario.pool().take(connections);
        let before = stats::cpu_sample();
        let (workers, stats) = self.client_rt.block_on(run_phase(plan, workers));
        let others_cpu = before
            .zip(stats::cpu_sample())
            .map(|(before, after)| stats::others_share(&before, &after));
        scenario.pool().put_back(workers);
        PhaseReport {
            connections,
            rate,
            window: duration,
            stats,
            others_cpu,
        }
    }

    fn check<S: Scenario>(&self, scenario: &S, server: &Server) -> anyhow::Result<Vec<Check>> {
        self.client_rt.block_on(async {
            let conn = Conn::connect(server.addr, &server.host).await?;
            scenario.check(&mut Checker { conn }).await
        })
    }

    fn scenario<S: Scenario>(
        &self,
        kind: ScenarioKind,
        mut scenario: S,
    ) -> anyhow::Result<ScenarioReport> {
        stats::reset_peak_memory();
        let server = self.start_server(kind == ScenarioKind::Baseline)?;
        self.progress(|| format!("{kind}: seeding ({})", load_average()));
        let seed_time = self.seed(&mut scenario, &server)?;
        // The peak counts from here: serving, not the generator's seeding.
        minilvb::allocator::release_freed_memory();
        stats::reset_peak_memory();
        let connections = self.config.connections;
        self.progress(|| {
            format!(
                "{kind}: seeded in {:.1} s; peak run, {connections} connections ({})",
                seed_time.as_secs_f64(),
                load_average()
            )
        });
        let peak = self.phase(
            &mut scenario,
            &server,
            connections,
            None,
            self.config.duration,
        );
        let half = if self.config.half_rate && peak.rps() > 0.0 {
            let rate = peak.rps() / 2.0;
            self.progress(|| format!("{kind}: at half rate, {rate:.0} req/s"));
            Some(self.phase(
                &mut scenario,
                &server,
                connections,
                Some(rate),
                self.config.duration,
            ))
        } else {
            None
        };
        let checks = self.check(&scenario, &server)?;
        let memory = stats::memory();
        self.stop_server(server)?;
        Ok(ScenarioReport {
            kind,
            ops: scenario.ops(),
            seed_time,
            peak,
            half,
            checks,
            memory,
            baseline: None,
        })
    }

    /// The baseline's peak once more, after a scenario (see [`Bracket`]).
    fn baseline_again(&self) -> anyhow::Result<f64> {
        let server = self.start_server(true)?;
        self.progress(|| format!("baseline again ({})", load_average()));
        let mut baseline = scenarios::Baseline::new();
        self.seed(&mut baseline, &server)?;
        let phase = self.phase(
            &mut baseline,
            &server,
            self.config.connections,
            None,
            self.config.duration,
        );
        self.stop_server(server)?;
        Ok(phase.rps())
    }

    fn scale(&self) -> anyhow::Result<ScaleReport> {
        let sizes = &self.config.sizes;
        stats::reset_peak_memory();
        let small_server = self.start_server(false)?;
        let large_server = self.start_server(false)?;
        let mut small = scenarios::Scale::new();
        small.size = sizes.scale_small;
        let mut large = scenarios::Scale::new();
        large.size = sizes.scale_large;
        self.progress(|| format!("scale: seeding {} of each", sizes.scale_small));
        let mut seed_time = self.seed(&mut small, &small_server)?;
        self.progress(|| {
            format!(
                "scale: seeding {} of each ({})",
                sizes.scale_large,
                load_average()
            )
        });
        seed_time += self.seed(&mut large, &large_server)?;
        // One connection's latency is mostly how soon the threads wake,
        // which drifts with the machine's state: both sizes are measured in
        // turns, in short slices, so that the ratio compares like with like.
        let slice = self.config.scale_duration / SCALE_SLICES;
        let mut small_phase = self.phase(&mut small, &small_server, 1, None, slice);
        let mut large_phase = self.phase(&mut large, &large_server, 1, None, slice);
        for _ in 1..SCALE_SLICES {
            let warm = Duration::from_millis(20);
            small_phase.merge(self.phase_after(&mut small, &small_server, 1, None, slice, warm));
            large_phase.merge(self.phase_after(&mut large, &large_server, 1, None, slice, warm));
        }
        let mut checks = self.check(&small, &small_server)?;
        checks.extend(self.check(&large, &large_server)?);
        let memory = stats::memory();
        self.stop_server(small_server)?;
        self.stop_server(large_server)?;
        let report = ScaleReport {
            small: sizes.scale_small,
            large: sizes.scale_large,
            ops: &scenarios::SCALE_OPS,
            small_phase,
            large_phase,
            seed_time,
            checks,
            memory,
        };
        if self.config.progress {
            eprintln!("{}", report::scale_text(&report));
        }
        Ok(report)
    }

    /// Baseline and mixed at each connection count of `sweep`.
    fn sweep(&self) -> anyhow::Result<(Vec<SweepPoint>, Vec<Check>)> {
        let duration = self.config.sweep_duration;
        let mut points: Vec<SweepPoint> = Vec::new();
        let server = self.start_server(true)?;
        let mut baseline = scenarios::Baseline::new();
        for &connections in &self.config.sweep {
            let phase = self.phase(&mut baseline, &server, connections, None, duration);
            self.progress(|| {
                format!(
                    "sweep: baseline, {connections} connections: {:.0} req/s",
                    phase.rps()
                )
            });
            points.push(SweepPoint {
                connections,
                baseline_rps: phase.rps(),
                baseline_p99: phase.stats.total().latency.quantile(0.99),
                mixed_rps: 0.0,
                mixed_p99: Duration::ZERO,
                errors: phase.errors(),
                others_cpu: phase.others_cpu,
            });
        }
        self.stop_server(server)?;
        let server = self.start_server(false)?;
        let mut mixed = scenarios::Mixed::new(&self.config.sizes);
        self.seed(&mut mixed, &server)?;
        for point in &mut points {
            let phase = self.phase(&mut mixed, &server, point.connections, None, duration);
            self.progress(|| {
                format!(
                    "sweep: mixed, {} connections: {:.0} req/s ({})",
                    point.connections,
                    phase.rps(),
                    load_average()
                )
            });
            point.mixed_rps = phase.rps();
            point.mixed_p99 = phase.stats.total().latency.quantile(0.99);
            point.errors += phase.errors();
            point.others_cpu = match (point.others_cpu, phase.others_cpu) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        let checks = self.check(&mixed, &server)?;
        self.stop_server(server)?;
        Ok((points, checks))
    }
}

/// What every connection of a phase needs to know.
#[derive(Clone)]
struct Plan {
    addr: SocketAddr,
    host: Arc<str>,
    ops: usize,
    /// Total offered requests/s; closed loop when `None`.
    rate: Option<f64>,
    warmup: Duration,
    duration: Duration,
    seed: u64,
}

async fn run_phase<W: Worker>(plan: Plan, workers: Vec<W>) -> (Vec<W>, PhaseStats) {
    let n = workers.len();
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = workers
        .into_iter()
        .enumerate()
        .map(|(i, worker)| tokio::spawn(drive(worker, i, n, plan.clone(), barrier.clone())))
        .collect();
    let mut stats = PhaseStats::new(plan.ops);
    let mut workers = Vec::with_capacity(n);
    for task in tasks {
        let (worker, theirs) = task.await.expect("a connection task panicked");
        stats.merge(&theirs);
        workers.push(worker);
    }
    (workers, stats)
}

/// The granularity of tokio's timer: a rate-limited connection may wake up
/// this late by the client's own doing.
const TIMER_TICK: Duration = Duration::from_millis(1);

/// One connection: sends what its worker says until the phase ends.
/// Latency counts from the send, or, in a rate-limited phase that has fallen
/// behind its schedule, from when the request was due (less one
/// [`TIMER_TICK`]), so that a stall is not measured only once ("coordinated
/// omission"); the service time always counts from the send.
async fn drive<W: Worker>(
    mut worker: W,
    i: usize,
    n: usize,
    plan: Plan,
    barrier: Arc<tokio::sync::Barrier>,
) -> (W, PhaseStats) {
    let mut stats = PhaseStats::new(plan.ops);
    let mut rng = SmallRng::seed_from_u64(
        plan.seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(i as u64),
    );
    let mut body = Vec::with_capacity(512);
    let mut conn = Conn::connect(plan.addr, &plan.host).await.ok();
    barrier.wait().await;
    let start = Instant::now();
    let window_start = start + plan.warmup;
    let end = window_start + plan.duration;
    let interval = plan
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(n as f64 / r));
    let mut due = interval.map(|every| start + every.mul_f64(i as f64 / n as f64));
    loop {
        let mut sent = Instant::now();
        let mut from = sent;
        if let (Some(at), Some(every)) = (due.as_mut(), interval) {
            if *at > sent {
                tokio::time::sleep_until((*at).into()).await;
                sent = Instant::now();
                from = sent;
            } else {
                // Behind schedule: the lag counts, beyond one tick of the
                // client's own timer.
                from = sent.min(*at + TIMER_TICK);
            }
            *at += every;
        }
        if sent >= end {
            break;
        }
        body.clear();
        let op = worker.next(&mut rng, &mut body);
        let answer = exchange(&mut conn, &plan, &body).await;
        let done = Instant::now();
        let return_value = answer.as_ref().ok().map(|(v, _)| *v);
        let expected = worker.outcome(op, return_value);
        let counted = &mut stats.ops[op];
        if done >= window_start && done <= end {
            counted.latency.record(done - from);
            counted.service.record(done - sent);
        }
        match answer {
            Err(why) => {
                counted.failed += 1;
                stats.note(|| format!("{why} (request {})", String::from_utf8_lossy(&body)));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok((value, reply)) if !expected => {
                counted.unexpected += 1;
                stats.note(|| {
                    format!(
                        "returnValue {value} to {}: {}",
                        String::from_utf8_lossy(&body),
                        reply.unwrap_or_default()
                    )
                });
            }
            Ok(_) => {}
        }
    }
    (worker, stats)
}

/// Sends one request and reads its `returnValue`, (re)connecting if needed;
/// a non-zero value comes with the start of the reply, for the report.
async fn exchange(
    conn: &mut Option<Conn>,
    plan: &Plan,
    body: &[u8],
) -> Result<(i64, Option<String>), String> {
    if conn.is_none() {
        *conn = Some(
            Conn::connect(plan.addr, &plan.host)
                .await
                .map_err(|e| format!("connect: {e}"))?,
        );
    }
    let reply = match conn.as_mut().expect("connected").post(PATH, body).await {
        Ok(reply) => reply,
        Err(error) => {
            *conn = None;
            return Err(format!("HTTP exchange: {error}"));
        }
    };
    let snippet = |body: &[u8]| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    if reply.status != 200 {
        let why = format!("HTTP {}: {}", reply.status, snippet(reply.body));
        *conn = None;
        return Err(why);
    }
    match return_value(reply.body) {
        Some(0) => Ok((0, None)),
        Some(value) => Ok((value, Some(snippet(reply.body)))),
        None => Err(format!("no returnValue in {}", snippet(reply.body))),
    }
}
