//! What the console needs from the rest of minilvb, in one trait: operator
//! accounts, login sessions, the rooms and what hangs off them, and the
//! moderation actions. The server implements it over its store and cloud
//! client; [`crate::memory`] implements it in memory for tests.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;

/// What an operator may do. Ordered: each role may do what the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Looks at everything, changes nothing.
    Viewer,
    /// Also forces rooms offline, bans, resolves reports, deletes recordings.
    Moderator,
    /// Also manages the operators.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Moderator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is none of `viewer`, `moderator`, `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected viewer, moderator or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "moderator" => Ok(Role::Moderator),
            "admin" => Ok(Role::Admin),
            _ => Err(UnknownRole(s.to_owned())),
        }
    }
}

/// Who did something, as the audit log names it: `console:alice`, `cli`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    /// An operator acting through the console.
    pub fn console(operator: &str) -> Self {
        Actor(format!("console:{operator}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why the backend could not answer or act. Its text is shown to the
/// operator as it is, so it says what went wrong in plain words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The room, report, recording, ban or operator does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The database or the cloud failed: `the database is unavailable: ...`.
    #[error("failed: {0}")]
    Failed(String),
}

pub type BackendResult<T> = Result<T, BackendError>;

/// What an action did, in words for the operator, including what the
/// cloud answered when it was asked: `cut at the cloud (RequestId abc)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome(pub String);

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub type ActionResult = BackendResult<Outcome>;

/// An operator account as the login needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRecord {
    pub name: String,
    pub role: Role,
    /// A PHC string (see [`crate::hash_password`]).
    pub password_hash: String,
}

/// An operator account as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    pub role: Role,
}

/// A login session to store. `id` is the SHA-256 (hex) of the id in the
/// operator's cookie, so the stored rows cannot be replayed as cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoginSession {
    pub id: String,
    pub operator: String,
    /// Compared with the `csrf` field of every form the session posts.
    pub csrf_token: String,
    pub created_at: i64,
    /// When it ends unless touched; never later than its absolute end.
    pub expires_at: i64,
}

/// A stored login session, with its operator's role as the account has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    pub id: String,
    pub operator: String,
    pub role: Role,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A room: the anchor's (VJ's) current or last broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub userid: String,
    pub groupid: String,
    pub title: String,
    pub nickname: String,
    pub headpic: String,
    /// The cover image URL (`userinfo.frontcover`); may be empty.
    pub cover: String,
    pub location: String,
    pub viewers: i64,
    pub likes: i64,
    pub online: bool,
    /// When its broadcast session started (unix seconds).
    pub started_at: i64,
    pub play_url: String,
    pub hls_play_url: String,
}

/// A room with what the room page shows beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomDetails {
    pub room: Room,
    /// The stream id at the cloud; empty when unknown.
    pub stream_id: String,
    /// The VJ's ban in force, if any.
    pub ban: Option<Ban>,
}

/// A viewer in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub userid: String,
    pub nickname: String,
    pub headpic: String,
}

/// A recording of a past broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    pub userid: String,
    pub fileid: String,
    pub title: String,
    pub nickname: String,
    pub cover: String,
    pub viewers: i64,
    pub likes: i64,
    /// When the recorded broadcast ended (unix seconds).
    pub ended_at: i64,
    pub play_url: String,
    pub hls_play_url: String,
}

/// A viewer's report of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub id: i64,
    /// Empty when anonymous.
    pub reporter: String,
    /// The reported userid.
    pub reported: String,
    /// How many times this reporter reported this user while it was open.
    pub times: i64,
    pub first_at: i64,
    pub last_at: i64,
    pub resolved_at: Option<i64>,
}

/// The order of the open reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportOrder {
    /// Latest report first.
    #[default]
    Newest,
    /// Highest count first, then latest.
    MostReported,
}

