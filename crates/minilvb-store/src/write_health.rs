//! Whether writes work: a store around the store that notes the outcome
//! of every write. Reads can keep working while every write fails (a full
//! disk, a database turned read-only), which a ping does not notice; the
//! readiness check asks [`Store::write_failure`] and, while writes have
//! been failing, tries [`Store::probe_write`] to learn whether they work
//! again (a node taken out of its load balancer gets no writes to learn
//! that from).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{
    Ban, EventOutcome, ImportedRecording, ImportedRoom, MemberChange, MemberOrder, NewMember,
    NewRecording, NewSession, PoolStats, RecordingFile, RecordingKey, RecordingOutcome, Report,
    RoomKey, RoomScope, SessionOutcome, Store, StoreResult, StreamEvent,
};
use minilvb_protocol::{
    Counted, Group, MemberInfo, Page, PusherInfo, SharedMembers, SharedPage, SharedPusher,
};

pub struct WriteHealth {
    inner: Arc<dyn Store>,
    /// Set by a failed write, cleared by a successful one.
    failing: AtomicBool,
    /// The last failed write's error.
    reason: Mutex<String>,
}

impl WriteHealth {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            failing: AtomicBool::new(false),
            reason: Mutex::new(String::new()),
        }
    }

    fn note<T>(&self, result: StoreResult<T>) -> StoreResult<T> {
        match &result {
            Ok(_) => {
                if self.failing.load(Ordering::Relaxed) {
                    self.failing.store(false, Ordering::Relaxed);
                }
            }
            Err(error) => {
                *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = error.to_string();
                self.failing.store(true, Ordering::Relaxed);
            }
        }
        result
    }
}

#[async_trait]
impl Store for WriteHealth {
    // Writes: noted.

    async fn start_session(&self, session: &NewSession) -> StoreResult<SessionOutcome> {
        self.note(self.inner.start_session(session).await)
    }

    async fn set_online(&self, userid: &str, online: bool, now: i64) -> StoreResult<bool> {
        self.note(self.inner.set_online(userid, online, now).await)
    }

    async fn add_likes(&self, target: &Counted, delta: i64) -> StoreResult<bool> {
        self.note(self.inner.add_likes(target, delta).await)
    }

    async fn add_likes_many(&self, batch: &[(Counted, i64)]) -> StoreResult<Vec<bool>> {
        self.note(self.inner.add_likes_many(batch).await)
    }

    async fn enter(&self, group: &Group, member: &NewMember) -> StoreResult<bool> {
        self.note(self.inner.enter(group, member).await)
    }

    async fn quit(&self, group: &Group, userid: &str) -> StoreResult<()> {
        self.note(self.inner.quit(group, userid).await)
    }

    async fn change_members(&self, changes: &[MemberChange]) -> StoreResult<Vec<Option<i64>>> {
        self.note(self.inner.change_members(changes).await)
    }

    async fn put_recording(&self, recording: &NewRecording) -> StoreResult<()> {
        self.note(self.inner.put_recording(recording).await)
    }

    async fn stream_event(&self, event: &StreamEvent) -> StoreResult<EventOutcome> {
        self.note(self.inner.stream_event(event).await)
    }

    async fn add_recording_file(&self, file: &RecordingFile) -> StoreResult<RecordingOutcome> {
        self.note(self.inner.add_recording_file(file).await)
    }

    async fn set_snapshot(&self, stream_id: &str, url: &str, taken_at: i64) -> StoreResult<bool> {
        self.note(self.inner.set_snapshot(stream_id, url, taken_at).await)
    }

    async fn expire_online(&self, cutoff: i64) -> StoreResult<u64> {
        self.note(self.inner.expire_online(cutoff).await)
    }

    async fn add_report(&self, reporter: &str, reported: &str, now: i64) -> StoreResult<i64> {
        self.note(self.inner.add_report(reporter, reported, now).await)
    }

    async fn resolve_report(&self, id: i64, resolution: &str, now: i64) -> StoreResult<bool> {
        self.note(self.inner.resolve_report(id, resolution, now).await)
    }

    async fn ban(&self, userid: &str, reason: &str, now: i64) -> StoreResult<bool> {
        self.note(self.inner.ban(userid, reason, now).await)
    }

