//! Storage: one [`Store`] trait in the actions' words, implemented once over
//! SQL ([`sql::SqlStore`]) for the three databases the URL selects: SQLite,
//! PostgreSQL and MySQL/MariaDB. What differs between them (placeholders,
//! row locks, conflict errors, pools, migrations) is a small [`sql::Dialect`]
//! per backend module. SQL and migrations stay inside this module.
//!
//! Invariants every backend keeps, each inside one transaction:
//! - a room's or recording's `viewercount` equals the number of its members;
//! - counts never go negative;
//! - a new session resets the room's counts and member list.

pub mod diagnosis;
mod dialect;
pub mod legacy;
mod member_changes;
mod member_order;
pub mod metric_names;
mod migrations;
mod mysql;
mod postgres;
pub mod settings;
mod snapshots;
pub mod sql;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use crate::settings::{Backend, DatabaseSettings, InvalidUrl, MemberOrder};
use minilvb_protocol::{
    Counted, Group, MemberInfo, Page, ProtocolError, PusherInfo, SharedMembers, SharedPage,
    SharedPusher, UserInfo,
};

/// A storage failure. Its text is for logs only; clients see a plain 2003.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    /// The connection was lost, or the deadline passed, while the commit was
    /// on its way: the write may or may not have been applied. Never
    /// acknowledged, and not re-run (a like is not idempotent).
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(Box<StoreError>),
}

impl StoreError {
    /// Whether the write may have been applied although it failed.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, StoreError::OutcomeUnknown(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A storage failure reaches the apps as a plain 2003; the cause goes to
/// the log and the metrics only.
fn storage_failure(error: &StoreError) -> ProtocolError {
    tracing::error!(%error, "storage failure");
    metrics::counter!(crate::metric_names::DB_ERRORS).increment(1);
    if matches!(error, StoreError::Database(sqlx::Error::PoolTimedOut)) {
        metrics::counter!(crate::metric_names::DB_POOL_TIMEOUTS).increment(1);
    }
    if error.outcome_unknown() {
        metrics::counter!(crate::metric_names::DB_UNKNOWN_OUTCOMES).increment(1);
    }
    ProtocolError::database()
}

impl From<StoreError> for ProtocolError {
    fn from(error: StoreError) -> Self {
        storage_failure(&error)
    }
}

/// A failure shared by coalesced requests.
impl From<&StoreError> for ProtocolError {
    fn from(error: &StoreError) -> Self {
        storage_failure(error)
    }
}

/// A broadcast session as RequestLVBAddr starts it.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub userid: String,
    pub stream_id: String,
    pub groupid: String,
    pub title: String,
    pub userinfo: UserInfo,
    pub play_url: String,
    pub hls_play_url: String,
    pub started_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOutcome {
    Started,
    /// Another userid's room already has this stream id.
    StreamTaken,
}

/// A viewer joining a room or recording. Empty fields keep what a previous
/// EnterGroup stored; `level` likewise when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    pub userid: String,
    pub nickname: String,
    pub headpic: String,
    pub level: Option<i64>,
    pub joined_at: i64,
}

/// An EnterGroup or a QuitGroup, as [`Store::change_members`] takes them.
#[derive(Debug, Clone)]
pub enum MemberChange {
    Enter { group: Group, member: NewMember },
    Quit { group: Group, userid: String },
}

impl MemberChange {
    pub fn group(&self) -> &Group {
        match self {
            MemberChange::Enter { group, .. } | MemberChange::Quit { group, .. } => group,
        }
    }

