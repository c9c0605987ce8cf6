//! Likes: each node adds to like slots of its own (see the module above),
//! so likes neither wait for nor conflict with each other.

use super::*;

/// The lanes of this node's like updates in flight, per target (a bit
/// each). An update takes the lowest free lane, and lane `k` writes slot
/// `like_slot + k * LIKE_SLOTS`: concurrent updates of one target then
/// never wait for each other's row lock, and two nodes share a slot only
/// if they drew the same `like_slot`, as with one lane.
#[derive(Default)]
pub(super) struct LikeLanes {
    busy: std::sync::Mutex<HashMap<LikeTarget, u64>>,
}

/// A lane taken; dropping it frees it.
pub(super) struct LikeLane<'a> {
    lanes: &'a LikeLanes,
    key: LikeTarget,
    index: u32,
}

impl LikeLanes {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LikeTarget, u64>> {
        self.busy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The lowest free lane of a target (lane 63 is shared once all are busy).
    pub(super) fn take(&self, anchor: &str, kind: i64, target: &str) -> LikeLane<'_> {
        let key = (anchor.to_owned(), kind, target.to_owned());
        let mut busy = self.lock();
        let bits = busy.entry(key.clone()).or_default();
        let index = bits.trailing_ones().min(63);
        *bits |= 1 << index;
        LikeLane {
            lanes: self,
            key,
            index,
        }
    }
}

impl LikeLane<'_> {
    pub(super) fn index(&self) -> i64 {
        i64::from(self.index)
    }
}

impl Drop for LikeLane<'_> {
    fn drop(&mut self) {
        let mut busy = self.lanes.lock();
        if let Some(bits) = busy.get_mut(&self.key) {
            *bits &= !(1 << self.index);
            if *bits == 0 {
                busy.remove(&self.key);
            }
        }
    }
}

/// `ADD_TO_SLOT` for `target`'s `slot`, only if the target exists: the
/// statement and its arguments.
pub(super) fn add_to_existing_slot(
    target: &Counted,
    slot: i64,
    delta: i64,
) -> (String, Vec<Arg<'_>>) {
    let (table, key, keys) = counted_row(target);
    let (anchor, kind, like_target) = like_key(target);
    let mut args = args![delta, anchor, kind, like_target, slot].to_vec();
    args.extend_from_slice(&keys);
    (
        format!("{ADD_TO_SLOT} AND EXISTS (SELECT 1 FROM {table} WHERE {key})"),
        args,
    )
}

/// The like slots of a target: (anchor, kind, target).
pub(super) fn like_key(target: &Counted) -> (&str, i64, &str) {
    match target {
        Counted::Room { userid } => (userid, 0, ""),
        Counted::Recording { userid, fileid } => (userid, 1, fileid),
    }
}
impl<DB: Dialect> SqlStore<DB> {
    /// Adds `delta` to one like slot of a target, creating it if need be.
    /// With `delta` 0 it only locks the slot (for slot 0's unlikes: the
    /// row lock on one server; on Galera the write that follows conflicts).
    pub(super) async fn add_to_slot(
        tx: &mut DB::Conn,
        (anchor, kind, target): (&str, i64, &str),
        slot: i64,
        delta: i64,
    ) -> Result<(), sqlx::Error> {
        let lock = if delta == 0 { DB::FOR_UPDATE } else { "" };
        let found = if delta == 0 {
            let statement = format!(
                "SELECT likes FROM like_slots WHERE anchor = ? AND kind = ? AND target = ? \
                 AND slot = ?{lock}"
            );
            Self::found(tx, &statement, args![anchor, kind, target, slot]).await?
        } else {
            Self::exec(tx, ADD_TO_SLOT, args![delta, anchor, kind, target, slot]).await? > 0
        };
        if !found {
            // Two transactions creating one slot: the loser's unique-key
            // error re-runs it, and it finds the row.
            Self::exec(
                tx,
                "INSERT INTO like_slots (anchor, kind, target, slot, likes) VALUES (?, ?, ?, ?, ?)",
                args![anchor, kind, target, slot, delta],
            )
            .await?;
        }
        Ok(())
    }

