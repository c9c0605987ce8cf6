//! Prometheus metrics. Counters and histograms go through the `metrics`
//! facade into one process-wide recorder; gauges of the present state (rooms
//! online, members, pools, connections, the process) are read at scrape time.
//! [`render`] produces the text format served on `metrics.listen`.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::actions::Context;

/// Requests by `action` and `return_value` (HTTP-level refusals included).
pub const REQUESTS: &str = "minilvb_requests_total";
/// Time from the headers to the reply, by `action`.
pub const REQUEST_DURATION: &str = "minilvb_request_duration_seconds";
/// Cloud callbacks by `event_type` and `outcome`.
pub const CALLBACKS: &str = "minilvb_callbacks_total";
/// Requests refused for a client's budget, by `budget`.
pub const RATE_LIMITED: &str = "minilvb_rate_limited_total";
/// Requests shed because `server.max_concurrent_requests` were running.
pub const SHED: &str = "minilvb_requests_shed_total";
/// Requests that ran out of time, by `stage` (`body` or `action`).
pub const TIMEOUTS: &str = "minilvb_request_timeouts_total";
/// Requests refused by caller authentication.
pub const AUTH_FAILURES: &str = "minilvb_auth_failures_total";
/// Storage failures, and among them waits for a connection that timed out.
pub const DB_ERRORS: &str = "minilvb_db_errors_total";
pub const DB_POOL_TIMEOUTS: &str = "minilvb_db_pool_timeouts_total";
/// Requests answered 2003 (callbacks: HTTP 500) whose write may have been
/// applied anyway (the connection was lost while the commit was on its way).
pub const DB_UNKNOWN_OUTCOMES: &str = "minilvb_db_unknown_outcomes_total";
/// Store operations re-run, by `reason` (`conflict`, `connection`).
pub const DB_RETRIES: &str = "minilvb_db_retries_total";

/// Each action's [`REQUESTS`] counter for return value 0 and its
/// [`REQUEST_DURATION`] histogram, registered once: through the macros,
/// every request built its labels and looked them up in the recorder's
/// registry (2-3 % of the server's CPU in the benchmark's write scenarios).
/// Other return values, rare, still go through the macros.
pub struct RequestMetrics {
    /// By action label (the protocol's actions, then `-`).
    by_action: Vec<(&'static str, metrics::Counter, metrics::Histogram)>,
}

impl RequestMetrics {
    /// Registers with the recorder installed (none: they count nothing).
    pub fn new() -> Self {
        let labels = crate::protocol::ACTIONS.iter().copied().chain(["-"]);
        Self {
            by_action: labels
                .map(|action| {
                    (
                        action,
                        metrics::counter!(REQUESTS, "action" => action, "return_value" => "0"),
                        metrics::histogram!(REQUEST_DURATION, "action" => action),
                    )
                })
                .collect(),
        }
    }

    /// A request of `action` answered `return_value` after `elapsed`.
    pub fn record(&self, action: &'static str, return_value: i64, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        match self.by_action.iter().find(|(label, ..)| *label == action) {
            Some((_, ok, duration)) => {
                if return_value == 0 {
                    ok.increment(1);
                } else {
                    metrics::counter!(REQUESTS, "action" => action, "return_value" => return_value.to_string())
                        .increment(1);
                }
                duration.record(seconds);
            }
            None => {
                metrics::counter!(REQUESTS, "action" => action, "return_value" => return_value.to_string())
                    .increment(1);
                metrics::histogram!(REQUEST_DURATION, "action" => action).record(seconds);
            }
        }
    }
}

impl Default for RequestMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Latency buckets, seconds: the apps give up after 10 s.
const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same).
/// None if another recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(REQUEST_DURATION.to_owned()),
                    &DURATION_BUCKETS,
                )
                .expect("the buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    describe();
                    spawn_upkeep(handle.clone());
                    Some(handle)
                }
                Err(_) => {
                    tracing::warn!(
                        "another metrics recorder is installed; /metrics will lack counters"
                    );
                    None
                }
            }
        })
        .as_ref()
}

/// How often the histograms' samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(2);

