//! The one implementation of [`Store`], generic over the SQL dialect.
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
    Ban, EventOutcome, ImportedRecording, ImportedRoom, MemberChange, NewMember, NewRecording,
    NewSession, PoolStats, RecordingFile, RecordingKey, RecordingOutcome, Report, RoomKey,
    RoomScope, SessionOutcome, Store, StoreError, StoreResult, StreamEvent,
};
use crate::settings::{DatabaseSettings, MemberOrder};
use minilvb_protocol::cloud::events::{recording_urls, same_broadcast};
use minilvb_protocol::{Counted, Group, MemberInfo, Page, PusherInfo, SharedMembers, UserInfo};

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
}

/// How far one attempt of an operation got: whether its `COMMIT` may have
/// reached the database. Set by `transaction!` just before it commits.
#[derive(Debug, Default)]
struct Phase {
    committing: AtomicBool,
}

impl Phase {
    fn commit(&self) {
        self.committing.store(true, Ordering::Relaxed);
    }

    fn committing(&self) -> bool {
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
        let phase = Phase::default();
        $store
            .run($what, &phase, || async {
                let mut transaction = $store
                    .acquire(DB::begin(&$store.pools, $store.guarded))
                    .await?;
                let $tx: &mut DB::Conn = &mut transaction;
                let value: Result<_, sqlx::Error> = async { $body }.await;
                let value = value?;
                phase.commit();
                if $store.guarded {
                    DB::commit_guarded(&mut transaction).await?;
                }
                DB::commit(transaction).await?;
                Ok(value)
            })
            .await
    }};
}

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

/// Where a group's members are counted: (table, key column).
fn group_table(group: &Group) -> (&'static str, &'static str) {
    match group {
        Group::Room { .. } => ("rooms", "groupid"),
        Group::Recording { .. } => ("recordings", "fileid"),
    }
}

/// A page of a group's members by `OFFSET`, in the order `order_by`.
fn member_list(order_by: &str) -> String {
    format!(
        "SELECT userid, nickname, headpic FROM members \
         WHERE anchor = ? AND kind = ? AND group_key = ? ORDER BY {order_by} \
         LIMIT ? OFFSET ?"
    )
}

fn group_kind(group: &Group) -> i64 {
    match group {
        Group::Room { .. } => 0,
        Group::Recording { .. } => 1,
    }
}

/// The row a `Counted` target names: its table, key condition and key values.
fn counted_row(target: &Counted) -> (&'static str, &'static str, Vec<Arg<'_>>) {
    match target {
        Counted::Room { userid } => ("rooms", "userid = ?", args![userid].to_vec()),
        Counted::Recording { userid, fileid } => (
            "recordings",
            "userid = ? AND fileid = ?",
            args![userid, fileid].to_vec(),
        ),
    }
}

/// `column = column + ?`, floored at 0, in one statement (binds the delta twice).
fn floored(column: &str) -> String {
    format!("{column} = CASE WHEN {column} + ? < 0 THEN 0 ELSE {column} + ? END")
}

/// A member's key as a condition (binds as [`bind_member`]).
const MEMBER: &str = "anchor = ? AND kind = ? AND group_key = ? AND userid = ?";

fn bind_member<'a>((group, userid): &MemberKey<'a>, args: &mut Vec<Arg<'a>>) {
    args.extend(args![
        group.anchor(),
        group_kind(group),
        group.key(),
        *userid
    ]);
}

/// `each` once per item, joined by `separator`, and the values bound,
/// `bind(item, real, args)`. The items are padded to a power of two by
/// repeating the last (`real` false), so that statements over batches of
/// any size come in a few shapes, which each connection's statement cache
/// keeps.
fn padded<'a, T>(
    items: &'a [T],
    each: &str,
    separator: &str,
    bind: impl Fn(&'a T, bool, &mut Vec<Arg<'a>>),
) -> (String, Vec<Arg<'a>>) {
    let n = items.len().next_power_of_two();
    let mut args = Vec::new();
    for (i, item) in items.iter().enumerate() {
        bind(item, true, &mut args);
        if i + 1 == items.len() {
            for _ in items.len()..n {
                bind(item, false, &mut args);
            }
        }
    }
    (vec![each; n].join(separator), args)
}

/// `(condition) OR (condition) ...` for the items (padded as [`padded`]'s:
/// a condition twice changes nothing).
fn any_of<'a, T>(
    items: &'a [T],
    condition: &str,
    bind: impl Fn(&'a T, &mut Vec<Arg<'a>>),
) -> (String, Vec<Arg<'a>>) {
    padded(items, &format!("({condition})"), " OR ", |item, _, args| {
        bind(item, args)
    })
}

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

/// The lanes of this node's like updates in flight, per target (a bit
/// each). An update takes the lowest free lane, and lane `k` writes slot
/// `like_slot + k * LIKE_SLOTS`: concurrent updates of one target then
/// never wait for each other's row lock, and two nodes share a slot only
/// if they drew the same `like_slot`, as with one lane.
#[derive(Default)]
struct LikeLanes {
    busy: std::sync::Mutex<HashMap<LikeTarget, u64>>,
}

/// A target's like slots: (anchor, kind, target), owned.
type LikeTarget = (String, i64, String);

/// A lane taken; dropping it frees it.
struct LikeLane<'a> {
    lanes: &'a LikeLanes,
    key: LikeTarget,
    index: u32,
}

impl LikeLanes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LikeTarget, u64>> {
        self.busy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The lowest free lane of a target (lane 63 is shared once all are busy).
    fn take(&self, anchor: &str, kind: i64, target: &str) -> LikeLane<'_> {
        let key = (anchor.to_owned(), kind, target.to_owned());
        let mut busy = self.lock();
        let bits = busy.entry(key.clone()).or_default();
        let index = bits.trailing_ones().min(63);
        *bits |= 1 << index;
        LikeLane {
            lanes: self,
            key,
            index,
        }
    }
}

impl LikeLane<'_> {
    fn index(&self) -> i64 {
        i64::from(self.index)
    }
}

impl Drop for LikeLane<'_> {
    fn drop(&mut self) {
        let mut busy = self.lanes.lock();
        if let Some(bits) = busy.get_mut(&self.key) {
            *bits &= !(1 << self.index);
            if *bits == 0 {
                busy.remove(&self.key);
            }
        }
    }
}

/// Adds `?` to one slot of a target (binds delta, anchor, kind, target, slot).
const ADD_TO_SLOT: &str = "UPDATE like_slots SET likes = likes + ? \
     WHERE anchor = ? AND kind = ? AND target = ? AND slot = ?";

/// `ADD_TO_SLOT` for `target`'s `slot`, only if the target exists: the
/// statement and its arguments.
fn add_to_existing_slot(target: &Counted, slot: i64, delta: i64) -> (String, Vec<Arg<'_>>) {
    let (table, key, keys) = counted_row(target);
    let (anchor, kind, like_target) = like_key(target);
    let mut args = args![delta, anchor, kind, like_target, slot].to_vec();
    args.extend_from_slice(&keys);
    (
        format!("{ADD_TO_SLOT} AND EXISTS (SELECT 1 FROM {table} WHERE {key})"),
        args,
    )
}

/// A target's likes: its row's `like_count` plus its slots.
fn likes_of<DB: Dialect>(table: &str) -> String {
    let (kind, target) = match table {
        "rooms" => (0, "''".to_owned()),
        _ => (1, format!("{table}.fileid")),
    };
    format!(
        "CAST({table}.like_count + COALESCE((SELECT SUM(s.likes) FROM like_slots s \
         WHERE s.anchor = {table}.userid AND s.kind = {kind} AND s.target = {target}), 0) \
         AS {}) AS like_count",
        DB::INTEGER
    )
}

