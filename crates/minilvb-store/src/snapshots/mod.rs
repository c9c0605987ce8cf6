//! List snapshots: the public lists' order, the rows they show and their
//! pages, kept in memory for at most `database.list_snapshot_ms`.
//!
//! FetchList must count what it lists, and counting 50 000 recordings (or
//! skipping to a deep page) costs milliseconds in any database. Everyone
//! refreshes the lists, but their order changes only when a room starts a
//! session, goes on- or offline, a recording arrives or goes, or a user is
//! banned. So this decorator keeps:
//!
//! - the order (keys only), rebuilt after such a write through this store
//!   (a status change or a new session of a room it lists is applied to it
//!   in place) and at least every `database.list_snapshot_ms` (unless
//!   nobody else wrote, see [`Epochs`]);
//! - the rows the pages showed (and GetUserInfo asked for, through
//!   [`Store::rendered_pusher`]), by key: a room by its anchor's userid, a
//!   recording by (userid, fileid), kept as the JSON the apps receive. A
//!   row is used for at most `database.list_snapshot_ms` after its read
//!   from the database began (longer while no other process writes, see
//!   [`Epochs`]). Likes and batched enters and quits through this store
//!   add their change to the count it shows; every other write through it
//!   that can change it drops it: single enters and quits, sessions,
//!   status changes, stream events and screenshots (these name a stream, so
//!   they drop every room row), recordings arriving, merging or going,
//!   imports, bans and expiry;
//! - the pages cut from the order, rendered: a page is shown again while
//!   its oldest row is within the interval and no write to any of its rows
//!   came since they were read (each row's key generation is checked), and
//!   goes with its order.
//!
//! So what this node wrote is in the very next list (and GetUserInfo) it
//! answers; other nodes' and processes' writes are within the interval. A
//! row read from the database before a write's invalidation is never kept,
//! nor a page shown, after it (see [`RowCache`]), so a slow read cannot
//! bring an older count back. `Store::pusher` is not cached: the member
//! list and the operator decide by it.
//!
//! Page 1 of each member list is kept too, where the database tells of
//! other processes' writes (SQLite), with this node's enters and quits
//! applied to it: see [`member_pages`].
//!
//! Rows and pages no longer good are swept as requests come; each list's
//! rows take at most `database.list_cache_mib` (the rows used longest ago
//! go first), and the pages of an order hold at most [`MAX_PAGE_ROWS`] rows.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use self::member_pages::{MAX_MEMBER_ROWS, MemberPages, NamedPage};
use super::{
    EventOutcome, MemberChange, NewMember, NewRecording, NewSession, RecordingFile, RecordingKey,
    RecordingOutcome, RoomKey, RoomScope, SessionOutcome, Store, StoreResult, StreamEvent,
};
use crate::settings::MemberOrder;
use crate::{Layer, Likes, Lists, Members, Recordings, Rooms, Written};
use minilvb_protocol::{Count, Counted, Group, Page, PusherInfo, SharedPage, SharedPusher};

mod epochs;
mod member_pages;
mod orders;
mod pages;
mod row_cache;
#[cfg(test)]
mod tests;

use epochs::*;
use orders::*;
use pages::*;
use row_cache::*;

/// Rows found or read for a page, with what its cached copy needs.
struct Rows {
    rows: Vec<Arc<SharedPusher>>,
    stamps: Vec<Stamp>,
    /// The oldest row's read, in their epoch if they share one (else 0).
    read: Read,
    /// Every key had its row.
    complete: bool,
}

/// A store whose public room and recording lists come from snapshots.
pub struct ListSnapshots {
    inner: Arc<dyn Store>,
    epochs: Arc<Epochs>,
    rooms: Cached<RoomOrder>,
    recordings: Cached<RecordingOrder>,
    room_rows: RowCache,
    recording_rows: RowCache,
    max_page_rows: usize,
    member_pages: MemberPages,
}