/// The recorder keeps every histogram sample until an upkeep folds it into
/// the buckets, which a scrape does: with nobody scraping, a server at
/// 80 000 requests a second grew by 1.7 MB a second. A thread of its own
/// (the recorder is process-wide; so is this) keeps it bounded.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "no metrics upkeep thread; histograms grow until scraped");
    }
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(REQUESTS, "Protocol requests by Action and returnValue.");
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Protocol request latency by Action."
    );
    describe_counter!(CALLBACKS, "Cloud callbacks by event type and outcome.");
    describe_counter!(RATE_LIMITED, "Requests over a client's budget, by budget.");
    describe_counter!(
        SHED,
        "Requests shed while the server was at its concurrency limit."
    );
    describe_counter!(TIMEOUTS, "Requests that ran out of time, by stage.");
    describe_counter!(AUTH_FAILURES, "Requests refused by caller authentication.");
    describe_counter!(DB_ERRORS, "Storage failures.");
    describe_counter!(
        DB_POOL_TIMEOUTS,
        "Requests that waited longer than database.acquire_timeout_secs for a connection."
    );
    describe_counter!(
        DB_UNKNOWN_OUTCOMES,
        "Requests answered 2003 (callbacks: HTTP 500) whose write may have been applied (connection lost during commit)."
    );
    describe_counter!(
        DB_RETRIES,
        "Store operations re-run after a conflict or a connection lost before commit, by reason."
    );
}

/// The server's own state at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerGauges {
    pub open_connections: i64,
    pub requests_in_flight: i64,
    pub max_concurrent_requests: i64,
    /// Client addresses with a rate-limit bucket, when rate limiting is on.
    pub rate_limited_clients: Option<usize>,
}

fn borrow(samples: &[(String, f64)]) -> Vec<(&str, f64)> {
    samples.iter().map(|(l, x)| (l.as_str(), *x)).collect()
}

fn gauge(out: &mut String, name: &str, help: &str, samples: &[(&str, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// The scrape: the recorder's counters and histograms, then the gauges.
pub async fn render(ctx: &Context, server: ServerGauges) -> String {
    let mut out = match install() {
        Some(handle) => {
            handle.run_upkeep();
            handle.render()
        }
        None => String::new(),
    };
    let counts = async {
        let rooms = ctx
            .store
            .count_rooms(crate::store::RoomScope::Online)
            .await?;
        let members = ctx.store.count_members().await?;
        Ok::<_, crate::store::StoreError>((rooms, members))
    };
    let database_up = match counts.await {
        Ok((rooms, members)) => {
            gauge(
                &mut out,
                "minilvb_rooms_online",
                "Rooms online now.",
                &[("", rooms as f64)],
            );
            gauge(
                &mut out,
                "minilvb_members",
                "Viewers in rooms and recordings now.",
                &[("", members as f64)],
            );
            1.0
        }
        Err(error) => {
            tracing::warn!(%error, "metrics: cannot count rooms and members");
            0.0
        }
    };
    gauge(
        &mut out,
        "minilvb_database_up",
        "1 if the database answered this scrape.",
        &[("", database_up)],
    );
    let pools = ctx.store.pool_stats();
    if !pools.is_empty() {
        let mut connections = Vec::new();
        let mut max = Vec::new();
        for pool in &pools {
            let in_use = pool.size.saturating_sub(pool.idle);
            connections.push((
                format!("{{pool=\"{}\",state=\"in_use\"}}", pool.pool),
                in_use as f64,
            ));
            connections.push((
                format!("{{pool=\"{}\",state=\"idle\"}}", pool.pool),
                pool.idle as f64,
            ));
            max.push((format!("{{pool=\"{}\"}}", pool.pool), pool.max as f64));
        }
        gauge(
            &mut out,
            "minilvb_db_pool_connections",
            "Database connections by pool and state.",
            &borrow(&connections),
        );
        gauge(
            &mut out,
            "minilvb_db_pool_max_connections",
            "The most connections each pool opens.",
            &borrow(&max),
        );
    }
    gauge(
        &mut out,
        "minilvb_http_connections",
        "Open HTTP connections on the public port.",
        &[("", server.open_connections as f64)],
    );
    gauge(
        &mut out,
        "minilvb_requests_in_flight",
        "Requests being handled now.",
        &[("", server.requests_in_flight as f64)],
    );
    gauge(
        &mut out,
        "minilvb_max_concurrent_requests",
        "The concurrency limit (server.max_concurrent_requests).",
        &[("", server.max_concurrent_requests as f64)],
    );
    if let Some(clients) = server.rate_limited_clients {
        gauge(
            &mut out,
            "minilvb_rate_limit_clients",
            "Client addresses with a rate-limit bucket in memory.",
            &[("", clients as f64)],
        );
    }
    super::process::render(&mut out);
    out
}
