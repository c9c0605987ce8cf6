//! Prometheus metrics. Counters go through the `metrics` facade into one
//! process-wide recorder, the request latency histogram is kept here
//! ([`LATENCIES`]); gauges of the present state (rooms
//! online, members, pools, connections, the process) are read at scrape time.
//! [`render`] produces the text format served on `metrics.listen`.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use minilvb_store::Store;

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
/// Connections refused at accept, by `reason` (`per_address`, `total`).
pub const CONNECTIONS_REFUSED: &str = "minilvb_connections_refused_total";
/// Callback notices refused before they were applied, by `reason`
/// (`sign`, `expired`, `event_time`, `media_host`, `source`).
pub const CALLBACKS_REFUSED: &str = "minilvb_callbacks_refused_total";
pub use minilvb_store::metric_names::{
    DB_ERRORS, DB_POOL_TIMEOUTS, DB_RETRIES, DB_UNKNOWN_OUTCOMES,
};

/// Each action's [`REQUESTS`] counter for return value 0, registered once:
/// through the macros, every request built its labels and looked them up
/// in the recorder's registry, a cost the write benchmarks show
/// (docs/BENCHMARKS.md, design measurements). Other return values, rare, still go
/// through the macros. Latencies go to [`LATENCIES`].
pub struct RequestMetrics {
    /// By action, in the order of [`LABELS`].
    ok: Vec<metrics::Counter>,
}

impl RequestMetrics {
    /// Registers with the recorder installed (none: they count nothing).
    pub fn new() -> Self {
        let ok = LABELS
            .iter()
            .map(|&action| metrics::counter!(REQUESTS, "action" => action, "return_value" => "0"))
            .collect();
        Self { ok }
    }

    /// A request of `action` answered `return_value` after `elapsed`.
    pub fn record(&self, action: &'static str, return_value: i64, elapsed: Duration) {
        let index = LABELS.iter().position(|&label| label == action);
        match index {
            Some(i) if return_value == 0 => self.ok[i].increment(1),
            _ => metrics::counter!(REQUESTS, "action" => action, "return_value" => return_value.to_string())
                .increment(1),
        }
        // An action not in the list cannot be (labels are the protocol's
        // names or `-`); counted under `-` if it were.
        LATENCIES.record(index.unwrap_or(LABELS.len() - 1), elapsed);
    }
}

impl Default for RequestMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The `action` labels: the protocol's actions, then `-`.
const LABELS: [&str; minilvb_protocol::ACTIONS.len() + 1] = {
    let mut labels = ["-"; minilvb_protocol::ACTIONS.len() + 1];
    let mut i = 0;
    while i < minilvb_protocol::ACTIONS.len() {
        labels[i] = minilvb_protocol::ACTIONS[i];
        i += 1;
    }
    labels
};

/// [`REQUEST_DURATION`], by action: a count per bucket, kept here rather
/// than in the recorder, whose histograms queue every sample until an
/// upkeep folds them in (a cost `mixed` shows, see docs/BENCHMARKS.md, and
/// a thread to keep the queue bounded). Process-wide, as the
/// recorder is.
static LATENCIES: Latencies = Latencies {
    by_action: [const { Latency::new() }; LABELS.len()],
};

struct Latencies {
    by_action: [Latency; LABELS.len()],
}

