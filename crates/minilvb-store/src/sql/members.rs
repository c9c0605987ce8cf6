//! Members: enters and quits, alone or in batches, and the member pages
//! in the configured order.

use super::*;

/// A page of a group's members by `OFFSET`, in the order `order_by`.
pub(super) fn member_list(order_by: &str) -> String {
    format!(
        "SELECT userid, nickname, headpic FROM members \
         WHERE anchor = ? AND kind = ? AND group_key = ? ORDER BY {order_by} \
         LIMIT ? OFFSET ?"
    )
}

pub(super) fn bind_member<'a>((group, userid): &MemberKey<'a>, args: &mut Vec<Arg<'a>>) {
    args.extend(args![
        group.anchor(),
        group_kind(group),
        group.key(),
        *userid
    ]);
}
impl<DB: Dialect> SqlStore<DB> {
    /// Adds a member; false if the group has it already (SQLite; elsewhere
    /// that is a unique-key violation, and the transaction is re-run).
    pub(super) async fn insert_member(
        tx: &mut DB::Conn,
        group: &Group,
        m: &NewMember,
    ) -> Result<bool, sqlx::Error> {
        const INSERT: &str = "INSERT INTO members (anchor, group_key, kind, userid, nickname, \
             headpic, level, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
        const INSERT_WITH_ID: &str = "INSERT INTO members (anchor, group_key, kind, userid, \
             nickname, headpic, level, joined_at, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, \
             (SELECT COALESCE(MAX(id), 0) + 1 FROM members \
              WHERE anchor = ? AND kind = ? AND group_key = ?)) \
             ON CONFLICT (anchor, kind, group_key, userid) DO NOTHING";
        let (anchor, kind, key) = (group.anchor(), group_kind(group), group.key());
        let values = args![
            anchor,
            key,
            kind,
            &m.userid,
            &m.nickname,
            &m.headpic,
            m.level.unwrap_or(0),
            m.joined_at,
            anchor,
            kind,
            key,
        ];
        let inserted = match DB::SINGLE_WRITER {
            true => Self::exec(tx, INSERT_WITH_ID, values).await?,
            false => Self::exec(tx, INSERT, &values[..8]).await?,
        };
        Ok(inserted > 0)
    }

    /// Refreshes a member's details (those EnterGroup gave); true if it is
    /// one.
    pub(super) async fn refresh_member(
        tx: &mut DB::Conn,
        group: &Group,
        m: &NewMember,
    ) -> Result<bool, sqlx::Error> {
        let refreshed = Self::exec(
            tx,
            "UPDATE members SET nickname = CASE WHEN ? = '' THEN nickname ELSE ? END, \
             headpic = CASE WHEN ? = '' THEN headpic ELSE ? END, \
             level = COALESCE(?, level) \
             WHERE anchor = ? AND kind = ? AND group_key = ? AND userid = ?",
            args![
                &m.nickname,
                &m.nickname,
                &m.headpic,
                &m.headpic,
                m.level,
                group.anchor(),
                group_kind(group),
                group.key(),
                &m.userid,
            ],
        )
        .await?;
        Ok(refreshed > 0)
    }

    /// EnterGroup in `tx`, on the single writer: None when the group does
    /// not exist, else how much its viewer count moved (1 for a new member,
    /// 0 for one there). No row locks to order, so no look first: the count
    /// (which finds whether the group exists), then the member if new; one
    /// already there is refreshed and the count put back. Two statements
    /// for a new member instead of three, on the writer every write waits for.
    pub(super) async fn enter_in(
        tx: &mut DB::Conn,
        group: &Group,
        m: &NewMember,
    ) -> Result<Option<i64>, sqlx::Error> {
        if Self::change_viewers(tx, group, 1).await? == 0 {
            return Ok(None);
        }
        if !Self::insert_member(tx, group, m).await? {
            Self::change_viewers(tx, group, -1).await?;
            Self::refresh_member(tx, group, m).await?;
            return Ok(Some(0));
        }
        Ok(Some(1))
    }

