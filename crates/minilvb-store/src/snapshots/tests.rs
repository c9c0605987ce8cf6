//! Tests of the list snapshots: the row cache's race rule, expiry and
//! bounds on their own, then the decorator over an in-memory store whose
//! reads can be held after they read (a read that began before a write).
//! Nothing here waits on a clock: ages are given as instants.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

use tokio::sync::oneshot;

use super::*;
use crate::*;
use minilvb_protocol::MemberInfo;
use minilvb_protocol::UserInfo;

const HOUR: Duration = Duration::from_secs(3600);

fn room_row(userid: &str, likes: i64) -> PusherInfo {
    PusherInfo {
        userid: userid.into(),
        groupid: format!("{userid}-g"),
        timestamp: 0,
        kind: 0,
        viewercount: 0,
        likecount: likes,
        title: format!("live of {userid}"),
        playurl: format!("http://play/{userid}.flv"),
        fileid: String::new(),
        status: true,
        hls_play_url: format!("http://play/{userid}.m3u8"),
        userinfo: UserInfo::default(),
    }
}

fn recording_row(userid: &str, fileid: &str) -> PusherInfo {
    PusherInfo {
        groupid: fileid.into(),
        kind: 1,
        fileid: fileid.into(),
        status: false,
        ..room_row(userid, 0)
    }
}

#[test]
fn windows_clamp() {
    let items = [1, 2, 3, 4, 5];
    assert_eq!(window(&items, 0, 2), &[1, 2]);
    assert_eq!(window(&items, 4, 20), &[5]);
    assert_eq!(window(&items, 5, 20), &[] as &[i32]);
    assert_eq!(window(&items, i64::MAX, i64::MAX), &[] as &[i32]);
}

// The row cache alone.

/// Plenty for these tests' rows.
const BIG: usize = 64 << 20;

fn row_cache(ttl: Duration, max_bytes: usize) -> RowCache {
    RowCache::new(Arc::new(Epochs::new(ttl)), max_bytes)
}

/// What a room row of the tests takes in a cache.
fn row_size() -> usize {
    SharedPusher::new(room_row("u1000", 0)).size() + ROW_OVERHEAD
}

fn likes(cache: &RowCache, key: Key<'_>, now: Instant) -> Option<i64> {
    cache
        .get(key, now)
        .ok()
        .map(|hit| hit.row.shown().likecount)
}

#[test]
fn a_row_is_kept_for_its_key_until_a_write_to_it() {
    let cache = row_cache(HOUR, BIG);
    let now = Instant::now();
    let ticket = cache.get(Key::Room("a"), now).expect_err("empty");
    cache.install(ticket, SharedPusher::new(room_row("a", 1)));
    assert_eq!(likes(&cache, Key::Room("a"), now), Some(1));
    assert_eq!(likes(&cache, Key::Room("b"), now), None);
    assert!(
        cache.get(Key::Recording("a", ""), now).is_err(),
        "a recording is not a room"
    );
    cache.invalidate(Key::Room("b"));
    assert_eq!(likes(&cache, Key::Room("a"), now), Some(1), "another key");
    cache.invalidate(Key::Room("a"));
    assert_eq!(likes(&cache, Key::Room("a"), now), None);
}

#[test]
fn a_read_begun_before_a_write_is_not_kept_after_it() {
    let cache = row_cache(HOUR, BIG);
    let now = Instant::now();
    // A reader misses and reads the old row...
    let before = cache.get(Key::Room("a"), now).expect_err("empty");
    // ...a write commits and invalidates...
    cache.invalidate(Key::Room("a"));
    // ...then the reader installs what it read: refused.
    cache.install(before, SharedPusher::new(room_row("a", 0)));
    assert_eq!(likes(&cache, Key::Room("a"), now), None);
    assert_eq!(cache.len(), 0);
    // A read begun after the write is kept.
    let after = cache.get(Key::Room("a"), now).expect_err("still empty");
    cache.install(after, SharedPusher::new(room_row("a", 1)));
    assert_eq!(likes(&cache, Key::Room("a"), now), Some(1));
}

#[test]
fn a_read_begun_before_dropping_every_row_is_not_kept() {
    let cache = row_cache(HOUR, BIG);
    let now = Instant::now();
    let tickets: Vec<_> = (0..200)
        .map(|i| format!("u{i}"))
        .map(|userid| {
            let ticket = cache.get(Key::Room(&userid), now).expect_err("empty");
            (userid, ticket)
        })
        .collect();
    cache.invalidate_all();
    for (userid, ticket) in tickets {
        cache.install(ticket, SharedPusher::new(room_row(&userid, 0)));
    }
    assert_eq!(cache.len(), 0);
}

#[test]
fn a_row_written_before_its_invalidation_is_dropped_by_it() {
    let cache = row_cache(HOUR, BIG);
    let now = Instant::now();
    // The reader installs first, the write's invalidation comes after.
    let ticket = cache.get(Key::Recording("a", "f"), now).expect_err("empty");
    cache.install(ticket, SharedPusher::new(recording_row("a", "f")));
    assert!(cache.get(Key::Recording("a", "f"), now).is_ok());
    cache.invalidate(Key::Recording("a", "f"));
    assert!(cache.get(Key::Recording("a", "f"), now).is_err());
}

#[test]
fn rows_expire_after_the_interval_from_their_read() {
    let ttl = Duration::from_millis(1000);
    let cache = row_cache(ttl, BIG);
    let read = Instant::now();
    let ticket = cache.get(Key::Room("a"), read).expect_err("empty");
    cache.install(ticket, SharedPusher::new(room_row("a", 1)));
    let almost = read + ttl - Duration::from_millis(1);
    assert_eq!(likes(&cache, Key::Room("a"), almost), Some(1));
    assert_eq!(likes(&cache, Key::Room("a"), read + ttl), None);
}

#[test]
fn the_fresher_of_two_reads_is_kept() {
    let cache = row_cache(HOUR, BIG);
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_millis(5);
    let early = cache.get(Key::Room("a"), t0).expect_err("empty");
    let late = cache.get(Key::Room("a"), t1).expect_err("empty");
    cache.install(late, SharedPusher::new(room_row("a", 2)));
    cache.install(early, SharedPusher::new(room_row("a", 1)));
    assert_eq!(likes(&cache, Key::Room("a"), t1), Some(2));
}

