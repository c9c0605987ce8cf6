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
//!   [`Store::shown_pusher`]), by key: a room by its anchor's userid, a
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
    Ban, EventOutcome, ImportedRecording, ImportedRoom, MemberChange, NewMember, NewRecording,
    NewSession, PoolStats, RecordingFile, RecordingKey, RecordingOutcome, Report, RoomKey,
    RoomScope, SessionOutcome, Store, StoreResult, StreamEvent,
};
use crate::settings::MemberOrder;
use minilvb_protocol::{
    Count, Counted, Group, MemberInfo, Page, PusherInfo, SharedPage, SharedPusher,
};

/// One cached value, rebuilt when stale; one rebuild at a time.
/// A value, the version it was built at, and its read.
type Built<T> = (u64, Read, Arc<T>);

struct Cached<T> {
    /// Bumped by every write that changes the value.
    version: AtomicU64,
    current: RwLock<Option<Built<T>>>,
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

    /// After a write that `change` can apply to the value: the current value
    /// (if it has every write of this node before) becomes the changed one,
    /// as old as it was; else, or when `change` cannot, as
    /// [`Cached::invalidate`]. A load under way keeps the older version, so
    /// what it builds is stale.
    fn patch(&self, change: impl FnOnce(&T) -> Option<T>) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some((built, _, value)) = current.as_mut() {
            if *built + 1 == version {
                if let Some(changed) = change(value) {
                    *value = Arc::new(changed);
                    *built = version;
                }
            }
        }
    }

    fn lookup(&self, epochs: &Epochs) -> Lookup<T> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        match current.as_ref() {
            Some((version, read, value)) if *version == self.version.load(Ordering::SeqCst) => {
                if epochs.good(*read, Instant::now()) {
                    Lookup::Fresh(Arc::clone(value))
                } else {
                    Lookup::Old(Arc::clone(value))
                }
            }
            _ => Lookup::Stale,
        }
    }

    async fn get<F, Fut>(&self, epochs: &Epochs, load: F) -> StoreResult<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<T>>,
    {
        let _one_at_a_time = match self.lookup(epochs) {
            Lookup::Fresh(value) => return Ok(value),
            // Only other nodes' and processes' writes can be missing from an
            // old value: one request rebuilds it while the others still use
            // it, so the periodic rebuild never stalls the lists.
            Lookup::Old(value) => match self.rebuilding.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(value),
            },
            // This node changed the order: wait for the new one.
            Lookup::Stale => {
                let guard = self.rebuilding.lock().await;
                if let Lookup::Fresh(value) = self.lookup(epochs) {
                    return Ok(value);
                }
                guard
            }
        };
        // Read the version first: a write committed during the load bumps
        // it, so what we build is then already stale and built again. Its
        // age counts from before the load, as the rows' do.
        let version = self.version.load(Ordering::SeqCst);
        let read = epochs.read(Instant::now());
        let value = Arc::new(load().await?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) =
            Some((version, read, Arc::clone(&value)));
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

/// The rooms of users not banned, newest session first (then by userid).
struct RoomOrder {
    listed: Vec<Arc<str>>,
    /// Whether each listed room is online.
    status: Vec<bool>,
    /// When each listed room's session started.
    started: Vec<i64>,
    online: Vec<Arc<str>>,
    /// Pages of this order (they go with it).
    pages: Pages,
}

impl RoomOrder {
    fn new(listed: Vec<Arc<str>>, status: Vec<bool>, started: Vec<i64>, pages: Pages) -> Self {
        let online = listed
            .iter()
            .zip(&status)
            .filter(|&(_, &online)| online)
            .map(|(userid, _)| Arc::clone(userid))
            .collect();
        Self {
            listed,
            status,
            started,
            online,
            pages,
        }
    }

    /// This order once `userid`'s room went on- or offline (its place in
    /// the listed rooms stays): no query, where a session's status changes
    /// often. None when the room is not listed here.
    fn with_status(&self, userid: &str, online: bool, pages: Pages) -> Option<Self> {
        let at = self.listed.iter().position(|listed| &**listed == userid)?;
        let mut status = self.status.clone();
        status[at] = online;
        Some(Self::new(
            self.listed.clone(),
            status,
            self.started.clone(),
            pages,
        ))
    }

