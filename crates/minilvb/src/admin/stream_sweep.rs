//! The stream-status sweep: every `cloud_api.sweep_secs`, one node of the
//! deployment asks the cloud which streams are live
//! (DescribeLiveStreamOnlineList, every page) and brings the rooms in line:
//!
//! - a room listed online whose stream the cloud has not had for
//!   `cloud_api.sweep_misses` consecutive sweeps goes offline;
//! - a stream the cloud has live whose room we hold offline, of a user who
//!   is not banned, goes online (its push-began callback was lost);
//! - a banned user's stream found live is cut again.
//!
//! Invariants:
//! - one node sweeps at a time: the holder of the lease [`LEASE`] in the
//!   database, renewed every round for three intervals, and again after the
//!   listing, before anything is changed; a node that stops gives it up, one
//!   that dies loses it when it runs out;
//! - a sweep that fails (the cloud unreachable or refusing, the database
//!   failing) changes nothing and never takes a room offline;
//! - the sweep's changes are stream events under the callbacks' ordering
//!   rules: offline at the moment the listing began, online at the moment
//!   the cloud says the push began, so a callback about a later moment
//!   always wins;
//! - miss counts live in the lease holder's memory: a node that takes the
//!   lease over starts counting from zero.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use minilvb_cloud::{CloudApi, CloudError, OnlineList};
use minilvb_store::{EventOutcome, StoreError, StreamEvent};

use super::moderation::{APP, Moderator};
use crate::config::CloudApiSettings;
use crate::telemetry::metrics as names;

/// The lease's name in the `leases` table.
pub const LEASE: &str = "stream-sweep";

/// What a running sweep shows of itself, for tests and operators.
#[derive(Debug, Default)]
pub struct SweepStatus {
    node: String,
    holding: AtomicBool,
    sweeps: AtomicU64,
}

impl SweepStatus {
    /// This node's name in the lease: random per server process.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether this node holds the lease (as of its last round).
    pub fn holds_lease(&self) -> bool {
        self.holding.load(Ordering::SeqCst)
    }

    /// Sweeps this node has run, failed ones included.
    pub fn sweeps(&self) -> u64 {
        self.sweeps.load(Ordering::SeqCst)
    }
}

/// What one sweep found and changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Streams the cloud listed.
    pub online_at_cloud: usize,
    /// Userids whose rooms went offline.
    pub set_offline: Vec<String>,
    /// Userids whose rooms went online.
    pub set_online: Vec<String>,
    /// Banned userids whose streams were cut again.
    pub recut: Vec<String>,
    /// Rooms listed online and missing at the cloud, not yet often enough.
    pub missing: usize,
    /// Live streams of no room here.
    pub unknown_streams: usize,
}

impl SweepReport {
    fn changed(&self) -> bool {
        !(self.set_offline.is_empty() && self.set_online.is_empty() && self.recut.is_empty())
    }
}

/// The cloud's listing of live streams, begun at `at` (Unix seconds).
struct Listed {
    at: i64,
    list: OnlineList,
}

