//! `minilvb-bench`: the load generator (see `docs/BENCHMARKS.md`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use minilvb_bench::{Config, ScenarioKind, Sizes};

// The server under test runs in this process: on the allocator it runs on.
minilvb::use_jemalloc!();

#[derive(Debug, Parser)]
#[command(
    name = "minilvb-bench",
    version,
    about = "Load generator for minilvb: starts the server in-process (or targets one) and drives the apps' requests",
    after_help = "Scenarios: baseline (the same HTTP stack with no work), list, likes, churn, mixed, scale.\n\
                  Each runs at its peak (closed loop), then at half of it (rate limited), then checks the server's counts exactly.\n\
                  Exit code 1 when a request failed, got an unexpected returnValue, or a check failed."
)]
struct Args {
    /// Scenarios to run (default: all). `baseline` always runs first.
    #[arg(value_parser = parse_scenario)]
    scenarios: Vec<ScenarioKind>,
    /// The backend: each scenario gets a fresh database, a SQLite file beside
    /// sqlite:PATH (default: in the temporary directory), or a database created
    /// (and dropped) on the server postgres://... or mysql://... names. With
    /// --target: the target's database, which the scenarios seed directly.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Drive a running server (http://host:port, with rate_limit.enabled = false and
    /// server.max_connections_per_ip above --connections) instead of an in-process one.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Keep-alive connections.
    #[arg(long, short = 'c', default_value_t = 32)]
    connections: usize,
    /// Measured seconds per phase.
    #[arg(long, short = 'd', default_value_t = 8.0)]
    duration: f64,
    /// Unmeasured seconds before each phase.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Skip the run at half of each scenario's peak.
    #[arg(long)]
    no_half_rate: bool,
    /// Client runtime threads.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Server runtime worker threads (default: the number of cores).
    #[arg(long)]
    server_threads: Option<usize>,
    /// list: rooms.
    #[arg(long, default_value_t = 10_000)]
    rooms: usize,
    /// list: online rooms.
    #[arg(long, default_value_t = 2_000)]
    online: usize,
    /// list: recordings.
    #[arg(long, default_value_t = 50_000)]
    recordings: usize,
    /// churn: rooms.
    #[arg(long, default_value_t = 100)]
    churn_rooms: usize,
    /// churn: members seeded into the hot room.
    #[arg(long, default_value_t = 100_000)]
    hot_members: usize,
    /// churn, mixed: viewers per connection.
    #[arg(long, default_value_t = 50)]
    viewers: usize,
    /// mixed: rooms (the first --mixed-online are online, joined and liked).
    #[arg(long, default_value_t = 1_000)]
    mixed_rooms: usize,
    #[arg(long, default_value_t = 200)]
    mixed_online: usize,
    #[arg(long, default_value_t = 1_000)]
    mixed_recordings: usize,
    /// mixed: anchors starting sessions and going on and off air.
    #[arg(long, default_value_t = 50)]
    mixed_hosts: usize,
    /// scale: the small and the large size.
    #[arg(long, default_value_t = 100)]
    scale_small: usize,
    #[arg(long, default_value_t = 100_000)]
    scale_large: usize,
    /// scale: measured seconds at each size.
    #[arg(long, default_value_t = 2.0)]
    scale_duration: f64,
    /// Connection counts for the baseline/mixed sweep, e.g. 1,2,4,8,16,32,64,128,256.
    #[arg(long, value_delimiter = ',')]
    sweep: Vec<usize>,
    /// Measured seconds per sweep point.
    #[arg(long, default_value_t = 3.0)]
    sweep_duration: f64,
    /// Write the sweep's chart (SVG) here.
    #[arg(long, value_name = "PATH")]
    chart: Option<PathBuf>,
    /// Write the results as Markdown here.
    #[arg(long, value_name = "PATH")]
    markdown: Option<PathBuf>,
    /// Settings for the in-process server (TOML, as minilvb.toml; MINILVB_* apply
    /// too); the generator still sets the port, the database and no rate limits.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// The in-process server's log filter (e.g. info); no logs by default.
    #[arg(long, value_name = "FILTER")]
    server_log: Option<String>,
    /// Seed of the random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// No progress lines on stderr.
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn parse_scenario(name: &str) -> Result<ScenarioKind, String> {
    ScenarioKind::from_name(name).ok_or_else(|| {
        format!("unknown scenario {name}: baseline, list, likes, churn, mixed or scale")
    })
}

fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn main() -> ExitCode {
    // As the server's `main` does: the in-process server measures as it runs.
    let args = Args::parse();
    let defaults = Config::default();
    let config = Config {
        scenarios: if args.scenarios.is_empty() {
            ScenarioKind::ALL.to_vec()
        } else {
            args.scenarios.clone()
        },
        database_url: args.database_url.clone(),
        target: args.target.clone(),
        connections: args.connections,
        warmup: seconds(args.warmup),
        duration: seconds(args.duration),
        half_rate: !args.no_half_rate,
        client_threads: args.client_threads,
        server_threads: args.server_threads.unwrap_or(defaults.server_threads),
        sizes: Sizes {
            rooms: args.rooms,
            online: args.online,
            recordings: args.recordings,
            churn_rooms: args.churn_rooms,
            hot_members: args.hot_members,
            viewers_per_connection: args.viewers,
            mixed_rooms: args.mixed_rooms,
            mixed_online: args.mixed_online,
            mixed_recordings: args.mixed_recordings,
            mixed_hosts: args.mixed_hosts,
            scale_small: args.scale_small,
            scale_large: args.scale_large,
        },
        scale_duration: seconds(args.scale_duration),
        sweep: args.sweep.clone(),
        sweep_duration: seconds(args.sweep_duration),
        server_config: args.config.clone(),
        server_log: args.server_log.clone(),
        progress: !args.quiet,
        seed: args.seed,
    };
    let report = match minilvb_bench::run(&config) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("minilvb-bench: {error:#}");
            return ExitCode::from(2);
        }
    };
    println!("{}", minilvb_bench::report::text(&report));
    if let Some(path) = &args.markdown {
        if let Err(error) = std::fs::write(path, minilvb_bench::report::markdown(&report)) {
            eprintln!("minilvb-bench: cannot write {}: {error}", path.display());
            return ExitCode::from(2);
        }
    }
    if let Some(path) = &args.chart {
        let title = format!(
            "minilvb mixed vs baseline, {}, {} cores, load {}",
            report.backend,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            report.load_before
        );
        if let Err(error) =
            std::fs::write(path, minilvb_bench::chart::render(&report.sweep, &title))
        {
            eprintln!("minilvb-bench: cannot write {}: {error}", path.display());
            return ExitCode::from(2);
        }
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