    /// This order once `userid`'s room started a new session at
    /// `started_at` (offline until its stream begins): it moves to its new
    /// place. None when the room is not listed here (a new room, or a
    /// banned user's: only the database knows which).
    fn with_session(&self, userid: &str, started_at: i64, pages: Pages) -> Option<Self> {
        let at = self.listed.iter().position(|listed| &**listed == userid)?;
        let (mut listed, mut status, mut started) = (
            self.listed.clone(),
            self.status.clone(),
            self.started.clone(),
        );
        let room = listed.remove(at);
        status.remove(at);
        started.remove(at);
        // Newest first, then by userid: the first place it goes before.
        let place = (0..listed.len())
            .find(|&i| started[i] < started_at || (started[i] == started_at && *listed[i] > *room))
            .unwrap_or(listed.len());
        listed.insert(place, room);
        status.insert(place, false);
        started.insert(place, started_at);
        Some(Self::new(listed, status, started, pages))
    }
}

/// The recordings of users not banned, newest end first.
struct RecordingOrder {
    keys: Vec<RecordingKey>,
    /// The last answer of `recent`, `since` and the length packed (a
    /// search of 50 000 keys costs more than the rest of a cached page).
    last_recent: AtomicU64,
    pages: Pages,
}

impl RecordingOrder {
    /// Recordings ending at or after `since`: a prefix of the order.
    fn recent(&self, since: i64) -> &[RecordingKey] {
        let last = self.last_recent.load(Ordering::Relaxed);
        let packed = u32::try_from(since)
            .ok()
            .map(|since| u64::from(since) << 32);
        let len = match packed {
            Some(since) if last != u64::MAX && last & !0xffff_ffff == since => {
                (last & 0xffff_ffff) as usize
            }
            _ => {
                let len = self.keys.partition_point(|k| k.end_time >= since);
                if let (Some(since), Ok(len)) = (packed, u32::try_from(len)) {
                    self.last_recent
                        .store(since | u64::from(len), Ordering::Relaxed);
                }
                len
            }
        };
        &self.keys[..len]
    }
}

/// Which row: a room by its anchor, a recording by (userid, fileid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key<'a> {
    Room(&'a str),
    Recording(&'a str, &'a str),
}

impl<'a> Key<'a> {
    fn of(target: &'a Counted) -> Self {
        match target {
            Counted::Room { userid } => Key::Room(userid),
            Counted::Recording { userid, fileid } => Key::Recording(userid, fileid),
        }
    }

    /// The row whose viewer count a group's members make.
    fn group(group: &'a Group) -> Self {
        match group {
            Group::Room { anchor, .. } => Key::Room(anchor),
            Group::Recording { anchor, fileid } => Key::Recording(anchor, fileid),
        }
    }

    /// Whether `row` is this key's row.
    fn shows(&self, row: &SharedPusher) -> bool {
        match *self {
            Key::Room(userid) => row.kind() == 0 && row.userid() == userid,
            Key::Recording(userid, fileid) => {
                row.kind() == 1 && row.userid() == userid && row.fileid() == fileid
            }
        }
    }
}

/// When a read began, and in which epoch of other processes' writes: what
/// it read is good for the interval, and past it while that epoch lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Read {
    at: Instant,
    epoch: u64,
}

/// Other processes' writes, where the database tells of them (SQLite's
/// `data_version`, see [`Store::foreign_writes`]): what was read while
/// nobody else wrote stays good past the interval, for as long as nobody
/// does. Without it, a read-only load re-reads every list row, and
/// rebuilds the orders, once an interval.
///
/// One request at a time checks the database's mark, at most every half
/// interval; each change of the mark starts a new epoch. What was read in
/// the current epoch is kept while the mark was last found unchanged less
/// than the interval ago, so another process's write shows within the
/// interval, as it would without epochs. A database that cannot tell
/// (PostgreSQL, MySQL: other nodes write it) stays in epoch 0, which keeps
/// nothing past the interval.
struct Epochs {
    ttl: Duration,
    base: Instant,
    current: AtomicU64,
    /// When the check that last found the mark unchanged began (ns after `base`).
    verified: AtomicU64,
    /// False once the database said it cannot tell.
    tells: AtomicBool,
    /// The last mark; held by the check under way.
    mark: tokio::sync::Mutex<Option<u64>>,
}

