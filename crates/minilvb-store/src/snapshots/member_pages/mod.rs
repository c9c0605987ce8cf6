//! Page 1 of the member lists, kept while nobody else writes: see
//! [`MemberPages`].

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::{Epochs, Marks, Prehashed, Read, SHARDS};
use crate::MemberChange;
use crate::settings::MemberOrder;
use minilvb_protocol::{Group, MemberInfo, Page, SharedMembers};

/// A group's members as FetchGroupMemberList answers them: the group the
/// name meant, the total, the page.
pub(super) type NamedPage = (Group, i64, Arc<SharedMembers>);

/// Page 1 of each group's member list, as this node last read it, with
/// its own enters and quits applied since.
///
/// Everyone in a popular room opens its member list, and enters and quits
/// change the room all the time: read each time, the list costs a query
/// per view (and on SQLite each commit empties the readers' page caches).
/// But page 1 in join order (the default) is the first members: a
/// newcomer changes only the total, and a quit changes the rows only when
/// the member is on the page. So the page is kept and this node's enters
/// and quits are applied to it: the total always, the rows where the order
/// says where the member goes (an enter in join or latest order; a quit or
/// a refresh of a member shown, when the page holds them all), and
/// otherwise it is read again. Any other write that changes who is in a
/// group, or which group a name means (a new session; a recording
/// arriving, going or imported; members imported), drops the anchor's
/// pages.
///
/// Only while the database says nobody else wrote (see [`Epochs`]): on
/// SQLite, another process's write (an operator's import) shows within
/// `database.list_snapshot_ms`. PostgreSQL and MySQL cannot tell, and other
/// nodes change members all the time: there, page 1 is read every time.
///
/// The race rule is [`super::RowCache`]'s, by anchor: a reader takes its
/// anchor's generation before it reads; a write marks the anchor before it
/// begins and patches or drops the anchor's pages after it committed; a
/// page read while a write was in flight, or across its end, is not kept.
pub(super) struct MemberPages {
    epochs: Arc<Epochs>,
    hasher: RandomState,
    max_shard_rows: usize,
    shards: Box<[Mutex<Shard>]>,
    marks: Marks,
}

/// Members kept at most, over all pages (each about 100-200 bytes with
/// its strings, and again in the rendering of the page last shown): at
/// most some 10 MiB.
pub const MAX_MEMBER_ROWS: usize = 32_768;

#[derive(Default)]
struct Shard {
    /// By the anchor's hash; another anchor under the same hash replaces it.
    anchors: HashMap<u64, Anchor, BuildHasherDefault<Prehashed>>,
    /// Members held, plus one per page.
    rows: usize,
    /// Counts uses, for [`Anchor::used`].
    tick: u64,
}

struct Anchor {
    anchor: String,
    pages: Vec<Kept>,
    /// Its shard's tick when a page of it was last shown or kept: a full
    /// shard drops the anchors used longest ago.
    used: u64,
}

impl Anchor {
    fn rows(&self) -> usize {
        self.pages.iter().map(Kept::rows).sum()
    }
}

/// Page 1 of the group a name means.
struct Kept {
    name: String,
    order: MemberOrder,
    group: Group,
    total: i64,
    members: Vec<MemberInfo>,
    /// `members` holds every member of the group.
    complete: bool,
    read: Read,
    /// The page last shown of them (rendered once, shown to everyone who
    /// asks for that size until the rows change).
    shown: Option<Arc<SharedMembers>>,
}

impl Kept {
    fn rows(&self) -> usize {
        self.members.len() + 1
    }

    /// Whether it holds page 1 of `size`.
    fn serves(&self, size: usize) -> bool {
        size <= self.members.len() || self.complete
    }

    /// Page 1 of `size` (which it serves).
    fn page(&mut self, size: usize) -> Arc<SharedMembers> {
        let len = size.min(self.members.len());
        match &self.shown {
            Some(shown) if shown.members().len() == len => Arc::clone(shown),
            _ => {
                let shown = SharedMembers::new(self.members[..len].to_vec());
                self.shown = Some(Arc::clone(&shown));
                shown
            }
        }
    }

