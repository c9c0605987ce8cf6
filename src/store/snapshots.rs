//! List snapshots: the order of the public lists kept in memory.
//!
//! FetchList must count what it lists, and counting 50 000 recordings (or
//! skipping to a deep page) costs milliseconds in any database. Everyone
//! refreshes the lists, but their order changes only when a room starts a
//! session, goes on- or offline, a recording arrives or goes, or a user is
//! banned. So this decorator keeps the order (keys only) in memory, rebuilt
//! after such a write and at least every `database.list_snapshot_ms` (for
//! writes made by other nodes or processes), and reads each page's rows
//! fresh by key: counts and titles are always current. Writes through this
//! store are seen by the next list; other nodes' writes within the interval.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{
    Ban, EventOutcome, ImportedRecording, ImportedRoom, NewMember, NewRecording, NewSession,
    PoolStats, RecordingFile, RecordingKey, RecordingOutcome, Report, RoomKey, RoomScope,
    SessionOutcome, Store, StoreResult, StreamEvent,
};
use crate::config::MemberOrder;
use crate::protocol::{Counted, Group, MemberInfo, Page, PusherInfo};

/// One cached value, rebuilt when stale; one rebuild at a time.
struct Cached<T> {
    /// Bumped by every write that changes the value.
    version: AtomicU64,
    current: RwLock<Option<(u64, Instant, Arc<T>)>>,
    rebuilding: tokio::sync::Mutex<()>,
}

impl<T> Cached<T> {
    fn new() -> Self {
        Self {
            version: AtomicU64::new(0),
            current: RwLock::new(None),
            rebuilding: tokio::sync::Mutex::new(()),
        }
    }

    fn invalidate(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    fn lookup(&self, ttl: Duration) -> Lookup<T> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        match current.as_ref() {
            Some((version, built, value)) if *version == self.version.load(Ordering::SeqCst) => {
                if built.elapsed() < ttl {
                    Lookup::Fresh(Arc::clone(value))
                } else {
                    Lookup::Old(Arc::clone(value))
                }
            }
            _ => Lookup::Stale,
        }
    }

    async fn get<F, Fut>(&self, ttl: Duration, load: F) -> StoreResult<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<T>>,
    {
        let _one_at_a_time = match self.lookup(ttl) {
            Lookup::Fresh(value) => return Ok(value),
            // Only other nodes' writes can be missing from an old value: one
            // request refreshes it while the others still use it, so the
            // periodic rebuild never stalls the lists.
            Lookup::Old(value) => match self.rebuilding.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(value),
            },
            // This node changed the order: wait for the new one.
            Lookup::Stale => {
                let guard = self.rebuilding.lock().await;
                if let Lookup::Fresh(value) = self.lookup(ttl) {
                    return Ok(value);
                }
                guard
            }
        };
        // Read the version first: a write committed during the load bumps
        // it, so what we build is then already stale and built again.
        let version = self.version.load(Ordering::SeqCst);
        let value = Arc::new(load().await?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) =
            Some((version, Instant::now(), Arc::clone(&value)));
        Ok(value)
    }
}

enum Lookup<T> {
    /// Built after this node's last change to it, within the interval.
    Fresh(Arc<T>),
    /// Built after this node's last change, but longer ago than the interval.
    Old(Arc<T>),
    /// Missing, or this node changed the order since it was built.
    Stale,
}

/// The rooms of users not banned, newest session first.
struct RoomOrder {
    listed: Vec<String>,
    online: Vec<String>,
}

/// A store whose public room and recording lists come from snapshots.
pub struct ListSnapshots {
    inner: Arc<dyn Store>,
    ttl: Duration,
    rooms: Cached<RoomOrder>,
    recordings: Cached<Vec<RecordingKey>>,
}

