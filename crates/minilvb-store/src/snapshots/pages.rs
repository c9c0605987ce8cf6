//! The pages cut from an order, rendered, shown again while their rows
//! are good.

use super::*;

/// The most rows the pages of one order hold (they share the rows with the
/// row caches; their renderings, about 0.5 KiB a row, are what they add:
/// at most about 4 MiB).
pub const MAX_PAGE_ROWS: usize = 8_192;

/// Which list of an order a page is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum List {
    Online,
    Listed,
    Recordings,
}

/// Pages of one order, rendered: a page already shown costs one lookup and
/// its generations' check instead of a lookup per row.
pub(super) struct Pages {
    pub(super) epochs: Arc<Epochs>,
    pub(super) max_rows: usize,
    pub(super) inner: Mutex<PagesInner>,
}

pub(super) struct PagesInner {
    /// By list and window (start, end) of the order.
    pub(super) pages: HashMap<(List, usize, usize), CachedPage>,
    /// Rows held by `pages`.
    pub(super) rows: usize,
    pub(super) swept: Instant,
    /// Counts uses, for [`CachedPage::used`].
    pub(super) tick: u64,
}

pub(super) struct CachedPage {
    pub(super) page: Arc<SharedPage>,
    /// Each row's key generation when it was found or its read began.
    pub(super) stamps: Box<[Stamp]>,
    /// Its oldest row's read, in their epoch if they share one (else 0).
    pub(super) read: Read,
    /// The tick when it was last shown or kept: when the rows bound is
    /// reached, the page shown longest ago goes first.
    pub(super) used: u64,
}

impl Pages {
    pub(super) fn new(epochs: Arc<Epochs>, max_rows: usize) -> Self {
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

    pub(super) fn lock(&self) -> MutexGuard<'_, PagesInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The page if all its rows are still good and no write to any of them
    /// came since they were read.
    pub(super) fn get(
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
    pub(super) fn put(&self, at: (List, usize, usize), mut page: CachedPage) {
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