    /// QuitGroup in `tx`, on the single writer: the member, then the count
    /// if it was one. How much the count moved (-1 or 0).
    pub(super) async fn quit_in(
        tx: &mut DB::Conn,
        group: &Group,
        userid: &str,
    ) -> Result<i64, sqlx::Error> {
        let delete = "DELETE FROM members WHERE anchor = ? AND kind = ? AND group_key = ? \
             AND userid = ?";
        let keys = args![group.anchor(), group_kind(group), group.key(), userid];
        if Self::exec(tx, delete, keys).await? > 0 {
            Self::change_viewers(tx, group, -1).await?;
            return Ok(-1);
        }
        Ok(0)
    }

    /// Enters and quits together, on a database server (see
    /// `member_changes`): the groups' rows locked first, in key order, so
    /// that batches of several nodes queue for them rather than deadlock;
    /// then the members the changes name, read; then a statement per kind
    /// of write, the counts last. Every statement's conditions are padded
    /// (see [`any_of`]), so that batches of any size share a few shapes.
    pub(super) async fn change_members_together(
        tx: &mut DB::Conn,
        changes: &[MemberChange],
    ) -> Result<Vec<Option<i64>>, sqlx::Error> {
        let mut groups: Vec<&Group> = changes.iter().map(MemberChange::group).collect();
        groups.sort();
        groups.dedup();
        let existing = Self::lock_groups(tx, &groups).await?;
        let mut named: Vec<MemberKey> = changes
            .iter()
            .filter(|change| existing.contains(change.group()))
            .map(|change| (change.group(), change.userid()))
            .collect();
        named.sort();
        named.dedup();
        let stored = Self::stored_members(tx, &named).await?;
        let plan = member_changes::plan(changes, &existing, &stored);
        // Each write is checked against what was read: should the read
        // not be the truth (on Galera, whose row locks are the node's own,
        // another node may have changed a member meanwhile), the batch is
        // re-run rather than leave a count that misses a member. (An
        // insert of a member already there fails on its key.)
        let changed = |done: u64, planned: usize| match done == planned as u64 {
            true => Ok(()),
            false => Err(Rerun::error("members changed under a batch")),
        };
        if !plan.deletes.is_empty() {
            let (any, args) = any_of(&plan.deletes, MEMBER, bind_member);
            let delete = format!("DELETE FROM members WHERE {any}");
            changed(Self::exec(tx, &delete, &args).await?, plan.deletes.len())?;
        }
        for (member, d) in &plan.refreshes {
            let mut args = args![&d.nickname, &d.headpic, d.level].to_vec();
            bind_member(member, &mut args);
            let refresh =
                format!("UPDATE members SET nickname = ?, headpic = ?, level = ? WHERE {MEMBER}");
            changed(Self::exec(tx, &refresh, &args).await?, 1)?;
        }
        if !plan.inserts.is_empty() {
            Self::insert_members(tx, &plan.inserts).await?;
        }
        for of_table in plan
            .moved
            .chunk_by(|a, b| group_kind(a.0) == group_kind(b.0))
        {
            let (table, key) = group_table(of_table[0].0);
            let when = format!("WHEN userid = ? AND {key} = ? THEN ?");
            let (delta, delta_args) = padded(of_table, &when, " ", |(g, delta), _, a| {
                a.extend(args![g.anchor(), g.key(), *delta]);
            });
            let (any, keys) = any_of(
                of_table,
                &format!("userid = ? AND {key} = ?"),
                |(g, _), a| {
                    a.extend(args![g.anchor(), g.key()]);
                },
            );
            // Relative, as every count, and floored at 0: one that was
            // already wrong does not get worse.
            let update = format!(
                "UPDATE {table} SET viewer_count = CASE WHEN viewer_count + CASE {delta} ELSE 0 END \
                 < 0 THEN 0 ELSE viewer_count + CASE {delta} ELSE 0 END END WHERE {any}"
            );
            let args = [&delta_args[..], &delta_args, &keys].concat();
            changed(Self::exec(tx, &update, &args).await?, of_table.len())?;
        }
        Ok(plan.outcomes)
    }