impl ListSnapshots {
    /// Keeps what it read for `ttl` (and past it while no other process
    /// writes, where the database tells); the rows of each list take at
    /// most about `max_row_bytes`.
    pub fn new(inner: Arc<dyn Store>, ttl: Duration, max_row_bytes: usize) -> Self {
        let epochs = Arc::new(Epochs::new(ttl));
        Self {
            inner,
            rooms: Cached::new(),
            recordings: Cached::new(),
            room_rows: RowCache::new(Arc::clone(&epochs), max_row_bytes),
            recording_rows: RowCache::new(Arc::clone(&epochs), max_row_bytes),
            max_page_rows: MAX_PAGE_ROWS,
            member_pages: MemberPages::new(Arc::clone(&epochs), MAX_MEMBER_ROWS),
            epochs,
        }
    }

    async fn room_order(&self) -> StoreResult<Arc<RoomOrder>> {
        self.epochs.check(&*self.inner).await;
        self.rooms
            .get(&self.epochs, || async {
                let keys: Vec<RoomKey> = self.inner.room_keys().await?;
                let status = keys.iter().map(|k| k.online).collect();
                let started = keys.iter().map(|k| k.started_at).collect();
                let listed = keys.into_iter().map(|k| Arc::from(k.userid)).collect();
                Ok(RoomOrder::new(listed, status, started, self.pages()))
            })
            .await
    }

    async fn recording_order(&self) -> StoreResult<Arc<RecordingOrder>> {
        self.epochs.check(&*self.inner).await;
        self.recordings
            .get(&self.epochs, || async {
                Ok(RecordingOrder {
                    keys: self.inner.recording_keys().await?,
                    last_recent: AtomicU64::new(u64::MAX),
                    pages: self.pages(),
                })
            })
            .await
    }

    fn pages(&self) -> Pages {
        Pages::new(Arc::clone(&self.epochs), self.max_page_rows)
    }

    fn cache(&self, key: Key<'_>) -> &RowCache {
        match key {
            Key::Room(_) => &self.room_rows,
            Key::Recording(..) => &self.recording_rows,
        }
    }

