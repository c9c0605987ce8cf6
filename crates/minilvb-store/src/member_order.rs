//! The order of a large group's members, kept in memory for deep pages.
//!
//! `LIMIT 20 OFFSET 50000` walks 50 000 index entries in every database:
//! a random page of a room with 100 000 viewers costs milliseconds, where
//! page 1 costs microseconds. So a page that starts at [`DEEP_OFFSET`] or
//! beyond takes its member ids from a snapshot of the group's order (ids
//! only, 8 bytes a member), rebuilt at most every `database.list_snapshot_ms`,
//! and reads those members' rows by id: a member gone since the snapshot
//! drops out of the page, one arrived since shows from the next snapshot.
//! The first pages, which the apps show, are read exactly (page 1 is kept
//! in memory where nobody else writes: see `snapshots::member_pages`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pages starting before this offset are read with `OFFSET` (at most this
/// many index entries skipped, some tens of microseconds).
pub const DEEP_OFFSET: i64 = 1000;

/// Snapshots kept at once (the groups being paged deeply); the oldest go first.
const MAX_GROUPS: usize = 16;

/// A group and an order: (anchor, kind, group key, ORDER BY).
pub type OrderKey = (String, i64, String, &'static str);

struct Snapshot {
    built: Instant,
    /// None while the first build is under way.
    ids: Option<Arc<Vec<i64>>>,
    /// Someone is rebuilding it: the others keep using this one meanwhile.
    rebuilding: bool,
}

/// Snapshots of member orders, by group and order.
pub struct MemberOrders {
    ttl: Duration,
    groups: Mutex<HashMap<OrderKey, Snapshot>>,
}

/// What a page should do.
pub enum Lookup<'a> {
    /// Use these ids.
    Ids(Arc<Vec<i64>>),
    /// Read the page exactly: the group's first snapshot is being built
    /// (by one caller only: a crowd of deep pages of a new group each
    /// reading all its ids held a copy of 100 000 rows apiece).
    Exact,
    /// Rebuild the snapshot and hand it to [`Rebuild::done`].
    Rebuild(Rebuild<'a>),
}

/// The turn to rebuild a snapshot; given up (dropped) without
/// [`Rebuild::done`], the next caller tries again.
pub struct Rebuild<'a> {
    orders: &'a MemberOrders,
    key: Option<OrderKey>,
}

impl Rebuild<'_> {
    pub fn done(mut self, ids: Arc<Vec<i64>>) {
        if let Some(key) = self.key.take() {
            self.orders.store(key, Some(ids));
        }
    }
}

impl Drop for Rebuild<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.orders.store(key, None);
        }
    }
}

impl MemberOrders {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            groups: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a page at `offset` reads from a snapshot.
    pub fn serves(&self, offset: i64) -> bool {
        !self.ttl.is_zero() && offset >= DEEP_OFFSET
    }

    /// The snapshot for `key`, or the caller's turn to rebuild it. While
    /// one caller rebuilds, the others use the old snapshot.
    pub fn lookup(&self, key: &OrderKey) -> Lookup<'_> {
        {
            let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            match groups.get_mut(key) {
                Some(snapshot) if snapshot.built.elapsed() < self.ttl || snapshot.rebuilding => {
                    return match &snapshot.ids {
                        Some(ids) => Lookup::Ids(Arc::clone(ids)),
                        None => Lookup::Exact,
                    };
                }
                Some(snapshot) => snapshot.rebuilding = true,
                None => {
                    groups.insert(
                        key.clone(),
                        Snapshot {
                            built: Instant::now(),
                            ids: None,
                            rebuilding: true,
                        },
                    );
                }
            }
        }
        // Made with the lock released: dropping it takes the lock.
        Lookup::Rebuild(Rebuild {
            orders: self,
            key: Some(key.clone()),
        })
    }

    /// Keeps a rebuilt snapshot (`None`: the rebuild failed; the old one,
    /// if any, is kept and the next caller tries again).
    fn store(&self, key: OrderKey, ids: Option<Arc<Vec<i64>>>) {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        match ids {
            Some(ids) => {
                if !groups.contains_key(&key) && groups.len() >= MAX_GROUPS {
                    let oldest = groups
                        .iter()
                        .min_by_key(|(_, s)| s.built)
                        .map(|(k, _)| k.clone());
                    if let Some(oldest) = oldest {
                        groups.remove(&oldest);
                    }
                }
                groups.insert(
                    key,
                    Snapshot {
                        built: Instant::now(),
                        ids: Some(ids),
                        rebuilding: false,
                    },
                );
            }
            None => match groups.get_mut(&key) {
                Some(snapshot) if snapshot.ids.is_none() => {
                    groups.remove(&key);
                }
                Some(snapshot) => snapshot.rebuilding = false,
                None => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(group: &str) -> OrderKey {
        ("anchor".into(), 0, group.into(), "id")
    }

    #[test]
    fn shallow_pages_and_no_interval_read_the_database() {
        assert!(!MemberOrders::new(Duration::from_secs(1)).serves(DEEP_OFFSET - 1));
        assert!(MemberOrders::new(Duration::from_secs(1)).serves(DEEP_OFFSET));
        assert!(!MemberOrders::new(Duration::ZERO).serves(i64::MAX));
    }

    #[test]
    fn one_caller_rebuilds_while_the_others_use_the_old_order() {
        let orders = MemberOrders::new(Duration::from_nanos(1));
        let Lookup::Rebuild(first) = orders.lookup(&key("g")) else {
            panic!("nothing to use yet")
        };
        // While the first build is under way, the others read exactly.
        assert!(matches!(orders.lookup(&key("g")), Lookup::Exact));
        first.done(Arc::new(vec![1, 2, 3]));
        std::thread::sleep(Duration::from_millis(1));
        // Stale: the first caller rebuilds, the next one gets the old ids.
        let rebuild = orders.lookup(&key("g"));
        assert!(matches!(rebuild, Lookup::Rebuild(_)));
        match orders.lookup(&key("g")) {
            Lookup::Ids(ids) => assert_eq!(*ids, vec![1, 2, 3]),
            _ => panic!("two rebuilds at once"),
        }
        // A rebuild given up (a failed read, a request's deadline) lets the
        // next caller try again.
        drop(rebuild);
        assert!(matches!(orders.lookup(&key("g")), Lookup::Rebuild(_)));
    }

    #[test]
    fn a_first_build_given_up_lets_the_next_caller_build() {
        let orders = MemberOrders::new(Duration::from_secs(60));
        let first = orders.lookup(&key("g"));
        assert!(matches!(first, Lookup::Rebuild(_)));
        assert!(matches!(orders.lookup(&key("g")), Lookup::Exact));
        drop(first);
        assert!(matches!(orders.lookup(&key("g")), Lookup::Rebuild(_)));
    }

    #[test]
    fn memory_is_bounded() {
        let orders = MemberOrders::new(Duration::from_secs(60));
        for n in 0..MAX_GROUPS + 5 {
            orders.store(key(&n.to_string()), Some(Arc::new(vec![1])));
        }
        assert_eq!(orders.groups.lock().unwrap().len(), MAX_GROUPS);
    }
}