    /// Applies an enter or a quit that moved the group's count by `moved`;
    /// false when it cannot say what the page becomes (drop it).
    fn apply(&mut self, change: &MemberChange, moved: i64) -> bool {
        if change.group() != &self.group {
            return true;
        }
        let shown = self
            .members
            .iter()
            .position(|m| m.userid == change.userid());
        // Whether the rows change (the total is not in what was shown).
        let mut rows_changed = false;
        match (change, moved) {
            (MemberChange::Enter { member, .. }, 1) => {
                if shown.is_some() {
                    return false;
                }
                self.total += 1;
                let info = MemberInfo {
                    userid: member.userid.clone(),
                    nickname: member.nickname.clone(),
                    headpic: member.headpic.clone(),
                };
                match self.order {
                    // A new member comes last...
                    MemberOrder::Join if self.complete => {
                        self.members.push(info);
                        rows_changed = true;
                    }
                    MemberOrder::Join => {}
                    // ...or first.
                    MemberOrder::Latest => {
                        self.members.insert(0, info);
                        if !self.complete {
                            self.members.pop();
                        }
                        rows_changed = true;
                    }
                    // Where its level puts it, only the rows not shown know.
                    MemberOrder::Level => return false,
                }
            }
            // A member entering again: its place stays (unless its level
            // moves it), and its details refresh as the store does.
            (MemberChange::Enter { member, .. }, 0) => {
                if self.order == MemberOrder::Level && member.level.is_some() {
                    return false;
                }
                match shown {
                    Some(at) => {
                        let shown = &mut self.members[at];
                        if !member.nickname.is_empty() {
                            shown.nickname.clone_from(&member.nickname);
                        }
                        if !member.headpic.is_empty() {
                            shown.headpic.clone_from(&member.headpic);
                        }
                        rows_changed = true;
                    }
                    None if self.complete => return false,
                    None => {}
                }
            }
            (MemberChange::Quit { .. }, -1) => {
                self.total = (self.total - 1).max(0);
                match shown {
                    Some(at) if self.complete => {
                        self.members.remove(at);
                        rows_changed = true;
                    }
                    // The next member moves up: only the database knows it.
                    Some(_) => return false,
                    None if self.complete => return false,
                    None => {}
                }
            }
            (MemberChange::Quit { .. }, 0) => return shown.is_none(),
            _ => return false,
        }
        let max = Page::MAX_SIZE as usize;
        if self.members.len() > max {
            self.members.truncate(max);
            self.complete = false;
        }
        if rows_changed {
            self.shown = None;
        }
        true
    }
}

/// What a reader that missed needs to keep the page it reads.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket {
    hash: u64,
    generation: u64,
    read: Read,
}

/// An enter or a quit in flight, marked on its anchor; dropped before
/// [`MemberPages::end_write`] (the write failed or was cancelled), it drops
/// the anchor's pages.
pub(super) struct Writing<'a> {
    pages: &'a MemberPages,
    hash: u64,
    anchor: &'a str,
    ended: bool,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.pages.finish(self.hash, self.anchor, None);
        }
    }
}

impl MemberPages {
    pub(super) fn new(epochs: Arc<Epochs>, max_rows: usize) -> Self {
        Self {
            epochs,
            hasher: RandomState::new(),
            max_shard_rows: max_rows / SHARDS,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            marks: Marks::new(),
        }
    }

