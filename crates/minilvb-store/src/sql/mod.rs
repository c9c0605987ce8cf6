//! The one implementation of the store's roles, generic over the SQL
//! dialect: one file per concern (rooms, lists, members, likes, recordings,
//! moderation, import, upkeep), the shared machinery here.
//!
//! Every statement is written once, with `?` placeholders and standard SQL
//! (`CASE` rather than `MAX`/`GREATEST`, no upsert syntax). A [`Dialect`]
//! supplies the small pieces that differ: numbered placeholders, row locking,
//! which errors mean "re-run the transaction", and how pools and migrations
//! are set up (`sqlite.rs`, `postgres.rs`, `mysql.rs`).
//!
//! Concurrency, for several nodes on one database:
//! - membership changes and their count changes happen in one transaction,
//!   a node's enters and quits in batches (`change_members_together`): the
//!   groups' rows locked first, in key order, then their members read and
//!   the batch's outcome worked out in memory (`member_changes`), each
//!   write checked to change exactly the rows it should (else the batch
//!   is re-run: on Galera the lock is the node's own, and another node may
//!   have changed a member meanwhile), the counts moved last. So a
//!   popular room's row is locked once per batch rather than once per
//!   viewer, and its count follows membership exactly. (SQLite's single
//!   writer keeps it simpler: one enter or quit after the other, two
//!   statements each, see `enter_in`);
//! - counters change relative to the current value, floored at 0 where
//!   they could go below: no read-modify-write, no lost update;
//! - likes never touch the room's row: each node adds its likes to slot
//!   rows of its own (`like_slots`, see `add_likes`; one per update it runs
//!   at once on a target), so likes from several nodes, or several updates
//!   of one node, neither wait for nor conflict with each other or with
//!   membership and status changes; unlikes go through slot 0, one after
//!   the other;
//! - locks are always taken parent row first (room, recording), then member
//!   and file rows, so these transactions do not deadlock each other; a
//!   deadlock or serialization failure that happens anyway, or a unique-key
//!   race two nodes ran into, rolls the whole transaction back and it is
//!   re-run, a bounded number of times with a jittered back-off;
//! - on a Galera cluster `FOR UPDATE` locks on its own node only, and
//!   transactions on different nodes are ordered by certification of the
//!   rows they write. So every transaction whose correctness rests on a
//!   lock also writes the locked row: a membership change moves the count,
//!   a recording notice increments its anchor's `recording_notices`, an
//!   unlike writes slot 0. Two such transactions on two nodes then
//!   conflict, and the loser is re-run on the winner's result.
//!
//! Failure: every operation has a deadline (`database.operation_timeout_secs`);
//! after a connection failure the store fails fast (short acquire wait)
//! until the database answers again, so a dead database costs the client
//! at most half a second, and nothing has to restart when it comes back.
//!
//! What is re-run, and what is not. Every write is an explicit transaction
//! (a single statement too), so that the one moment whose outcome can be
//! unknown is the `COMMIT`. One exception, the hottest write: likes added
//! to an existing slot are one statement the database commits by itself
//! (`write_alone`: one round trip instead of three), and its whole run is
//! that moment (a connection lost during it leaves the like unknown, where
//! a transaction would have been re-run). Hence:
//! - a conflict the database reports (deadlock, serialization or Galera
//!   certification failure, lock wait timeout, unique-key race) means the
//!   transaction was rolled back: it is re-run, whatever the phase;
//! - a connection lost (or a node that refuses to serve, such as a Galera
//!   node outside the primary component) before the `COMMIT` was sent, or
//!   during a read: nothing was applied, so it is re-run on a fresh
//!   connection, at most [`LOST_RETRIES`] times and only while the database
//!   was believed reachable (a database known to be down fails fast);
//! - a connection lost, or the deadline passed, while the `COMMIT` (or a
//!   statement committing by itself) was on its way: the write may or may
//!   not have been applied. It is answered as
//!   [`StoreError::OutcomeUnknown`] (a 2003, never an acknowledgement) and
//!   not re-run, because likes are not idempotent.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::dialect::{Arg, Dialect, Rerun, SqlRow};
use super::member_changes::{self, Details, MemberKey};
use super::member_order::{Lookup, MemberOrders};
use super::snapshots::window;
use async_trait::async_trait;