#[test]
fn expired_rows_are_swept_and_the_cache_is_bounded() {
    let ttl = Duration::from_millis(1000);
    let bound = 640 * row_size();
    let cache = row_cache(ttl, bound);
    let read = Instant::now();
    let userids: Vec<String> = (0..5000).map(|i| format!("u{i}")).collect();
    for userid in &userids {
        if let Err(ticket) = cache.get(Key::Room(userid), read) {
            cache.install(ticket, SharedPusher::new(room_row(userid, 0)));
        }
    }
    let kept = cache.len();
    assert!(kept > 320 && kept <= 640, "{kept} rows kept");
    assert!(cache.bytes() <= bound, "{} bytes kept", cache.bytes());
    // Any access to a shard after the interval sweeps it. (Counted from
    // now: `install` stamps its sweeps with the clock, and filling the
    // cache can take a while on a loaded machine.)
    let later = Instant::now() + 2 * ttl;
    for userid in &userids {
        assert!(cache.get(Key::Room(userid), later).is_err());
    }
    assert_eq!(cache.len(), 0);
}

// The decorator over an in-memory store.

/// Rows in memory; reads counted per key, and the next read can be held
/// after it read (until the test lets it go on).
#[derive(Default)]
struct Memory {
    rooms: Mutex<HashMap<String, PusherInfo>>,
    recordings: Mutex<HashMap<(String, String), PusherInfo>>,
    reads: Mutex<HashMap<String, usize>>,
    row_reads: AtomicUsize,
    /// What `foreign_writes` answers.
    foreign: Mutex<Option<u64>>,
    /// Whole-order reads (`room_keys`).
    order_reads: AtomicUsize,
    hold: Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
    /// Held after a like is applied, before it answers (a commit done, its
    /// reply not yet back): see [`Memory::hold_next_like`].
    hold_like: Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
}

/// What a test holds of a read held by [`Memory::hold_next_read`].
struct Held {
    read: oneshot::Receiver<()>,
    go_on: oneshot::Sender<()>,
}

impl Memory {
    fn with(rooms: &[&str], recordings: &[(&str, &str)]) -> Arc<Self> {
        let memory = Memory::default();
        for userid in rooms {
            memory
                .rooms
                .lock()
                .unwrap()
                .insert(userid.to_string(), room_row(userid, 0));
        }
        for (userid, fileid) in recordings {
            memory.recordings.lock().unwrap().insert(
                (userid.to_string(), fileid.to_string()),
                recording_row(userid, fileid),
            );
        }
        Arc::new(memory)
    }

    fn hold_next_read(&self) -> Held {
        let (read_tx, read) = oneshot::channel();
        let (go_on, go_on_rx) = oneshot::channel();
        *self.hold.lock().unwrap() = Some((read_tx, go_on_rx));
        Held { read, go_on }
    }

    /// Holds the next like once it is applied, until `go_on`.
    fn hold_next_like(&self) -> Held {
        let (applied_tx, applied) = oneshot::channel();
        let (go_on, go_on_rx) = oneshot::channel();
        *self.hold_like.lock().unwrap() = Some((applied_tx, go_on_rx));
        Held {
            read: applied,
            go_on,
        }
    }

    /// The target's row as it is, not counted as a read.
    fn row(&self, target: &Counted) -> Option<PusherInfo> {
        match target {
            Counted::Room { userid } => self.rooms.lock().unwrap().get(userid).cloned(),
            Counted::Recording { userid, fileid } => self
                .recordings
                .lock()
                .unwrap()
                .get(&(userid.clone(), fileid.clone()))
                .cloned(),
        }
    }

    /// Reads of the room order so far.
    fn order_reads(&self) -> usize {
        self.order_reads.load(Ordering::SeqCst)
    }

    /// A room another process created.
    fn add_room(&self, userid: &str) {
        self.rooms
            .lock()
            .unwrap()
            .insert(userid.into(), room_row(userid, 0));
    }

    /// Rows read so far by key (`room:USERID`, `recording:USERID/FILEID`).
    fn reads_of(&self, key: &str) -> usize {
        self.reads.lock().unwrap().get(key).copied().unwrap_or(0)
    }

    fn count(&self, key: String) {
        *self.reads.lock().unwrap().entry(key).or_default() += 1;
        self.row_reads.fetch_add(1, Ordering::SeqCst);
    }

    /// After reading: waits if the test holds this read.
    async fn held(&self) {
        let hold = self.hold.lock().unwrap().take();
        if let Some((read, go_on)) = hold {
            let _ = read.send(());
            let _ = go_on.await;
        }
    }

    fn change(&self, target: &Counted, change: impl FnOnce(&mut PusherInfo)) -> bool {
        match target {
            Counted::Room { userid } => self
                .rooms
                .lock()
                .unwrap()
                .get_mut(userid)
                .map(|row| {
                    change(row);
                })
                .is_some(),
            Counted::Recording { userid, fileid } => self
                .recordings
                .lock()
                .unwrap()
                .get_mut(&(userid.clone(), fileid.clone()))
                .map(|row| {
                    change(row);
                })
                .is_some(),
        }
    }
}

fn counted(group: &Group) -> Counted {
    match group {
        Group::Room { anchor, .. } => Counted::Room {
            userid: anchor.clone(),
        },
        Group::Recording { anchor, fileid } => Counted::Recording {
            userid: anchor.clone(),
            fileid: fileid.clone(),
        },
    }
}

#[async_trait]
impl Rooms for Memory {
    // The other writes change nothing here: the tests count re-reads.

    async fn start_session(&self, session: &NewSession) -> StoreResult<SessionOutcome> {
        // Offline until its stream begins (the order here is by userid).
        if let Some(room) = self.rooms.lock().unwrap().get_mut(&session.userid) {
            room.status = false;
        }
        Ok(SessionOutcome::Started)
    }

    async fn set_online(&self, userid: &str, online: bool, _: i64) -> StoreResult<bool> {
        let mut rooms = self.rooms.lock().unwrap();
        let room = rooms.get_mut(userid);
        Ok(room.map(|room| room.status = online).is_some())
    }

    async fn stream_event(&self, _: &StreamEvent) -> StoreResult<EventOutcome> {
        Ok(EventOutcome::Applied)
    }

    async fn set_snapshot(&self, _: &str, _: &str, _: i64) -> StoreResult<bool> {
        Ok(true)
    }

    async fn expire_online(&self, _: i64) -> StoreResult<u64> {
        Ok(1)
    }
}

#[async_trait]
impl Likes for Memory {
    async fn add_likes(&self, target: &Counted, delta: i64) -> StoreResult<bool> {
        let found = self.change(target, |row| row.likecount += delta);
        let held = self.hold_like.lock().unwrap().take();
        if let Some((applied, go_on)) = held {
            let _ = applied.send(());
            let _ = go_on.await;
        }
        Ok(found)
    }

    async fn add_likes_many(&self, batch: &[(Counted, i64)]) -> StoreResult<Vec<bool>> {
        Ok(batch
            .iter()
            .map(|(target, delta)| self.change(target, |row| row.likecount += delta))
            .collect())
    }
}