impl ListSnapshots {
    pub fn new(inner: Arc<dyn Store>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            rooms: Cached::new(),
            recordings: Cached::new(),
        }
    }

    async fn room_order(&self) -> StoreResult<Arc<RoomOrder>> {
        self.rooms
            .get(self.ttl, || async {
                let keys: Vec<RoomKey> = self.inner.room_keys().await?;
                let online = keys
                    .iter()
                    .filter(|k| k.online)
                    .map(|k| k.userid.clone())
                    .collect();
                let listed = keys.into_iter().map(|k| k.userid).collect();
                Ok(RoomOrder { listed, online })
            })
            .await
    }

    async fn recording_order(&self) -> StoreResult<Arc<Vec<RecordingKey>>> {
        self.recordings
            .get(self.ttl, || self.inner.recording_keys())
            .await
    }

    /// Recordings ending at or after `since`: a prefix of the order.
    fn recent(keys: &[RecordingKey], since: i64) -> &[RecordingKey] {
        &keys[..keys.partition_point(|k| k.end_time >= since)]
    }
}

/// The part of `items` a page at `offset` of `limit` covers.
fn window<T>(items: &[T], offset: i64, limit: i64) -> &[T] {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(items.len());
    let len = usize::try_from(limit).unwrap_or(0);
    &items[start..start.saturating_add(len).min(items.len())]
}

/// Puts rows fetched in any order into the order of `keys`, dropping keys
/// whose row is gone.
fn in_order<K>(
    keys: &[K],
    mut rows: Vec<PusherInfo>,
    is: impl Fn(&PusherInfo, &K) -> bool,
) -> Vec<PusherInfo> {
    let mut ordered = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(at) = rows.iter().position(|row| is(row, key)) {
            ordered.push(rows.swap_remove(at));
        }
    }
    ordered
}

#[async_trait]
impl Store for ListSnapshots {
    async fn count_rooms(&self, scope: RoomScope) -> StoreResult<i64> {
        let order = match scope {
            RoomScope::All => return self.inner.count_rooms(scope).await,
            _ => self.room_order().await?,
        };
        let keys = if scope == RoomScope::Online {
            &order.online
        } else {
            &order.listed
        };
        Ok(keys.len() as i64)
    }