use super::{
    AuditEntry, Ban, EventOutcome, ImportedRecording, ImportedRoom, MemberChange, NewMember,
    NewRecording, NewSession, PoolStats, RecordingFile, RecordingKey, RecordingOutcome, Report,
    RoomKey, RoomScope, RoomStream, SessionOutcome, StoreError, StoreResult, StreamEvent,
};
use crate::settings::{DatabaseSettings, MemberOrder};
use crate::{
    Import, Leases, Likes, Lists, Lookups, Members, Moderation, Recordings, Rooms, Upkeep,
};
use minilvb_protocol::cloud::events::{recording_urls, same_broadcast};
use minilvb_protocol::{Counted, Group, MemberInfo, Page, PusherInfo, SharedMembers, UserInfo};

use likes::*;
use rows::*;

/// How long a request waits for a connection while the database is known
/// to be unreachable: long enough to notice it is back, short enough that
/// the client gets its 2003 at once.
const UNREACHABLE_ACQUIRE: Duration = Duration::from_millis(500);

/// Re-runs of an operation whose connection was lost before its commit
/// (on a fresh connection, each waiting at most [`UNREACHABLE_ACQUIRE`]).
const LOST_RETRIES: u32 = 2;

/// Longest key stored as is in a key column; longer ones (recording notices
/// keyed by URL) are stored as their SHA-256, which MySQL's index limits need.
const MAX_KEY_BYTES: usize = 191;

/// The store over one SQL database.
pub struct SqlStore<DB: Dialect> {
    pools: DB::Pools,
    operation_timeout: Duration,
    max_retries: u32,
    /// Set by a connection failure, cleared by the next success.
    unreachable: AtomicBool,
    /// Whether the outage was logged (a lost connection that the first
    /// re-run gets over is not an outage).
    announced: AtomicBool,
    /// Transactions re-run after a conflict or a lost connection, since start.
    retries: AtomicU64,
    /// This node's like slot (1..=LIKE_SLOTS), that of its first lane.
    like_slot: i64,
    like_lanes: LikeLanes,
    /// Wakes the requests waiting for a connection when the database goes away.
    outage: tokio::sync::Notify,
    /// Deep pages of large groups.
    member_orders: MemberOrders,
    /// See [`Dialect::guarded`].
    guarded: bool,
    /// Whether the last write went through.
    writes: write_health::WriteHealth,
}

/// How far one attempt of an operation got: whether its `COMMIT` may have
/// reached the database. Set by `transaction!` just before it commits.
#[derive(Debug, Default)]
struct CommitSent {
    committing: AtomicBool,
}

impl CommitSent {
    fn mark_sent(&self) {
        self.committing.store(true, Ordering::Relaxed);
    }

    fn is_sent(&self) -> bool {
        self.committing.load(Ordering::Relaxed)
    }

    fn reset(&self) {
        self.committing.store(false, Ordering::Relaxed);
    }
}

/// What a failed attempt calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// Rolled back by the database: re-run.
    Conflict,
    /// The connection was lost or refused, or the server will not serve.
    Lost,
    /// No free connection within the acquire timeout: the pool is busy or
    /// the database does not answer; waiting again would only double the wait.
    Exhausted,
    /// About the statement: re-running would not help.
    Other,
}

/// `args![a, b, c]`: the values bound to a statement's `?`s, in order.
macro_rules! args {
    ($($value:expr),* $(,)?) => { &[$(Arg::from($value)),*][..] };
}

/// `transaction!(self, "what", |tx| { ... Ok(value) })`: runs the block in a
/// transaction on the writer, with `tx: &mut DB::Conn`, and commits
/// when it yields `Ok` (an early `return` included); where the database
/// may drop it unannounced (see [`Dialect::guarded`]), checking that the
/// commit happened. The whole transaction is re-run after a conflict (a
/// commit found not to have happened included) or a connection lost before
/// the commit (see `SqlStore::run`).
macro_rules! transaction {
    ($store:ident, $what:literal, |$tx:ident| $body:block) => {{
        let commit = CommitSent::default();
        let outcome = $store
            .run($what, &commit, || async {
                let mut transaction = $store
                    .acquire(DB::begin(&$store.pools, $store.guarded))
                    .await?;
                let $tx: &mut DB::Conn = &mut transaction;
                let value: Result<_, sqlx::Error> = async { $body }.await;
                let value = value?;
                commit.mark_sent();
                if $store.guarded {
                    DB::commit_guarded(&mut transaction).await?;
                }
                DB::commit(transaction).await?;
                Ok(value)
            })
            .await;
        $store.writes.note(outcome)
    }};
}

