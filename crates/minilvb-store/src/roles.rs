//! The store's roles: one trait for each part of the server that uses it,
//! so that a caller names what it needs, and a layer over a store (the list
//! snapshots) implements what it adds to and passes the rest through
//! [`Layer`]. [`Store`] is all of them.

use std::sync::Arc;

use async_trait::async_trait;
use minilvb_protocol::{
    Counted, Group, MemberInfo, Page, PusherInfo, SharedMembers, SharedPage, SharedPusher,
};

use crate::model::*;
use crate::{MemberOrder, StoreResult};

/// Rooms: the rooms' lifecycle, from RequestLVBAddr, ChangeStatus and
/// the cloud's stream events.
#[async_trait]
pub trait Rooms: Send + Sync {
    /// Creates or replaces the anchor's room: offline, counts 0, no members.
    /// Recordings are kept.
    async fn start_session(&self, session: &NewSession) -> StoreResult<SessionOutcome>;

    /// Sets the room online or offline; false when the room does not exist.
    async fn set_online(&self, userid: &str, online: bool, now: i64) -> StoreResult<bool>;

    /// Applies a push-begin (online) or push-end (offline) event to the room
    /// of its stream, unless an event at least as recent was applied already
    /// (by time, then sequence; at equal keys offline wins).
    async fn stream_event(&self, event: &StreamEvent) -> StoreResult<EventOutcome>;

    /// Keeps a screenshot as the room's latest snapshot (the cover when the
    /// anchor gave none); older screenshots than the one kept are ignored.
    async fn set_snapshot(&self, stream_id: &str, url: &str, taken_at: i64) -> StoreResult<bool>;

    /// Sets offline every room online since before `cutoff` with no status
    /// event since; returns how many.
    async fn expire_online(&self, cutoff: i64) -> StoreResult<u64>;
}

/// Likes: ChangeCount's increments.
#[async_trait]
pub trait Likes: Send + Sync {
    /// Adds `delta` likes (floored at 0); false when the target does not exist.
    async fn add_likes(&self, target: &Counted, delta: i64) -> StoreResult<bool>;

    /// [`Self::add_likes`] for several targets in one transaction: all
    /// applied, or none (an error); whether each target exists, in order.
    async fn add_likes_many(&self, batch: &[(Counted, i64)]) -> StoreResult<Vec<bool>>;
}

/// Members: EnterGroup, QuitGroup and FetchGroupMemberList.
#[async_trait]
pub trait Members: Send + Sync + Lookups {
    /// Adds or refreshes a member; the count grows only for a new member.
    /// False when the group does not exist.
    async fn enter(&self, group: &Group, member: &NewMember) -> StoreResult<bool>;

    /// Removes a member; the count shrinks only if it was one.
    async fn quit(&self, group: &Group, userid: &str) -> StoreResult<()>;

    /// [`Self::enter`] and [`Self::quit`] for several members, in order,
    /// in one transaction: all applied, or none (an error). Per change,
    /// None when an enter's group does not exist, else how much the
    /// group's viewer count moved (an enter 1 or 0, a quit -1 or 0).
    async fn change_members(&self, changes: &[MemberChange]) -> StoreResult<Vec<Option<i64>>>;

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
}

/// Lists: what FetchList and GetUserInfo show.
#[async_trait]
pub trait Lists: Send + Sync + Lookups {
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

    // What the apps are shown: the rows of `rooms`, `recordings` and
    // `pusher`, shared. The list snapshots answer these from the rows they
    // keep (see `snapshots`): as fresh as the lists' order, and every write
    // through the same store is seen. `pusher` itself is always read fresh
    // (FetchGroupMemberList and the operator decide by it).