impl Epochs {
    fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            base: Instant::now(),
            current: AtomicU64::new(0),
            verified: AtomicU64::new(0),
            tells: AtomicBool::new(true),
            mark: tokio::sync::Mutex::new(None),
        }
    }

    /// A read beginning now.
    fn read(&self, now: Instant) -> Read {
        Read {
            at: now,
            epoch: self.current.load(Ordering::SeqCst),
        }
    }

    fn since_verified(&self, now: Instant) -> Duration {
        let verified = Duration::from_nanos(self.verified.load(Ordering::SeqCst));
        now.saturating_duration_since(self.base + verified)
    }

    /// Whether what `read` read is still good at `now`.
    fn good(&self, read: Read, now: Instant) -> bool {
        now.saturating_duration_since(read.at) < self.ttl || self.unchanged(read, now)
    }

    /// Whether nobody else wrote since `read`, as far as a check less than
    /// the interval ago found (never where the database cannot tell).
    fn unchanged(&self, read: Read, now: Instant) -> bool {
        read.epoch != 0
            && read.epoch == self.current.load(Ordering::SeqCst)
            && self.since_verified(now) < self.ttl
    }

    /// Checks the database's mark when due, unless another request is.
    async fn check(&self, store: &dyn Store) {
        let due = |now| {
            self.current.load(Ordering::SeqCst) == 0 || self.since_verified(now) >= self.ttl / 2
        };
        if !self.tells.load(Ordering::Relaxed) || !due(Instant::now()) {
            return;
        }
        let Ok(mut mark) = self.mark.try_lock() else {
            return;
        };
        let began = Instant::now();
        if !due(began) {
            return;
        }
        match store.foreign_writes().await {
            Ok(Some(now)) => {
                if *mark != Some(now) {
                    // Before `verified` moves: a reader never pairs the
                    // old epoch with this check.
                    *mark = Some(now);
                    self.current.fetch_add(1, Ordering::SeqCst);
                }
                let since_base = began.saturating_duration_since(self.base).as_nanos();
                self.verified.store(
                    u64::try_from(since_base).unwrap_or(u64::MAX),
                    Ordering::SeqCst,
                );
            }
            Ok(None) => self.tells.store(false, Ordering::Relaxed),
            // What was read expires with the interval meanwhile.
            Err(_) => {}
        }
    }
}

/// Shards of a [`RowCache`], each with its own lock.
const SHARDS: usize = 64;
/// Generation counters per shard: a write blocks the installation of rows
/// whose key shares its counter (1 in 4096), not of the whole shard.
const SLOTS: usize = 64;
/// What a row costs besides its [`SharedPusher::size`]: the map's entry,
/// the `Arc`'s counts, the allocator's headers.
const ROW_OVERHEAD: usize = 96;

/// Rows by key, each good while [`Epochs::good`] says so for its read.
///
/// The race rule: a reader takes a [`Ticket`] (its key's generation) when it
/// misses, *before* it reads the database; a write, *after* it committed,
/// bumps its key's generation and drops the row, under the shard's lock. A
/// reader installs its row under that lock only if the generation is still
/// the ticket's. So a row read before a write committed is either installed
/// before the write's invalidation (and dropped by it) or refused; a row
/// read after it may be installed, and shows the write.
///
/// A write that knows how it changes a count (a like, an enter, a quit)
/// patches the row instead of dropping it: it marks its key before it
/// begins ([`RowCache::begin_write`]: the generation bumped, and no row
/// installed while any such write is in flight), and after it committed
/// adds its change to the row kept, if any ([`RowCache::end_write`]). A row
/// kept when the write began showed the count before it, so the patch
/// makes it the count after; a row read meanwhile may show either, so it is
/// refused, and no change is ever counted twice.
struct RowCache {
    epochs: Arc<Epochs>,
    max_shard_bytes: usize,
    hasher: RandomState,
    shards: Box<[Mutex<Shard>]>,
    marks: Marks,
}

/// The race rule's marks, [`SLOTS`] per shard: a generation counter and
/// the writes in flight. Changed only under the shard's lock; pages check
/// their generations without it.
struct Marks {
    generations: Box<[AtomicU64]>,
    writing: Box<[AtomicU64]>,
}

impl Marks {
    fn new() -> Self {
        let counters = || (0..SHARDS * SLOTS).map(|_| AtomicU64::new(0)).collect();
        Self {
            generations: counters(),
            writing: counters(),
        }
    }