    async fn unban(&self, userid: &str) -> StoreResult<bool> {
        self.note(self.inner.unban(userid).await)
    }

    async fn delete_recording(&self, userid: &str, fileid: &str) -> StoreResult<bool> {
        self.note(self.inner.delete_recording(userid, fileid).await)
    }

    async fn import_room(&self, room: &ImportedRoom) -> StoreResult<SessionOutcome> {
        self.note(self.inner.import_room(room).await)
    }

    async fn import_recording(&self, recording: &ImportedRecording) -> StoreResult<()> {
        self.note(self.inner.import_recording(recording).await)
    }

    async fn import_members(&self, group: &Group, members: &[NewMember]) -> StoreResult<bool> {
        self.note(self.inner.import_members(group, members).await)
    }

    async fn probe_write(&self, now: i64) -> StoreResult<()> {
        self.note(self.inner.probe_write(now).await)
    }

    fn write_failure(&self) -> Option<String> {
        self.failing.load(Ordering::Relaxed).then(|| {
            self.reason
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        })
    }

    // Reads: passed on.

    async fn stream_id_of(&self, userid: &str) -> StoreResult<Option<String>> {
        self.inner.stream_id_of(userid).await
    }

    async fn exists(&self, target: &Counted) -> StoreResult<bool> {
        self.inner.exists(target).await
    }

    async fn members(
        &self,
        group: &Group,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(i64, Vec<MemberInfo>)> {
        self.inner.members(group, order, page).await
    }

    async fn members_named(
        &self,
        anchor: &str,
        groupid: &str,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(Group, i64, Arc<SharedMembers>)> {
        self.inner.members_named(anchor, groupid, order, page).await
    }

    async fn count_rooms(&self, scope: RoomScope) -> StoreResult<i64> {
        self.inner.count_rooms(scope).await
    }

    async fn rooms(
        &self,
        scope: RoomScope,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<PusherInfo>> {
        self.inner.rooms(scope, offset, limit).await
    }

    async fn count_recordings(&self, since: i64) -> StoreResult<i64> {
        self.inner.count_recordings(since).await
    }

    async fn recordings(
        &self,
        since: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<PusherInfo>> {
        self.inner.recordings(since, offset, limit).await
    }

    async fn room_keys(&self) -> StoreResult<Vec<RoomKey>> {
        self.inner.room_keys().await
    }

    async fn recording_keys(&self) -> StoreResult<Vec<RecordingKey>> {
        self.inner.recording_keys().await
    }

    async fn rooms_by_userid(&self, userids: &[&str]) -> StoreResult<Vec<PusherInfo>> {
        self.inner.rooms_by_userid(userids).await
    }

    async fn recordings_by_key(&self, keys: &[(&str, &str)]) -> StoreResult<Vec<PusherInfo>> {
        self.inner.recordings_by_key(keys).await
    }

    async fn pusher(&self, target: &Counted) -> StoreResult<Option<PusherInfo>> {
        self.inner.pusher(target).await
    }

    async fn shown_rooms(
        &self,
        scope: RoomScope,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Arc<SharedPage>> {
        self.inner.shown_rooms(scope, offset, limit).await
    }

    async fn shown_recordings(
        &self,
        since: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Arc<SharedPage>> {
        self.inner.shown_recordings(since, offset, limit).await
    }

    async fn shown_pusher(&self, target: &Counted) -> StoreResult<Option<Arc<SharedPusher>>> {
        self.inner.shown_pusher(target).await
    }

    async fn reports(&self, include_resolved: bool) -> StoreResult<Vec<Report>> {
        self.inner.reports(include_resolved).await
    }

    async fn is_banned(&self, userid: &str) -> StoreResult<bool> {
        self.inner.is_banned(userid).await
    }

    async fn bans(&self) -> StoreResult<Vec<Ban>> {
        self.inner.bans().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }

    async fn count_members(&self) -> StoreResult<i64> {
        self.inner.count_members().await
    }

    async fn analyze(&self) -> StoreResult<()> {
        self.inner.analyze().await
    }

    async fn foreign_writes(&self) -> StoreResult<Option<u64>> {
        self.inner.foreign_writes().await
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        self.inner.pool_stats()
    }

    async fn close(&self) {
        self.inner.close().await
    }
}