    /// A page of an order: the one kept, else built from the rows of the
    /// `keys` it shows (all rooms or all recordings).
    async fn page<'k>(
        &self,
        pages: &Pages,
        at: (List, usize, usize),
        keys: impl FnOnce() -> Vec<Key<'k>>,
    ) -> StoreResult<Arc<SharedPage>> {
        if at.1 == at.2 {
            return Ok(SharedPage::new(Vec::new()));
        }
        let cache = match at.0 {
            List::Online | List::Listed => &self.room_rows,
            List::Recordings => &self.recording_rows,
        };
        let now = Instant::now();
        if let Some(page) = pages.get(at, cache, now) {
            return Ok(page);
        }
        let keys = keys();
        let rows = self.rows(&keys, now).await?;
        let page = SharedPage::new(rows.rows);
        if rows.complete {
            let cached = CachedPage {
                page: Arc::clone(&page),
                stamps: rows.stamps.into_boxed_slice(),
                read: rows.read,
                used: 0,
            };
            pages.put(at, cached);
        }
        Ok(page)
    }

    /// The rows of `keys` (all rooms or all recordings), in their order;
    /// those missing from the cache read in one query. Keys whose row is
    /// gone are left out.
    async fn rows(&self, keys: &[Key<'_>], now: Instant) -> StoreResult<Rows> {
        let Some(&first) = keys.first() else {
            return Ok(Rows {
                rows: Vec::new(),
                stamps: Vec::new(),
                read: self.epochs.read(now),
                complete: true,
            });
        };
        let cache = self.cache(first);
        let mut found = Vec::with_capacity(keys.len());
        let mut stamps = Vec::with_capacity(keys.len());
        let mut oldest: Option<Read> = None;
        let mut epochs = Vec::with_capacity(keys.len());
        let mut missing = Vec::with_capacity(keys.len());
        for (at, &key) in keys.iter().enumerate() {
            let read = match cache.get(key, now) {
                Ok(hit) => {
                    found.push(Some(hit.row));
                    stamps.push(hit.stamp);
                    hit.read
                }
                Err(ticket) => {
                    found.push(None);
                    stamps.push(ticket.stamp());
                    missing.push((at, ticket));
                    ticket.read
                }
            };
            epochs.push(read.epoch);
            oldest = Some(oldest.map_or(read, |o| if read.at < o.at { read } else { o }));
        }
        let mut read = oldest.unwrap_or_else(|| self.epochs.read(now));
        if epochs.iter().any(|&e| e != read.epoch) {
            read.epoch = 0;
        }
        if !missing.is_empty() {
            let read = match first {
                Key::Room(_) => {
                    let userids: Vec<&str> = missing
                        .iter()
                        .filter_map(|&(at, _)| match keys[at] {
                            Key::Room(userid) => Some(userid),
                            Key::Recording(..) => None,
                        })
                        .collect();
                    self.inner.rooms_by_userid(&userids).await?
                }
                Key::Recording(..) => {
                    let pairs: Vec<(&str, &str)> = missing
                        .iter()
                        .filter_map(|&(at, _)| match keys[at] {
                            Key::Recording(userid, fileid) => Some((userid, fileid)),
                            Key::Room(_) => None,
                        })
                        .collect();
                    self.inner.recordings_by_key(&pairs).await?
                }
            };
            for row in read.into_iter().map(SharedPusher::new) {
                let Some(&(at, ticket)) = missing.iter().find(|&&(at, _)| keys[at].shows(&row))
                else {
                    continue;
                };
                if found[at].is_none() {
                    cache.install(ticket, Arc::clone(&row));
                    found[at] = Some(row);
                }
            }
        }
        let complete = found.iter().all(Option::is_some);
        Ok(Rows {
            rows: found.into_iter().flatten().collect(),
            stamps,
            read,
            complete,
        })
    }

    /// After a write to one row.
    fn changed(&self, key: Key<'_>) {
        self.cache(key).invalidate(key);
    }

    /// A write about to change the row's count (see [`RowCache`]).
    fn begin_count<'a>(&'a self, key: Key<'a>) -> Writing<'a> {
        self.cache(key).begin_write(key)
    }

    /// The write is done: the row kept patched with how much the count
    /// moved, or dropped when that is not known (an error, a target gone).
    fn end_count(&self, writing: Writing<'_>, count: Count, moved: Option<i64>) {
        let cache = writing.cache;
        match moved {
            Some(0) => cache.end_write(writing, Some(&|row| Some(Arc::clone(row)))),
            Some(delta) => cache.end_write(writing, Some(&|row| row.with_count(count, delta))),
            None => cache.end_write(writing, None),
        }
    }
}

/// Where a page at `offset` of `limit` starts and ends in `len` items.
fn bounds(len: usize, offset: i64, limit: i64) -> (usize, usize) {
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(len);
    let size = usize::try_from(limit).unwrap_or(0);
    (start, start.saturating_add(size).min(len))
}

/// The part of `items` a page at `offset` of `limit` covers.
pub(super) fn window<T>(items: &[T], offset: i64, limit: i64) -> &[T] {
    let (start, end) = bounds(items.len(), offset, limit);
    &items[start..end]
}

/// Moderation, import and lookups pass through; what their writes change
/// is dropped once they are done.
impl Layer for ListSnapshots {
    fn below(&self) -> &dyn Store {
        &*self.inner
    }

    fn written(&self, write: Written<'_>) {
        match write {
            // A ban sets the room offline; it changes no recording's row
            // (only whether it is listed).
            Written::Ban { userid } => {
                self.rooms.invalidate();
                self.recordings.invalidate();
                self.changed(Key::Room(userid));
            }
            Written::RoomImported { userid } => {
                self.rooms.invalidate();
                self.changed(Key::Room(userid));
                self.member_pages.invalidate(userid);
            }
            Written::RecordingDeleted { userid, fileid }
            | Written::RecordingImported { userid, fileid } => {
                self.recordings.invalidate();
                self.changed(Key::Recording(userid, fileid));
                self.member_pages.invalidate(userid);
            }
            Written::MembersImported { group } => {
                self.changed(Key::group(group));
                self.member_pages.invalidate(group.anchor());
            }
            Written::Unknown => {
                self.rooms.invalidate();
                self.recordings.invalidate();
                self.room_rows.invalidate_all();
                self.recording_rows.invalidate_all();
                self.member_pages.invalidate_all();
            }
        }
    }
}