#[async_trait]
impl Members for Memory {
    async fn enter(&self, group: &Group, _: &NewMember) -> StoreResult<bool> {
        Ok(self.change(&counted(group), |row| row.viewercount += 1))
    }

    async fn quit(&self, group: &Group, _: &str) -> StoreResult<()> {
        self.change(&counted(group), |row| row.viewercount -= 1);
        Ok(())
    }

    async fn change_members(&self, changes: &[MemberChange]) -> StoreResult<Vec<Option<i64>>> {
        Ok(changes
            .iter()
            .map(|change| match change {
                MemberChange::Enter { group, .. } => self
                    .change(&counted(group), |row| row.viewercount += 1)
                    .then_some(1),
                MemberChange::Quit { group, .. } => {
                    let left = self.change(&counted(group), |row| row.viewercount -= 1);
                    Some(if left { -1 } else { 0 })
                }
            })
            .collect())
    }
}

#[async_trait]
impl Lists for Memory {
    async fn count_rooms(&self, _: RoomScope) -> StoreResult<i64> {
        unimplemented!()
    }

    async fn rooms(&self, _: RoomScope, _: i64, _: i64) -> StoreResult<Vec<PusherInfo>> {
        unimplemented!()
    }

    async fn count_recordings(&self, _: i64) -> StoreResult<i64> {
        unimplemented!()
    }

    async fn recordings(&self, _: i64, _: i64, _: i64) -> StoreResult<Vec<PusherInfo>> {
        unimplemented!()
    }
}

#[async_trait]
impl Recordings for Memory {
    async fn put_recording(&self, _: &NewRecording) -> StoreResult<()> {
        Ok(())
    }

    async fn add_recording_file(&self, file: &RecordingFile) -> StoreResult<RecordingOutcome> {
        match file.stream_id.as_str() {
            "fails" => Err(crate::StoreError::Timeout(Duration::ZERO)),
            _ => Ok(RecordingOutcome::Merged {
                userid: "a".into(),
                fileid: file.fileid.clone(),
            }),
        }
    }
}

#[async_trait]
impl Lookups for Memory {
    async fn rooms_by_userid(&self, userids: &[&str]) -> StoreResult<Vec<PusherInfo>> {
        let rows: Vec<PusherInfo> = {
            let rooms = self.rooms.lock().unwrap();
            userids
                .iter()
                .filter_map(|u| rooms.get(*u).cloned())
                .collect()
        };
        rows.iter()
            .for_each(|r| self.count(format!("room:{}", r.userid)));
        self.held().await;
        Ok(rows)
    }

    async fn room_streams(&self) -> StoreResult<Vec<RoomStream>> {
        unimplemented!()
    }

    async fn recordings_by_key(&self, keys: &[(&str, &str)]) -> StoreResult<Vec<PusherInfo>> {
        let rows: Vec<PusherInfo> = {
            let recordings = self.recordings.lock().unwrap();
            keys.iter()
                .filter_map(|(u, f)| recordings.get(&(u.to_string(), f.to_string())).cloned())
                .collect()
        };
        rows.iter()
            .for_each(|r| self.count(format!("recording:{}/{}", r.userid, r.fileid)));
        self.held().await;
        Ok(rows)
    }

    async fn pusher(&self, target: &Counted) -> StoreResult<Option<PusherInfo>> {
        let row = self.row(target);
        if let Some(r) = &row {
            match target {
                Counted::Room { .. } => self.count(format!("room:{}", r.userid)),
                Counted::Recording { .. } => {
                    self.count(format!("recording:{}/{}", r.userid, r.fileid))
                }
            }
        }
        self.held().await;
        Ok(row)
    }

    async fn room_keys(&self) -> StoreResult<Vec<RoomKey>> {
        self.order_reads.fetch_add(1, Ordering::SeqCst);
        let mut keys: Vec<RoomKey> = self
            .rooms
            .lock()
            .unwrap()
            .iter()
            .map(|(userid, row)| RoomKey {
                userid: userid.clone(),
                online: row.status,
                started_at: 0,
            })
            .collect();
        keys.sort_by(|a, b| a.userid.cmp(&b.userid));
        self.held().await;
        Ok(keys)
    }

    async fn recording_keys(&self) -> StoreResult<Vec<RecordingKey>> {
        let mut keys: Vec<RecordingKey> = self
            .recordings
            .lock()
            .unwrap()
            .keys()
            .map(|(userid, fileid)| RecordingKey {
                userid: userid.clone(),
                fileid: fileid.clone(),
                end_time: 0,
            })
            .collect();
        keys.sort_by(|a, b| (&a.userid, &a.fileid).cmp(&(&b.userid, &b.fileid)));
        Ok(keys)
    }

    // Not used by these tests.

    async fn stream_id_of(&self, _: &str) -> StoreResult<Option<String>> {
        unimplemented!()
    }

    async fn exists(&self, _: &Counted) -> StoreResult<bool> {
        unimplemented!()
    }

    async fn members(
        &self,
        _: &Group,
        _: MemberOrder,
        _: Page,
    ) -> StoreResult<(i64, Vec<MemberInfo>)> {
        unimplemented!()
    }
}

#[async_trait]
impl Moderation for Memory {
    async fn delete_recording(&self, _: &str, _: &str) -> StoreResult<bool> {
        Ok(true)
    }

    async fn ban(&self, _: &str, _: &str, _: i64, _: Option<i64>) -> StoreResult<bool> {
        Ok(true)
    }

    async fn unban(&self, _: &str) -> StoreResult<bool> {
        Ok(true)
    }

    async fn add_report(&self, _: &str, _: &str, _: i64) -> StoreResult<i64> {
        Ok(1)
    }

    async fn reports(&self, _: bool) -> StoreResult<Vec<Report>> {
        unimplemented!()
    }

    async fn resolve_report(&self, _: i64, _: &str, _: i64) -> StoreResult<bool> {
        unimplemented!()
    }

    async fn is_banned(&self, _: &str, _: i64) -> StoreResult<bool> {
        unimplemented!()
    }

    async fn bans(&self) -> StoreResult<Vec<Ban>> {
        unimplemented!()
    }

    async fn lift_ended_bans(&self, _: i64) -> StoreResult<Vec<String>> {
        Ok(vec!["a".into()])
    }

    async fn record_action(&self, _: &AuditEntry) -> StoreResult<()> {
        unimplemented!()
    }

    async fn audit_log(&self, _: i64, _: i64) -> StoreResult<(i64, Vec<AuditEntry>)> {
        unimplemented!()
    }
}

#[async_trait]
impl Leases for Memory {
    async fn take_lease(&self, _: &str, _: &str, _: i64, _: i64) -> StoreResult<bool> {
        unimplemented!()
    }

