//! The lists' order (keys only), rebuilt when stale, one rebuild at a time;
//! a new session or a status change of a listed room applied in place.

use super::*;

/// One cached value, rebuilt when stale; one rebuild at a time.
/// A value, the version it was built at, and its read.
pub(super) type Built<T> = (u64, Read, Arc<T>);

pub(super) struct Cached<T> {
    /// Bumped by every write that changes the value.
    pub(super) version: AtomicU64,
    pub(super) current: RwLock<Option<Built<T>>>,
    pub(super) rebuilding: tokio::sync::Mutex<()>,
}

impl<T> Cached<T> {
    pub(super) fn new() -> Self {
        Self {
            version: AtomicU64::new(0),
            current: RwLock::new(None),
            rebuilding: tokio::sync::Mutex::new(()),
        }
    }

    pub(super) fn invalidate(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// After a write that `change` can apply to the value: the current value
    /// (if it has every write of this node before) becomes the changed one,
    /// as old as it was; else, or when `change` cannot, as
    /// [`Cached::invalidate`]. A load under way keeps the older version, so
    /// what it builds is stale.
    pub(super) fn patch(&self, change: impl FnOnce(&T) -> Option<T>) {
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

    pub(super) fn lookup(&self, epochs: &Epochs) -> Lookup<T> {
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

    pub(super) async fn get<F, Fut>(&self, epochs: &Epochs, load: F) -> StoreResult<Arc<T>>
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

pub(super) enum Lookup<T> {
    /// Built after this node's last change to it, within the interval.
    Fresh(Arc<T>),
    /// Built after this node's last change, but longer ago than the interval.
    Old(Arc<T>),
    /// Missing, or this node changed the order since it was built.
    Stale,
}

/// The rooms of users not banned, newest session first (then by userid).
pub(super) struct RoomOrder {
    pub(super) listed: Vec<Arc<str>>,
    /// Whether each listed room is online.
    pub(super) status: Vec<bool>,
    /// When each listed room's session started.
    pub(super) started: Vec<i64>,
    pub(super) online: Vec<Arc<str>>,
    /// Pages of this order (they go with it).
    pub(super) pages: Pages,
}

impl RoomOrder {
    pub(super) fn new(
        listed: Vec<Arc<str>>,
        status: Vec<bool>,
        started: Vec<i64>,
        pages: Pages,
    ) -> Self {
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
    pub(super) fn with_status(&self, userid: &str, online: bool, pages: Pages) -> Option<Self> {
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
    pub(super) fn with_session(&self, userid: &str, started_at: i64, pages: Pages) -> Option<Self> {
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
pub(super) struct RecordingOrder {
    pub(super) keys: Vec<RecordingKey>,
    /// The last answer of `recent`, `since` and the length packed (a
    /// search of 50 000 keys costs more than the rest of a cached page).
    pub(super) last_recent: AtomicU64,
    pub(super) pages: Pages,
}

impl RecordingOrder {
    /// Recordings ending at or after `since`: a prefix of the order.
    pub(super) fn recent(&self, since: i64) -> &[RecordingKey] {
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