struct Latency {
    /// Requests per bucket, not cumulative: `buckets[i]` took at most
    /// `DURATION_BUCKETS[i]` and more than the bucket before; slower ones
    /// are only in `count`.
    buckets: [AtomicU64; DURATION_BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Latency {
    const fn new() -> Self {
        Self {
            buckets: [const { AtomicU64::new(0) }; DURATION_BUCKETS.len()],
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

impl Latencies {
    fn record(&self, action: usize, elapsed: Duration) {
        let latency = &self.by_action[action];
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = DURATION_BUCKETS.iter().position(|&le| seconds <= le) {
            latency.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        latency.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        latency.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The Prometheus text of the histogram, for the actions that have had
    /// a request.
    fn render(&self, out: &mut String) {
        let name = REQUEST_DURATION;
        let _ = writeln!(
            out,
            "# HELP {name} Protocol request latency by Action.\n# TYPE {name} histogram"
        );
        for (action, latency) in LABELS.iter().zip(&self.by_action) {
            let count = latency.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let mut below = 0;
            for (le, bucket) in DURATION_BUCKETS.iter().zip(&latency.buckets) {
                below += bucket.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "{name}_bucket{{action=\"{action}\",le=\"{le}\"}} {below}"
                );
            }
            // Read apart from the buckets: a request recorded in between
            // must not make +Inf smaller than the last bucket.
            let count = count.max(below);
            let _ = writeln!(
                out,
                "{name}_bucket{{action=\"{action}\",le=\"+Inf\"}} {count}"
            );
            let sum = latency.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "{name}_sum{{action=\"{action}\"}} {sum}");
            let _ = writeln!(out, "{name}_count{{action=\"{action}\"}} {count}");
        }
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
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    describe();
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

fn describe() {
    use metrics::describe_counter;
    describe_counter!(REQUESTS, "Protocol requests by Action and returnValue.");
    describe_counter!(CALLBACKS, "Cloud callbacks by event type and outcome.");
    describe_counter!(RATE_LIMITED, "Requests over a client's budget, by budget.");
    describe_counter!(
        SHED,
        "Requests shed while the server was at its concurrency limit."
    );
    describe_counter!(TIMEOUTS, "Requests that ran out of time, by stage.");
    describe_counter!(AUTH_FAILURES, "Requests refused by caller authentication.");
    describe_counter!(
        CONNECTIONS_REFUSED,
        "Connections refused at accept: too many from one address, or in all."
    );
    describe_counter!(
        CALLBACKS_REFUSED,
        "Callback notices refused before they were applied, by reason."
    );
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
    /// The connections held at most, in all.
    pub max_connections: i64,
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

/// The scrape: the recorder's counters, the latencies, then the gauges.
pub async fn render(store: &dyn Store, server: ServerGauges) -> String {
    let mut out = install().map(|h| h.render()).unwrap_or_default();
    LATENCIES.render(&mut out);
    let counts = async {
        let rooms = store.count_rooms(minilvb_store::RoomScope::Online).await?;
        let members = store.count_members().await?;
        Ok::<_, minilvb_store::StoreError>((rooms, members))
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
    let pools = store.pool_stats();
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
        "minilvb_max_connections",
        "The most connections held at once (server.max_connections, or what the open-file limit leaves room for).",
        &[("", server.max_connections as f64)],
    );
    gauge(
        &mut out,
        "minilvb_database_writes_failing",
        "1 while the last write failed and none has succeeded since.",
        &[("", f64::from(u8::from(store.write_failure().is_some())))],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_render_as_a_cumulative_prometheus_histogram() {
        let latencies = Latencies {
            by_action: [const { Latency::new() }; LABELS.len()],
        };
        let enter = LABELS.iter().position(|&l| l == "EnterGroup").unwrap();
        for micros in [100, 500, 501, 3_000, 20_000_000] {
            latencies.record(enter, Duration::from_micros(micros));
        }
        let mut out = String::new();
        latencies.render(&mut out);
        let line = |suffix: &str| {
            let name = format!("{REQUEST_DURATION}{suffix} ");
            let found = out.lines().find_map(|l| l.strip_prefix(name.as_str()));
            found
                .unwrap_or_else(|| panic!("{name} missing in\n{out}"))
                .to_owned()
        };
        // At most 0.5 ms: 100 and 500 us (le is inclusive).
        assert_eq!(line("_bucket{action=\"EnterGroup\",le=\"0.0005\"}"), "2");
        assert_eq!(line("_bucket{action=\"EnterGroup\",le=\"0.001\"}"), "3");
        assert_eq!(line("_bucket{action=\"EnterGroup\",le=\"0.005\"}"), "4");
        // 20 s is past the last bucket: only in +Inf.
        assert_eq!(line("_bucket{action=\"EnterGroup\",le=\"10\"}"), "4");
        assert_eq!(line("_bucket{action=\"EnterGroup\",le=\"+Inf\"}"), "5");
        assert_eq!(line("_count{action=\"EnterGroup\"}"), "5");
        assert_eq!(line("_sum{action=\"EnterGroup\"}"), "20.004101");
        assert!(
            out.starts_with(&format!("# HELP {REQUEST_DURATION} ")),
            "{out}"
        );
        assert!(
            out.contains(&format!("# TYPE {REQUEST_DURATION} histogram\n")),
            "{out}"
        );
        // Actions nobody asked for are left out.
        assert!(!out.contains("FetchList"), "{out}");
    }
}