    async fn release_lease(&self, _: &str, _: &str) -> StoreResult<()> {
        unimplemented!()
    }
}

#[async_trait]
impl Import for Memory {
    async fn import_room(&self, _: &ImportedRoom) -> StoreResult<SessionOutcome> {
        Ok(SessionOutcome::Started)
    }

    async fn import_recording(&self, _: &ImportedRecording) -> StoreResult<()> {
        Ok(())
    }

    async fn import_members(&self, _: &Group, _: &[NewMember]) -> StoreResult<bool> {
        Ok(true)
    }
}

#[async_trait]
impl Upkeep for Memory {
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn count_members(&self) -> StoreResult<i64> {
        unimplemented!()
    }

    async fn analyze(&self) -> StoreResult<()> {
        unimplemented!()
    }

    async fn foreign_writes(&self) -> StoreResult<Option<u64>> {
        Ok(*self.foreign.lock().unwrap())
    }

    async fn close(&self) {}
}

fn room(userid: &str) -> Counted {
    Counted::Room {
        userid: userid.into(),
    }
}

fn recording(userid: &str, fileid: &str) -> Counted {
    Counted::Recording {
        userid: userid.into(),
        fileid: fileid.into(),
    }
}

fn snapshots(memory: &Arc<Memory>) -> Arc<ListSnapshots> {
    Arc::new(ListSnapshots::new(
        Arc::clone(memory) as Arc<dyn Store>,
        HOUR,
        BIG,
    ))
}

async fn shown(store: &ListSnapshots, target: &Counted) -> PusherInfo {
    store
        .rendered_pusher(target)
        .await
        .expect("read")
        .expect("found")
        .shown()
}

/// The first page of online rooms, as (userid, likes).
async fn room_page(store: &ListSnapshots) -> Vec<(String, i64)> {
    store
        .rendered_rooms(RoomScope::Online, 0, 20)
        .await
        .expect("read")
        .rows()
        .iter()
        .map(|row| (row.userid().to_owned(), row.shown().likecount))
        .collect()
}

#[tokio::test]
async fn pages_and_get_user_info_are_served_from_the_rows_kept() {
    let memory = Memory::with(&["a", "b"], &[("a", "f")]);
    let store = snapshots(&memory);
    assert_eq!(room_page(&store).await, [("a".into(), 0), ("b".into(), 0)]);
    assert_eq!(shown(&store, &room("a")).await.likecount, 0);
    let recordings = store.rendered_recordings(i64::MIN, 0, 20).await.unwrap();
    assert_eq!(recordings.rows().len(), 1);
    let reads = memory.row_reads.load(Ordering::SeqCst);
    assert_eq!(reads, 3, "one read per row");
    room_page(&store).await;
    shown(&store, &room("b")).await;
    shown(&store, &recording("a", "f")).await;
    store.rendered_recordings(i64::MIN, 0, 20).await.unwrap();
    assert_eq!(memory.row_reads.load(Ordering::SeqCst), reads, "all kept");
    // A write behind the store's back is not seen while the rows are kept
    // (the integration tests see it within the interval).
    memory.add_likes(&room("a"), 5).await.unwrap();
    assert_eq!(shown(&store, &room("a")).await.likecount, 0);
    // One through it is, in the pages and in GetUserInfo: added to the
    // rows kept, not read again (so the other stays unseen until the rows'
    // time is up, as it would have without this one).
    assert!(store.add_likes(&room("a"), 1).await.unwrap());
    assert_eq!(room_page(&store).await, [("a".into(), 1), ("b".into(), 0)]);
    assert_eq!(shown(&store, &room("a")).await.likecount, 1);
    assert_eq!(memory.reads_of("room:a"), 1, "patched, not read again");
    assert_eq!(memory.reads_of("room:b"), 1);
}

#[tokio::test]
async fn a_get_user_info_read_before_a_like_does_not_bring_the_old_count_back() {
    let memory = Memory::with(&["a"], &[]);
    let store = snapshots(&memory);
    let held = memory.hold_next_read();
    let reader = tokio::spawn({
        let store = Arc::clone(&store);
        async move { shown(&store, &room("a")).await.likecount }
    });
    held.read.await.expect("the reader read");
    assert!(store.add_likes(&room("a"), 1).await.unwrap());
    held.go_on.send(()).expect("the reader waits");
    assert_eq!(reader.await.unwrap(), 0, "it answers what it read");
    assert_eq!(shown(&store, &room("a")).await.likecount, 1);
    assert_eq!(room_page(&store).await, [("a".into(), 1)]);
}

#[tokio::test]
async fn a_page_read_before_an_enter_does_not_bring_the_old_count_back() {
    let memory = Memory::with(&["a", "b"], &[]);
    let store = snapshots(&memory);
    // The order first, so that the held read is the rows'.
    store.count_rooms(RoomScope::Online).await.unwrap();
    let held = memory.hold_next_read();
    let reader = tokio::spawn({
        let store = Arc::clone(&store);
        async move { room_page(&store).await }
    });
    held.read.await.expect("the reader read");
    let group = Group::Room {
        anchor: "b".into(),
        groupid: "b-g".into(),
    };
    let viewer = NewMember {
        userid: "v".into(),
        nickname: String::new(),
        headpic: String::new(),
        level: None,
        joined_at: 0,
    };
    assert!(store.enter(&group, &viewer).await.unwrap());
    held.go_on.send(()).expect("the reader waits");
    reader.await.unwrap();
    assert_eq!(shown(&store, &room("b")).await.viewercount, 1);
    assert_eq!(shown(&store, &room("a")).await.viewercount, 0);
    store.quit(&group, "v").await.unwrap();
    let page = store
        .rendered_rooms(RoomScope::Online, 0, 20)
        .await
        .unwrap();
    let viewers: Vec<i64> = page
        .rows()
        .iter()
        .map(|row| row.shown().viewercount)
        .collect();
    assert_eq!(viewers, [0, 0]);
}

#[tokio::test]
async fn a_read_before_a_stream_event_is_not_kept() {
    let memory = Memory::with(&["a"], &[]);
    let store = snapshots(&memory);
    let held = memory.hold_next_read();
    let reader = tokio::spawn({
        let store = Arc::clone(&store);
        async move { shown(&store, &room("a")).await }
    });
    held.read.await.expect("the reader read");
    store
        .stream_event(&StreamEvent {
            stream_id: "s".into(),
            online: false,
            at: 0,
            sequence: String::new(),
            now: 0,
        })
        .await
        .unwrap();
    held.go_on.send(()).expect("the reader waits");
    reader.await.unwrap();
    shown(&store, &room("a")).await;
    assert_eq!(memory.reads_of("room:a"), 2, "read again");
}

