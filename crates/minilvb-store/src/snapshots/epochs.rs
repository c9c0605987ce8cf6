//! When what was read is still good: the interval since it was read, and
//! whether anybody else wrote meanwhile (where the database tells).

use super::*;

/// Which row: a room by its anchor, a recording by (userid, fileid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Key<'a> {
    Room(&'a str),
    Recording(&'a str, &'a str),
}

impl<'a> Key<'a> {
    pub(super) fn of(target: &'a Counted) -> Self {
        match target {
            Counted::Room { userid } => Key::Room(userid),
            Counted::Recording { userid, fileid } => Key::Recording(userid, fileid),
        }
    }

    /// The row whose viewer count a group's members make.
    pub(super) fn group(group: &'a Group) -> Self {
        match group {
            Group::Room { anchor, .. } => Key::Room(anchor),
            Group::Recording { anchor, fileid } => Key::Recording(anchor, fileid),
        }
    }

    /// Whether `row` is this key's row.
    pub(super) fn shows(&self, row: &SharedPusher) -> bool {
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
pub(super) struct Read {
    pub(super) at: Instant,
    pub(super) epoch: u64,
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
pub(super) struct Epochs {
    pub(super) ttl: Duration,
    pub(super) base: Instant,
    pub(super) current: AtomicU64,
    /// When the check that last found the mark unchanged began (ns after `base`).
    pub(super) verified: AtomicU64,
    /// False once the database said it cannot tell.
    pub(super) tells: AtomicBool,
    /// The last mark; held by the check under way.
    pub(super) mark: tokio::sync::Mutex<Option<u64>>,
}

impl Epochs {
    pub(super) fn new(ttl: Duration) -> Self {
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
    pub(super) fn read(&self, now: Instant) -> Read {
        Read {
            at: now,
            epoch: self.current.load(Ordering::SeqCst),
        }
    }

    pub(super) fn since_verified(&self, now: Instant) -> Duration {
        let verified = Duration::from_nanos(self.verified.load(Ordering::SeqCst));
        now.saturating_duration_since(self.base + verified)
    }

    /// Whether what `read` read is still good at `now`.
    pub(super) fn good(&self, read: Read, now: Instant) -> bool {
        now.saturating_duration_since(read.at) < self.ttl || self.unchanged(read, now)
    }

    /// Whether nobody else wrote since `read`, as far as a check less than
    /// the interval ago found (never where the database cannot tell).
    pub(super) fn unchanged(&self, read: Read, now: Instant) -> bool {
        read.epoch != 0
            && read.epoch == self.current.load(Ordering::SeqCst)
            && self.since_verified(now) < self.ttl
    }

    /// Checks the database's mark when due, unless another request is.
    pub(super) async fn check(&self, store: &dyn Store) {
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