/// A user barred from broadcasting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub userid: String,
    pub reason: String,
    pub since: i64,
    /// When it ends by itself (unix seconds); `None`: until lifted.
    pub until: Option<i64>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    /// Who: `console:alice`, `cli`.
    pub actor: String,
    /// What: `force_offline`, `ban`, `unban`, `resolve_report`,
    /// `delete_recording`, `add_operator`, `remove_operator`, `set_password`.
    pub action: String,
    /// On whom or what: a userid, `report 12`, `alice/file-1`, an operator.
    pub target: String,
    pub reason: String,
    /// What came of it, with what the cloud answered: the action's
    /// [`Outcome`] text, or `failed: ...`.
    pub outcome: String,
}

/// Which page of a list, counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub number: u32,
    pub size: u32,
}

impl PageRequest {
    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.number.max(1) - 1) * u64::from(self.size)
    }
}

/// One page of a list and how long the whole list is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pub total: u64,
    pub rows: Vec<T>,
}

/// Everything the console reads and does. Actions take the [`Actor`] and
/// write their audit row themselves (for what they did, and for what failed
/// at the database or the cloud; not for a target that was not found), so
/// every way in (console, CLI) is logged alike.
#[async_trait]
pub trait ConsoleBackend: Send + Sync + 'static {
    /// Unix seconds by the server's clock (tests set it).
    fn now(&self) -> i64;

    /// The account of this name, if any.
    async fn find_operator(&self, name: &str) -> BackendResult<Option<OperatorRecord>>;
    /// Every account, by name.
    async fn operators(&self) -> BackendResult<Vec<Operator>>;
    /// Fails when the name is taken.
    async fn add_operator(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        password_hash: &str,
    ) -> ActionResult;
    /// Also ends its login sessions. Refuses to remove the last admin.
    async fn remove_operator(&self, actor: &Actor, name: &str) -> ActionResult;
    /// Also ends its login sessions.
    async fn set_operator_password(
        &self,
        actor: &Actor,
        name: &str,
        password_hash: &str,
    ) -> ActionResult;

    async fn create_session(&self, session: &NewLoginSession) -> BackendResult<()>;
    /// The session, with its operator's current role; `None` when either is
    /// gone. May return a session past `expires_at` (the caller checks).
    async fn session(&self, id: &str) -> BackendResult<Option<LoginSession>>;
    /// Moves the session's end (sliding expiry).
    async fn touch_session(&self, id: &str, expires_at: i64) -> BackendResult<()>;
    async fn delete_session(&self, id: &str) -> BackendResult<()>;

    /// Every room online now.
    async fn live_rooms(&self) -> BackendResult<Vec<Room>>;
    /// A room, online or not, by its VJ's userid.
    async fn room(&self, userid: &str) -> BackendResult<Option<RoomDetails>>;
    /// A room's current members in the deployment's member order.
    async fn members(&self, userid: &str, page: PageRequest) -> BackendResult<Paged<Member>>;
    /// Recordings, latest first; only the VJ's when given.
    async fn recordings(
        &self,
        vj: Option<&str>,
        page: PageRequest,
    ) -> BackendResult<Paged<Recording>>;
    /// Open reports; only those against `reported` when given.
    async fn open_reports(
        &self,
        order: ReportOrder,
        reported: Option<&str>,
    ) -> BackendResult<Vec<Report>>;
    /// Bans in force, latest first.
    async fn bans(&self) -> BackendResult<Vec<Ban>>;
    /// The audit log, newest first.
    async fn audit_log(&self, page: PageRequest) -> BackendResult<Paged<AuditEntry>>;

    /// Sets the room offline, and cuts its stream at the cloud where the
    /// server can.
    async fn force_offline(&self, actor: &Actor, userid: &str, reason: &str) -> ActionResult;
    /// Bars the user from broadcasting (until `until`, or until lifted) and
    /// takes its room offline; a second ban replaces the first.
    async fn ban(
        &self,
        actor: &Actor,
        userid: &str,
        reason: &str,
        until: Option<i64>,
    ) -> ActionResult;
    async fn unban(&self, actor: &Actor, userid: &str, reason: &str) -> ActionResult;
    async fn resolve_report(&self, actor: &Actor, id: i64, resolution: &str) -> ActionResult;
    /// Deletes the recording (and its files at the cloud where it can).
    async fn delete_recording(
        &self,
        actor: &Actor,
        userid: &str,
        fileid: &str,
        reason: &str,
    ) -> ActionResult;
}