/// The writes of the store, for [`every_write_drops_the_rows_it_can_change`].
#[derive(Debug, Clone, Copy)]
enum Write {
    LikeRoom,
    LikeRecording,
    EnterRoom,
    QuitRoom,
    EnterRecording,
    QuitRecording,
    StartSession,
    SetOnline,
    StreamEvent,
    Screenshot,
    ExpireOnline,
    PutRecording,
    AddRecordingFile,
    AddRecordingFileFailing,
    DeleteRecording,
    ImportRoom,
    ImportRecording,
    ImportRoomMembers,
    ImportRecordingMembers,
    Ban,
    Unban,
    Report,
}

/// A new session of `userid`'s room, on stream `s`.
fn session(userid: &str) -> NewSession {
    NewSession {
        userid: userid.into(),
        stream_id: "s".into(),
        groupid: format!("{userid}-g"),
        title: String::new(),
        userinfo: UserInfo::default(),
        play_url: String::new(),
        hls_play_url: String::new(),
        started_at: 0,
    }
}

async fn perform(store: &ListSnapshots, write: Write) {
    let session = session("a");
    let new_recording = NewRecording {
        userid: "a".into(),
        fileid: "f".into(),
        title: String::new(),
        userinfo: UserInfo::default(),
        play_url: String::new(),
        hls_play_url: String::new(),
        start_time: 0,
        end_time: 0,
    };
    let file = |stream_id: &str| RecordingFile {
        stream_id: stream_id.into(),
        notice_key: "n".into(),
        fileid: "f".into(),
        format: "mp4".into(),
        url: String::new(),
        start_time: 0,
        end_time: 0,
    };
    let room_group = Group::Room {
        anchor: "a".into(),
        groupid: "a-g".into(),
    };
    let recording_group = Group::Recording {
        anchor: "a".into(),
        fileid: "f".into(),
    };
    let member = NewMember {
        userid: "v".into(),
        nickname: String::new(),
        headpic: String::new(),
        level: None,
        joined_at: 0,
    };
    let members = std::slice::from_ref(&member);
    // Outcomes do not matter here, only what the store drops.
    let _ = match write {
        Write::LikeRoom => store.add_likes(&room("a"), 1).await.map(drop),
        Write::LikeRecording => store.add_likes(&recording("a", "f"), 1).await.map(drop),
        Write::EnterRoom => store.enter(&room_group, &member).await.map(drop),
        Write::QuitRoom => store.quit(&room_group, "v").await,
        Write::EnterRecording => store.enter(&recording_group, &member).await.map(drop),
        Write::QuitRecording => store.quit(&recording_group, "v").await,
        Write::StartSession => store.start_session(&session).await.map(drop),
        Write::SetOnline => store.set_online("a", true, 0).await.map(drop),
        Write::StreamEvent => store
            .stream_event(&StreamEvent {
                stream_id: "s".into(),
                online: true,
                at: 0,
                sequence: String::new(),
                now: 0,
            })
            .await
            .map(drop),
        Write::Screenshot => store.set_snapshot("s", "http://x", 0).await.map(drop),
        Write::ExpireOnline => store.expire_online(0).await.map(drop),
        Write::PutRecording => store.put_recording(&new_recording).await,
        Write::AddRecordingFile => store.add_recording_file(&file("s")).await.map(drop),
        Write::AddRecordingFileFailing => store.add_recording_file(&file("fails")).await.map(drop),
        Write::DeleteRecording => store.delete_recording("a", "f").await.map(drop),
        Write::ImportRoom => store
            .import_room(&ImportedRoom {
                session,
                online: true,
                likes: 0,
                status_at: 0,
            })
            .await
            .map(drop),
        Write::ImportRecording => {
            store
                .import_recording(&ImportedRecording {
                    recording: new_recording,
                    likes: 0,
                })
                .await
        }
        Write::ImportRoomMembers => store.import_members(&room_group, members).await.map(drop),
        Write::ImportRecordingMembers => store
            .import_members(&recording_group, members)
            .await
            .map(drop),
        Write::Ban => store.ban("a", "spam", 0, None).await.map(drop),
        Write::Unban => store.unban("a").await.map(drop),
        Write::Report => store.add_report("v", "a", 0).await.map(drop),
    };
}

/// Every write through the store drops the rows it can change, and no other
/// (likes patch theirs instead, see
/// [`counts_written_through_the_store_patch_the_rows_kept`]).
#[tokio::test]
async fn every_write_drops_the_rows_it_can_change() {
    const ROOM: [bool; 3] = [true, false, false];
    const ROOMS: [bool; 3] = [true, true, false];
    const RECORDING: [bool; 3] = [false, false, true];
    const NONE: [bool; 3] = [false, false, false];
    // Which of room a, room b and recording a/f each write drops.
    let writes = [
        (Write::LikeRoom, NONE),
        (Write::LikeRecording, NONE),
        (Write::EnterRoom, ROOM),
        (Write::QuitRoom, ROOM),
        (Write::EnterRecording, RECORDING),
        (Write::QuitRecording, RECORDING),
        (Write::StartSession, ROOM),
        (Write::SetOnline, ROOM),
        // By stream id: every room.
        (Write::StreamEvent, ROOMS),
        (Write::Screenshot, ROOMS),
        (Write::ExpireOnline, ROOMS),
        (Write::PutRecording, RECORDING),
        (Write::AddRecordingFile, RECORDING),
        // Failed, maybe applied: every recording.
        (Write::AddRecordingFileFailing, RECORDING),
        (Write::DeleteRecording, RECORDING),
        (Write::ImportRoom, ROOM),
        (Write::ImportRecording, RECORDING),
        (Write::ImportRoomMembers, ROOM),
        (Write::ImportRecordingMembers, RECORDING),
        (Write::Ban, ROOM),
        (Write::Unban, ROOM),
        (Write::Report, NONE),
    ];
    for (write, drops) in writes {
        let memory = Memory::with(&["a", "b"], &[("a", "f")]);
        let store = snapshots(&memory);
        for _ in 0..2 {
            shown(&store, &room("a")).await;
            shown(&store, &room("b")).await;
            shown(&store, &recording("a", "f")).await;
            perform(&store, write).await;
        }
        let read_again = [
            memory.reads_of("room:a") == 2,
            memory.reads_of("room:b") == 2,
            memory.reads_of("recording:a/f") == 2,
        ];
        assert_eq!(read_again, drops, "{write:?}: the rows read again");
    }
}

