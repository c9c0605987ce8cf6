//! The lists and lookups: FetchList's rooms and recordings, GetUserInfo,
//! and the reads by key the list snapshots load from.

use super::*;

#[async_trait]
impl<DB: Dialect> Lists for SqlStore<DB> {
    async fn count_rooms(&self, scope: RoomScope) -> StoreResult<i64> {
        let statement = format!("SELECT COUNT(*) FROM rooms {}", room_filter(scope));
        self.read_count(&statement, &[]).await
    }

    async fn rooms(
        &self,
        scope: RoomScope,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<PusherInfo>> {
        let statement = format!(
            "SELECT {} FROM rooms {} ORDER BY started_at DESC, userid \
             LIMIT ? OFFSET ?",
            room_columns::<DB>(),
            room_filter(scope)
        );
        let rows = self.read(&statement, args![limit, offset]).await?;
        Ok(rows.iter().map(room_info).collect())
    }

    async fn count_recordings(&self, since: i64) -> StoreResult<i64> {
        let statement = format!(
            "SELECT COUNT(*) FROM recordings WHERE end_time >= ? AND {}",
            not_banned("recordings")
        );
        self.read_count(&statement, args![since]).await
    }

    async fn recordings(
        &self,
        since: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<PusherInfo>> {
        let statement = format!(
            "SELECT {} FROM recordings WHERE end_time >= ? AND {} \
             ORDER BY end_time DESC, userid, fileid LIMIT ? OFFSET ?",
            recording_columns::<DB>(),
            not_banned("recordings")
        );
        let rows = self.read(&statement, args![since, limit, offset]).await?;
        Ok(rows.iter().map(recording_info).collect())
    }
}

#[async_trait]
impl<DB: Dialect> Lookups for SqlStore<DB> {
    async fn room_streams(&self) -> StoreResult<Vec<RoomStream>> {
        let rows = self
            .read_bulk("SELECT userid, stream_id, online FROM rooms", &[])
            .await?;
        Ok(rows
            .iter()
            .map(|row| RoomStream {
                userid: text(row, "userid"),
                stream_id: text(row, "stream_id"),
                online: int(row, "online") != 0,
            })
            .collect())
    }

    async fn stream_id_of(&self, userid: &str) -> StoreResult<Option<String>> {
        let rows = self
            .read(
                "SELECT stream_id FROM rooms WHERE userid = ?",
                args![userid],
            )
            .await?;
        Ok(rows.first().map(|row| text(row, "stream_id")))
    }

    async fn exists(&self, target: &Counted) -> StoreResult<bool> {
        let (table, key, keys) = counted_row(target);
        let statement = format!("SELECT 1 FROM {table} WHERE {key}");
        Ok(!self.read(&statement, &keys).await?.is_empty())
    }

    async fn members(
        &self,
        group: &Group,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(i64, Vec<MemberInfo>)> {
        let kind = Some(group_kind(group));
        let (_, total, members) = self
            .member_page(group.anchor(), group.key(), kind, order, page)
            .await?;
        Ok((total, members))
    }

    async fn room_keys(&self) -> StoreResult<Vec<RoomKey>> {
        let statement = format!(
            "SELECT userid, online, started_at FROM rooms {} ORDER BY started_at DESC, userid",
            room_filter(RoomScope::Listed)
        );
        let rows = self.read_bulk(&statement, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| RoomKey {
                userid: text(row, "userid"),
                online: int(row, "online") != 0,
                started_at: int(row, "started_at"),
            })
            .collect())
    }

    async fn recording_keys(&self) -> StoreResult<Vec<RecordingKey>> {
        let statement = format!(
            "SELECT userid, fileid, end_time FROM recordings WHERE {} \
             ORDER BY end_time DESC, userid, fileid",
            not_banned("recordings")
        );
        let rows = self.read_bulk(&statement, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| RecordingKey {
                userid: text(row, "userid"),
                fileid: text(row, "fileid"),
                end_time: int(row, "end_time"),
            })
            .collect())
    }

    async fn rooms_by_userid(&self, userids: &[&str]) -> StoreResult<Vec<PusherInfo>> {
        if userids.is_empty() {
            return Ok(Vec::new());
        }
        let statement = format!(
            "SELECT {} FROM rooms WHERE userid IN ({})",
            room_columns::<DB>(),
            vec!["?"; userids.len()].join(", ")
        );
        let keys: Vec<Arg> = userids.iter().map(|&userid| Arg::Text(userid)).collect();
        let rows = self.read(&statement, &keys).await?;
        Ok(rows.iter().map(room_info).collect())
    }

    async fn recordings_by_key(&self, keys: &[(&str, &str)]) -> StoreResult<Vec<PusherInfo>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let statement = format!(
            // An OR of key lookups: SQLite scans the table for a row-value IN.
            "SELECT {} FROM recordings WHERE {}",
            recording_columns::<DB>(),
            vec!["(userid = ? AND fileid = ?)"; keys.len()].join(" OR ")
        );
        let keys: Vec<Arg> = keys
            .iter()
            .flat_map(|&(userid, fileid)| [Arg::Text(userid), Arg::Text(fileid)])
            .collect();
        let rows = self.read(&statement, &keys).await?;
        Ok(rows.iter().map(recording_info).collect())
    }

    async fn pusher(&self, target: &Counted) -> StoreResult<Option<PusherInfo>> {
        let (table, key, keys) = counted_row(target);
        let columns = match target {
            Counted::Room { .. } => room_columns::<DB>(),
            Counted::Recording { .. } => recording_columns::<DB>(),
        };
        let statement = format!("SELECT {columns} FROM {table} WHERE {key}");
        let rows = self.read(&statement, &keys).await?;
        Ok(rows.first().map(|row| match target {
            Counted::Room { .. } => room_info(row),
            Counted::Recording { .. } => recording_info(row),
        }))
    }
}
