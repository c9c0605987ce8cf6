//! Rooms: a session started (RequestLVBAddr), its status (ChangeStatus,
//! the cloud's push events, the online timeout), its snapshot.

use super::*;

impl<DB: Dialect> SqlStore<DB> {
    /// Creates or replaces the anchor's room: a new session, no members.
    pub(super) async fn replace_room(
        tx: &mut DB::Conn,
        s: &NewSession,
        online: bool,
        likes: i64,
        status_at: i64,
    ) -> Result<SessionOutcome, sqlx::Error> {
        let taken = Self::found(
            tx,
            "SELECT userid FROM rooms WHERE stream_id = ? AND userid <> ?",
            args![&s.stream_id, &s.userid],
        )
        .await?;
        if taken {
            return Ok(SessionOutcome::StreamTaken);
        }
        let lock = format!(
            "SELECT userid FROM rooms WHERE userid = ?{}",
            DB::FOR_UPDATE
        );
        let exists = Self::found(tx, &lock, args![&s.userid]).await?;
        if exists {
            // The session's status-event clock starts now at the latest.
            let reset = format!(
                "UPDATE rooms SET snapshot_url = '', snapshot_at = 0, {EVENT_CLOCK} \
                 WHERE userid = ?"
            );
            let at = s.started_at;
            Self::exec(tx, &reset, args![at, at, at, &s.userid]).await?;
        }
        // Both statements bind the same values in the same order.
        let statement = if exists {
            "UPDATE rooms SET stream_id = ?, groupid = ?, title = ?, nickname = ?, \
             headpic = ?, frontcover = ?, location = ?, play_url = ?, hls_play_url = ?, \
             started_at = ?, status_at = ?, online = ?, like_count = ?, viewer_count = 0 \
             WHERE userid = ?"
        } else {
            "INSERT INTO rooms (stream_id, groupid, title, nickname, headpic, frontcover, \
             location, play_url, hls_play_url, started_at, status_at, online, like_count, \
             viewer_count, userid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)"
        };
        let u = &s.userinfo;
        let values = args![
            &s.stream_id,
            &s.groupid,
            &s.title,
            &u.nickname,
            &u.headpic,
            &u.frontcover,
            &u.location,
            &s.play_url,
            &s.hls_play_url,
            s.started_at,
            status_at,
            online,
            likes.max(0),
            &s.userid,
        ];
        Self::exec(tx, statement, values).await?;
        Self::clear_likes(tx, (&s.userid, 0, "")).await?;
        Self::exec(
            tx,
            "DELETE FROM members WHERE anchor = ? AND kind = 0",
            args![&s.userid],
        )
        .await?;
        Ok(SessionOutcome::Started)
    }
}

#[async_trait]
impl<DB: Dialect> Rooms for SqlStore<DB> {
    async fn start_session(&self, s: &NewSession) -> StoreResult<SessionOutcome> {
        transaction!(self, "start_session", |tx| {
            Self::replace_room(tx, s, false, 0, s.started_at).await
        })
    }

    async fn set_online(&self, userid: &str, online: bool, now: i64) -> StoreResult<bool> {
        // ChangeStatus counts as a status event "now", so that a late
        // callback about an earlier moment cannot undo it.
        let statement =
            format!("UPDATE rooms SET online = ?, status_at = ?, {EVENT_CLOCK} WHERE userid = ?");
        let changed = self
            .write(&statement, args![online, now, now, now, now, userid])
            .await?;
        Ok(changed > 0)
    }

    async fn stream_event(&self, e: &StreamEvent) -> StoreResult<EventOutcome> {
        // Applied only over an older event: by time, then sequence; at equal
        // keys offline wins. One statement, so concurrent events serialize
        // on the row and each sees the other's result.
        let applied = self
            .write(
                "UPDATE rooms SET online = ?, status_at = ?, last_event_time = ?, \
                 last_event_seq = ? WHERE stream_id = ? AND (last_event_time < ? OR \
                 (last_event_time = ? AND (last_event_seq < ? OR \
                 (last_event_seq = ? AND ? = 0))))",
                args![
                    e.online,
                    e.now,
                    e.at,
                    &e.sequence,
                    &e.stream_id,
                    e.at,
                    e.at,
                    &e.sequence,
                    &e.sequence,
                    e.online,
                ],
            )
            .await?
            > 0;
        if applied {
            return Ok(EventOutcome::Applied);
        }
        let known = !self
            .read(
                "SELECT 1 FROM rooms WHERE stream_id = ?",
                args![&e.stream_id],
            )
            .await?
            .is_empty();
        Ok(if known {
            EventOutcome::Stale
        } else {
            EventOutcome::UnknownStream
        })
    }

    async fn set_snapshot(&self, stream_id: &str, url: &str, taken_at: i64) -> StoreResult<bool> {
        self.write(
            "UPDATE rooms SET snapshot_url = ?, snapshot_at = ? WHERE stream_id = ? \
             AND snapshot_at <= ?",
            args![url, taken_at, stream_id, taken_at],
        )
        .await?;
        let rows = self
            .read("SELECT 1 FROM rooms WHERE stream_id = ?", args![stream_id])
            .await?;
        Ok(!rows.is_empty())
    }

    async fn expire_online(&self, cutoff: i64) -> StoreResult<u64> {
        self.write(
            "UPDATE rooms SET online = 0 WHERE online = 1 AND status_at < ?",
            args![cutoff],
        )
        .await
    }
}