    async fn rooms(
        &self,
        scope: RoomScope,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<PusherInfo>> {
        let order = match scope {
            RoomScope::All => return self.inner.rooms(scope, offset, limit).await,
            _ => self.room_order().await?,
        };
        let keys = if scope == RoomScope::Online {
            &order.online
        } else {
            &order.listed
        };
        let page: Vec<&str> = window(keys, offset, limit)
            .iter()
            .map(String::as_str)
            .collect();
        let rows = self.inner.rooms_by_userid(&page).await?;
        Ok(in_order(&page, rows, |row, userid| row.userid == *userid))
    }

    async fn count_recordings(&self, since: i64) -> StoreResult<i64> {
        let order = self.recording_order().await?;
        Ok(Self::recent(&order, since).len() as i64)
    }

    async fn recordings(
        &self,
        since: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<PusherInfo>> {
        let order = self.recording_order().await?;
        let page: Vec<(&str, &str)> = window(Self::recent(&order, since), offset, limit)
            .iter()
            .map(|k| (k.userid.as_str(), k.fileid.as_str()))
            .collect();
        let rows = self.inner.recordings_by_key(&page).await?;
        Ok(in_order(&page, rows, |row, (userid, fileid)| {
            row.userid == *userid && row.fileid == *fileid
        }))
    }

    // Writes that change the lists' order invalidate the snapshots.

    async fn start_session(&self, session: &NewSession) -> StoreResult<SessionOutcome> {
        let outcome = self.inner.start_session(session).await;
        self.rooms.invalidate();
        outcome
    }

    async fn set_online(&self, userid: &str, online: bool, now: i64) -> StoreResult<bool> {
        let outcome = self.inner.set_online(userid, online, now).await;
        self.rooms.invalidate();
        outcome
    }

    async fn stream_event(&self, event: &StreamEvent) -> StoreResult<EventOutcome> {
        let outcome = self.inner.stream_event(event).await;
        self.rooms.invalidate();
        outcome
    }

    async fn expire_online(&self, cutoff: i64) -> StoreResult<u64> {
        let outcome = self.inner.expire_online(cutoff).await;
        self.rooms.invalidate();
        outcome
    }

    async fn put_recording(&self, recording: &NewRecording) -> StoreResult<()> {
        let outcome = self.inner.put_recording(recording).await;
        self.recordings.invalidate();
        outcome
    }

    async fn import_room(&self, room: &ImportedRoom) -> StoreResult<SessionOutcome> {
        let outcome = self.inner.import_room(room).await;
        self.rooms.invalidate();
        outcome
    }

    async fn import_recording(&self, recording: &ImportedRecording) -> StoreResult<()> {
        let outcome = self.inner.import_recording(recording).await;
        self.recordings.invalidate();
        outcome
    }

    async fn add_recording_file(&self, file: &RecordingFile) -> StoreResult<RecordingOutcome> {
        let outcome = self.inner.add_recording_file(file).await;
        self.recordings.invalidate();
        outcome
    }

    async fn delete_recording(&self, userid: &str, fileid: &str) -> StoreResult<bool> {
        let outcome = self.inner.delete_recording(userid, fileid).await;
        self.recordings.invalidate();
        outcome
    }

    async fn ban(&self, userid: &str, reason: &str, now: i64) -> StoreResult<bool> {
        let outcome = self.inner.ban(userid, reason, now).await;
        self.rooms.invalidate();
        self.recordings.invalidate();
        outcome
    }

    async fn unban(&self, userid: &str) -> StoreResult<bool> {
        let outcome = self.inner.unban(userid).await;
        self.rooms.invalidate();
        self.recordings.invalidate();
        outcome
    }

    // Everything else passes through.

    async fn stream_id_of(&self, userid: &str) -> StoreResult<Option<String>> {
        self.inner.stream_id_of(userid).await
    }

    async fn add_likes(&self, target: &Counted, delta: i64) -> StoreResult<bool> {
        self.inner.add_likes(target, delta).await
    }

    async fn import_members(&self, group: &Group, members: &[NewMember]) -> StoreResult<bool> {
        self.inner.import_members(group, members).await
    }

    async fn exists(&self, target: &Counted) -> StoreResult<bool> {
        self.inner.exists(target).await
    }

    async fn enter(&self, group: &Group, member: &NewMember) -> StoreResult<bool> {
        self.inner.enter(group, member).await
    }

    async fn quit(&self, group: &Group, userid: &str) -> StoreResult<()> {
        self.inner.quit(group, userid).await
    }

    async fn members(
        &self,
        group: &Group,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(i64, Vec<MemberInfo>)> {
        self.inner.members(group, order, page).await
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

    async fn set_snapshot(&self, stream_id: &str, url: &str, taken_at: i64) -> StoreResult<bool> {
        self.inner.set_snapshot(stream_id, url, taken_at).await
    }

    async fn add_report(&self, reporter: &str, reported: &str, now: i64) -> StoreResult<i64> {
        self.inner.add_report(reporter, reported, now).await
    }

    async fn reports(&self, include_resolved: bool) -> StoreResult<Vec<Report>> {
        self.inner.reports(include_resolved).await
    }

    async fn resolve_report(&self, id: i64, resolution: &str, now: i64) -> StoreResult<bool> {
        self.inner.resolve_report(id, resolution, now).await
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

    fn pool_stats(&self) -> Vec<PoolStats> {
        self.inner.pool_stats()
    }

    async fn close(&self) {
        self.inner.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_clamp() {
        let items = [1, 2, 3, 4, 5];
        assert_eq!(window(&items, 0, 2), &[1, 2]);
        assert_eq!(window(&items, 4, 20), &[5]);
        assert_eq!(window(&items, 5, 20), &[] as &[i32]);
        assert_eq!(window(&items, i64::MAX, i64::MAX), &[] as &[i32]);
    }
}