/// Why a sweep did nothing.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("{0}")]
    Cloud(#[from] CloudError),
    #[error("the database failed: {0}")]
    Store(#[from] StoreError),
}

/// The sweep of one node.
pub struct StreamSweep {
    moderator: Moderator,
    api: CloudApi,
    every: Duration,
    misses_to_offline: u32,
    /// Consecutive sweeps each stream, listed online here, was missing at
    /// the cloud.
    misses: HashMap<String, u32>,
    status: Arc<SweepStatus>,
}

impl StreamSweep {
    /// A sweep when the cloud API is configured and `sweep_secs` is not 0.
    pub fn new(moderator: Moderator, settings: &CloudApiSettings) -> Option<Self> {
        let api = moderator.cloud()?.clone();
        if settings.sweep_secs == 0 {
            return None;
        }
        let node = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        Some(Self {
            moderator,
            api,
            every: Duration::from_secs(settings.sweep_secs),
            misses_to_offline: settings.sweep_misses.max(1),
            misses: HashMap::new(),
            status: Arc::new(SweepStatus {
                node,
                ..SweepStatus::default()
            }),
        })
    }

    pub fn status(&self) -> Arc<SweepStatus> {
        Arc::clone(&self.status)
    }

    /// The lease's lifetime: three rounds, so that one slow round does not
    /// hand the sweep to another node.
    fn lease_ttl(&self) -> Duration {
        self.every * 3
    }

    /// Sweeps every interval while this node holds the lease, until `stop`
    /// turns true; then gives the lease up.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.wait_for(|stop| *stop) => break,
            }
            tokio::select! {
                _ = self.round() => {}
                _ = stop.wait_for(|stop| *stop) => break,
            }
        }
        if self.status.holds_lease() {
            let store = self.moderator.store();
            match store.release_lease(LEASE, self.status.node()).await {
                Ok(()) => tracing::info!(node = self.status.node(), "stream sweep lease released"),
                Err(error) => tracing::warn!(%error, "cannot release the stream sweep lease"),
            }
            self.status.holding.store(false, Ordering::SeqCst);
            metrics::gauge!(names::SWEEP_LEASE_HELD).set(0.0);
        }
    }

    /// Takes or renews the lease, and sweeps if this node holds it.
    async fn round(&mut self) {
        if !self.hold_lease().await {
            return;
        }
        let started = Instant::now();
        let result = match self.list().await {
            Ok(listed) => {
                // A listing slower than the lease (many pages, retries) may
                // have let another node take over: then that node applies.
                if !self.hold_lease().await {
                    return;
                }
                self.apply_list(listed).await
            }
            Err(error) => Err(error),
        };
        metrics::histogram!(names::SWEEP_DURATION).record(started.elapsed().as_secs_f64());
        self.status.sweeps.fetch_add(1, Ordering::SeqCst);
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(report) => {
                metrics::counter!(names::SWEEPS, "outcome" => "ok").increment(1);
                for (change, rooms) in [
                    ("offline", &report.set_offline),
                    ("online", &report.set_online),
                    ("recut", &report.recut),
                ] {
                    if !rooms.is_empty() {
                        metrics::counter!(names::SWEEP_ROOMS_CHANGED, "change" => change)
                            .increment(rooms.len() as u64);
                    }
                }
                log_report(&report, elapsed_ms);
            }
            Err(SweepError::Cloud(error)) => {
                metrics::counter!(names::SWEEPS, "outcome" => "cloud_error").increment(1);
                tracing::warn!(
                    code = error.code(), request_id = error.request_id(), %error, elapsed_ms,
                    "stream sweep failed at the cloud; no room changed"
                );
            }
            Err(SweepError::Store(error)) => {
                metrics::counter!(names::SWEEPS, "outcome" => "store_error").increment(1);
                tracing::warn!(%error, elapsed_ms, "stream sweep failed in the database");
            }
        }
        match self.moderator.lift_ended_bans().await {
            Ok(lifted) if !lifted.is_empty() => {
                tracing::info!(users = %lifted.join(","), "bans ended and were lifted");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot lift ended bans"),
        }
        crate::telemetry::metrics::run_upkeep();
    }

    /// Whether this node holds the lease now; says so when that changes.
    async fn hold_lease(&mut self) -> bool {
        let node = self.status.node().to_owned();
        let ttl_ms = self.lease_ttl().as_millis() as i64;
        let taken = self
            .moderator
            .store()
            .take_lease(LEASE, &node, wall_ms(), ttl_ms)
            .await;
        let holds = match taken {
            Ok(holds) => holds,
            Err(error) => {
                tracing::warn!(%error, "stream sweep: cannot take the lease; skipping this round");
                return false;
            }
        };
        if holds != self.status.holds_lease() {
            match holds {
                true => tracing::info!(
                    node,
                    every_secs = self.every.as_secs(),
                    "this node now runs the stream-status sweep"
                ),
                false => tracing::info!(node, "another node now runs the stream-status sweep"),
            }
            // Counts are this holder's own; a new holder starts afresh.
            self.misses.clear();
            self.status.holding.store(holds, Ordering::SeqCst);
            metrics::gauge!(names::SWEEP_LEASE_HELD).set(if holds { 1.0 } else { 0.0 });
        }
        holds
    }

    /// Every stream the cloud has live on the push domain, and when the
    /// listing began.
    async fn list(&self) -> Result<Listed, SweepError> {
        // Events are dated when the listing began: whatever a callback says
        // about a later moment wins over what the list showed.
        let at = self.moderator.now();
        let list = self
            .api
            .describe_live_stream_online_list(self.moderator.push_domain(), APP)
            .await?;
        Ok(Listed { at, list })
    }

    /// The three rules, over a listing.
    async fn apply_list(&mut self, listed: Listed) -> Result<SweepReport, SweepError> {
        let store = Arc::clone(self.moderator.store());
        let Listed { at, list } = listed;
        let live: HashMap<&str, _> = list
            .streams
            .iter()
            .map(|stream| (stream.stream.as_str(), stream))
            .collect();
        let rooms = store.room_streams().await?;
        let banned: HashSet<String> = store
            .bans()
            .await?
            .into_iter()
            .filter(|ban| ban.ends_at.is_none_or(|end| end > at))
            .map(|ban| ban.userid)
            .collect();
        let mut report = SweepReport {
            online_at_cloud: list.streams.len(),
            ..SweepReport::default()
        };
        let mut misses = HashMap::new();
        let mut known = 0;
        for room in rooms.iter().filter(|room| !room.stream_id.is_empty()) {
            let Some(stream) = live.get(room.stream_id.as_str()) else {
                if room.online {
                    let missed = self.misses.get(&room.stream_id).copied().unwrap_or(0) + 1;
                    if missed < self.misses_to_offline {
                        misses.insert(room.stream_id.clone(), missed);
                        report.missing += 1;
                    } else if self.apply(&room.stream_id, false, at, at).await? {
                        report.set_offline.push(room.userid.clone());
                    }
                }
                continue;
            };
            known += 1;
            if banned.contains(&room.userid) {
                match self
                    .moderator
                    .recut_banned_stream(&room.userid, &room.stream_id)
                    .await
                {
                    Ok(_) => report.recut.push(room.userid.clone()),
                    // The next sweep tries again.
                    Err(error) => tracing::warn!(
                        userid = %room.userid, %error,
                        "stream sweep: cannot cut a banned user's live stream"
                    ),
                }
            } else if !room.online {
                // The push began when the cloud says, or (not said) when
                // the listing began at the latest.
                let began = stream.last_published_at().map_or(at, |t| t.min(at));
                if self.apply(&room.stream_id, true, began, at).await? {
                    report.set_online.push(room.userid.clone());
                }
            }
        }
        report.unknown_streams = live.len().saturating_sub(known);
        self.misses = misses;
        Ok(report)
    }

    /// A stream event from the sweep; whether it changed the room.
    async fn apply(
        &self,
        stream_id: &str,
        online: bool,
        at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let event = StreamEvent {
            stream_id: stream_id.to_owned(),
            online,
            at,
            // Below every push's sequence: at the same second, the cloud's
            // own callback wins.
            sequence: String::new(),
            now,
        };
        let outcome = self.moderator.store().stream_event(&event).await?;
        Ok(outcome == EventOutcome::Applied)
    }
}

fn log_report(report: &SweepReport, elapsed_ms: u64) {
    let join = |userids: &[String]| userids.join(",");
    if report.changed() {
        tracing::info!(
            online_at_cloud = report.online_at_cloud,
            set_offline = %join(&report.set_offline),
            set_online = %join(&report.set_online),
            recut = %join(&report.recut),
            missing = report.missing,
            unknown_streams = report.unknown_streams,
            elapsed_ms,
            "stream sweep changed rooms"
        );
    } else {
        tracing::debug!(
            online_at_cloud = report.online_at_cloud,
            missing = report.missing,
            unknown_streams = report.unknown_streams,
            elapsed_ms,
            "stream sweep: nothing to change"
        );
    }
}

/// Unix milliseconds of the wall clock: leases are shared between nodes,
/// whose wall clocks agree where their test clocks need not.
fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