#[test]
fn recent_recordings_are_a_prefix_of_the_order() {
    let order = RecordingOrder {
        keys: [30, 20, 20, 10]
            .iter()
            .enumerate()
            .map(|(i, &end_time)| RecordingKey {
                userid: "a".into(),
                fileid: format!("f{i}"),
                end_time,
            })
            .collect(),
        last_recent: AtomicU64::new(u64::MAX),
        pages: Pages::new(Arc::new(Epochs::new(HOUR)), MAX_PAGE_ROWS),
    };
    for _ in 0..2 {
        for (since, len) in [(0, 4), (10, 4), (11, 3), (20, 3), (21, 1), (31, 0), (-5, 4)] {
            assert_eq!(order.recent(since).len(), len, "since {since}");
        }
        assert_eq!(order.recent(i64::MAX).len(), 0);
        assert_eq!(order.recent(i64::MIN).len(), 4);
    }
}

// Pages.

#[tokio::test]
async fn a_page_shown_again_is_the_same_until_a_write_to_one_of_its_rows() {
    let memory = Memory::with(&["a", "b", "c"], &[("a", "f")]);
    let store = snapshots(&memory);
    let first = store.rendered_rooms(RoomScope::Online, 0, 2).await.unwrap();
    let again = store.rendered_rooms(RoomScope::Online, 0, 2).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "the page kept");
    // Writes to rows not on the page leave it.
    store.add_likes(&room("c"), 1).await.unwrap();
    store.add_likes(&recording("a", "f"), 1).await.unwrap();
    let again = store.rendered_rooms(RoomScope::Online, 0, 2).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "the page kept");
    // A write to one of its rows: built again, the others from the rows kept.
    store.add_likes(&room("b"), 1).await.unwrap();
    let rebuilt = store.rendered_rooms(RoomScope::Online, 0, 2).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &rebuilt));
    assert_eq!(
        room_page(&store).await[..2],
        [("a".into(), 0), ("b".into(), 1)]
    );
    // (b's row patched with the like, not read again.)
    assert_eq!(
        (memory.reads_of("room:a"), memory.reads_of("room:b")),
        (1, 1)
    );
    // Another window is another page.
    let second = store.rendered_rooms(RoomScope::Online, 2, 2).await.unwrap();
    assert_eq!(second.rows().len(), 1);
    // A write dropping every room row drops every page.
    let before = store.rendered_rooms(RoomScope::Online, 0, 2).await.unwrap();
    store.set_snapshot("s", "http://x", 0).await.unwrap();
    let after = store.rendered_rooms(RoomScope::Online, 0, 2).await.unwrap();
    assert!(!Arc::ptr_eq(&before, &after));
}

#[tokio::test]
async fn a_page_read_before_a_like_is_not_shown_after_it() {
    let memory = Memory::with(&["a", "b"], &[]);
    let store = snapshots(&memory);
    store.count_rooms(RoomScope::Online).await.unwrap();
    let held = memory.hold_next_read();
    let reader = tokio::spawn({
        let store = Arc::clone(&store);
        async move { room_page(&store).await }
    });
    held.read.await.expect("the reader read");
    assert!(store.add_likes(&room("a"), 1).await.unwrap());
    held.go_on.send(()).expect("the reader waits");
    let old = reader.await.unwrap();
    assert_eq!(
        old,
        [("a".into(), 0), ("b".into(), 0)],
        "it answers what it read"
    );
    // Its page was kept, but its stamp for a is older than the like.
    assert_eq!(room_page(&store).await, [("a".into(), 1), ("b".into(), 0)]);
}

#[test]
fn pages_expire_with_their_oldest_row_and_are_bounded() {
    let ttl = Duration::from_millis(1000);
    let rows = row_cache(ttl, BIG);
    let pages = Pages::new(Arc::clone(&rows.epochs), 40);
    let read = Instant::now();
    let page = |first: usize, at: Instant| {
        let stamps: Vec<Stamp> = (first..first + 20)
            .map(|i| {
                let userid = format!("u{i}");
                rows.get(Key::Room(&userid), read)
                    .expect_err("empty")
                    .stamp()
            })
            .collect();
        CachedPage {
            page: SharedPage::new(Vec::new()),
            stamps: stamps.into_boxed_slice(),
            read: Read { at, epoch: 0 },
            used: 0,
        }
    };
    let at = |start| (List::Online, start, start + 20);
    pages.put(at(0), page(0, read));
    pages.put(at(20), page(20, read + Duration::from_millis(500)));
    assert!(pages.get(at(0), &rows, read).is_some());
    // The bound: a third page of 20 rows takes the place of the one shown
    // longest ago.
    pages.put(at(40), page(40, read));
    assert!(pages.get(at(20), &rows, read).is_none());
    assert!(pages.get(at(0), &rows, read).is_some());
    assert!(pages.get(at(40), &rows, read).is_some());
    pages.put(at(20), page(20, read + Duration::from_millis(500)));
    assert!(pages.get(at(0), &rows, read).is_none(), "shown before 40");
    // A page expires with its oldest row.
    let later = read + ttl;
    assert!(pages.get(at(40), &rows, later).is_none());
    assert!(pages.get(at(20), &rows, later).is_some());
    // A write to any of its rows' keys.
    rows.invalidate(Key::Room("u23"));
    assert!(pages.get(at(20), &rows, later).is_none());
    // A page larger than the bound is not kept.
    let big = Pages::new(Arc::clone(&rows.epochs), 10);
    big.put(at(0), page(0, read));
    assert!(big.get(at(0), &rows, read).is_none());
}

#[test]
fn a_full_cache_drops_the_rows_used_longest_ago() {
    let cache = row_cache(HOUR, 640 * row_size());
    let now = Instant::now();
    let keep = |userid: &str| {
        if let Err(ticket) = cache.get(Key::Room(userid), now) {
            cache.install(ticket, SharedPusher::new(room_row(userid, 0)));
        }
    };
    let hot: Vec<String> = (0..10).map(|i| format!("hot{i}")).collect();
    hot.iter().for_each(|userid| keep(userid));
    for i in 0..5000 {
        keep(&format!("cold{i}"));
        // The hot rows are asked for all along.
        let userid = &hot[i % hot.len()];
        assert!(cache.get(Key::Room(userid), now).is_ok(), "{userid} at {i}");
    }
    assert!(cache.len() <= 640);
}

#[tokio::test]
async fn an_old_order_nobody_else_wrote_over_is_kept() {
    let memory = Memory::with(&["a", "b"], &[]);
    *memory.foreign.lock().unwrap() = Some(7);
    // Long enough that a busy machine does not stall a request past it.
    let ttl = Duration::from_millis(300);
    let store = ListSnapshots::new(Arc::clone(&memory) as Arc<dyn Store>, ttl, BIG);
    assert_eq!(store.count_rooms(RoomScope::Listed).await.unwrap(), 2);
    assert_eq!(memory.order_reads(), 1);
    // Past the interval, nobody else wrote: the order is kept, not read.
    tokio::time::sleep(ttl * 2).await;
    assert_eq!(store.count_rooms(RoomScope::Listed).await.unwrap(), 2);
    assert_eq!(memory.order_reads(), 1);
    // Another process wrote: the next request past the interval reads it
    // again (and the one after sees the new order).
    memory.add_room("c");
    *memory.foreign.lock().unwrap() = Some(8);
    tokio::time::sleep(ttl * 2).await;
    store.count_rooms(RoomScope::Listed).await.unwrap();
    assert_eq!(memory.order_reads(), 2);
    assert_eq!(store.count_rooms(RoomScope::Listed).await.unwrap(), 3);
}