fn room_columns<DB: Dialect>() -> String {
    format!(
        "userid, groupid, started_at, viewer_count, {}, title, \
         play_url, hls_play_url, online, nickname, headpic, location, \
         {ROOM_COVER} AS frontcover",
        likes_of::<DB>("rooms")
    )
}

fn recording_columns<DB: Dialect>() -> String {
    format!(
        "userid, fileid, end_time, viewer_count, {}, title, \
         play_url, hls_play_url, nickname, headpic, frontcover, location",
        likes_of::<DB>("recordings")
    )
}

/// The like slots of a target: (anchor, kind, target).
fn like_key(target: &Counted) -> (&str, i64, &str) {
    match target {
        Counted::Room { userid } => (userid, 0, ""),
        Counted::Recording { userid, fileid } => (userid, 1, fileid),
    }
}

/// Leaves out the rows of banned users from a table with a `userid` column.
fn not_banned(table: &str) -> String {
    // NOT IN reads the (small) bans table once per query; a correlated
    // NOT EXISTS would probe it once per row. `bans.userid` is never NULL.
    format!("{table}.userid NOT IN (SELECT userid FROM bans)")
}

fn room_filter(scope: RoomScope) -> String {
    match scope {
        RoomScope::Online => format!("WHERE online = 1 AND {}", not_banned("rooms")),
        RoomScope::Listed => format!("WHERE {}", not_banned("rooms")),
        RoomScope::All => String::new(),
    }
}

/// A key as stored in a key column (see [`MAX_KEY_BYTES`]).
fn stored_key(key: &str) -> Cow<'_, str> {
    if key.len() <= MAX_KEY_BYTES {
        Cow::Borrowed(key)
    } else {
        use sha2::{Digest, Sha256};
        Cow::Owned(format!("sha256:{}", hex::encode(Sha256::digest(key))))
    }
}

fn text(row: &impl SqlRow, column: &str) -> String {
    row.text(column)
}

fn int(row: &impl SqlRow, column: &str) -> i64 {
    row.int(column)
}

fn member_info(row: &impl SqlRow) -> MemberInfo {
    MemberInfo {
        userid: text(row, "userid"),
        nickname: text(row, "nickname"),
        headpic: text(row, "headpic"),
    }
}

fn userinfo<R: SqlRow>(row: &R) -> UserInfo {
    UserInfo {
        nickname: text(row, "nickname"),
        headpic: text(row, "headpic"),
        frontcover: text(row, "frontcover"),
        location: text(row, "location"),
    }
}

fn room_info<R: SqlRow>(row: &R) -> PusherInfo {
    PusherInfo {
        userid: text(row, "userid"),
        groupid: text(row, "groupid"),
        timestamp: int(row, "started_at"),
        kind: 0,
        viewercount: int(row, "viewer_count"),
        likecount: int(row, "like_count"),
        title: text(row, "title"),
        playurl: text(row, "play_url"),
        fileid: String::new(),
        status: int(row, "online") != 0,
        hls_play_url: text(row, "hls_play_url"),
        userinfo: userinfo(row),
    }
}