#[async_trait]
impl Rooms for ListSnapshots {
    // Writes invalidate, after they are done (or failed: they may have
    // been applied), the order they can change and the rows they can change.

    async fn start_session(&self, session: &NewSession) -> StoreResult<SessionOutcome> {
        let outcome = self.inner.start_session(session).await;
        match outcome {
            Ok(SessionOutcome::Started) => self.rooms.patch(|order| {
                order.with_session(&session.userid, session.started_at, self.pages())
            }),
            _ => self.rooms.invalidate(),
        }
        self.changed(Key::Room(&session.userid));
        self.member_pages.invalidate(&session.userid);
        outcome
    }

    async fn set_online(&self, userid: &str, online: bool, now: i64) -> StoreResult<bool> {
        let outcome = self.inner.set_online(userid, online, now).await;
        match outcome {
            Ok(true) => self
                .rooms
                .patch(|order| order.with_status(userid, online, self.pages())),
            _ => self.rooms.invalidate(),
        }
        self.changed(Key::Room(userid));
        outcome
    }

    async fn stream_event(&self, event: &StreamEvent) -> StoreResult<EventOutcome> {
        let outcome = self.inner.stream_event(event).await;
        self.rooms.invalidate();
        // By stream id: whose room, only the database knows.
        self.room_rows.invalidate_all();
        outcome
    }

    async fn set_snapshot(&self, stream_id: &str, url: &str, taken_at: i64) -> StoreResult<bool> {
        let outcome = self.inner.set_snapshot(stream_id, url, taken_at).await;
        self.room_rows.invalidate_all();
        outcome
    }

    async fn expire_online(&self, cutoff: i64) -> StoreResult<u64> {
        let outcome = self.inner.expire_online(cutoff).await;
        self.rooms.invalidate();
        self.room_rows.invalidate_all();
        outcome
    }
}

#[async_trait]
impl Likes for ListSnapshots {
    async fn add_likes(&self, target: &Counted, delta: i64) -> StoreResult<bool> {
        let writing = self.begin_count(Key::of(target));
        let outcome = self.inner.add_likes(target, delta).await;
        let moved = matches!(outcome, Ok(true)).then_some(delta);
        self.end_count(writing, Count::Likes, moved);
        outcome
    }

    async fn add_likes_many(&self, batch: &[(Counted, i64)]) -> StoreResult<Vec<bool>> {
        let writes: Vec<_> = batch
            .iter()
            .map(|(target, _)| self.begin_count(Key::of(target)))
            .collect();
        let outcome = self.inner.add_likes_many(batch).await;
        for (at, writing) in writes.into_iter().enumerate() {
            let found = outcome
                .as_ref()
                .is_ok_and(|found| found.get(at) == Some(&true));
            self.end_count(writing, Count::Likes, found.then_some(batch[at].1));
        }
        outcome
    }
}

#[async_trait]
impl Members for ListSnapshots {
    async fn enter(&self, group: &Group, member: &NewMember) -> StoreResult<bool> {
        let outcome = self.inner.enter(group, member).await;
        self.changed(Key::group(group));
        self.member_pages.invalidate(group.anchor());
        outcome
    }

    async fn quit(&self, group: &Group, userid: &str) -> StoreResult<()> {
        let outcome = self.inner.quit(group, userid).await;
        self.changed(Key::group(group));
        self.member_pages.invalidate(group.anchor());
        outcome
    }

    async fn change_members(&self, changes: &[MemberChange]) -> StoreResult<Vec<Option<i64>>> {
        let writes: Vec<_> = changes
            .iter()
            .map(|change| {
                let group = change.group();
                let pages = self.member_pages.begin_write(group.anchor());
                (self.begin_count(Key::group(group)), pages)
            })
            .collect();
        let outcome = self.inner.change_members(changes).await;
        for (at, (writing, pages)) in writes.into_iter().enumerate() {
            let moved = outcome
                .as_ref()
                .ok()
                .and_then(|moved| moved.get(at).copied().flatten());
            self.end_count(writing, Count::Viewers, moved);
            let applied = moved.map(|moved| (&changes[at], moved));
            self.member_pages.end_write(pages, applied);
        }
        outcome
    }

