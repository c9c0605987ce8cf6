//! The rows the lists showed, by key, as the JSON the apps receive; with
//! the marks that keep a read begun before a write from being kept after it.

use super::*;

/// Shards of a [`RowCache`], each with its own lock.
pub(super) const SHARDS: usize = 64;
/// Generation counters per shard: a write blocks the installation of rows
/// whose key shares its counter (1 in 4096), not of the whole shard.
pub(super) const SLOTS: usize = 64;
/// What a row costs besides its [`SharedPusher::size`]: the map's entry,
/// the `Arc`'s counts, the allocator's headers.
pub(super) const ROW_OVERHEAD: usize = 96;

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
pub(super) struct RowCache {
    pub(super) epochs: Arc<Epochs>,
    pub(super) max_shard_bytes: usize,
    pub(super) hasher: RandomState,
    pub(super) shards: Box<[Mutex<Shard>]>,
    pub(super) marks: Marks,
}

/// The race rule's marks, [`SLOTS`] per shard: a generation counter and
/// the writes in flight. Changed only under the shard's lock; pages check
/// their generations without it.
pub(super) struct Marks {
    pub(super) generations: Box<[AtomicU64]>,
    pub(super) writing: Box<[AtomicU64]>,
}

impl Marks {
    pub(super) fn new() -> Self {
        let counters = || (0..SHARDS * SLOTS).map(|_| AtomicU64::new(0)).collect();
        Self {
            generations: counters(),
            writing: counters(),
        }
    }

    pub(super) fn shard(hash: u64) -> usize {
        hash as usize % SHARDS
    }

    pub(super) fn slot(hash: u64) -> usize {
        Self::shard(hash) * SLOTS + (hash >> 32) as usize % SLOTS
    }

    pub(super) fn generation(&self, hash: u64) -> u64 {
        self.generations[Self::slot(hash)].load(Ordering::SeqCst)
    }

    /// A write to the hash's key committed: reads that began before are refused.
    pub(super) fn bump(&self, hash: u64) {
        self.generations[Self::slot(hash)].fetch_add(1, Ordering::SeqCst);
    }

    /// [`Marks::bump`] for every key of a shard.
    pub(super) fn bump_shard(&self, shard: usize) {
        for slot in &self.generations[shard * SLOTS..(shard + 1) * SLOTS] {
            slot.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A write that will patch what it changes begins: nothing read before
    /// it ends is installed.
    pub(super) fn begin(&self, hash: u64) {
        self.bump(hash);
        self.writing[Self::slot(hash)].fetch_add(1, Ordering::SeqCst);
    }

    /// That write ended (patched, or dropped what it changed).
    pub(super) fn end(&self, hash: u64) {
        self.bump(hash);
        self.writing[Self::slot(hash)].fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether a read that began at `generation` may be installed: no write
    /// to its key ended since, nor is one in flight.
    pub(super) fn open(&self, hash: u64, generation: u64) -> bool {
        self.generation(hash) == generation
            && self.writing[Self::slot(hash)].load(Ordering::SeqCst) == 0
    }
}

/// A row's change by a write: the changed row, or None to drop it.
pub(super) type Patch<'a> = dyn Fn(&Arc<SharedPusher>) -> Option<Arc<SharedPusher>> + 'a;

/// A write to a row's count in flight: see [`RowCache::begin_write`]. If
/// dropped before [`RowCache::end_write`] (the write failed, or its task was
/// cancelled), the row is dropped as by any other write.
pub(super) struct Writing<'a> {
    pub(super) cache: &'a RowCache,
    pub(super) hash: u64,
    pub(super) key: Key<'a>,
    pub(super) ended: bool,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.cache.finish(self.hash, self.key, None);
        }
    }
}