    fn shard(hash: u64) -> usize {
        hash as usize % SHARDS
    }

    fn slot(hash: u64) -> usize {
        Self::shard(hash) * SLOTS + (hash >> 32) as usize % SLOTS
    }

    fn generation(&self, hash: u64) -> u64 {
        self.generations[Self::slot(hash)].load(Ordering::SeqCst)
    }

    /// A write to the hash's key committed: reads that began before are refused.
    fn bump(&self, hash: u64) {
        self.generations[Self::slot(hash)].fetch_add(1, Ordering::SeqCst);
    }

    /// [`Marks::bump`] for every key of a shard.
    fn bump_shard(&self, shard: usize) {
        for slot in &self.generations[shard * SLOTS..(shard + 1) * SLOTS] {
            slot.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A write that will patch what it changes begins: nothing read before
    /// it ends is installed.
    fn begin(&self, hash: u64) {
        self.bump(hash);
        self.writing[Self::slot(hash)].fetch_add(1, Ordering::SeqCst);
    }

    /// That write ended (patched, or dropped what it changed).
    fn end(&self, hash: u64) {
        self.bump(hash);
        self.writing[Self::slot(hash)].fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether a read that began at `generation` may be installed: no write
    /// to its key ended since, nor is one in flight.
    fn open(&self, hash: u64, generation: u64) -> bool {
        self.generation(hash) == generation
            && self.writing[Self::slot(hash)].load(Ordering::SeqCst) == 0
    }
}

/// A row's change by a write: the changed row, or None to drop it.
type Patch<'a> = dyn Fn(&Arc<SharedPusher>) -> Option<Arc<SharedPusher>> + 'a;

/// A write to a row's count in flight: see [`RowCache::begin_write`]. If
/// dropped before [`RowCache::end_write`] (the write failed, or its task was
/// cancelled), the row is dropped as by any other write.
struct Writing<'a> {
    cache: &'a RowCache,
    hash: u64,
    key: Key<'a>,
    ended: bool,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.cache.finish(self.hash, self.key, None);
        }
    }
}

struct Shard {
    /// By the key's hash; a row under another key's hash (a collision) is a
    /// miss, and is replaced.
    rows: HashMap<u64, Row, BuildHasherDefault<Prehashed>>,
    /// What `rows` hold, by [`Row::size`].
    bytes: usize,
    /// When rows no longer good were last dropped.
    swept: Instant,
    /// Counts uses, for [`Row::used`].
    tick: u64,
}

struct Row {
    info: Arc<SharedPusher>,
    read: Read,
    /// Its shard's tick when it was last found or kept: a full shard makes
    /// room by dropping the rows used longest ago.
    used: u64,
}

impl Row {
    fn size(&self) -> usize {
        self.info.size() + ROW_OVERHEAD
    }
}

/// What a reader that missed needs to install the row it reads.
#[derive(Debug, Clone, Copy)]
struct Ticket {
    hash: u64,
    generation: u64,
    read: Read,
}

/// A row found: it, its key's generation then, and its read.
#[derive(Debug)]
struct Hit {
    row: Arc<SharedPusher>,
    stamp: Stamp,
    read: Read,
}

/// A key's generation when its row was found or its read began: a page
/// built from that row is current while the generation is.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    hash: u64,
    generation: u64,
}

impl Ticket {
    fn stamp(&self) -> Stamp {
        Stamp {
            hash: self.hash,
            generation: self.generation,
        }
    }
}