    /// Page 1 kept (see [`MemberPages`]); other pages read.
    async fn members_named(
        &self,
        anchor: &str,
        groupid: &str,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<NamedPage> {
        if page.offset() != 0 {
            return self.inner.members_named(anchor, groupid, order, page).await;
        }
        self.epochs.check(&*self.inner).await;
        let pages = &self.member_pages;
        let ticket = match pages.get(anchor, groupid, order, page.size, Instant::now()) {
            Ok(kept) => return Ok(kept),
            Err(ticket) => ticket,
        };
        let read = self
            .inner
            .members_named(anchor, groupid, order, page)
            .await?;
        if let Some(ticket) = ticket {
            pages.install(ticket, anchor, groupid, order, page.size, &read);
        }
        Ok(read)
    }
}

#[async_trait]
impl Lists for ListSnapshots {
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
        self.inner.rooms(scope, offset, limit).await
    }

    async fn rendered_rooms(
        &self,
        scope: RoomScope,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Arc<SharedPage>> {
        let order = match scope {
            RoomScope::All => return self.inner.rendered_rooms(scope, offset, limit).await,
            _ => self.room_order().await?,
        };
        let (list, userids) = match scope {
            RoomScope::Online => (List::Online, &order.online),
            _ => (List::Listed, &order.listed),
        };
        let (start, end) = bounds(userids.len(), offset, limit);
        let keys = || userids[start..end].iter().map(|u| Key::Room(u)).collect();
        self.page(&order.pages, (list, start, end), keys).await
    }

    async fn count_recordings(&self, since: i64) -> StoreResult<i64> {
        let order = self.recording_order().await?;
        Ok(order.recent(since).len() as i64)
    }

    async fn recordings(
        &self,
        since: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<PusherInfo>> {
        self.inner.recordings(since, offset, limit).await
    }

    async fn rendered_recordings(
        &self,
        since: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Arc<SharedPage>> {
        let order = self.recording_order().await?;
        let recent = order.recent(since);
        let (start, end) = bounds(recent.len(), offset, limit);
        let keys = || {
            recent[start..end]
                .iter()
                .map(|k| Key::Recording(&k.userid, &k.fileid))
                .collect()
        };
        self.page(&order.pages, (List::Recordings, start, end), keys)
            .await
    }

    async fn rendered_pusher(&self, target: &Counted) -> StoreResult<Option<Arc<SharedPusher>>> {
        self.epochs.check(&*self.inner).await;
        let key = Key::of(target);
        let cache = self.cache(key);
        let ticket = match cache.get(key, Instant::now()) {
            Ok(hit) => return Ok(Some(hit.row)),
            Err(ticket) => ticket,
        };
        let row = self.inner.pusher(target).await?.map(SharedPusher::new);
        if let Some(row) = row.as_ref().filter(|row| key.shows(row)) {
            cache.install(ticket, Arc::clone(row));
        }
        Ok(row)
    }
}

#[async_trait]
impl Recordings for ListSnapshots {
    async fn put_recording(&self, recording: &NewRecording) -> StoreResult<()> {
        let outcome = self.inner.put_recording(recording).await;
        self.recordings.invalidate();
        self.changed(Key::Recording(&recording.userid, &recording.fileid));
        self.member_pages.invalidate(&recording.userid);
        outcome
    }

    async fn add_recording_file(&self, file: &RecordingFile) -> StoreResult<RecordingOutcome> {
        let outcome = self.inner.add_recording_file(file).await;
        self.recordings.invalidate();
        match &outcome {
            Ok(RecordingOutcome::Created { userid, fileid })
            | Ok(RecordingOutcome::Merged { userid, fileid }) => {
                self.changed(Key::Recording(userid, fileid));
                self.member_pages.invalidate(userid);
            }
            Ok(RecordingOutcome::Duplicate | RecordingOutcome::UnknownStream) => {}
            // Which recording it may have written, only the database knows.
            Err(_) => {
                self.recording_rows.invalidate_all();
                self.member_pages.invalidate_all();
            }
        }
        outcome
    }
}
