//! The store's data in the actions' words: what a write takes and what a
//! read or a write gives back. Plain data, no behaviour.

use minilvb_protocol::{Group, UserInfo};

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
    /// When the ban ends by itself; `None`: until lifted.
    pub ends_at: Option<i64>,
}

/// One operator action as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    /// `cli:<unix user>`, `console:<operator>`, or `server` for the
    /// server's own duties (the sweep, ended bans).
    pub actor: String,
    /// What was done: `force_offline`, `ban`, `unban`, `delete_recording`,
    /// `resolve_report`, ...
    pub action: String,
    /// On whom: a userid, `userid/fileid`, `report 12`.
    pub target: String,
    pub reason: String,
    /// What happened, the cloud's answer included.
    pub outcome: String,
}

/// A room's stream, for the stream-status sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomStream {
    pub userid: String,
    pub stream_id: String,
    pub online: bool,
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