fn recording_info<R: SqlRow>(row: &R) -> PusherInfo {
    let fileid = text(row, "fileid");
    PusherInfo {
        userid: text(row, "userid"),
        // The apps enter a recording's group by its fileid.
        groupid: fileid.clone(),
        timestamp: int(row, "end_time"),
        kind: 1,
        viewercount: int(row, "viewer_count"),
        likecount: int(row, "like_count"),
        title: text(row, "title"),
        playurl: text(row, "play_url"),
        fileid,
        status: false,
        hls_play_url: text(row, "hls_play_url"),
        userinfo: userinfo(row),
    }
}

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
        })
    }

    /// Runs `op` (one transaction or one read) under the operation deadline,
    /// re-running it after a conflict or a connection lost before its commit
    /// (`phase` says whether the attempt got that far), and keeps track of
    /// reachability.
    async fn run<T, F, Fut>(&self, what: &'static str, phase: &Phase, mut op: F) -> StoreResult<T>
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
            phase.reset();
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
                    return Err(if phase.committing() {
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
                Failure::Lost if phase.committing() => {
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
        self.run("read", &Phase::default(), || async {
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
        let phase = Phase::default();
        self.run(what, &phase, || async {
            let mut conn = self.acquire(DB::lend(&self.pools)).await?;
            phase.commit();
            Self::exec(&mut conn, statement, args).await
        })
        .await
    }

    /// Creates or replaces the anchor's room: a new session, no members.
    async fn replace_room(
        tx: &mut DB::Conn,
        s: &NewSession,
        online: bool,
        likes: i64,
        status_at: i64,
    ) -> Result<SessionOutcome, sqlx::Error> {
        let taken = Self::found(
            tx,
            "SELECT userid FROM rooms WHERE stream_id = ? AND userid <> ?",
            args![&s.stream_id, &s.userid],
        )
        .await?;
        if taken {
            return Ok(SessionOutcome::StreamTaken);
        }
        let lock = format!(
            "SELECT userid FROM rooms WHERE userid = ?{}",
            DB::FOR_UPDATE
        );
        let exists = Self::found(tx, &lock, args![&s.userid]).await?;
        if exists {
            // The session's status-event clock starts now at the latest.
            let reset = format!(
                "UPDATE rooms SET snapshot_url = '', snapshot_at = 0, {EVENT_CLOCK} \
                 WHERE userid = ?"
            );
            let at = s.started_at;
            Self::exec(tx, &reset, args![at, at, at, &s.userid]).await?;
        }
        // Both statements bind the same values in the same order.
        let statement = if exists {
            "UPDATE rooms SET stream_id = ?, groupid = ?, title = ?, nickname = ?, \
             headpic = ?, frontcover = ?, location = ?, play_url = ?, hls_play_url = ?, \
             started_at = ?, status_at = ?, online = ?, like_count = ?, viewer_count = 0 \
             WHERE userid = ?"
        } else {
            "INSERT INTO rooms (stream_id, groupid, title, nickname, headpic, frontcover, \
             location, play_url, hls_play_url, started_at, status_at, online, like_count, \
             viewer_count, userid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)"
        };
        let u = &s.userinfo;
        let values = args![
            &s.stream_id,
            &s.groupid,
            &s.title,
            &u.nickname,
            &u.headpic,
            &u.frontcover,
            &u.location,
            &s.play_url,
            &s.hls_play_url,
            s.started_at,
            status_at,
            online,
            likes.max(0),
            &s.userid,
        ];
        Self::exec(tx, statement, values).await?;
        Self::clear_likes(tx, (&s.userid, 0, "")).await?;
        Self::exec(
            tx,
            "DELETE FROM members WHERE anchor = ? AND kind = 0",
            args![&s.userid],
        )
        .await?;
        Ok(SessionOutcome::Started)
    }

    /// Creates or replaces a recording; `likes` replaces its likes when given.
    async fn replace_recording(
        tx: &mut DB::Conn,
        r: &NewRecording,
        likes: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let lock = format!(
            "SELECT userid FROM recordings WHERE userid = ? AND fileid = ?{}",
            DB::FOR_UPDATE
        );
        let exists = Self::found(tx, &lock, args![&r.userid, &r.fileid]).await?;
        // Both statements bind the same values in the same order.
        let statement = if exists {
            "UPDATE recordings SET title = ?, nickname = ?, headpic = ?, frontcover = ?, \
             location = ?, play_url = ?, hls_play_url = ?, start_time = ?, end_time = ?, \
             like_count = COALESCE(?, like_count) WHERE userid = ? AND fileid = ?"
        } else {
            "INSERT INTO recordings (title, nickname, headpic, frontcover, location, \
             play_url, hls_play_url, start_time, end_time, like_count, userid, fileid) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(?, 0), ?, ?)"
        };
        let u = &r.userinfo;
        let values = args![
            &r.title,
            &u.nickname,
            &u.headpic,
            &u.frontcover,
            &u.location,
            &r.play_url,
            &r.hls_play_url,
            r.start_time,
            r.end_time,
            likes.map(|n| n.max(0)),
            &r.userid,
            &r.fileid,
        ];
        Self::exec(tx, statement, values).await?;
        if likes.is_some() {
            Self::clear_likes(tx, (&r.userid, 1, &r.fileid)).await?;
        }
        Ok(())
    }

    /// Adds a member; false if the group has it already (SQLite; elsewhere
    /// that is a unique-key violation, and the transaction is re-run).
    async fn insert_member(
        tx: &mut DB::Conn,
        group: &Group,
        m: &NewMember,
    ) -> Result<bool, sqlx::Error> {
        const INSERT: &str = "INSERT INTO members (anchor, group_key, kind, userid, nickname, \
             headpic, level, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
        const INSERT_WITH_ID: &str = "INSERT INTO members (anchor, group_key, kind, userid, \
             nickname, headpic, level, joined_at, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, \
             (SELECT COALESCE(MAX(id), 0) + 1 FROM members \
              WHERE anchor = ? AND kind = ? AND group_key = ?)) \
             ON CONFLICT (anchor, kind, group_key, userid) DO NOTHING";
        let (anchor, kind, key) = (group.anchor(), group_kind(group), group.key());
        let values = args![
            anchor,
            key,
            kind,
            &m.userid,
            &m.nickname,
            &m.headpic,
            m.level.unwrap_or(0),
            m.joined_at,
            anchor,
            kind,
            key,
        ];
        let inserted = match DB::SINGLE_WRITER {
            true => Self::exec(tx, INSERT_WITH_ID, values).await?,
            false => Self::exec(tx, INSERT, &values[..8]).await?,
        };
        Ok(inserted > 0)
    }

    /// Refreshes a member's details (those EnterGroup gave); true if it is
    /// one.
    async fn refresh_member(
        tx: &mut DB::Conn,
        group: &Group,
        m: &NewMember,
    ) -> Result<bool, sqlx::Error> {
        let refreshed = Self::exec(
            tx,
            "UPDATE members SET nickname = CASE WHEN ? = '' THEN nickname ELSE ? END, \
             headpic = CASE WHEN ? = '' THEN headpic ELSE ? END, \
             level = COALESCE(?, level) \
             WHERE anchor = ? AND kind = ? AND group_key = ? AND userid = ?",
            args![
                &m.nickname,
                &m.nickname,
                &m.headpic,
                &m.headpic,
                m.level,
                group.anchor(),
                group_kind(group),
                group.key(),
                &m.userid,
            ],
        )
        .await?;
        Ok(refreshed > 0)
    }

    /// Adds `delta` to one like slot of a target, creating it if need be.
    /// With `delta` 0 it only locks the slot (for slot 0's unlikes: the
    /// row lock on one server; on Galera the write that follows conflicts).
    async fn add_to_slot(
        tx: &mut DB::Conn,
        (anchor, kind, target): (&str, i64, &str),
        slot: i64,
        delta: i64,
    ) -> Result<(), sqlx::Error> {
        let lock = if delta == 0 { DB::FOR_UPDATE } else { "" };
        let found = if delta == 0 {
            let statement = format!(
                "SELECT likes FROM like_slots WHERE anchor = ? AND kind = ? AND target = ? \
                 AND slot = ?{lock}"
            );
            Self::found(tx, &statement, args![anchor, kind, target, slot]).await?
        } else {
            Self::exec(tx, ADD_TO_SLOT, args![delta, anchor, kind, target, slot]).await? > 0
        };
        if !found {
            // Two transactions creating one slot: the loser's unique-key
            // error re-runs it, and it finds the row.
            Self::exec(
                tx,
                "INSERT INTO like_slots (anchor, kind, target, slot, likes) VALUES (?, ?, ?, ?, ?)",
                args![anchor, kind, target, slot, delta],
            )
            .await?;
        }
        Ok(())
    }

    /// EnterGroup in `tx`, on the single writer: None when the group does
    /// not exist, else how much its viewer count moved (1 for a new member,
    /// 0 for one there). No row locks to order, so no look first: the count
    /// (which finds whether the group exists), then the member if new; one
    /// already there is refreshed and the count put back. Two statements
    /// for a new member instead of three, on the writer every write waits for.
    async fn enter_in(
        tx: &mut DB::Conn,
        group: &Group,
        m: &NewMember,
    ) -> Result<Option<i64>, sqlx::Error> {
        if Self::change_viewers(tx, group, 1).await? == 0 {
            return Ok(None);
        }
        if !Self::insert_member(tx, group, m).await? {
            Self::change_viewers(tx, group, -1).await?;
            Self::refresh_member(tx, group, m).await?;
            return Ok(Some(0));
        }
        Ok(Some(1))
    }

    /// QuitGroup in `tx`, on the single writer: the member, then the count
    /// if it was one. How much the count moved (-1 or 0).
    async fn quit_in(tx: &mut DB::Conn, group: &Group, userid: &str) -> Result<i64, sqlx::Error> {
        let delete = "DELETE FROM members WHERE anchor = ? AND kind = ? AND group_key = ? \
             AND userid = ?";
        let keys = args![group.anchor(), group_kind(group), group.key(), userid];
        if Self::exec(tx, delete, keys).await? > 0 {
            Self::change_viewers(tx, group, -1).await?;
            return Ok(-1);
        }
        Ok(0)
    }

    /// Enters and quits together, on a database server (see
    /// `member_changes`): the groups' rows locked first, in key order, so
    /// that batches of several nodes queue for them rather than deadlock;
    /// then the members the changes name, read; then a statement per kind
    /// of write, the counts last. Every statement's conditions are padded
    /// (see [`any_of`]), so that batches of any size share a few shapes.
    async fn change_members_together(
        tx: &mut DB::Conn,
        changes: &[MemberChange],
    ) -> Result<Vec<Option<i64>>, sqlx::Error> {
        let mut groups: Vec<&Group> = changes.iter().map(MemberChange::group).collect();
        groups.sort();
        groups.dedup();
        let existing = Self::lock_groups(tx, &groups).await?;
        let mut named: Vec<MemberKey> = changes
            .iter()
            .filter(|change| existing.contains(change.group()))
            .map(|change| (change.group(), change.userid()))
            .collect();
        named.sort();
        named.dedup();
        let stored = Self::stored_members(tx, &named).await?;
        let plan = member_changes::plan(changes, &existing, &stored);
        // Each write is checked against what was read: should the read
        // not be the truth (on Galera, whose row locks are the node's own,
        // another node may have changed a member meanwhile), the batch is
        // re-run rather than leave a count that misses a member. (An
        // insert of a member already there fails on its key.)
        let changed = |done: u64, planned: usize| match done == planned as u64 {
            true => Ok(()),
            false => Err(Rerun::error("members changed under a batch")),
        };
        if !plan.deletes.is_empty() {
            let (any, args) = any_of(&plan.deletes, MEMBER, bind_member);
            let delete = format!("DELETE FROM members WHERE {any}");
            changed(Self::exec(tx, &delete, &args).await?, plan.deletes.len())?;
        }
        for (member, d) in &plan.refreshes {
            let mut args = args![&d.nickname, &d.headpic, d.level].to_vec();
            bind_member(member, &mut args);
            let refresh =
                format!("UPDATE members SET nickname = ?, headpic = ?, level = ? WHERE {MEMBER}");
            changed(Self::exec(tx, &refresh, &args).await?, 1)?;
        }
        if !plan.inserts.is_empty() {
            Self::insert_members(tx, &plan.inserts).await?;
        }
        for of_table in plan
            .moved
            .chunk_by(|a, b| group_kind(a.0) == group_kind(b.0))
        {
            let (table, key) = group_table(of_table[0].0);
            let when = format!("WHEN userid = ? AND {key} = ? THEN ?");
            let (delta, delta_args) = padded(of_table, &when, " ", |(g, delta), _, a| {
                a.extend(args![g.anchor(), g.key(), *delta]);
            });
            let (any, keys) = any_of(
                of_table,
                &format!("userid = ? AND {key} = ?"),
                |(g, _), a| {
                    a.extend(args![g.anchor(), g.key()]);
                },
            );
            // Relative, as every count, and floored at 0: one that was
            // already wrong does not get worse.
            let update = format!(
                "UPDATE {table} SET viewer_count = CASE WHEN viewer_count + CASE {delta} ELSE 0 END \
                 < 0 THEN 0 ELSE viewer_count + CASE {delta} ELSE 0 END END WHERE {any}"
            );
            let args = [&delta_args[..], &delta_args, &keys].concat();
            changed(Self::exec(tx, &update, &args).await?, of_table.len())?;
        }
        Ok(plan.outcomes)
    }

    /// Locks the rows of `groups` (sorted: rooms, then recordings, each in
    /// key order); the groups that exist.
    async fn lock_groups<'a>(
        tx: &mut DB::Conn,
        groups: &[&'a Group],
    ) -> Result<HashSet<&'a Group>, sqlx::Error> {
        let mut existing = HashSet::new();
        for of_table in groups.chunk_by(|a, b| group_kind(a) == group_kind(b)) {
            let (table, key) = group_table(of_table[0]);
            let (any, args) = any_of(of_table, &format!("userid = ? AND {key} = ?"), |g, a| {
                a.extend(args![g.anchor(), g.key()]);
            });
            let lock = format!(
                "SELECT userid, {key} AS group_key FROM {table} WHERE {any} \
                 ORDER BY userid, {key}{}",
                DB::FOR_UPDATE
            );
            for row in Self::fetch(tx, &lock, &args).await? {
                let found = (text(&row, "userid"), text(&row, "group_key"));
                let found = (found.0.as_str(), found.1.as_str());
                if let Ok(i) = of_table.binary_search_by(|g| (g.anchor(), g.key()).cmp(&found)) {
                    existing.insert(of_table[i]);
                }
            }
        }
        Ok(existing)
    }

    /// The details of those of the `named` members (sorted) who are members.
    async fn stored_members<'a>(
        tx: &mut DB::Conn,
        named: &[MemberKey<'a>],
    ) -> Result<HashMap<MemberKey<'a>, Details>, sqlx::Error> {
        let mut stored = HashMap::new();
        if named.is_empty() {
            return Ok(stored);
        }
        let (any, args) = any_of(named, MEMBER, bind_member);
        let read = format!(
            "SELECT anchor, kind, group_key, userid, nickname, headpic, level \
             FROM members WHERE {any}"
        );
        for row in Self::fetch(tx, &read, &args).await? {
            let keys = [
                text(&row, "anchor"),
                text(&row, "group_key"),
                text(&row, "userid"),
            ];
            let found = (
                int(&row, "kind"),
                keys[0].as_str(),
                keys[1].as_str(),
                keys[2].as_str(),
            );
            let at = named
                .binary_search_by(|&(g, u)| (group_kind(g), g.anchor(), g.key(), u).cmp(&found));
            if let Ok(i) = at {
                let details = Details {
                    nickname: text(&row, "nickname"),
                    headpic: text(&row, "headpic"),
                    level: int(&row, "level"),
                };
                stored.insert(named[i], details);
            }
        }
        Ok(stored)
    }

    /// New members, in one statement: rows selected from bound values,
    /// padded like [`any_of`]'s conditions, the padding's rows marked to be
    /// left out.
    async fn insert_members(
        tx: &mut DB::Conn,
        members: &[(&Group, NewMember)],
    ) -> Result<(), sqlx::Error> {
        const ROW: &str = "SELECT ? AS anchor, ? AS group_key, ? AS kind, ? AS userid, \
             ? AS nickname, ? AS headpic, ? AS level, ? AS joined_at, ? AS keep";
        let (rows, args) = padded(members, ROW, " UNION ALL ", |(g, m), real, a| {
            a.extend(args![
                g.anchor(),
                g.key(),
                group_kind(g),
                &m.userid,
                &m.nickname,
                &m.headpic,
                m.level.unwrap_or(0),
                m.joined_at,
                real,
            ]);
        });
        let insert = format!(
            "INSERT INTO members (anchor, group_key, kind, userid, nickname, headpic, level, \
             joined_at) SELECT anchor, group_key, kind, userid, nickname, headpic, level, \
             joined_at FROM ({rows}) AS batch WHERE keep = 1"
        );
        Self::exec(tx, &insert, &args).await.map(drop)
    }

    /// Adds `delta` likes to `target` in `tx`: into `slot` if positive;
    /// unlikes through slot 0 one after the other (its row lock, or on
    /// Galera the conflict of two writes of it), floored at the total.
    /// False when the target does not exist.
    async fn apply_likes(
        tx: &mut DB::Conn,
        target: &Counted,
        delta: i64,
        slot: i64,
    ) -> Result<bool, sqlx::Error> {
        let (table, key, keys) = counted_row(target);
        let like_key = like_key(target);
        if delta > 0 {
            let (add, add_args) = add_to_existing_slot(target, slot, delta);
            if Self::exec(tx, &add, &add_args).await? > 0 {
                return Ok(true);
            }
            let exists = format!("SELECT 1 FROM {table} WHERE {key}");
            if !Self::found(tx, &exists, &keys).await? {
                return Ok(false);
            }
            Self::add_to_slot(tx, like_key, slot, delta).await?;
            return Ok(true);
        }
        let base = format!("SELECT like_count FROM {table} WHERE {key}");
        let Some(base) = Self::fetch(tx, &base, &keys)
            .await?
            .first()
            .map(|r| int(r, "like_count"))
        else {
            return Ok(false);
        };
        if delta == 0 {
            return Ok(true);
        }
        Self::add_to_slot(tx, like_key, 0, 0).await?;
        let slots = format!(
            "SELECT CAST(COALESCE(SUM(likes), 0) AS {}) FROM like_slots \
             WHERE anchor = ? AND kind = ? AND target = ?",
            DB::INTEGER
        );
        let (anchor, kind, like_target) = like_key;
        let rows = Self::fetch(tx, &slots, args![anchor, kind, like_target]).await?;
        let total = base
            + rows
                .first()
                .map(|r| r.first_int())
                .transpose()?
                .unwrap_or(0);
        let applied = delta.max(-total);
        if applied < 0 {
            Self::add_to_slot(tx, like_key, 0, applied).await?;
        }
        Ok(true)
    }

    /// Drops a target's like slots (a new session, a replaced or deleted recording).
    async fn clear_likes(
        tx: &mut DB::Conn,
        (anchor, kind, target): (&str, i64, &str),
    ) -> Result<(), sqlx::Error> {
        Self::exec(
            tx,
            "DELETE FROM like_slots WHERE anchor = ? AND kind = ? AND target = ?",
            args![anchor, kind, target],
        )
        .await
        .map(drop)
    }

    /// A group's viewer count and a page of its members, read on one
    /// connection. `kind` 0 a room, 1 a recording; `None`: the group
    /// `groupid` names for `anchor`, as FetchGroupMemberList means it (its
    /// room when `groupid` is the room's current groupid, else its
    /// recording by fileid). The count is the membership, kept in the same
    /// transactions: it costs the same at 100 or 100 000 members, where
    /// COUNT(*) grows with them.
    async fn member_page(
        &self,
        anchor: &str,
        groupid: &str,
        kind: Option<i64>,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(Group, i64, Vec<MemberInfo>)> {
        const ROOM: &str = "SELECT viewer_count FROM rooms WHERE userid = ? AND groupid = ?";
        const RECORDING: &str =
            "SELECT viewer_count FROM recordings WHERE userid = ? AND fileid = ?";
        let order_by = match order {
            MemberOrder::Join => "id",
            MemberOrder::Latest => "id DESC",
            MemberOrder::Level => "level DESC, id",
        };
        let deep = self.member_orders.serves(page.offset());
        let list = member_list(order_by);
        let (kind, total, rows) = self
            .run("read", &Phase::default(), || async {
                let mut conn = self.acquire(DB::lend(&self.pools)).await?;
                let keys = args![anchor, groupid];
                let mut counted = Vec::new();
                let mut kind = kind;
                if kind != Some(1) {
                    counted = Self::fetch(&mut conn, ROOM, keys).await?;
                    if kind.is_none() && !counted.is_empty() {
                        kind = Some(0);
                    }
                }
                let kind = kind.unwrap_or(1);
                if kind == 1 {
                    counted = Self::fetch(&mut conn, RECORDING, keys).await?;
                }
                let total = match counted.first() {
                    Some(row) => row.first_int()?,
                    None => 0,
                };
                let rows = match deep {
                    true => Vec::new(),
                    false => {
                        let args = args![anchor, kind, groupid, page.size, page.offset()];
                        Self::fetch(&mut conn, &list, args).await?
                    }
                };
                Ok((kind, total, rows))
            })
            .await?;
        let (anchor, groupid) = (anchor.to_owned(), groupid.to_owned());
        let group = match kind {
            0 => Group::Room { anchor, groupid },
            _ => Group::Recording {
                anchor,
                fileid: groupid,
            },
        };
        let members = match deep {
            true => self.deep_page(&group, order_by, page).await?,
            false => rows.iter().map(member_info).collect(),
        };
        Ok((group, total, members))
    }

    /// A page far into a large group: ids from the order's snapshot, rows
    /// by id (see `member_order.rs`).
    async fn deep_page(
        &self,
        group: &Group,
        order_by: &'static str,
        page: Page,
    ) -> StoreResult<Vec<MemberInfo>> {
        let (anchor, kind, key) = (group.anchor(), group_kind(group), group.key());
        let order_key = (anchor.to_owned(), kind, key.to_owned(), order_by);
        let ids = match self.member_orders.lookup(&order_key) {
            Lookup::Ids(ids) => ids,
            Lookup::Exact => {
                let args = args![anchor, kind, key, page.size, page.offset()];
                let rows = self.read(&member_list(order_by), args).await?;
                return Ok(rows.iter().map(member_info).collect());
            }
            Lookup::Rebuild(rebuild) => {
                let statement = format!(
                    "SELECT id FROM members WHERE anchor = ? AND kind = ? AND group_key = ? \
                     ORDER BY {order_by}"
                );
                let rows = self.read_bulk(&statement, args![anchor, kind, key]).await?;
                let ids = Arc::new(rows.iter().map(|row| int(row, "id")).collect::<Vec<_>>());
                rebuild.done(Arc::clone(&ids));
                ids
            }
        };
        let wanted = window(&ids, page.offset(), page.size);
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let group_keys = [Arg::Text(anchor), Arg::Int(kind), Arg::Text(key)];
        // In join order (either way) the window's ids are neighbours in the
        // group's id index: one range read, where a lookup per id descends
        // the index twenty times, in pages a commit has just evicted from
        // the reader's cache. Ids in the range but not in the window (a
        // member arrived since the snapshot) are dropped below.
        let (statement, keys): (Cow<str>, Vec<Arg>) = match order_by {
            "id" | "id DESC" => {
                let (first, last) = (wanted[0], wanted[wanted.len() - 1]);
                let range = [Arg::Int(first.min(last)), Arg::Int(first.max(last))];
                (
                    Cow::Borrowed(
                        "SELECT id, userid, nickname, headpic FROM members \
                         WHERE anchor = ? AND kind = ? AND group_key = ? AND id BETWEEN ? AND ?",
                    ),
                    group_keys.into_iter().chain(range).collect(),
                )
            }
            _ => (
                Cow::Owned(format!(
                    "SELECT id, userid, nickname, headpic FROM members \
                     WHERE anchor = ? AND kind = ? AND group_key = ? AND id IN ({})",
                    vec!["?"; wanted.len()].join(", ")
                )),
                group_keys
                    .into_iter()
                    .chain(wanted.iter().map(|&id| Arg::Int(id)))
                    .collect(),
            ),
        };
        let rows = self.read(&statement, &keys).await?;
        let mut by_id: HashMap<i64, MemberInfo> = rows
            .iter()
            .map(|row| (int(row, "id"), member_info(row)))
            .collect();
        Ok(wanted.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// Locks the group's row; false when it does not exist.
    async fn lock_group(conn: &mut DB::Conn, group: &Group) -> Result<bool, sqlx::Error> {
        let (table, key) = group_table(group);
        let statement = format!(
            "SELECT viewer_count FROM {table} WHERE userid = ? AND {key} = ?{}",
            DB::FOR_UPDATE
        );
        Self::found(conn, &statement, args![group.anchor(), group.key()]).await
    }

    /// Moves the group's viewer count; 0 when the group does not exist.
    async fn change_viewers(
        conn: &mut DB::Conn,
        group: &Group,
        delta: i64,
    ) -> Result<u64, sqlx::Error> {
        let (table, key) = group_table(group);
        let statement = format!(
            "UPDATE {table} SET {} WHERE userid = ? AND {key} = ?",
            floored("viewer_count")
        );
        Self::exec(
            conn,
            &statement,
            args![delta, delta, group.anchor(), group.key()],
        )
        .await
    }
}

#[async_trait]
impl<DB: Dialect> Store for SqlStore<DB> {
    async fn stream_id_of(&self, userid: &str) -> StoreResult<Option<String>> {
        let rows = self
            .read(
                "SELECT stream_id FROM rooms WHERE userid = ?",
                args![userid],
            )
            .await?;
        Ok(rows.first().map(|row| text(row, "stream_id")))
    }

    async fn start_session(&self, s: &NewSession) -> StoreResult<SessionOutcome> {
        transaction!(self, "start_session", |tx| {
            Self::replace_room(tx, s, false, 0, s.started_at).await
        })
    }

    async fn set_online(&self, userid: &str, online: bool, now: i64) -> StoreResult<bool> {
        // ChangeStatus counts as a status event "now", so that a late
        // callback about an earlier moment cannot undo it.
        let statement =
            format!("UPDATE rooms SET online = ?, status_at = ?, {EVENT_CLOCK} WHERE userid = ?");
        let changed = self
            .write(&statement, args![online, now, now, now, now, userid])
            .await?;
        Ok(changed > 0)
    }

    async fn add_likes(&self, target: &Counted, delta: i64) -> StoreResult<bool> {
        if delta == 0 {
            return self.exists(target).await;
        }
        if delta > 0 {
            // Into a slot of this node's: no other node writes it, so likes
            // from several nodes neither wait for each other nor conflict;
            // nor do this node's concurrent updates of the target, each in
            // a lane of its own.
            let (anchor, kind, like_target) = like_key(target);
            let lane = self.like_lanes.take(anchor, kind, like_target);
            let slot = self.like_slot + lane.index() * LIKE_SLOTS;
            // The slot is there but for the target's first likes: one
            // statement then, committing by itself. (On the single writer
            // every write is a transaction, whose first statement is this.)
            if !DB::SINGLE_WRITER {
                let (add, add_args) = add_to_existing_slot(target, slot, delta);
                if self.write_alone("add_likes", &add, &add_args).await? > 0 {
                    return Ok(true);
                }
            }
            return transaction!(self, "add_likes", |tx| {
                Self::apply_likes(tx, target, delta, slot).await
            });
        }
        transaction!(self, "remove_likes", |tx| {
            Self::apply_likes(tx, target, delta, 0).await
        })
    }

    async fn add_likes_many(&self, batch: &[(Counted, i64)]) -> StoreResult<Vec<bool>> {
        transaction!(self, "add_likes", |tx| {
            let mut found = Vec::with_capacity(batch.len());
            for (target, delta) in batch {
                found.push(Self::apply_likes(tx, target, *delta, self.like_slot).await?);
            }
            Ok(found)
        })
    }

    async fn exists(&self, target: &Counted) -> StoreResult<bool> {
        let (table, key, keys) = counted_row(target);
        let statement = format!("SELECT 1 FROM {table} WHERE {key}");
        Ok(!self.read(&statement, &keys).await?.is_empty())
    }

    async fn enter(&self, group: &Group, m: &NewMember) -> StoreResult<bool> {
        let enter = MemberChange::Enter {
            group: group.clone(),
            member: m.clone(),
        };
        Ok(self.change_members(&[enter]).await?[0].is_some())
    }

    async fn quit(&self, group: &Group, userid: &str) -> StoreResult<()> {
        let quit = MemberChange::Quit {
            group: group.clone(),
            userid: userid.to_owned(),
        };
        self.change_members(&[quit]).await.map(drop)
    }

    async fn change_members(&self, changes: &[MemberChange]) -> StoreResult<Vec<Option<i64>>> {
        transaction!(self, "change_members", |tx| {
            if !DB::SINGLE_WRITER {
                return Self::change_members_together(tx, changes).await;
            }
            let mut outcomes = Vec::with_capacity(changes.len());
            for change in changes {
                outcomes.push(match change {
                    MemberChange::Enter { group, member } => {
                        Self::enter_in(tx, group, member).await?
                    }
                    MemberChange::Quit { group, userid } => {
                        Some(Self::quit_in(tx, group, userid).await?)
                    }
                });
            }
            Ok(outcomes)
        })
    }

    async fn members(
        &self,
        group: &Group,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(i64, Vec<MemberInfo>)> {
        let kind = Some(group_kind(group));
        let (_, total, members) = self
            .member_page(group.anchor(), group.key(), kind, order, page)
            .await?;
        Ok((total, members))
    }

    async fn members_named(
        &self,
        anchor: &str,
        groupid: &str,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(Group, i64, Arc<SharedMembers>)> {
        let (group, total, members) = self.member_page(anchor, groupid, None, order, page).await?;
        Ok((group, total, SharedMembers::new(members)))
    }

    async fn count_rooms(&self, scope: RoomScope) -> StoreResult<i64> {
        let statement = format!("SELECT COUNT(*) FROM rooms {}", room_filter(scope));
        self.read_count(&statement, &[]).await
    }

    async fn rooms(
        &self,
        scope: RoomScope,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<PusherInfo>> {
        let statement = format!(
            "SELECT {} FROM rooms {} ORDER BY started_at DESC, userid \
             LIMIT ? OFFSET ?",
            room_columns::<DB>(),
            room_filter(scope)
        );
        let rows = self.read(&statement, args![limit, offset]).await?;
        Ok(rows.iter().map(room_info).collect())
    }

    async fn count_recordings(&self, since: i64) -> StoreResult<i64> {
        let statement = format!(
            "SELECT COUNT(*) FROM recordings WHERE end_time >= ? AND {}",
            not_banned("recordings")
        );
        self.read_count(&statement, args![since]).await
    }

    async fn recordings(
        &self,
        since: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<PusherInfo>> {
        let statement = format!(
            "SELECT {} FROM recordings WHERE end_time >= ? AND {} \
             ORDER BY end_time DESC, userid, fileid LIMIT ? OFFSET ?",
            recording_columns::<DB>(),
            not_banned("recordings")
        );
        let rows = self.read(&statement, args![since, limit, offset]).await?;
        Ok(rows.iter().map(recording_info).collect())
    }

    async fn room_keys(&self) -> StoreResult<Vec<RoomKey>> {
        let statement = format!(
            "SELECT userid, online, started_at FROM rooms {} ORDER BY started_at DESC, userid",
            room_filter(RoomScope::Listed)
        );
        let rows = self.read_bulk(&statement, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| RoomKey {
                userid: text(row, "userid"),
                online: int(row, "online") != 0,
                started_at: int(row, "started_at"),
            })
            .collect())
    }

    async fn recording_keys(&self) -> StoreResult<Vec<RecordingKey>> {
        let statement = format!(
            "SELECT userid, fileid, end_time FROM recordings WHERE {} \
             ORDER BY end_time DESC, userid, fileid",
            not_banned("recordings")
        );
        let rows = self.read_bulk(&statement, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| RecordingKey {
                userid: text(row, "userid"),
                fileid: text(row, "fileid"),
                end_time: int(row, "end_time"),
            })
            .collect())
    }

    async fn rooms_by_userid(&self, userids: &[&str]) -> StoreResult<Vec<PusherInfo>> {
        if userids.is_empty() {
            return Ok(Vec::new());
        }
        let statement = format!(
            "SELECT {} FROM rooms WHERE userid IN ({})",
            room_columns::<DB>(),
            vec!["?"; userids.len()].join(", ")
        );
        let keys: Vec<Arg> = userids.iter().map(|&userid| Arg::Text(userid)).collect();
        let rows = self.read(&statement, &keys).await?;
        Ok(rows.iter().map(room_info).collect())
    }

    async fn recordings_by_key(&self, keys: &[(&str, &str)]) -> StoreResult<Vec<PusherInfo>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let statement = format!(
            // An OR of key lookups: SQLite scans the table for a row-value IN.
            "SELECT {} FROM recordings WHERE {}",
            recording_columns::<DB>(),
            vec!["(userid = ? AND fileid = ?)"; keys.len()].join(" OR ")
        );
        let keys: Vec<Arg> = keys
            .iter()
            .flat_map(|&(userid, fileid)| [Arg::Text(userid), Arg::Text(fileid)])
            .collect();
        let rows = self.read(&statement, &keys).await?;
        Ok(rows.iter().map(recording_info).collect())
    }

    async fn pusher(&self, target: &Counted) -> StoreResult<Option<PusherInfo>> {
        let (table, key, keys) = counted_row(target);
        let columns = match target {
            Counted::Room { .. } => room_columns::<DB>(),
            Counted::Recording { .. } => recording_columns::<DB>(),
        };
        let statement = format!("SELECT {columns} FROM {table} WHERE {key}");
        let rows = self.read(&statement, &keys).await?;
        Ok(rows.first().map(|row| match target {
            Counted::Room { .. } => room_info(row),
            Counted::Recording { .. } => recording_info(row),
        }))
    }

    async fn put_recording(&self, r: &NewRecording) -> StoreResult<()> {
        transaction!(self, "put_recording", |tx| {
            Self::replace_recording(tx, r, None).await
        })
    }

    async fn stream_event(&self, e: &StreamEvent) -> StoreResult<EventOutcome> {
        // Applied only over an older event: by time, then sequence; at equal
        // keys offline wins. One statement, so concurrent events serialize
        // on the row and each sees the other's result.
        let applied = self
            .write(
                "UPDATE rooms SET online = ?, status_at = ?, last_event_time = ?, \
                 last_event_seq = ? WHERE stream_id = ? AND (last_event_time < ? OR \
                 (last_event_time = ? AND (last_event_seq < ? OR \
                 (last_event_seq = ? AND ? = 0))))",
                args![
                    e.online,
                    e.now,
                    e.at,
                    &e.sequence,
                    &e.stream_id,
                    e.at,
                    e.at,
                    &e.sequence,
                    &e.sequence,
                    e.online,
                ],
            )
            .await?
            > 0;
        if applied {
            return Ok(EventOutcome::Applied);
        }
        let known = !self
            .read(
                "SELECT 1 FROM rooms WHERE stream_id = ?",
                args![&e.stream_id],
            )
            .await?
            .is_empty();
        Ok(if known {
            EventOutcome::Stale
        } else {
            EventOutcome::UnknownStream
        })
    }

    async fn add_recording_file(&self, f: &RecordingFile) -> StoreResult<RecordingOutcome> {
        let notice_key = stored_key(&f.notice_key);
        let notice_key = notice_key.as_ref();
        transaction!(self, "add_recording_file", |tx| {
            let seen = Self::found(
                tx,
                "SELECT 1 FROM recording_files WHERE notice_key = ?",
                args![notice_key],
            )
            .await?;
            if seen {
                return Ok(RecordingOutcome::Duplicate);
            }
            let room = format!(
                "SELECT userid, title, nickname, headpic, location, {ROOM_COVER} AS frontcover \
                 FROM rooms WHERE stream_id = ?"
            );
            let rows = Self::fetch(tx, &room, args![&f.stream_id]).await?;
            let Some(room) = rows.first() else {
                return Ok(RecordingOutcome::UnknownStream);
            };
            let userid = text(room, "userid");
            // Writing the anchor's notice counter serializes the notices of
            // one anchor, so two formats of one broadcast arriving at once
            // still merge. A write rather than FOR UPDATE: on a Galera
            // cluster a row lock holds on its own node only, a write
            // conflicts cluster-wide. Two first notices of an anchor race
            // on the counter's key; the loser is re-run.
            let counted = Self::exec(
                tx,
                "UPDATE recording_notices SET notices = notices + 1 WHERE userid = ?",
                args![&userid],
            )
            .await?;
            if counted == 0 {
                Self::exec(
                    tx,
                    "INSERT INTO recording_notices (userid, notices) VALUES (?, 1)",
                    args![&userid],
                )
                .await?;
            }
            // A recording of the same broadcast that lacks this format?
            let candidates = Self::fetch(
                tx,
                "SELECT fileid, start_time, end_time FROM recordings r WHERE userid = ? \
                 AND start_time < ? AND end_time > ? AND NOT EXISTS (SELECT 1 FROM \
                 recording_files f WHERE f.userid = r.userid AND f.fileid = r.fileid \
                 AND f.format = ?) ORDER BY end_time DESC LIMIT 8",
                args![&userid, f.end_time, f.start_time, &f.format],
            )
            .await?;
            let merged_into = candidates.iter().find_map(|row| {
                let span = (int(row, "start_time"), int(row, "end_time"));
                same_broadcast(span, (f.start_time, f.end_time)).then(|| text(row, "fileid"))
            });
            let fileid = merged_into.clone().unwrap_or_else(|| f.fileid.clone());
            let exists = Self::found(
                tx,
                "SELECT 1 FROM recordings WHERE userid = ? AND fileid = ?",
                args![&userid, &fileid],
            )
            .await?;
            if !exists {
                Self::exec(
                    tx,
                    "INSERT INTO recordings (userid, fileid, title, nickname, headpic, \
                     frontcover, location, play_url, hls_play_url, start_time, end_time) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, '', '', ?, ?)",
                    args![
                        &userid,
                        &fileid,
                        &text(room, "title"),
                        &text(room, "nickname"),
                        &text(room, "headpic"),
                        &text(room, "frontcover"),
                        &text(room, "location"),
                        f.start_time,
                        f.end_time,
                    ],
                )
                .await?;
            }
            Self::exec(
                tx,
                "INSERT INTO recording_files (notice_key, userid, fileid, format, url, \
                 start_time, end_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
                args![
                    notice_key,
                    &userid,
                    &fileid,
                    &f.format,
                    &f.url,
                    f.start_time,
                    f.end_time,
                ],
            )
            .await?;
            let files = Self::fetch(
                tx,
                "SELECT format, url FROM recording_files WHERE userid = ? AND fileid = ?",
                args![&userid, &fileid],
            )
            .await?;
            let files: Vec<(String, String)> = files
                .iter()
                .map(|row| (text(row, "format"), text(row, "url")))
                .collect();
            let (play_url, hls_play_url) =
                recording_urls(files.iter().map(|(f, u)| (f.as_str(), u.as_str())));
            Self::exec(
                tx,
                "UPDATE recordings SET play_url = ?, hls_play_url = ?, \
                 start_time = CASE WHEN ? < start_time THEN ? ELSE start_time END, \
                 end_time = CASE WHEN ? > end_time THEN ? ELSE end_time END \
                 WHERE userid = ? AND fileid = ?",
                args![
                    &play_url,
                    &hls_play_url,
                    f.start_time,
                    f.start_time,
                    f.end_time,
                    f.end_time,
                    &userid,
                    &fileid,
                ],
            )
            .await?;
            Ok(match merged_into {
                Some(_) => RecordingOutcome::Merged { userid, fileid },
                None => RecordingOutcome::Created { userid, fileid },
            })
        })
    }

    async fn set_snapshot(&self, stream_id: &str, url: &str, taken_at: i64) -> StoreResult<bool> {
        self.write(
            "UPDATE rooms SET snapshot_url = ?, snapshot_at = ? WHERE stream_id = ? \
             AND snapshot_at <= ?",
            args![url, taken_at, stream_id, taken_at],
        )
        .await?;
        let rows = self
            .read("SELECT 1 FROM rooms WHERE stream_id = ?", args![stream_id])
            .await?;
        Ok(!rows.is_empty())
    }

    async fn expire_online(&self, cutoff: i64) -> StoreResult<u64> {
        self.write(
            "UPDATE rooms SET online = 0 WHERE online = 1 AND status_at < ?",
            args![cutoff],
        )
        .await
    }

    async fn add_report(&self, reporter: &str, reported: &str, now: i64) -> StoreResult<i64> {
        // Two nodes recording the same first report at once both find none
        // open and insert: the unique index on open reports fails the
        // second insert, a conflict, and the re-run counts on the first.
        const OPEN: &str = "SELECT id FROM reports WHERE resolved_at IS NULL AND reported = ? \
             AND reporter = ? ORDER BY id DESC";
        transaction!(self, "add_report", |tx| {
            let open = Self::fetch(tx, OPEN, args![reported, reporter]).await?;
            if let Some(row) = open.first() {
                let id = int(row, "id");
                Self::exec(
                    tx,
                    "UPDATE reports SET times = times + 1, last_at = ? WHERE id = ?",
                    args![now, id],
                )
                .await?;
                return Ok(id);
            }
            Self::exec(
                tx,
                "INSERT INTO reports (reporter, reported, created_at, last_at) \
                 VALUES (?, ?, ?, ?)",
                args![reporter, reported, now, now],
            )
            .await?;
            // Our own insert is the newest open report of the pair.
            let open = Self::fetch(tx, OPEN, args![reported, reporter]).await?;
            Ok(open.first().map(|row| int(row, "id")).unwrap_or_default())
        })
    }

    async fn reports(&self, include_resolved: bool) -> StoreResult<Vec<Report>> {
        let filter = if include_resolved {
            ""
        } else {
            "WHERE resolved_at IS NULL"
        };
        let statement = format!(
            "SELECT id, reporter, reported, times, created_at, last_at, resolved_at, resolution \
             FROM reports {filter} ORDER BY id DESC"
        );
        let rows = self.read(&statement, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| Report {
                id: int(row, "id"),
                reporter: text(row, "reporter"),
                reported: text(row, "reported"),
                times: int(row, "times"),
                created_at: int(row, "created_at"),
                last_at: int(row, "last_at"),
                resolved_at: row.opt_int("resolved_at"),
                resolution: text(row, "resolution"),
            })
            .collect())
    }

    async fn resolve_report(&self, id: i64, resolution: &str, now: i64) -> StoreResult<bool> {
        let changed = self
            .write(
                "UPDATE reports SET resolved_at = ?, resolution = ? WHERE id = ? \
                 AND resolved_at IS NULL",
                args![now, resolution, id],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn ban(&self, userid: &str, reason: &str, now: i64) -> StoreResult<bool> {
        transaction!(self, "ban", |tx| {
            let lock = format!("SELECT userid FROM bans WHERE userid = ?{}", DB::FOR_UPDATE);
            let added = !Self::found(tx, &lock, args![userid]).await?;
            if added {
                Self::exec(
                    tx,
                    "INSERT INTO bans (userid, reason, created_at) VALUES (?, ?, ?)",
                    args![userid, reason, now],
                )
                .await?;
            } else {
                Self::exec(
                    tx,
                    "UPDATE bans SET reason = ? WHERE userid = ?",
                    args![reason, userid],
                )
                .await?;
            }
            Self::exec(
                tx,
                "UPDATE rooms SET online = 0, status_at = ? WHERE userid = ?",
                args![now, userid],
            )
            .await?;
            Ok(added)
        })
    }

    async fn unban(&self, userid: &str) -> StoreResult<bool> {
        let removed = self
            .write("DELETE FROM bans WHERE userid = ?", args![userid])
            .await?;
        Ok(removed > 0)
    }

    async fn is_banned(&self, userid: &str) -> StoreResult<bool> {
        let rows = self
            .read("SELECT 1 FROM bans WHERE userid = ?", args![userid])
            .await?;
        Ok(!rows.is_empty())
    }

    async fn bans(&self) -> StoreResult<Vec<Ban>> {
        let rows = self
            .read(
                "SELECT userid, reason, created_at FROM bans ORDER BY created_at DESC, userid",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| Ban {
                userid: text(row, "userid"),
                reason: text(row, "reason"),
                created_at: int(row, "created_at"),
            })
            .collect())
    }

    async fn delete_recording(&self, userid: &str, fileid: &str) -> StoreResult<bool> {
        transaction!(self, "delete_recording", |tx| {
            let deleted = Self::exec(
                tx,
                "DELETE FROM recordings WHERE userid = ? AND fileid = ?",
                args![userid, fileid],
            )
            .await?
                > 0;
            Self::exec(
                tx,
                "DELETE FROM members WHERE anchor = ? AND group_key = ? AND kind = 1",
                args![userid, fileid],
            )
            .await?;
            Self::clear_likes(tx, (userid, 1, fileid)).await?;
            // The files stay keyed by notice, so that a late repeat of a
            // deleted recording's notice does not bring it back.
            Ok(deleted)
        })
    }

    async fn import_room(&self, room: &ImportedRoom) -> StoreResult<SessionOutcome> {
        transaction!(self, "import_room", |tx| {
            let s = &room.session;
            Self::replace_room(tx, s, room.online, room.likes, room.status_at).await
        })
    }

    async fn import_recording(&self, imported: &ImportedRecording) -> StoreResult<()> {
        transaction!(self, "import_recording", |tx| {
            let r = &imported.recording;
            Self::replace_recording(tx, r, Some(imported.likes)).await?;
            Self::exec(
                tx,
                "DELETE FROM members WHERE anchor = ? AND kind = 1 AND group_key = ?",
                args![&r.userid, &r.fileid],
            )
            .await?;
            Self::exec(
                tx,
                "UPDATE recordings SET viewer_count = 0 WHERE userid = ? AND fileid = ?",
                args![&r.userid, &r.fileid],
            )
            .await
            .map(drop)
        })
    }

    async fn import_members(&self, group: &Group, members: &[NewMember]) -> StoreResult<bool> {
        let (table, key) = group_table(group);
        let (anchor, kind, group_key) = (group.anchor(), group_kind(group), group.key());
        let recount = format!(
            "UPDATE {table} SET viewer_count = (SELECT COUNT(*) FROM members WHERE anchor = ? \
             AND kind = ? AND group_key = ?) WHERE userid = ? AND {key} = ?"
        );
        transaction!(self, "import_members", |tx| {
            if !Self::lock_group(tx, group).await? {
                return Ok(false);
            }
            for m in members {
                let present = Self::found(
                    tx,
                    "SELECT 1 FROM members WHERE anchor = ? AND kind = ? AND group_key = ? \
                     AND userid = ?",
                    args![anchor, kind, group_key, &m.userid],
                )
                .await?;
                if !present {
                    Self::insert_member(tx, group, m).await?;
                }
            }
            Self::exec(
                tx,
                &recount,
                args![anchor, kind, group_key, anchor, group_key],
            )
            .await?;
            Ok(true)
        })
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read("SELECT 1", &[]).await.map(drop)
    }

    async fn probe_write(&self, now: i64) -> StoreResult<()> {
        // A changed value: the page is written, so a full disk fails it.
        self.write(
            "UPDATE write_probe SET written_at = ? WHERE id = 1",
            args![now],
        )
        .await
        .map(drop)
    }

    async fn foreign_writes(&self) -> StoreResult<Option<u64>> {
        Ok(DB::foreign_writes(&self.pools).await)
    }

    async fn analyze(&self) -> StoreResult<()> {
        match DB::ANALYZE {
            Some(statement) => self.write(statement, &[]).await.map(drop),
            None => Ok(()),
        }
    }

    async fn count_members(&self) -> StoreResult<i64> {
        self.read_count("SELECT COUNT(*) FROM members", &[]).await
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        DB::pool_stats(&self.pools)
    }

    async fn close(&self) {
        DB::close(&self.pools).await
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