/// The rows' map is keyed by hashes already.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; fold anything else anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl RowCache {
    /// At most about `max_bytes` of rows (see [`SharedPusher::size`]).
    fn new(epochs: Arc<Epochs>, max_bytes: usize) -> Self {
        let now = Instant::now();
        Self {
            epochs,
            max_shard_bytes: max_bytes / SHARDS,
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        rows: HashMap::default(),
                        bytes: 0,
                        swept: now,
                        tick: 0,
                    })
                })
                .collect(),
            marks: Marks::new(),
        }
    }

    fn hash(&self, key: Key<'_>) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        self.shards[Marks::shard(hash)]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Marks a write to `key`'s count as begun (see the race rule): rows
    /// read before it or during it are not installed.
    fn begin_write<'a>(&'a self, key: Key<'a>) -> Writing<'a> {
        let hash = self.hash(key);
        let guard = self.shard(hash);
        self.marks.begin(hash);
        drop(guard);
        Writing {
            cache: self,
            hash,
            key,
            ended: false,
        }
    }

    /// The write committed: its change applied to the row kept (`patch`
    /// answers the changed row, or None to drop it), or with no patch the
    /// row dropped.
    fn end_write(&self, mut writing: Writing<'_>, patch: Option<&Patch>) {
        writing.ended = true;
        self.finish(writing.hash, writing.key, patch);
    }

    fn finish(&self, hash: u64, key: Key<'_>, patch: Option<&Patch>) {
        let mut guard = self.shard(hash);
        let shard = &mut *guard;
        // The row replaced by its patched self, or else dropped.
        let replaced = match (shard.rows.get_mut(&hash), patch) {
            (Some(row), Some(patch)) if key.shows(&row.info) => patch(&row.info).map(|info| {
                let old = std::mem::replace(&mut row.info, info);
                shard.bytes = shard.bytes + row.info.size() - old.size();
                old
            }),
            _ => None,
        };
        let dropped = replaced.or_else(|| shard.take(hash).map(|row| row.info));
        self.marks.end(hash);
        drop(guard);
        drop(dropped);
    }

    /// Whether no write to the stamp's key came since it was taken.
    fn current(&self, stamp: Stamp) -> bool {
        self.marks.generation(stamp.hash) == stamp.generation
    }

    /// The key's row if still good at `now`; otherwise the ticket to install
    /// the row about to be read.
    fn get(&self, key: Key<'_>, now: Instant) -> Result<Hit, Ticket> {
        let hash = self.hash(key);
        let mut guard = self.shard(hash);
        let shard = &mut *guard;
        let dropped = shard.sweep(&self.epochs, now);
        let generation = self.marks.generation(hash);
        let found = match shard.rows.get_mut(&hash) {
            Some(row) if key.shows(&row.info) && self.epochs.good(row.read, now) => {
                shard.tick += 1;
                row.used = shard.tick;
                Ok(Hit {
                    row: Arc::clone(&row.info),
                    stamp: Stamp { hash, generation },
                    read: row.read,
                })
            }
            _ => Err(Ticket {
                hash,
                generation,
                read: self.epochs.read(now),
            }),
        };
        // Rows are freed outside the lock.
        drop(guard);
        drop(dropped);
        found
    }

    /// Keeps a row read with `ticket`, unless a write to its key came since
    /// the ticket was taken. A full shard drops its rows no longer good, or
    /// else the rows used longest ago.
    fn install(&self, ticket: Ticket, info: Arc<SharedPusher>) {
        let mut guard = self.shard(ticket.hash);
        if !self.marks.open(ticket.hash, ticket.generation) {
            return;
        }
        let shard = &mut *guard;
        let now = Instant::now();
        let mut dropped = shard.sweep(&self.epochs, now);
        shard.tick += 1;
        let row = Row {
            info,
            read: ticket.read,
            used: shard.tick,
        };
        let size = row.size();
        let replaced = match shard.rows.get_mut(&ticket.hash) {
            // Another reader's, read later: keep the fresher.
            Some(kept) if kept.read.at > row.read.at => None,
            Some(kept) => {
                shard.bytes = shard.bytes + size - kept.size();
                Some(std::mem::replace(kept, row))
            }
            None => {
                if shard.bytes + size > self.max_shard_bytes {
                    dropped.extend(shard.make_room(&self.epochs, now, self.max_shard_bytes));
                }
                shard.bytes += size;
                shard.rows.insert(ticket.hash, row)
            }
        };
        drop(guard);
        drop((dropped, replaced));
    }

    /// After a write to the key's row committed: drops it, and refuses the
    /// rows of reads that began before.
    fn invalidate(&self, key: Key<'_>) {
        let hash = self.hash(key);
        let mut shard = self.shard(hash);
        self.marks.bump(hash);
        let removed = shard.take(hash);
        drop(shard);
        drop(removed);
    }

    /// [`RowCache::invalidate`] for every key.
    fn invalidate_all(&self) {
        for (at, shard) in self.shards.iter().enumerate() {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            self.marks.bump_shard(at);
            let removed = std::mem::take(&mut shard.rows);
            shard.bytes = 0;
            drop(shard);
            drop(removed);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).rows.len())
            .sum()
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).bytes)
            .sum()
    }
}

