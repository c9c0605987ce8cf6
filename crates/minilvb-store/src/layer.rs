//! A layer over a store: something that keeps what the store holds in
//! another form (the list snapshots keep what the lists show). It
//! implements the roles whose answers it changes; every other role reaches
//! the store below through the impls here, which tell the layer of each
//! write once it is done (or failed: it may have been applied anyway).

use async_trait::async_trait;
use minilvb_protocol::{Counted, Group, MemberInfo, Page, PusherInfo};

use crate::model::*;
use crate::roles::{Import, Leases, Lookups, Moderation, Store, Upkeep};
use crate::{MemberOrder, StoreResult};

/// A store over another one; see the module's documentation.
pub trait Layer: Send + Sync {
    /// The store below.
    fn below(&self) -> &dyn Store;

    /// A write of a passed-through role is done: what it may have changed.
    fn written(&self, write: Written<'_>);
}

/// What a passed-through write may have changed.
#[derive(Debug, Clone, Copy)]
pub enum Written<'a> {
    /// A user was banned or unbanned: whether their room and recordings
    /// are listed, and the room's status.
    Ban {
        userid: &'a str,
    },
    RecordingDeleted {
        userid: &'a str,
        fileid: &'a str,
    },
    RoomImported {
        userid: &'a str,
    },
    RecordingImported {
        userid: &'a str,
        fileid: &'a str,
    },
    MembersImported {
        group: &'a Group,
    },
    /// A write whose reach is not known (it failed, and may have been
    /// applied): anything may have changed.
    Unknown,
}

#[async_trait]
impl<L: Layer> Lookups for L {
    async fn stream_id_of(&self, userid: &str) -> StoreResult<Option<String>> {
        self.below().stream_id_of(userid).await
    }

    async fn exists(&self, target: &Counted) -> StoreResult<bool> {
        self.below().exists(target).await
    }

    async fn members(
        &self,
        group: &Group,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(i64, Vec<MemberInfo>)> {
        self.below().members(group, order, page).await
    }

    async fn pusher(&self, target: &Counted) -> StoreResult<Option<PusherInfo>> {
        self.below().pusher(target).await
    }

    async fn room_keys(&self) -> StoreResult<Vec<RoomKey>> {
        self.below().room_keys().await
    }

    async fn recording_keys(&self) -> StoreResult<Vec<RecordingKey>> {
        self.below().recording_keys().await
    }

    async fn rooms_by_userid(&self, userids: &[&str]) -> StoreResult<Vec<PusherInfo>> {
        self.below().rooms_by_userid(userids).await
    }

    async fn recordings_by_key(&self, keys: &[(&str, &str)]) -> StoreResult<Vec<PusherInfo>> {
        self.below().recordings_by_key(keys).await
    }

    async fn room_streams(&self) -> StoreResult<Vec<RoomStream>> {
        self.below().room_streams().await
    }
}

#[async_trait]
impl<L: Layer> Moderation for L {
    async fn add_report(&self, reporter: &str, reported: &str, now: i64) -> StoreResult<i64> {
        self.below().add_report(reporter, reported, now).await
    }

    async fn reports(&self, include_resolved: bool) -> StoreResult<Vec<Report>> {
        self.below().reports(include_resolved).await
    }

    async fn resolve_report(&self, id: i64, resolution: &str, now: i64) -> StoreResult<bool> {
        self.below().resolve_report(id, resolution, now).await
    }

    async fn ban(
        &self,
        userid: &str,
        reason: &str,
        now: i64,
        ends_at: Option<i64>,
    ) -> StoreResult<bool> {
        let outcome = self.below().ban(userid, reason, now, ends_at).await;
        self.written(Written::Ban { userid });
        outcome
    }

    async fn unban(&self, userid: &str) -> StoreResult<bool> {
        let outcome = self.below().unban(userid).await;
        self.written(Written::Ban { userid });
        outcome
    }

    async fn is_banned(&self, userid: &str, now: i64) -> StoreResult<bool> {
        self.below().is_banned(userid, now).await
    }

    async fn lift_ended_bans(&self, now: i64) -> StoreResult<Vec<String>> {
        let lifted = self.below().lift_ended_bans(now).await;
        match &lifted {
            Ok(userids) => {
                for userid in userids {
                    self.written(Written::Ban { userid });
                }
            }
            // Which were lifted, only the database knows.
            Err(_) => self.written(Written::Unknown),
        }
        lifted
    }

    async fn record_action(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.below().record_action(entry).await
    }

    async fn audit_log(&self, offset: i64, limit: i64) -> StoreResult<(i64, Vec<AuditEntry>)> {
        self.below().audit_log(offset, limit).await
    }

    async fn bans(&self) -> StoreResult<Vec<Ban>> {
        self.below().bans().await
    }

    async fn delete_recording(&self, userid: &str, fileid: &str) -> StoreResult<bool> {
        let outcome = self.below().delete_recording(userid, fileid).await;
        self.written(Written::RecordingDeleted { userid, fileid });
        outcome
    }
}

#[async_trait]
impl<L: Layer> Import for L {
    async fn import_room(&self, room: &ImportedRoom) -> StoreResult<SessionOutcome> {
        let outcome = self.below().import_room(room).await;
        self.written(Written::RoomImported {
            userid: &room.session.userid,
        });
        outcome
    }

    async fn import_recording(&self, recording: &ImportedRecording) -> StoreResult<()> {
        let outcome = self.below().import_recording(recording).await;
        self.written(Written::RecordingImported {
            userid: &recording.recording.userid,
            fileid: &recording.recording.fileid,
        });
        outcome
    }

    async fn import_members(&self, group: &Group, members: &[NewMember]) -> StoreResult<bool> {
        let outcome = self.below().import_members(group, members).await;
        self.written(Written::MembersImported { group });
        outcome
    }
}

#[async_trait]
impl<L: Layer> Upkeep for L {
    async fn ping(&self) -> StoreResult<()> {
        self.below().ping().await
    }

    async fn probe_write(&self, now: i64) -> StoreResult<()> {
        self.below().probe_write(now).await
    }

    fn write_failure(&self) -> Option<String> {
        self.below().write_failure()
    }

    async fn count_members(&self) -> StoreResult<i64> {
        self.below().count_members().await
    }

    async fn analyze(&self) -> StoreResult<()> {
        self.below().analyze().await
    }

    async fn foreign_writes(&self) -> StoreResult<Option<u64>> {
        self.below().foreign_writes().await
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        self.below().pool_stats()
    }

    async fn close(&self) {
        self.below().close().await
    }
}

#[async_trait]
impl<L: Layer> Leases for L {
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<bool> {
        self.below().take_lease(name, holder, now_ms, ttl_ms).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.below().release_lease(name, holder).await
    }
}