    /// [`Self::rooms`] for FetchList.
    async fn rendered_rooms(
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

    /// [`Self::recordings`] for FetchList.
    async fn rendered_recordings(
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

    /// [`Self::pusher`] for GetUserInfo.
    async fn rendered_pusher(&self, target: &Counted) -> StoreResult<Option<Arc<SharedPusher>>> {
        Ok(self.pusher(target).await?.map(SharedPusher::new))
    }
}

/// Recordings: the recorded files the cloud announces.
#[async_trait]
pub trait Recordings: Send + Sync {
    /// A recording, for tests and the callbacks: inserted, or replaced if the
    /// (userid, fileid) exists, keeping its counts.
    async fn put_recording(&self, recording: &NewRecording) -> StoreResult<()>;

    /// Adds a recorded file: a new recording of the stream's anchor (title
    /// and profile copied from the room), or another format of a recording
    /// of the same broadcast. A notice seen before changes nothing.
    async fn add_recording_file(&self, file: &RecordingFile) -> StoreResult<RecordingOutcome>;
}

/// Lookups: reads by key, always from the database; also where the list
/// snapshots load the lists' order and rows from.
#[async_trait]
pub trait Lookups: Send + Sync {
    /// The stream id of the userid's room, if it has one.
    async fn stream_id_of(&self, userid: &str) -> StoreResult<Option<String>>;

    /// Whether the room or recording exists.
    async fn exists(&self, target: &Counted) -> StoreResult<bool>;

    /// Members of the group, with their total.
    async fn members(
        &self,
        group: &Group,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(i64, Vec<MemberInfo>)>;

    /// A room or a recording, as the lists show it.
    async fn pusher(&self, target: &Counted) -> StoreResult<Option<PusherInfo>>;

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

    /// Every room's stream and status, for the stream-status sweep.
    async fn room_streams(&self) -> StoreResult<Vec<RoomStream>>;
}

/// Moderation: reports, bans, deleting recordings (the operator's tools).
#[async_trait]
pub trait Moderation: Send + Sync {
    /// Records a report; a repeat by the same reporter while one is open
    /// counts on that one, whichever node records it (at most one report
    /// of a pair is open). Returns the report's id.
    async fn add_report(&self, reporter: &str, reported: &str, now: i64) -> StoreResult<i64>;

    /// Reports, newest first; open ones only unless `include_resolved`.
    async fn reports(&self, include_resolved: bool) -> StoreResult<Vec<Report>>;

    /// Marks an open report resolved; false if there is no such open report.
    async fn resolve_report(&self, id: i64, resolution: &str, now: i64) -> StoreResult<bool>;

    /// Bans a user from broadcasting (until `ends_at`, or until lifted) and
    /// sets its room offline; false if it was banned already (the reason
    /// and end are then updated).
    async fn ban(
        &self,
        userid: &str,
        reason: &str,
        now: i64,
        ends_at: Option<i64>,
    ) -> StoreResult<bool>;

    /// Lifts a ban; false if the user was not banned.
    async fn unban(&self, userid: &str) -> StoreResult<bool>;

    /// Whether a ban in force at `now` bars the user.
    async fn is_banned(&self, userid: &str, now: i64) -> StoreResult<bool>;

    /// Lifts the bans that ended at or before `now`; their userids.
    async fn lift_ended_bans(&self, now: i64) -> StoreResult<Vec<String>>;

    /// Adds an entry to the audit log (its `id` is the database's).
    async fn record_action(&self, entry: &AuditEntry) -> StoreResult<()>;

    /// The audit log, newest first: the total and one page.
    async fn audit_log(&self, offset: i64, limit: i64) -> StoreResult<(i64, Vec<AuditEntry>)>;

    async fn bans(&self) -> StoreResult<Vec<Ban>>;

    /// Deletes a recording with its members and files; false if none.
    async fn delete_recording(&self, userid: &str, fileid: &str) -> StoreResult<bool>;
}

/// Import: an original server's data, as `minilvb import-legacy` brings it.
#[async_trait]
pub trait Import: Send + Sync {
    /// Import: creates or replaces a room as given (status, likes), without
    /// members; `StreamTaken` when another userid's room has the stream id.
    async fn import_room(&self, room: &ImportedRoom) -> StoreResult<SessionOutcome>;

    /// Import: creates or replaces a recording as given (likes included),
    /// without members.
    async fn import_recording(&self, recording: &ImportedRecording) -> StoreResult<()>;

    /// Import: adds the members a group lacks, then sets its viewer count to
    /// its membership. False when the group does not exist.
    async fn import_members(&self, group: &Group, members: &[NewMember]) -> StoreResult<bool>;
}

/// Upkeep: health, statistics, metrics and shutdown.
#[async_trait]
pub trait Upkeep: Send + Sync {
    /// Answers when the database does.
    async fn ping(&self) -> StoreResult<()>;

    /// Writes a row kept for this (see [`Upkeep::write_failure`]): whether
    /// a write goes through. Stores that cannot fail a write keep this
    /// default.
    async fn probe_write(&self, now: i64) -> StoreResult<()> {
        let _ = now;
        Ok(())
    }

    /// The error of the last write, while no write has succeeded since
    /// (reads may well work meanwhile: a full disk, a read-only database).
    fn write_failure(&self) -> Option<String> {
        None
    }

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

/// Leases: which node of a deployment runs a duty that must run on one
/// node at a time (the stream-status sweep).
#[async_trait]
pub trait Leases: Send + Sync {
    /// Takes or renews the lease `name` for `holder` until `now_ms + ttl_ms`
    /// (Unix milliseconds): true when `holder` holds it now, false while
    /// another holder's lease has not expired.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<bool>;

    /// Gives the lease up, if `holder` holds it, so another node need not
    /// wait for it to expire.
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()>;
}

/// Everything a store does: what the server, its tools and its tests hold.
pub trait Store:
    Rooms
    + Likes
    + Members
    + Lists
    + Recordings
    + Lookups
    + Moderation
    + Import
    + Leases
    + Upkeep
    + 'static
{
}

impl<T> Store for T where
    T: Rooms
        + Likes
        + Members
        + Lists
        + Recordings
        + Lookups
        + Moderation
        + Import
        + Leases
        + Upkeep
        + 'static
{
}