impl Shard {
    fn take(&mut self, hash: u64) -> Option<Row> {
        let row = self.rows.remove(&hash)?;
        self.bytes -= row.size();
        Some(row)
    }

    /// Takes out the rows no longer good, at most once per interval: the
    /// caller drops them after it let the shard go.
    fn sweep(&mut self, epochs: &Epochs, now: Instant) -> Vec<Row> {
        if now.saturating_duration_since(self.swept) < epochs.ttl {
            return Vec::new();
        }
        self.swept = now;
        let gone: Vec<u64> = self
            .rows
            .iter()
            .filter(|(_, row)| !epochs.good(row.read, now))
            .map(|(&hash, _)| hash)
            .collect();
        gone.into_iter()
            .filter_map(|hash| self.take(hash))
            .collect()
    }

    /// Takes out the rows no longer good; if that frees too little, the rows
    /// used longest ago, down to 7/8 of `max_bytes` so that the next misses
    /// do not each search the shard again.
    fn make_room(&mut self, epochs: &Epochs, now: Instant, max_bytes: usize) -> Vec<Row> {
        let mut out = Vec::new();
        let mut kept: Vec<(u64, u64)> = Vec::with_capacity(self.rows.len());
        for (&hash, row) in &self.rows {
            if epochs.good(row.read, now) {
                kept.push((row.used, hash));
            } else {
                out.push(hash);
            }
        }
        let mut out: Vec<Row> = out.into_iter().filter_map(|hash| self.take(hash)).collect();
        if self.bytes > max_bytes / 8 * 7 {
            kept.sort_unstable();
            for (_, hash) in kept {
                if self.bytes <= max_bytes / 8 * 7 {
                    break;
                }
                out.extend(self.take(hash));
            }
        }
        out
    }
}

/// The most rows the pages of one order hold (they share the rows with the
/// row caches; their renderings, about 0.5 KiB a row, are what they add:
/// at most about 4 MiB).
pub const MAX_PAGE_ROWS: usize = 8_192;

/// Which list of an order a page is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum List {
    Online,
    Listed,
    Recordings,
}

/// Pages of one order, rendered: a page already shown costs one lookup and
/// its generations' check instead of a lookup per row.
struct Pages {
    epochs: Arc<Epochs>,
    max_rows: usize,
    inner: Mutex<PagesInner>,
}

struct PagesInner {
    /// By list and window (start, end) of the order.
    pages: HashMap<(List, usize, usize), CachedPage>,
    /// Rows held by `pages`.
    rows: usize,
    swept: Instant,
    /// Counts uses, for [`CachedPage::used`].
    tick: u64,
}

struct CachedPage {
    page: Arc<SharedPage>,
    /// Each row's key generation when it was found or its read began.
    stamps: Box<[Stamp]>,
    /// Its oldest row's read, in their epoch if they share one (else 0).
    read: Read,
    /// The tick when it was last shown or kept: when the rows bound is
    /// reached, the page shown longest ago goes first.
    used: u64,
}