    fn hash(&self, anchor: &str) -> u64 {
        self.hasher.hash_one(anchor)
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        self.shards[Marks::shard(hash)]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Page 1 of `size` of the group `name` means for `anchor`, if kept;
    /// else the ticket to keep the page about to be read (None when it
    /// could not be kept: the database does not tell of other writers).
    pub(super) fn get(
        &self,
        anchor: &str,
        name: &str,
        order: MemberOrder,
        size: i64,
        now: Instant,
    ) -> Result<NamedPage, Option<Ticket>> {
        let size = usize::try_from(size).unwrap_or(0);
        let hash = self.hash(anchor);
        let mut guard = self.shard(hash);
        let shard = &mut *guard;
        let generation = self.marks.generation(hash);
        if let Some(kept) = shard.anchors.get_mut(&hash).filter(|a| a.anchor == anchor) {
            let found = kept.pages.iter_mut().find(|p| {
                p.name == name
                    && p.order == order
                    && p.serves(size)
                    && self.epochs.unchanged(p.read, now)
            });
            if let Some(page) = found {
                let shown = page.page(size);
                let found = (page.group.clone(), page.total, shown);
                shard.tick += 1;
                kept.used = shard.tick;
                return Ok(found);
            }
        }
        let read = self.epochs.read(now);
        Err((read.epoch != 0).then_some(Ticket {
            hash,
            generation,
            read,
        }))
    }

    /// Keeps page 1 of `size` read with `ticket`, unless a write to the
    /// anchor's groups came since the ticket was taken or is in flight.
    pub(super) fn install(
        &self,
        ticket: Ticket,
        anchor: &str,
        name: &str,
        order: MemberOrder,
        size: i64,
        (group, total, members): &NamedPage,
    ) {
        let mut guard = self.shard(ticket.hash);
        if !self.marks.open(ticket.hash, ticket.generation) {
            return;
        }
        let shard = &mut *guard;
        let page = Kept {
            name: name.to_owned(),
            order,
            group: group.clone(),
            total: *total,
            complete: i64::try_from(members.members().len()).unwrap_or(i64::MAX) < size,
            members: members.members().to_vec(),
            read: ticket.read,
            shown: Some(Arc::clone(members)),
        };
        shard.tick += 1;
        let tick = shard.tick;
        let mut dropped = Vec::new();
        let entry = shard.anchors.entry(ticket.hash).or_insert_with(|| Anchor {
            anchor: anchor.to_owned(),
            pages: Vec::new(),
            used: tick,
        });
        if entry.anchor != anchor {
            shard.rows -= entry.rows();
            dropped.push(std::mem::replace(
                entry,
                Anchor {
                    anchor: anchor.to_owned(),
                    pages: Vec::new(),
                    used: tick,
                },
            ));
        }
        entry.used = tick;
        shard.rows += page.rows();
        match entry
            .pages
            .iter_mut()
            .find(|p| p.name == name && p.order == order)
        {
            Some(old) => {
                shard.rows -= old.rows();
                *old = page;
            }
            None => entry.pages.push(page),
        }
        if shard.rows > self.max_shard_rows {
            dropped.extend(shard.make_room(&self.epochs, self.max_shard_rows));
        }
        drop(guard);
        drop(dropped);
    }

    /// Marks an enter or a quit to `anchor`'s group as begun: pages read
    /// before it ends are not kept.
    pub(super) fn begin_write<'a>(&'a self, anchor: &'a str) -> Writing<'a> {
        let hash = self.hash(anchor);
        let guard = self.shard(hash);
        self.marks.begin(hash);
        drop(guard);
        Writing {
            pages: self,
            hash,
            anchor,
            ended: false,
        }
    }

    /// The write committed: `change`, which moved its group's count by the
    /// amount given, applied to the anchor's pages; with None (not known)
    /// the anchor's pages dropped.
    pub(super) fn end_write(&self, mut writing: Writing<'_>, change: Option<(&MemberChange, i64)>) {
        writing.ended = true;
        self.finish(writing.hash, writing.anchor, change);
    }

    fn finish(&self, hash: u64, anchor: &str, change: Option<(&MemberChange, i64)>) {
        let mut guard = self.shard(hash);
        let shard = &mut *guard;
        let mut dropped = Vec::new();
        if let Some(kept) = shard.anchors.get_mut(&hash).filter(|a| a.anchor == anchor) {
            let before = kept.rows();
            match change {
                Some((change, moved)) => {
                    for mut page in std::mem::take(&mut kept.pages) {
                        match page.apply(change, moved) {
                            true => kept.pages.push(page),
                            false => dropped.push(page),
                        }
                    }
                }
                None => dropped.append(&mut kept.pages),
            }
            shard.rows = shard.rows - before + kept.rows();
        }
        self.marks.end(hash);
        drop(guard);
        drop(dropped);
    }

    /// After a write that changed `anchor`'s groups in a way no patch
    /// follows: drops its pages, and refuses those of reads begun before.
    pub(super) fn invalidate(&self, anchor: &str) {
        let hash = self.hash(anchor);
        let mut shard = self.shard(hash);
        self.marks.bump(hash);
        let removed = shard.take(hash);
        drop(shard);
        drop(removed);
    }

    /// [`MemberPages::invalidate`] for every anchor.
    pub(super) fn invalidate_all(&self) {
        for (at, shard) in self.shards.iter().enumerate() {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            self.marks.bump_shard(at);
            let removed = std::mem::take(&mut *shard);
            drop(shard);
            drop(removed);
        }
    }

    #[cfg(test)]
    fn rows(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).rows)
            .sum()
    }
}

impl Shard {
    fn take(&mut self, hash: u64) -> Option<Anchor> {
        let anchor = self.anchors.remove(&hash)?;
        self.rows -= anchor.rows();
        Some(anchor)
    }

    /// Takes out the pages no longer kept; if that frees too little, the
    /// anchors used longest ago, down to 7/8 of `max_rows` so that the next
    /// pages kept do not each search the shard again.
    fn make_room(&mut self, epochs: &Epochs, max_rows: usize) -> Vec<Anchor> {
        let now = Instant::now();
        let mut out = Vec::new();
        for anchor in self.anchors.values_mut() {
            let before = anchor.rows();
            anchor.pages.retain(|p| epochs.unchanged(p.read, now));
            self.rows = self.rows - before + anchor.rows();
        }
        let empty: Vec<u64> = self
            .anchors
            .iter()
            .filter(|(_, a)| a.pages.is_empty())
            .map(|(&hash, _)| hash)
            .collect();
        out.extend(empty.into_iter().filter_map(|hash| self.take(hash)));
        if self.rows > max_rows / 8 * 7 {
            let mut by_use: Vec<(u64, u64)> = self
                .anchors
                .iter()
                .map(|(&hash, a)| (a.used, hash))
                .collect();
            by_use.sort_unstable();
            for (_, hash) in by_use {
                if self.rows <= max_rows / 8 * 7 {
                    break;
                }
                out.extend(self.take(hash));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