/// As if the database's mark had been found unchanged at `at`.
fn verified_at(epochs: &Epochs, at: Instant) {
    let nanos = at.duration_since(epochs.base).as_nanos();
    epochs.verified.store(nanos as u64, Ordering::SeqCst);
}

#[test]
fn rows_read_while_nobody_else_writes_are_kept_past_the_interval() {
    let ttl = Duration::from_millis(1000);
    let epochs = Arc::new(Epochs::new(ttl));
    let cache = RowCache::new(Arc::clone(&epochs), BIG);
    let read = Instant::now();
    // The database told its mark: epoch 1.
    epochs.current.store(1, Ordering::SeqCst);
    verified_at(&epochs, read);
    for userid in ["a", "b"] {
        let ticket = cache.get(Key::Room(userid), read).expect_err("empty");
        cache.install(ticket, SharedPusher::new(room_row(userid, 1)));
    }
    // Found unchanged since: kept past the interval.
    let later = read + 5 * ttl;
    verified_at(&epochs, later - ttl / 2);
    assert_eq!(likes(&cache, Key::Room("a"), later), Some(1));
    // Not checked for an interval: what it read could be old.
    assert_eq!(likes(&cache, Key::Room("a"), later + ttl), None);
    // Another process wrote: a new epoch, the old rows go.
    let ticket = cache.get(Key::Room("c"), later).expect_err("empty");
    epochs.current.store(2, Ordering::SeqCst);
    verified_at(&epochs, later);
    assert_eq!(likes(&cache, Key::Room("b"), later), None);
    // A read begun in epoch 1 is only good for the interval from its read.
    cache.install(ticket, SharedPusher::new(room_row("c", 3)));
    assert_eq!(likes(&cache, Key::Room("c"), later + ttl / 2), Some(3));
    verified_at(&epochs, later + ttl);
    assert_eq!(likes(&cache, Key::Room("c"), later + ttl), None);
    // Epoch 0 (a database that cannot tell) keeps nothing past the interval.
    epochs.current.store(0, Ordering::SeqCst);
    let zero = epochs.read(later);
    assert!(epochs.good(zero, later + ttl / 2));
    assert!(!epochs.good(zero, later + ttl));
}

#[tokio::test]
async fn pages_and_rows_are_kept_while_no_other_process_writes() {
    let memory = Memory::with(&["a", "b"], &[("a", "f")]);
    *memory.foreign.lock().unwrap() = Some(7);
    // Long enough that a busy machine does not stall a request past it.
    let ttl = Duration::from_millis(300);
    let store = ListSnapshots::new(Arc::clone(&memory) as Arc<dyn Store>, ttl, BIG);
    let first = store
        .rendered_rooms(RoomScope::Online, 0, 20)
        .await
        .unwrap();
    shown(&store, &recording("a", "f")).await;
    tokio::time::sleep(ttl * 2).await;
    let again = store
        .rendered_rooms(RoomScope::Online, 0, 20)
        .await
        .unwrap();
    assert!(Arc::ptr_eq(&first, &again), "the page kept");
    shown(&store, &recording("a", "f")).await;
    assert_eq!(
        (
            memory.reads_of("room:a"),
            memory.reads_of("recording:a/f"),
            memory.order_reads()
        ),
        (1, 1, 1)
    );
    // This node's writes still drop what they change at once.
    store.add_likes(&room("a"), 2).await.unwrap();
    assert_eq!(room_page(&store).await, [("a".into(), 2), ("b".into(), 0)]);
    // Another process's like: seen once the mark is checked again.
    memory.rooms.lock().unwrap().get_mut("b").unwrap().likecount = 5;
    *memory.foreign.lock().unwrap() = Some(8);
    tokio::time::sleep(ttl * 2).await;
    assert_eq!(room_page(&store).await, [("a".into(), 2), ("b".into(), 5)]);
    assert_eq!(shown(&store, &recording("a", "f")).await.likecount, 0);
    assert_eq!(memory.reads_of("recording:a/f"), 2);
}

#[tokio::test]
async fn a_status_change_through_this_node_changes_the_order_without_a_query() {
    let memory = Memory::with(&["a", "b", "c"], &[]);
    let store = snapshots(&memory);
    let online = |store: Arc<ListSnapshots>| async move {
        let page = store
            .rendered_rooms(RoomScope::Online, 0, 20)
            .await
            .unwrap();
        let count = store.count_rooms(RoomScope::Online).await.unwrap();
        let userids: Vec<String> = page.rows().iter().map(|r| r.userid().to_owned()).collect();
        (count, userids)
    };
    assert_eq!(
        online(Arc::clone(&store)).await,
        (3, vec!["a".into(), "b".into(), "c".into()])
    );
    assert!(store.set_online("b", false, 0).await.unwrap());
    assert_eq!(
        online(Arc::clone(&store)).await,
        (2, vec!["a".into(), "c".into()])
    );
    assert_eq!(store.count_rooms(RoomScope::Listed).await.unwrap(), 3);
    assert!(store.set_online("b", true, 0).await.unwrap());
    assert_eq!(online(Arc::clone(&store)).await.0, 3);
    assert_eq!(memory.order_reads(), 1, "patched, not read");
    // A room this order does not list: read again.
    memory.add_room("d");
    assert!(store.set_online("d", true, 0).await.unwrap());
    assert_eq!(online(Arc::clone(&store)).await.0, 4);
    assert_eq!(memory.order_reads(), 2);
}

#[tokio::test]
async fn an_order_loaded_across_a_status_change_is_loaded_again() {
    let memory = Memory::with(&["a", "b"], &[]);
    let store = snapshots(&memory);
    assert_eq!(store.count_rooms(RoomScope::Online).await.unwrap(), 2);
    // Another change of this node drops the order; its load reads the
    // rooms, then a status change commits before it is kept.
    store.rooms.invalidate();
    let held = memory.hold_next_read();
    let reader = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.count_rooms(RoomScope::Online).await.unwrap() }
    });
    held.read.await.expect("the load read");
    assert!(store.set_online("b", false, 0).await.unwrap());
    held.go_on.send(()).expect("the load waits");
    assert_eq!(reader.await.unwrap(), 2, "it answers what it read");
    assert_eq!(store.count_rooms(RoomScope::Online).await.unwrap(), 1);
}