pub(super) struct Shard {
    /// By the key's hash; a row under another key's hash (a collision) is a
    /// miss, and is replaced.
    pub(super) rows: HashMap<u64, Row, BuildHasherDefault<Prehashed>>,
    /// What `rows` hold, by [`Row::size`].
    pub(super) bytes: usize,
    /// When rows no longer good were last dropped.
    pub(super) swept: Instant,
    /// Counts uses, for [`Row::used`].
    pub(super) tick: u64,
}

pub(super) struct Row {
    pub(super) info: Arc<SharedPusher>,
    pub(super) read: Read,
    /// Its shard's tick when it was last found or kept: a full shard makes
    /// room by dropping the rows used longest ago.
    pub(super) used: u64,
}

impl Row {
    pub(super) fn size(&self) -> usize {
        self.info.size() + ROW_OVERHEAD
    }
}

/// What a reader that missed needs to install the row it reads.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket {
    pub(super) hash: u64,
    pub(super) generation: u64,
    pub(super) read: Read,
}

/// A row found: it, its key's generation then, and its read.
#[derive(Debug)]
pub(super) struct Hit {
    pub(super) row: Arc<SharedPusher>,
    pub(super) stamp: Stamp,
    pub(super) read: Read,
}

/// A key's generation when its row was found or its read began: a page
/// built from that row is current while the generation is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stamp {
    pub(super) hash: u64,
    pub(super) generation: u64,
}

impl Ticket {
    pub(super) fn stamp(&self) -> Stamp {
        Stamp {
            hash: self.hash,
            generation: self.generation,
        }
    }
}

/// The rows' map is keyed by hashes already.
#[derive(Default)]
pub(super) struct Prehashed(u64);

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
    pub(super) fn new(epochs: Arc<Epochs>, max_bytes: usize) -> Self {
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

    pub(super) fn hash(&self, key: Key<'_>) -> u64 {
        self.hasher.hash_one(key)
    }

    pub(super) fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        self.shards[Marks::shard(hash)]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Marks a write to `key`'s count as begun (see the race rule): rows
    /// read before it or during it are not installed.
    pub(super) fn begin_write<'a>(&'a self, key: Key<'a>) -> Writing<'a> {
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
    pub(super) fn end_write(&self, mut writing: Writing<'_>, patch: Option<&Patch>) {
        writing.ended = true;
        self.finish(writing.hash, writing.key, patch);
    }

    pub(super) fn finish(&self, hash: u64, key: Key<'_>, patch: Option<&Patch>) {
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
    pub(super) fn current(&self, stamp: Stamp) -> bool {
        self.marks.generation(stamp.hash) == stamp.generation
    }

    /// The key's row if still good at `now`; otherwise the ticket to install
    /// the row about to be read.
    pub(super) fn get(&self, key: Key<'_>, now: Instant) -> Result<Hit, Ticket> {
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
    pub(super) fn install(&self, ticket: Ticket, info: Arc<SharedPusher>) {
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
    pub(super) fn invalidate(&self, key: Key<'_>) {
        let hash = self.hash(key);
        let mut shard = self.shard(hash);
        self.marks.bump(hash);
        let removed = shard.take(hash);
        drop(shard);
        drop(removed);
    }

    /// [`RowCache::invalidate`] for every key.
    pub(super) fn invalidate_all(&self) {
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
    pub(super) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).rows.len())
            .sum()
    }

    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).bytes)
            .sum()
    }
}

impl Shard {
    pub(super) fn take(&mut self, hash: u64) -> Option<Row> {
        let row = self.rows.remove(&hash)?;
        self.bytes -= row.size();
        Some(row)
    }

    /// Takes out the rows no longer good, at most once per interval: the
    /// caller drops them after it let the shard go.
    pub(super) fn sweep(&mut self, epochs: &Epochs, now: Instant) -> Vec<Row> {
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
    pub(super) fn make_room(
        &mut self,
        epochs: &Epochs,
        now: Instant,
        max_bytes: usize,
    ) -> Vec<Row> {
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
