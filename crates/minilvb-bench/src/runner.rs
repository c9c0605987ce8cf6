//! Runs the scenarios: starts (or targets) the server, seeds it, drives
//! each phase on the load runtime, and checks what the server counted.

use super::*;

/// The turns `scale` measures each size in.
const SCALE_SLICES: u32 = 8;

/// A server under test: in-process, or the target.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) host: String,
    pub(crate) store: Option<Arc<dyn Store>>,
    pub(crate) stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub(crate) task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub(crate) database: Option<ScenarioDatabase>,
}

pub(crate) struct Runner<'a> {
    pub(crate) config: &'a Config,
    pub(crate) server_rt: Runtime,
    pub(crate) client_rt: Runtime,
    pub(crate) target: Option<(SocketAddr, String)>,
    pub(crate) target_store: Option<Arc<dyn Store>>,
}

pub(crate) fn runtime(threads: usize, name: &str) -> anyhow::Result<Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name(name)
        .enable_all()
        .build()?)
}

impl<'a> Runner<'a> {
    pub(crate) fn new(config: &'a Config) -> anyhow::Result<Self> {
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

    pub(crate) fn backend(&self) -> String {
        self.config
            .database_url
            .as_deref()
            .map_or(Ok(Backend::Sqlite), Backend::from_url)
            .map_or_else(|_| "?".into(), |b| b.name().to_owned())
    }

    pub(crate) fn progress(&self, line: impl FnOnce() -> String) {
        if self.config.progress {
            eprintln!("{}", line());
        }
    }

    pub(crate) fn start_server(&self, baseline: bool) -> anyhow::Result<Server> {
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

    pub(crate) fn stop_server(&self, mut server: Server) -> anyhow::Result<()> {
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

    pub(crate) fn seed<S: Scenario>(
        &self,
        scenario: &mut S,
        server: &Server,
    ) -> anyhow::Result<Duration> {
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

    pub(crate) fn phase<S: Scenario>(
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
    pub(crate) fn phase_after<S: Scenario>(
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

    pub(crate) fn check<S: Scenario>(
        &self,
        scenario: &S,
        server: &Server,
    ) -> anyhow::Result<Vec<Check>> {
        self.client_rt.block_on(async {
            let conn = Conn::connect(server.addr, &server.host).await?;
            scenario.check(&mut Checker { conn }).await
        })
    }

    pub(crate) fn scenario<S: Scenario>(
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
    pub(crate) fn baseline_again(&self) -> anyhow::Result<f64> {
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

    pub(crate) fn scale(&self) -> anyhow::Result<ScaleReport> {
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
    pub(crate) fn sweep(&self) -> anyhow::Result<(Vec<SweepPoint>, Vec<Check>)> {
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
pub(crate) struct Plan {
    pub(crate) addr: SocketAddr,
    pub(crate) host: Arc<str>,
    pub(crate) ops: usize,
    /// Total offered requests/s; closed loop when `None`.
    pub(crate) rate: Option<f64>,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    pub(crate) seed: u64,
}

pub(crate) async fn run_phase<W: Worker>(plan: Plan, workers: Vec<W>) -> (Vec<W>, PhaseStats) {
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
pub(crate) const TIMER_TICK: Duration = Duration::from_millis(1);

/// One connection: sends what its worker says until the phase ends.
/// Latency counts from the send, or, in a rate-limited phase that has fallen
/// behind its schedule, from when the request was due (less one
/// [`TIMER_TICK`]), so that a stall is not measured only once ("coordinated
/// omission"); the service time always counts from the send.
pub(crate) async fn drive<W: Worker>(
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
pub(crate) async fn exchange(
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