// The concerns, after the macros they use.
mod import;
mod leases;
mod likes;
mod lists;
mod members;
mod moderation;
mod recordings;
mod rooms;
mod rows;
mod upkeep;
mod write_health;

/// A statement in the dialect's placeholder style.
fn sql<DB: Dialect>(text: &str) -> Cow<'_, str> {
    if !DB::NUMBERED_PARAMS {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// What a failed attempt calls for.
pub(super) fn classify<DB: Dialect>(error: &sqlx::Error) -> Failure {
    match error {
        // A unique-key race (two nodes creating the same row): the re-run
        // sees the winner's row and takes the other path.
        sqlx::Error::Database(e)
            if DB::is_conflict(e.as_ref())
                || e.is_unique_violation()
                || e.try_downcast_ref::<Rerun>().is_some() =>
        {
            Failure::Conflict
        }
        sqlx::Error::Database(e) if DB::is_unavailable(e.as_ref()) => Failure::Lost,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => Failure::Lost,
        sqlx::Error::PoolTimedOut => Failure::Exhausted,
        _ => Failure::Other,
    }
}

/// Exponential back-off with full jitter: up to 2, 4, 8 ... 128 ms.
fn backoff(attempt: u32) -> Duration {
    let cap = 1u64 << attempt.clamp(1, 7);
    Duration::from_micros(rand::random_range(500..=cap * 1000))
}

/// A member's key as a condition (binds as [`bind_member`]).
const MEMBER: &str = "anchor = ? AND kind = ? AND group_key = ? AND userid = ?";

/// A room's status-event clock moves to `?` if that is later, and its
/// sequence is cleared then (binds the time three times). The sequence is
/// assigned first: MySQL applies `SET` assignments left to right.
const EVENT_CLOCK: &str = "last_event_seq = CASE WHEN last_event_time < ? THEN '' ELSE last_event_seq END, \
     last_event_time = CASE WHEN last_event_time < ? THEN ? ELSE last_event_time END";

/// The cover the lists show: the anchor's, else the latest screenshot.
const ROOM_COVER: &str = "CASE WHEN frontcover = '' THEN snapshot_url ELSE frontcover END";

/// Slots of the like counters (see the migration `0005_cluster`): slot 0
/// takes unlikes, each node adds its likes to one of 1..=LIKE_SLOTS.
const LIKE_SLOTS: i64 = 64;

/// A target's like slots: (anchor, kind, target), owned.
type LikeTarget = (String, i64, String);

/// Adds `?` to one slot of a target (binds delta, anchor, kind, target, slot).
const ADD_TO_SLOT: &str = "UPDATE like_slots SET likes = likes + ? \
     WHERE anchor = ? AND kind = ? AND target = ? AND slot = ?";
impl<DB: Dialect> SqlStore<DB> {
    /// Transactions re-run after a conflict since the store opened.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

impl<DB: Dialect> SqlStore<DB> {
    pub async fn connect(
        settings: &DatabaseSettings,
        members: Option<MemberOrder>,
    ) -> anyhow::Result<Self> {
        let pools = DB::open(settings).await?;
        if let Some(order) = members {
            DB::index_members_for(&pools, order).await?;
        }
        let guarded = DB::guarded(&pools).await?;
        Ok(Self {
            pools,
            operation_timeout: Duration::from_secs(settings.operation_timeout_secs),
            max_retries: settings.max_retries,
            unreachable: AtomicBool::new(false),
            announced: AtomicBool::new(false),
            retries: AtomicU64::new(0),
            like_slot: rand::random_range(1..=LIKE_SLOTS),
            like_lanes: LikeLanes::default(),
            outage: tokio::sync::Notify::new(),
            member_orders: MemberOrders::new(Duration::from_millis(settings.list_snapshot_ms)),
            guarded,
            writes: write_health::WriteHealth::default(),
        })
    }

    /// Runs `op` (one transaction or one read) under the operation deadline,
    /// re-running it after a conflict or a connection lost before its commit
    /// (`commit` says whether the attempt got that far), and keeps track of
    /// reachability.
    async fn run<T, F, Fut>(
        &self,
        what: &'static str,
        commit: &CommitSent,
        mut op: F,
    ) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let deadline = tokio::time::Instant::now() + self.operation_timeout;
        // A database already known to be down is not retried: fail fast.
        let mut lost_retries = if self.unreachable.load(Ordering::Relaxed) {
            0
        } else {
            LOST_RETRIES
        };
        let mut conflicts = 0u32;
        loop {
            commit.reset();
            let error = match tokio::time::timeout_at(deadline, op()).await {
                Ok(Ok(value)) => {
                    self.unreachable.store(false, Ordering::Relaxed);
                    if self.announced.swap(false, Ordering::Relaxed) {
                        tracing::info!("database reachable again");
                    }
                    return Ok(value);
                }
                Ok(Err(error)) => error,
                Err(_) => {
                    self.mark_unreachable(what);
                    let timeout = StoreError::Timeout(self.operation_timeout);
                    return Err(if commit.is_sent() {
                        StoreError::OutcomeUnknown(Box::new(timeout))
                    } else {
                        timeout
                    });
                }
            };
            match classify::<DB>(&error) {
                Failure::Conflict if conflicts < self.max_retries => {
                    conflicts += 1;
                    self.retried("conflict");
                    tracing::debug!(operation = what, attempt = conflicts, %error, "conflict; re-running");
                    tokio::time::sleep(backoff(conflicts)).await;
                    continue;
                }
                Failure::Conflict => {
                    tracing::warn!(
                        operation = what,
                        attempts = conflicts,
                        "conflicts persisted; giving up"
                    );
                }
                Failure::Lost if commit.is_sent() => {
                    self.mark_unreachable(what);
                    tracing::warn!(operation = what, %error, "connection lost during commit; outcome unknown");
                    return Err(StoreError::OutcomeUnknown(Box::new(error.into())));
                }
                Failure::Lost if lost_retries > 0 => {
                    // Nothing was committed. The re-run waits briefly for
                    // a fresh connection: a dead database fails fast.
                    lost_retries -= 1;
                    self.set_unreachable();
                    self.retried("connection");
                    tracing::debug!(operation = what, %error, "connection lost before commit; re-running");
                    continue;
                }
                Failure::Lost | Failure::Exhausted => self.mark_unreachable(what),
                Failure::Other => {}
            }
            return Err(error.into());
        }
    }

    fn retried(&self, reason: &'static str) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(crate::metric_names::DB_RETRIES, "reason" => reason).increment(1);
    }

    fn mark_unreachable(&self, what: &'static str) {
        self.set_unreachable();
        if !self.announced.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                operation = what,
                "database unreachable; failing fast until it answers"
            );
        }
    }

    /// A connection from `pool`, waiting briefly while the database is down.
    /// A request already waiting when the database goes away stops waiting
    /// then, instead of waiting out the acquire timeout.
    async fn acquire<C>(
        &self,
        conn: impl Future<Output = Result<C, sqlx::Error>>,
    ) -> Result<C, sqlx::Error> {
        let outage = self.outage.notified();
        tokio::pin!(outage);
        outage.as_mut().enable();
        if self.unreachable.load(Ordering::Relaxed) {
            return tokio::time::timeout(UNREACHABLE_ACQUIRE, conn)
                .await
                .unwrap_or(Err(sqlx::Error::PoolTimedOut));
        }
        tokio::select! {
            conn = conn => conn,
            // Nothing was sent: the operation may re-run, waiting briefly.
            () = outage => Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the database went away while waiting for a connection",
            ))),
        }
    }

    /// Notes that the database looks unreachable; true if that is news.
    fn set_unreachable(&self) -> bool {
        let news = !self.unreachable.swap(true, Ordering::Relaxed);
        if news {
            self.outage.notify_waiters();
        }
        news
    }

    /// The rows of one statement.
    async fn fetch(
        conn: &mut DB::Conn,
        statement: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<DB::Row>, sqlx::Error> {
        DB::fetch(conn, &sql::<DB>(statement), args).await
    }

    /// Runs one statement; the rows it changed.
    async fn exec(
        conn: &mut DB::Conn,
        statement: &str,
        args: &[Arg<'_>],
    ) -> Result<u64, sqlx::Error> {
        DB::exec(conn, &sql::<DB>(statement), args).await
    }

    /// Whether one statement finds a row.
    async fn found(
        conn: &mut DB::Conn,
        statement: &str,
        args: &[Arg<'_>],
    ) -> Result<bool, sqlx::Error> {
        Ok(!Self::fetch(conn, statement, args).await?.is_empty())
    }

    /// A read outside a transaction, on the reader pool.
    async fn read(&self, statement: &str, args: &[Arg<'_>]) -> StoreResult<Vec<DB::Row>> {
        // A read never commits: a lost connection is always re-run.
        self.run("read", &CommitSent::default(), || async {
            let mut conn = self.acquire(DB::lend(&self.pools)).await?;
            Self::fetch(&mut conn, statement, args).await
        })
        .await
    }

    /// A read of a whole list (its keys, a group's member ids): where reads
    /// run inline on the runtime's threads (SQLite) it may take tens of
    /// milliseconds, so it runs with this thread's other requests handed to
    /// another thread meanwhile, instead of stalling them.
    async fn read_bulk(&self, statement: &str, args: &[Arg<'_>]) -> StoreResult<Vec<DB::Row>> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let handle = Handle::current();
        // (SINGLE_WRITER: SQLite, whose reads run inline.)
        if DB::SINGLE_WRITER && handle.runtime_flavor() == RuntimeFlavor::MultiThread {
            tokio::task::block_in_place(|| handle.block_on(self.read(statement, args)))
        } else {
            self.read(statement, args).await
        }
    }

    async fn read_count(&self, statement: &str, args: &[Arg<'_>]) -> StoreResult<i64> {
        let rows = self.read(statement, args).await?;
        Ok(match rows.first() {
            Some(row) => row.first_int().map_err(StoreError::Database)?,
            None => 0,
        })
    }

    /// One statement on the writer, in a transaction of its own: a
    /// connection lost before the `COMMIT` then means "not applied" and the
    /// statement is re-run, where an autocommitted statement would leave
    /// its outcome unknown.
    async fn write(&self, statement: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        transaction!(self, "write", |tx| {
            Self::exec(tx, statement, args).await
        })
    }

    /// One statement that commits by itself, where one pool serves reads
    /// and writes (not on the single writer): sent alone, the database
    /// commits it, one round trip instead of three (`BEGIN`, it, `COMMIT`).
    /// Its outcome is unknown if the connection is lost while it runs,
    /// where [`Self::write`] would re-run it: for the hottest write (likes),
    /// where the round trips count.
    async fn write_alone(
        &self,
        what: &'static str,
        statement: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<u64> {
        debug_assert!(!DB::SINGLE_WRITER, "the single writer commits in groups");
        let statement = match self.guarded {
            true => Cow::Owned(format!("{}{statement}", DB::WRITE_ALONE_GUARDED)),
            false => Cow::Borrowed(statement),
        };
        let statement = statement.as_ref();
        let commit = CommitSent::default();
        let outcome = self
            .run(what, &commit, || async {
                let mut conn = self.acquire(DB::lend(&self.pools)).await?;
                commit.mark_sent();
                Self::exec(&mut conn, statement, args).await
            })
            .await;
        self.writes.note(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_where_the_dialect_wants() {
        let statement = "UPDATE rooms SET online = ?, status_at = ? WHERE userid = ?";
        assert_eq!(sql::<crate::sqlite::Sqlite>(statement), statement);
        assert_eq!(sql::<sqlx::MySql>(statement), statement);
        assert_eq!(
            sql::<sqlx::Postgres>(statement),
            "UPDATE rooms SET online = $1, status_at = $2 WHERE userid = $3"
        );
    }

    #[test]
    fn concurrent_like_updates_of_a_target_take_distinct_lanes() {
        let lanes = LikeLanes::default();
        let first = lanes.take("a1", 0, "");
        let second = lanes.take("a1", 0, "");
        let other_target = lanes.take("a1", 1, "f1");
        assert_eq!(
            (first.index(), second.index(), other_target.index()),
            (0, 1, 0)
        );
        drop(first);
        let again = lanes.take("a1", 0, "");
        assert_eq!(again.index(), 0, "a freed lane is taken again");
        drop((second, again, other_target));
        assert!(lanes.lock().is_empty(), "nothing kept for idle targets");
    }

    #[test]
    fn long_keys_are_stored_as_their_digest() {
        assert_eq!(stored_key("video:123"), "video:123");
        let url = format!("url:http://vod.example.com/{}.flv", "x".repeat(300));
        let stored = stored_key(&url);
        assert!(
            stored.starts_with("sha256:") && stored.len() == 7 + 64,
            "{stored}"
        );
        assert_eq!(stored, stored_key(&url), "the same key, the same digest");
    }

    #[test]
    fn back_off_grows_and_stays_bounded() {
        for attempt in 0..20 {
            let wait = backoff(attempt);
            let cap = Duration::from_millis(1 << attempt.clamp(1, 7));
            assert!(
                wait >= Duration::from_micros(500) && wait <= cap,
                "{attempt}: {wait:?}"
            );
        }
    }
}