    /// Adds `delta` likes to `target` in `tx`: into `slot` if positive;
    /// unlikes through slot 0 one after the other (its row lock, or on
    /// Galera the conflict of two writes of it), floored at the total.
    /// False when the target does not exist.
    pub(super) async fn apply_likes(
        tx: &mut DB::Conn,
        target: &Counted,
        delta: i64,
        slot: i64,
    ) -> Result<bool, sqlx::Error> {
        let (table, key, keys) = counted_row(target);
        let like_key = like_key(target);
        if delta > 0 {
            let (add, add_args) = add_to_existing_slot(target, slot, delta);
            if Self::exec(tx, &add, &add_args).await? > 0 {
                return Ok(true);
            }
            let exists = format!("SELECT 1 FROM {table} WHERE {key}");
            if !Self::found(tx, &exists, &keys).await? {
                return Ok(false);
            }
            Self::add_to_slot(tx, like_key, slot, delta).await?;
            return Ok(true);
        }
        let base = format!("SELECT like_count FROM {table} WHERE {key}");
        let Some(base) = Self::fetch(tx, &base, &keys)
            .await?
            .first()
            .map(|r| int(r, "like_count"))
        else {
            return Ok(false);
        };
        if delta == 0 {
            return Ok(true);
        }
        Self::add_to_slot(tx, like_key, 0, 0).await?;
        let slots = format!(
            "SELECT CAST(COALESCE(SUM(likes), 0) AS {}) FROM like_slots \
             WHERE anchor = ? AND kind = ? AND target = ?",
            DB::INTEGER
        );
        let (anchor, kind, like_target) = like_key;
        let rows = Self::fetch(tx, &slots, args![anchor, kind, like_target]).await?;
        let total = base
            + rows
                .first()
                .map(|r| r.first_int())
                .transpose()?
                .unwrap_or(0);
        let applied = delta.max(-total);
        if applied < 0 {
            Self::add_to_slot(tx, like_key, 0, applied).await?;
        }
        Ok(true)
    }

    /// Drops a target's like slots (a new session, a replaced or deleted recording).
    pub(super) async fn clear_likes(
        tx: &mut DB::Conn,
        (anchor, kind, target): (&str, i64, &str),
    ) -> Result<(), sqlx::Error> {
        Self::exec(
            tx,
            "DELETE FROM like_slots WHERE anchor = ? AND kind = ? AND target = ?",
            args![anchor, kind, target],
        )
        .await
        .map(drop)
    }
}

#[async_trait]
impl<DB: Dialect> Likes for SqlStore<DB> {
    async fn add_likes(&self, target: &Counted, delta: i64) -> StoreResult<bool> {
        if delta == 0 {
            return self.exists(target).await;
        }
        if delta > 0 {
            // Into a slot of this node's: no other node writes it, so likes
            // from several nodes neither wait for each other nor conflict;
            // nor do this node's concurrent updates of the target, each in
            // a lane of its own.
            let (anchor, kind, like_target) = like_key(target);
            let lane = self.like_lanes.take(anchor, kind, like_target);
            let slot = self.like_slot + lane.index() * LIKE_SLOTS;
            // The slot is there but for the target's first likes: one
            // statement then, committing by itself. (On the single writer
            // every write is a transaction, whose first statement is this.)
            if !DB::SINGLE_WRITER {
                let (add, add_args) = add_to_existing_slot(target, slot, delta);
                if self.write_alone("add_likes", &add, &add_args).await? > 0 {
                    return Ok(true);
                }
            }
            return transaction!(self, "add_likes", |tx| {
                Self::apply_likes(tx, target, delta, slot).await
            });
        }
        transaction!(self, "remove_likes", |tx| {
            Self::apply_likes(tx, target, delta, 0).await
        })
    }

    async fn add_likes_many(&self, batch: &[(Counted, i64)]) -> StoreResult<Vec<bool>> {
        transaction!(self, "add_likes", |tx| {
            let mut found = Vec::with_capacity(batch.len());
            for (target, delta) in batch {
                found.push(Self::apply_likes(tx, target, *delta, self.like_slot).await?);
            }
            Ok(found)
        })
    }
}