fn order_of(rooms: &[(&str, i64, bool)]) -> RoomOrder {
    RoomOrder::new(
        rooms
            .iter()
            .map(|&(userid, _, _)| Arc::from(userid))
            .collect(),
        rooms.iter().map(|&(_, _, online)| online).collect(),
        rooms.iter().map(|&(_, started, _)| started).collect(),
        Pages::new(Arc::new(Epochs::new(HOUR)), MAX_PAGE_ROWS),
    )
}

fn listed(order: &RoomOrder) -> Vec<(String, i64, bool)> {
    (0..order.listed.len())
        .map(|i| {
            (
                order.listed[i].to_string(),
                order.started[i],
                order.status[i],
            )
        })
        .collect()
}

#[test]
fn a_new_session_moves_its_room_to_its_place() {
    let order = order_of(&[
        ("c", 30, true),
        ("a", 20, true),
        ("b", 20, true),
        ("d", 10, true),
    ]);
    let pages = || Pages::new(Arc::new(Epochs::new(HOUR)), MAX_PAGE_ROWS);
    let moved = order.with_session("d", 25, pages()).unwrap();
    assert_eq!(
        listed(&moved),
        [
            ("c".into(), 30, true),
            ("d".into(), 25, false),
            ("a".into(), 20, true),
            ("b".into(), 20, true),
        ]
    );
    assert_eq!(
        &*moved.online,
        [Arc::from("c"), Arc::from("a"), Arc::from("b")]
    );
    // Equal starts go by userid.
    let tied = order.with_session("c", 20, pages()).unwrap();
    let userids: Vec<String> = listed(&tied).into_iter().map(|(u, _, _)| u).collect();
    assert_eq!(userids, ["a", "b", "c", "d"]);
    let last = order.with_session("a", 5, pages()).unwrap();
    assert_eq!(listed(&last).last().unwrap(), &("a".into(), 5, false));
    // Not listed here: a new room, or a banned user's.
    assert!(order.with_session("e", 40, pages()).is_none());
}

#[tokio::test]
async fn a_session_started_through_this_node_changes_the_order_without_a_query() {
    let memory = Memory::with(&["a", "b", "c"], &[]);
    let store = snapshots(&memory);
    assert_eq!(store.count_rooms(RoomScope::Online).await.unwrap(), 3);
    store.start_session(&session("b")).await.unwrap();
    assert_eq!(store.count_rooms(RoomScope::Online).await.unwrap(), 2);
    assert_eq!(store.count_rooms(RoomScope::Listed).await.unwrap(), 3);
    assert_eq!(memory.order_reads(), 1, "patched, not read");
    // A new anchor's first session: read again.
    memory.add_room("d");
    store.start_session(&session("d")).await.unwrap();
    assert_eq!(store.count_rooms(RoomScope::Listed).await.unwrap(), 4);
    assert_eq!(memory.order_reads(), 2);
}

/// Each row `store` shows is what the database's row renders to now.
async fn assert_rows_current(store: &ListSnapshots, memory: &Memory, targets: &[Counted]) {
    for target in targets {
        let fresh = memory.row(target).map(SharedPusher::new);
        let kept = store.rendered_pusher(target).await.unwrap();
        assert_eq!(
            kept.as_ref().map(|row| row.json()),
            fresh.as_ref().map(|row| row.json()),
            "{target:?}"
        );
    }
}

/// Likes and batched enters and quits through the store add their change
/// to the rows kept instead of dropping them: the pages and GetUserInfo
/// show it with no read, exactly as a read would.
#[tokio::test]
async fn counts_written_through_the_store_patch_the_rows_kept() {
    let memory = Memory::with(&["a", "b"], &[("a", "f")]);
    let store = snapshots(&memory);
    let targets = [room("a"), room("b"), recording("a", "f")];
    room_page(&store).await;
    assert_rows_current(&store, &memory, &targets).await;
    let reads =
        |memory: &Memory| ["room:a", "room:b", "recording:a/f"].map(|key| memory.reads_of(key));
    assert_eq!(reads(&memory), [1, 1, 1]);

    assert!(store.add_likes(&room("a"), 3).await.unwrap());
    let batch = [
        (room("a"), 2),
        (recording("a", "f"), 4),
        (room("nobody"), 1),
    ];
    assert_eq!(
        store.add_likes_many(&batch).await.unwrap(),
        [true, true, false]
    );
    let group = |anchor: &str| Group::Room {
        anchor: anchor.into(),
        groupid: format!("{anchor}-g"),
    };
    let enter = |anchor: &str| MemberChange::Enter {
        group: group(anchor),
        member: NewMember {
            userid: "v".into(),
            nickname: String::new(),
            headpic: String::new(),
            level: None,
            joined_at: 0,
        },
    };
    let quit = |anchor: &str| MemberChange::Quit {
        group: group(anchor),
        userid: "v".into(),
    };
    let changes = [enter("a"), enter("b"), enter("b"), quit("a")];
    let moved = store.change_members(&changes).await.unwrap();
    assert_eq!(moved, [Some(1), Some(1), Some(1), Some(-1)]);
    assert_eq!(room_page(&store).await, [("a".into(), 5), ("b".into(), 0)]);
    assert_rows_current(&store, &memory, &targets).await;
    assert_eq!(reads(&memory), [1, 1, 1], "nothing read again");
    assert_eq!(shown(&store, &room("b")).await.viewercount, 2);

    // A count that would go below 0 (the database floors it) is read.
    assert!(store.add_likes(&room("b"), -1).await.unwrap());
    assert_rows_current(&store, &memory, &targets).await;
    assert_eq!(reads(&memory), [1, 2, 1]);
}

/// A row read while a like is in flight may show it already (read after
/// its commit): it is not kept, or the like would be added to it again.
#[tokio::test]
async fn a_row_read_during_a_like_is_not_kept_to_be_added_to_again() {
    let memory = Memory::with(&["a"], &[]);
    let store = snapshots(&memory);
    let held = memory.hold_next_like();
    let liker = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.add_likes(&room("a"), 1).await.unwrap() }
    });
    held.read.await.expect("the like applied");
    // Read after the commit, before the like's reply: shows it.
    assert_eq!(shown(&store, &room("a")).await.likecount, 1);
    held.go_on.send(()).expect("the like waits");
    assert!(liker.await.unwrap());
    assert_eq!(shown(&store, &room("a")).await.likecount, 1);
    assert_eq!(room_page(&store).await, [("a".into(), 1)]);
    assert_eq!(memory.reads_of("room:a"), 2, "the first read not kept");
}