    /// The viewer entering or quitting.
    pub fn userid(&self) -> &str {
        match self {
            MemberChange::Enter { member, .. } => &member.userid,
            MemberChange::Quit { userid, .. } => userid,
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The stream id of the userid's room, if it has one.
    async fn stream_id_of(&self, userid: &str) -> StoreResult<Option<String>>;

    /// Creates or replaces the anchor's room: offline, counts 0, no members.
    /// Recordings are kept.
    async fn start_session(&self, session: &NewSession) -> StoreResult<SessionOutcome>;

    /// Sets the room online or offline; false when the room does not exist.
    async fn set_online(&self, userid: &str, online: bool, now: i64) -> StoreResult<bool>;

    /// Adds `delta` likes (floored at 0); false when the target does not exist.
    async fn add_likes(&self, target: &Counted, delta: i64) -> StoreResult<bool>;

    /// [`Store::add_likes`] for several targets in one transaction: all
    /// applied, or none (an error); whether each target exists, in order.
    async fn add_likes_many(&self, batch: &[(Counted, i64)]) -> StoreResult<Vec<bool>>;

    /// Whether the room or recording exists.
    async fn exists(&self, target: &Counted) -> StoreResult<bool>;

    /// Adds or refreshes a member; the count grows only for a new member.
    /// False when the group does not exist.
    async fn enter(&self, group: &Group, member: &NewMember) -> StoreResult<bool>;

    /// Removes a member; the count shrinks only if it was one.
    async fn quit(&self, group: &Group, userid: &str) -> StoreResult<()>;

    /// [`Store::enter`] and [`Store::quit`] for several members, in order,
    /// in one transaction: all applied, or none (an error). Per change,
    /// None when an enter's group does not exist, else how much the
    /// group's viewer count moved (an enter 1 or 0, a quit -1 or 0).
    async fn change_members(&self, changes: &[MemberChange]) -> StoreResult<Vec<Option<i64>>>;

    /// Members of the group, with their total.
    async fn members(
        &self,
        group: &Group,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(i64, Vec<MemberInfo>)>;

    /// FetchGroupMemberList's members: of the group `groupid` names for
    /// `anchor`, its room when `groupid` is the room's current groupid and
    /// otherwise its recording by fileid (none: 0 and no members). With
    /// that group.
    async fn members_named(
        &self,
        anchor: &str,
        groupid: &str,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(Group, i64, Arc<SharedMembers>)> {
        let room = Counted::Room {
            userid: anchor.to_owned(),
        };
        let is_room = self
            .pusher(&room)
            .await?
            .is_some_and(|room| room.groupid == groupid);
        let (anchor, groupid) = (anchor.to_owned(), groupid.to_owned());
        let group = match is_room {
            true => Group::Room { anchor, groupid },
            false => Group::Recording {
                anchor,
                fileid: groupid,
            },
        };
        let (total, members) = self.members(&group, order, page).await?;
        Ok((group, total, SharedMembers::new(members)))
    }

    async fn count_rooms(&self, scope: RoomScope) -> StoreResult<i64>;

    /// Rooms, newest session first.
    async fn rooms(
        &self,
        scope: RoomScope,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<PusherInfo>>;

    /// Recordings that ended at or after `since`, banned users' left out.
    async fn count_recordings(&self, since: i64) -> StoreResult<i64>;

    /// Recordings that ended at or after `since`, newest first.
    async fn recordings(&self, since: i64, offset: i64, limit: i64)
    -> StoreResult<Vec<PusherInfo>>;

    /// The order of the room lists: every room of users not banned,
    /// newest session first (for the list snapshots, see `actions::lists`).
    async fn room_keys(&self) -> StoreResult<Vec<RoomKey>>;

    /// The order of the recording list: every recording of users not
    /// banned, newest end first.
    async fn recording_keys(&self) -> StoreResult<Vec<RecordingKey>>;

    /// Rooms by userid, in any order; missing ones are left out.
    async fn rooms_by_userid(&self, userids: &[&str]) -> StoreResult<Vec<PusherInfo>>;

    /// Recordings by (userid, fileid), in any order; missing ones are left out.
    async fn recordings_by_key(&self, keys: &[(&str, &str)]) -> StoreResult<Vec<PusherInfo>>;

    /// A room or a recording, as the lists show it.
    async fn pusher(&self, target: &Counted) -> StoreResult<Option<PusherInfo>>;

    // What the apps are shown: the rows of `rooms`, `recordings` and
    // `pusher`, shared. The list snapshots answer these from the rows they
    // keep (see `snapshots`): as fresh as the lists' order, and every write
    // through the same store is seen. `pusher` itself is always read fresh
    // (FetchGroupMemberList and the operator decide by it).

    /// [`Store::rooms`] for FetchList.
    async fn shown_rooms(
        &self,
        scope: RoomScope,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Arc<SharedPage>> {
        let rows = self.rooms(scope, offset, limit).await?;
        Ok(SharedPage::new(
            rows.into_iter().map(SharedPusher::new).collect(),
        ))
    }

    /// [`Store::recordings`] for FetchList.
    async fn shown_recordings(
        &self,
        since: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Arc<SharedPage>> {
        let rows = self.recordings(since, offset, limit).await?;
        Ok(SharedPage::new(
            rows.into_iter().map(SharedPusher::new).collect(),
        ))
    }

    /// [`Store::pusher`] for GetUserInfo.
    async fn shown_pusher(&self, target: &Counted) -> StoreResult<Option<Arc<SharedPusher>>> {
        Ok(self.pusher(target).await?.map(SharedPusher::new))
    }

    /// A recording, for tests and the callbacks: inserted, or replaced if the
    /// (userid, fileid) exists, keeping its counts.
    async fn put_recording(&self, recording: &NewRecording) -> StoreResult<()>;

    /// Applies a push-begin (online) or push-end (offline) event to the room
    /// of its stream, unless an event at least as recent was applied already
    /// (by time, then sequence; at equal keys offline wins).
    async fn stream_event(&self, event: &StreamEvent) -> StoreResult<EventOutcome>;

    /// Adds a recorded file: a new recording of the stream's anchor (title
    /// and profile copied from the room), or another format of a recording
    /// of the same broadcast. A notice seen before changes nothing.
    async fn add_recording_file(&self, file: &RecordingFile) -> StoreResult<RecordingOutcome>;

    /// Keeps a screenshot as the room's latest snapshot (the cover when the
    /// anchor gave none); older screenshots than the one kept are ignored.
    async fn set_snapshot(&self, stream_id: &str, url: &str, taken_at: i64) -> StoreResult<bool>;

    /// Sets offline every room online since before `cutoff` with no status
    /// event since; returns how many.
    async fn expire_online(&self, cutoff: i64) -> StoreResult<u64>;

    /// Records a report; a repeat by the same reporter while one is open
    /// counts on that one. Returns the report's id.
    async fn add_report(&self, reporter: &str, reported: &str, now: i64) -> StoreResult<i64>;

    /// Reports, newest first; open ones only unless `include_resolved`.
    async fn reports(&self, include_resolved: bool) -> StoreResult<Vec<Report>>;

    /// Marks an open report resolved; false if there is no such open report.
    async fn resolve_report(&self, id: i64, resolution: &str, now: i64) -> StoreResult<bool>;

    /// Bans a user from broadcasting and sets its room offline; false if
    /// it was banned already (the reason is then updated).
    async fn ban(&self, userid: &str, reason: &str, now: i64) -> StoreResult<bool>;

    /// Lifts a ban; false if the user was not banned.
    async fn unban(&self, userid: &str) -> StoreResult<bool>;

    async fn is_banned(&self, userid: &str) -> StoreResult<bool>;

    async fn bans(&self) -> StoreResult<Vec<Ban>>;

    /// Deletes a recording with its members and files; false if none.
    async fn delete_recording(&self, userid: &str, fileid: &str) -> StoreResult<bool>;

    /// Import: creates or replaces a room as given (status, likes), without
    /// members; `StreamTaken` when another userid's room has the stream id.
    async fn import_room(&self, room: &ImportedRoom) -> StoreResult<SessionOutcome>;

    /// Import: creates or replaces a recording as given (likes included),
    /// without members.
    async fn import_recording(&self, recording: &ImportedRecording) -> StoreResult<()>;

    /// Import: adds the members a group lacks, then sets its viewer count to
    /// its membership. False when the group does not exist.
    async fn import_members(&self, group: &Group, members: &[NewMember]) -> StoreResult<bool>;

    /// Answers when the database does.
    async fn ping(&self) -> StoreResult<()>;

    /// Members of every room and recording, for the metrics.
    async fn count_members(&self) -> StoreResult<i64>;

    /// Refreshes the query planner's statistics. After bulk writes into
    /// young tables (an import, a benchmark's seed), a planner without them
    /// may walk a whole group's members where one key lookup would do.
    async fn analyze(&self) -> StoreResult<()>;

    /// A mark that changes whenever another process wrote the database,
    /// where the database can tell (SQLite: its `data_version` on this
    /// store's writer); `None` where it cannot (a server shared by nodes).
    async fn foreign_writes(&self) -> StoreResult<Option<u64>>;

    /// The connection pools' occupancy, for the metrics.
    fn pool_stats(&self) -> Vec<PoolStats> {
        Vec::new()
    }

    /// Closes the pool, waiting for connections in use.
    async fn close(&self);
}

/// One connection pool's occupancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Which pool (`read`, `write`).
    pub pool: &'static str,
    /// Connections open.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

/// A push-begin or push-end event of a stream.
#[derive(Debug, Clone)]
pub struct StreamEvent {
    pub stream_id: String,
    pub online: bool,
    /// The cloud's event time.
    pub at: i64,
    /// The push's sequence, made sortable (see `callbacks::sortable_sequence`).
    pub sequence: String,
    /// Our clock, for the online timeout.
    pub now: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    /// An event at least as recent was applied before.
    Stale,
    UnknownStream,
}

/// One recorded file (one format) of a stream, as the cloud announces it.
#[derive(Debug, Clone)]
pub struct RecordingFile {
    pub stream_id: String,
    /// What identifies the notice: video_id, else file_id, else the URL.
    pub notice_key: String,
    /// The fileid a new recording gets (the cloud's file_id or video_id).
    pub fileid: String,
    /// flv, hls, mp4.
    pub format: String,
    pub url: String,
    pub start_time: i64,
    pub end_time: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingOutcome {
    Created {
        userid: String,
        fileid: String,
    },
    /// Another format of an existing recording.
    Merged {
        userid: String,
        fileid: String,
    },
    Duplicate,
    UnknownStream,
}

/// Which rooms a listing covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomScope {
    /// Online rooms of users not banned (FetchList flags 1 and 3).
    Online,
    /// Every room of users not banned (FetchList flag 4).
    Listed,
    /// Every room (the operator's view).
    All,
}

/// A room's place in the lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomKey {
    pub userid: String,
    pub online: bool,
    /// When its session started (the lists' order).
    pub started_at: i64,
}

/// A recording's place in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingKey {
    pub userid: String,
    pub fileid: String,
    pub end_time: i64,
}

/// A viewer's report of a user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub id: i64,
    /// "" when anonymous.
    pub reporter: String,
    pub reported: String,
    /// How many times this reporter reported this user while it was open.
    pub times: i64,
    pub created_at: i64,
    pub last_at: i64,
    pub resolved_at: Option<i64>,
    pub resolution: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ban {
    pub userid: String,
    pub reason: String,
    pub created_at: i64,
}

/// A recording file of a broadcast.

#[derive(Debug, Clone)]
pub struct NewRecording {
    pub userid: String,
    pub fileid: String,
    pub title: String,
    pub userinfo: UserInfo,
    pub play_url: String,
    pub hls_play_url: String,
    pub start_time: i64,
    pub end_time: i64,
}

/// A room as `minilvb import-legacy` brings it over.
#[derive(Debug, Clone)]
pub struct ImportedRoom {
    pub session: NewSession,
    pub online: bool,
    pub likes: i64,
    pub status_at: i64,
}

/// A recording as `minilvb import-legacy` brings it over.
#[derive(Debug, Clone)]
pub struct ImportedRecording {
    pub recording: NewRecording,
    pub likes: i64,
}

/// Whether the URL's database takes every write through one writer
/// (SQLite): the actions then batch likes across targets and run one lane
/// of member batches (see `actions::batch`, `actions::members`).
pub fn single_writer(url: &str) -> bool {
    matches!(Backend::from_url(url), Ok(Backend::Sqlite) | Err(_))
}

/// How many updates of one target's likes a node runs at once on a
/// database server (see `actions::coalesce`): it commits concurrent updates
/// together (one log flush). Measured on PostgreSQL and MariaDB
/// (docs/BENCHMARKS.md): a second lane helps; more split the likes into
/// smaller updates for no gain.
pub const LIKE_LANES: usize = 2;

/// How many batches of enters and quits a node applies at once on a
/// database server, each for its own share of the groups (see
/// `actions::members::MemberWrites`): a popular room's changes go together
/// in large batches, while changes to other groups need not wait for them.
pub const MEMBER_LANES: usize = 4;

/// Opens the store the URL selects and brings its schema up to date; a
/// SQLite file is created if there is none. `members`: the member order
/// the server serves, for the indexes that depend on it (see
/// `members.order`); `None` (tools, tests) leaves them as they are.
///
/// A database that cannot be opened fails with a [`diagnosis::CannotOpen`]
/// that says why.
pub async fn connect(
    settings: &DatabaseSettings,
    members: Option<MemberOrder>,
) -> anyhow::Result<Arc<dyn Store>> {
    open(settings, members)
        .await
        .map_err(|e| diagnosis::cannot_open(&settings.url, e))
}

/// As [`connect`], for a database that must exist already (the operator's
/// commands): where no SQLite file is, it fails with a
/// [`diagnosis::NoDatabase`] and creates nothing.
pub async fn connect_existing(
    settings: &DatabaseSettings,
    members: Option<MemberOrder>,
) -> anyhow::Result<Arc<dyn Store>> {
    if Backend::from_url(&settings.url)? == Backend::Sqlite {
        if let Some(path) = sqlite::file_path(&settings.url)? {
            diagnosis::require_sqlite_file(&path)
                .map_err(|e| diagnosis::cannot_open(&settings.url, e))?;
        }
    }
    connect(settings, members).await
}

async fn open(
    settings: &DatabaseSettings,
    members: Option<MemberOrder>,
) -> anyhow::Result<Arc<dyn Store>> {
    let backend = Backend::from_url(&settings.url)?;
    let store: Arc<dyn Store> = match backend {
        Backend::Sqlite => {
            Arc::new(sql::SqlStore::<sqlite::Sqlite>::connect(settings, members).await?)
        }
        Backend::Postgres => {
            Arc::new(sql::SqlStore::<sqlx::Postgres>::connect(settings, members).await?)
        }
        Backend::MySql => Arc::new(sql::SqlStore::<sqlx::MySql>::connect(settings, members).await?),
    };
    Ok(match settings.list_snapshot_ms {
        0 => store,
        ms => Arc::new(snapshots::ListSnapshots::new(
            store,
            Duration::from_millis(ms),
            usize::try_from(settings.list_cache_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
        )),
    })
}

/// Checks that a database URL names a backend and that its driver can read it.
pub fn check_url(url: &str) -> Result<Backend, InvalidUrl> {
    let backend = Backend::from_url(url)?;
    let parsed = match backend {
        Backend::Sqlite => sqlite::options(url).map(drop),
        Backend::Postgres => postgres::options(url).map(drop),
        Backend::MySql => match mysql::options(url) {
            // The server has no default database: the migrations would fail
            // with "No database selected".
            Ok(options) if options.get_database().is_none_or(str::is_empty) => {
                let shown = settings::redact_url(url);
                let shown = shown.trim_end_matches('/');
                return Err(InvalidUrl(format!(
                    "{shown} names no database; add its name, e.g. {shown}/minilvb, after \
                     creating it with CREATE DATABASE minilvb CHARACTER SET utf8mb4;"
                )));
            }
            parsed => parsed.map(drop),
        },
    };
    parsed.map_err(|e| InvalidUrl(e.to_string()))?;
    Ok(backend)
}

/// Pool settings shared by the server databases.
fn pool_options<DB: sqlx::Database>(settings: &DatabaseSettings) -> sqlx::pool::PoolOptions<DB> {
    let secs = |n: u64| (n > 0).then(|| Duration::from_secs(n));
    sqlx::pool::PoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
        .idle_timeout(secs(settings.idle_timeout_secs))
        .max_lifetime(secs(settings.max_lifetime_secs))
        // sqlx pings a connection as it goes back to the pool; pinging it
        // again when it is taken would cost every operation a round trip
        // more. Only one idle long enough that the database may have gone
        // away meanwhile is pinged again.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IDLE_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// A pooled connection idle this long is pinged before it is lent.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);