    /// Locks the rows of `groups` (sorted: rooms, then recordings, each in
    /// key order); the groups that exist.
    pub(super) async fn lock_groups<'a>(
        tx: &mut DB::Conn,
        groups: &[&'a Group],
    ) -> Result<HashSet<&'a Group>, sqlx::Error> {
        let mut existing = HashSet::new();
        for of_table in groups.chunk_by(|a, b| group_kind(a) == group_kind(b)) {
            let (table, key) = group_table(of_table[0]);
            let (any, args) = any_of(of_table, &format!("userid = ? AND {key} = ?"), |g, a| {
                a.extend(args![g.anchor(), g.key()]);
            });
            let lock = format!(
                "SELECT userid, {key} AS group_key FROM {table} WHERE {any} \
                 ORDER BY userid, {key}{}",
                DB::FOR_UPDATE
            );
            for row in Self::fetch(tx, &lock, &args).await? {
                let found = (text(&row, "userid"), text(&row, "group_key"));
                let found = (found.0.as_str(), found.1.as_str());
                if let Ok(i) = of_table.binary_search_by(|g| (g.anchor(), g.key()).cmp(&found)) {
                    existing.insert(of_table[i]);
                }
            }
        }
        Ok(existing)
    }

    /// The details of those of the `named` members (sorted) who are members.
    pub(super) async fn stored_members<'a>(
        tx: &mut DB::Conn,
        named: &[MemberKey<'a>],
    ) -> Result<HashMap<MemberKey<'a>, Details>, sqlx::Error> {
        let mut stored = HashMap::new();
        if named.is_empty() {
            return Ok(stored);
        }
        let (any, args) = any_of(named, MEMBER, bind_member);
        let read = format!(
            "SELECT anchor, kind, group_key, userid, nickname, headpic, level \
             FROM members WHERE {any}"
        );
        for row in Self::fetch(tx, &read, &args).await? {
            let keys = [
                text(&row, "anchor"),
                text(&row, "group_key"),
                text(&row, "userid"),
            ];
            let found = (
                int(&row, "kind"),
                keys[0].as_str(),
                keys[1].as_str(),
                keys[2].as_str(),
            );
            let at = named
                .binary_search_by(|&(g, u)| (group_kind(g), g.anchor(), g.key(), u).cmp(&found));
            if let Ok(i) = at {
                let details = Details {
                    nickname: text(&row, "nickname"),
                    headpic: text(&row, "headpic"),
                    level: int(&row, "level"),
                };
                stored.insert(named[i], details);
            }
        }
        Ok(stored)
    }

    /// New members, in one statement: rows selected from bound values,
    /// padded like [`any_of`]'s conditions, the padding's rows marked to be
    /// left out.
    pub(super) async fn insert_members(
        tx: &mut DB::Conn,
        members: &[(&Group, NewMember)],
    ) -> Result<(), sqlx::Error> {
        const ROW: &str = "SELECT ? AS anchor, ? AS group_key, ? AS kind, ? AS userid, \
             ? AS nickname, ? AS headpic, ? AS level, ? AS joined_at, ? AS keep";
        let (rows, args) = padded(members, ROW, " UNION ALL ", |(g, m), real, a| {
            a.extend(args![
                g.anchor(),
                g.key(),
                group_kind(g),
                &m.userid,
                &m.nickname,
                &m.headpic,
                m.level.unwrap_or(0),
                m.joined_at,
                real,
            ]);
        });
        let insert = format!(
            "INSERT INTO members (anchor, group_key, kind, userid, nickname, headpic, level, \
             joined_at) SELECT anchor, group_key, kind, userid, nickname, headpic, level, \
             joined_at FROM ({rows}) AS batch WHERE keep = 1"
        );
        Self::exec(tx, &insert, &args).await.map(drop)
    }

    /// A group's viewer count and a page of its members, read on one
    /// connection. `kind` 0 a room, 1 a recording; `None`: the group
    /// `groupid` names for `anchor`, as FetchGroupMemberList means it (its
    /// room when `groupid` is the room's current groupid, else its
    /// recording by fileid). The count is the membership, kept in the same
    /// transactions: it costs the same at 100 or 100 000 members, where
    /// COUNT(*) grows with them.
    pub(super) async fn member_page(
        &self,
        anchor: &str,
        groupid: &str,
        kind: Option<i64>,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(Group, i64, Vec<MemberInfo>)> {
        const ROOM: &str = "SELECT viewer_count FROM rooms WHERE userid = ? AND groupid = ?";
        const RECORDING: &str =
            "SELECT viewer_count FROM recordings WHERE userid = ? AND fileid = ?";
        let order_by = match order {
            MemberOrder::Join => "id",
            MemberOrder::Latest => "id DESC",
            MemberOrder::Level => "level DESC, id",
        };
        let deep = self.member_orders.serves(page.offset());
        let list = member_list(order_by);
        let (kind, total, rows) = self
            .run("read", &CommitSent::default(), || async {
                let mut conn = self.acquire(DB::lend(&self.pools)).await?;
                let keys = args![anchor, groupid];
                let mut counted = Vec::new();
                let mut kind = kind;
                if kind != Some(1) {
                    counted = Self::fetch(&mut conn, ROOM, keys).await?;
                    if kind.is_none() && !counted.is_empty() {
                        kind = Some(0);
                    }
                }
                let kind = kind.unwrap_or(1);
                if kind == 1 {
                    counted = Self::fetch(&mut conn, RECORDING, keys).await?;
                }
                let total = match counted.first() {
                    Some(row) => row.first_int()?,
                    None => 0,
                };
                let rows = match deep {
                    true => Vec::new(),
                    false => {
                        let args = args![anchor, kind, groupid, page.size, page.offset()];
                        Self::fetch(&mut conn, &list, args).await?
                    }
                };
                Ok((kind, total, rows))
            })
            .await?;
        let (anchor, groupid) = (anchor.to_owned(), groupid.to_owned());
        let group = match kind {
            0 => Group::Room { anchor, groupid },
            _ => Group::Recording {
                anchor,
                fileid: groupid,
            },
        };
        let members = match deep {
            true => self.deep_page(&group, order_by, page).await?,
            false => rows.iter().map(member_info).collect(),
        };
        Ok((group, total, members))
    }

    /// A page far into a large group: ids from the order's snapshot, rows
    /// by id (see `member_order.rs`).
    pub(super) async fn deep_page(
        &self,
        group: &Group,
        order_by: &'static str,
        page: Page,
    ) -> StoreResult<Vec<MemberInfo>> {
        let (anchor, kind, key) = (group.anchor(), group_kind(group), group.key());
        let order_key = (anchor.to_owned(), kind, key.to_owned(), order_by);
        let ids = match self.member_orders.lookup(&order_key) {
            Lookup::Ids(ids) => ids,
            Lookup::Exact => {
                let args = args![anchor, kind, key, page.size, page.offset()];
                let rows = self.read(&member_list(order_by), args).await?;
                return Ok(rows.iter().map(member_info).collect());
            }
            Lookup::Rebuild(rebuild) => {
                let statement = format!(
                    "SELECT id FROM members WHERE anchor = ? AND kind = ? AND group_key = ? \
                     ORDER BY {order_by}"
                );
                let rows = self.read_bulk(&statement, args![anchor, kind, key]).await?;
                let ids = Arc::new(rows.iter().map(|row| int(row, "id")).collect::<Vec<_>>());
                rebuild.done(Arc::clone(&ids));
                ids
            }
        };
        let wanted = window(&ids, page.offset(), page.size);
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let group_keys = [Arg::Text(anchor), Arg::Int(kind), Arg::Text(key)];
        // In join order (either way) the window's ids are neighbours in the
        // group's id index: one range read, where a lookup per id descends
        // the index twenty times, in pages a commit has just evicted from
        // the reader's cache. Ids in the range but not in the window (a
        // member arrived since the snapshot) are dropped below.
        let (statement, keys): (Cow<str>, Vec<Arg>) = match order_by {
            "id" | "id DESC" => {
                let (first, last) = (wanted[0], wanted[wanted.len() - 1]);
                let range = [Arg::Int(first.min(last)), Arg::Int(first.max(last))];
                (
                    Cow::Borrowed(
                        "SELECT id, userid, nickname, headpic FROM members \
                         WHERE anchor = ? AND kind = ? AND group_key = ? AND id BETWEEN ? AND ?",
                    ),
                    group_keys.into_iter().chain(range).collect(),
                )
            }
            _ => (
                Cow::Owned(format!(
                    "SELECT id, userid, nickname, headpic FROM members \
                     WHERE anchor = ? AND kind = ? AND group_key = ? AND id IN ({})",
                    vec!["?"; wanted.len()].join(", ")
                )),
                group_keys
                    .into_iter()
                    .chain(wanted.iter().map(|&id| Arg::Int(id)))
                    .collect(),
            ),
        };
        let rows = self.read(&statement, &keys).await?;
        let mut by_id: HashMap<i64, MemberInfo> = rows
            .iter()
            .map(|row| (int(row, "id"), member_info(row)))
            .collect();
        Ok(wanted.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// Locks the group's row; false when it does not exist.
    pub(super) async fn lock_group(
        conn: &mut DB::Conn,
        group: &Group,
    ) -> Result<bool, sqlx::Error> {
        let (table, key) = group_table(group);
        let statement = format!(
            "SELECT viewer_count FROM {table} WHERE userid = ? AND {key} = ?{}",
            DB::FOR_UPDATE
        );
        Self::found(conn, &statement, args![group.anchor(), group.key()]).await
    }

    /// Moves the group's viewer count; 0 when the group does not exist.
    pub(super) async fn change_viewers(
        conn: &mut DB::Conn,
        group: &Group,
        delta: i64,
    ) -> Result<u64, sqlx::Error> {
        let (table, key) = group_table(group);
        let statement = format!(
            "UPDATE {table} SET {} WHERE userid = ? AND {key} = ?",
            floored("viewer_count")
        );
        Self::exec(
            conn,
            &statement,
            args![delta, delta, group.anchor(), group.key()],
        )
        .await
    }
}

#[async_trait]
impl<DB: Dialect> Members for SqlStore<DB> {
    async fn enter(&self, group: &Group, m: &NewMember) -> StoreResult<bool> {
        let enter = MemberChange::Enter {
            group: group.clone(),
            member: m.clone(),
        };
        Ok(self.change_members(&[enter]).await?[0].is_some())
    }

    async fn quit(&self, group: &Group, userid: &str) -> StoreResult<()> {
        let quit = MemberChange::Quit {
            group: group.clone(),
            userid: userid.to_owned(),
        };
        self.change_members(&[quit]).await.map(drop)
    }

    async fn change_members(&self, changes: &[MemberChange]) -> StoreResult<Vec<Option<i64>>> {
        transaction!(self, "change_members", |tx| {
            if !DB::SINGLE_WRITER {
                return Self::change_members_together(tx, changes).await;
            }
            let mut outcomes = Vec::with_capacity(changes.len());
            for change in changes {
                outcomes.push(match change {
                    MemberChange::Enter { group, member } => {
                        Self::enter_in(tx, group, member).await?
                    }
                    MemberChange::Quit { group, userid } => {
                        Some(Self::quit_in(tx, group, userid).await?)
                    }
                });
            }
            Ok(outcomes)
        })
    }

    async fn members_named(
        &self,
        anchor: &str,
        groupid: &str,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(Group, i64, Arc<SharedMembers>)> {
        let (group, total, members) = self.member_page(anchor, groupid, None, order, page).await?;
        Ok((group, total, SharedMembers::new(members)))
    }
}