impl Pages {
    fn new(epochs: Arc<Epochs>, max_rows: usize) -> Self {
        Self {
            epochs,
            max_rows,
            inner: Mutex::new(PagesInner {
                pages: HashMap::new(),
                rows: 0,
                swept: Instant::now(),
                tick: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PagesInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The page if all its rows are still good and no write to any of them
    /// came since they were read.
    fn get(
        &self,
        at: (List, usize, usize),
        rows: &RowCache,
        now: Instant,
    ) -> Option<Arc<SharedPage>> {
        let mut guard = self.lock();
        let pages = &mut *guard;
        let cached = pages.pages.get_mut(&at)?;
        let current = self.epochs.good(cached.read, now)
            && cached.stamps.iter().all(|&stamp| rows.current(stamp));
        if !current {
            return None;
        }
        pages.tick += 1;
        cached.used = pages.tick;
        Some(Arc::clone(&cached.page))
    }

    /// Keeps a page; at the rows bound, drops the pages no longer good, then
    /// the pages shown longest ago.
    fn put(&self, at: (List, usize, usize), mut page: CachedPage) {
        let now = Instant::now();
        let size = page.stamps.len();
        if size > self.max_rows {
            return;
        }
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut dropped = Vec::new();
        let mut take = |inner: &mut PagesInner, at: &(List, usize, usize)| {
            if let Some(p) = inner.pages.remove(at) {
                inner.rows -= p.stamps.len();
                dropped.push(p);
            }
        };
        take(inner, &at);
        let due = now.saturating_duration_since(inner.swept) >= self.epochs.ttl;
        if due || inner.rows + size > self.max_rows {
            inner.swept = now;
            let old: Vec<_> = inner
                .pages
                .iter()
                .filter(|(_, p)| !self.epochs.good(p.read, now))
                .map(|(&at, _)| at)
                .collect();
            old.iter().for_each(|at| take(inner, at));
        }
        if inner.rows + size > self.max_rows {
            // At least 1/16 of the bound at once, so that the next pages
            // do not each search all the others.
            let mut by_use: Vec<(u64, (List, usize, usize))> =
                inner.pages.iter().map(|(&at, p)| (p.used, at)).collect();
            by_use.sort_unstable_by_key(|&(used, _)| used);
            let before = inner.rows;
            for (_, at) in by_use {
                let freed = before - inner.rows;
                if inner.rows + size <= self.max_rows && freed >= self.max_rows / 16 {
                    break;
                }
                take(inner, &at);
            }
        }
        inner.rows += size;
        inner.tick += 1;
        page.used = inner.tick;
        inner.pages.insert(at, page);
        drop(guard);
        drop(dropped);
    }
}

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
        self.inner.rooms(scope, offset, limit).await
    }

    async fn shown_rooms(
        &self,
        scope: RoomScope,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Arc<SharedPage>> {
        let order = match scope {
            RoomScope::All => return self.inner.shown_rooms(scope, offset, limit).await,
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

    async fn shown_recordings(
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

    async fn shown_pusher(&self, target: &Counted) -> StoreResult<Option<Arc<SharedPusher>>> {
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

    async fn put_recording(&self, recording: &NewRecording) -> StoreResult<()> {
        let outcome = self.inner.put_recording(recording).await;
        self.recordings.invalidate();
        self.changed(Key::Recording(&recording.userid, &recording.fileid));
        self.member_pages.invalidate(&recording.userid);
        outcome
    }

    async fn import_room(&self, room: &ImportedRoom) -> StoreResult<SessionOutcome> {
        let outcome = self.inner.import_room(room).await;
        self.rooms.invalidate();
        self.changed(Key::Room(&room.session.userid));
        self.member_pages.invalidate(&room.session.userid);
        outcome
    }

    async fn import_recording(&self, imported: &ImportedRecording) -> StoreResult<()> {
        let outcome = self.inner.import_recording(imported).await;
        self.recordings.invalidate();
        let recording = &imported.recording;
        self.changed(Key::Recording(&recording.userid, &recording.fileid));
        self.member_pages.invalidate(&recording.userid);
        outcome
    }

    async fn import_members(&self, group: &Group, members: &[NewMember]) -> StoreResult<bool> {
        let outcome = self.inner.import_members(group, members).await;
        self.changed(Key::group(group));
        self.member_pages.invalidate(group.anchor());
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

    async fn delete_recording(&self, userid: &str, fileid: &str) -> StoreResult<bool> {
        let outcome = self.inner.delete_recording(userid, fileid).await;
        self.recordings.invalidate();
        self.changed(Key::Recording(userid, fileid));
        self.member_pages.invalidate(userid);
        outcome
    }

    // A ban sets the room offline; it changes no recording's row (only
    // whether it is listed).

    async fn ban(&self, userid: &str, reason: &str, now: i64) -> StoreResult<bool> {
        let outcome = self.inner.ban(userid, reason, now).await;
        self.rooms.invalidate();
        self.recordings.invalidate();
        self.changed(Key::Room(userid));
        outcome
    }

    async fn unban(&self, userid: &str) -> StoreResult<bool> {
        let outcome = self.inner.unban(userid).await;
        self.rooms.invalidate();
        self.recordings.invalidate();
        self.changed(Key::Room(userid));
        outcome
    }

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

    // Everything else passes through: `pusher` too, read fresh (the member
    // list and the operator decide by it).

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

    async fn probe_write(&self, now: i64) -> StoreResult<()> {
        self.inner.probe_write(now).await
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

#[cfg(test)]
#[path = "snapshots_tests.rs"]
mod tests;

#[path = "member_pages.rs"]
mod member_pages;
