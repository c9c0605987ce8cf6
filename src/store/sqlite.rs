//! The embedded SQLite store, the zero-set-up default.
//!
//! SQLite takes one writer at a time, so writes go through a pool of one
//! connection (no `SQLITE_BUSY` upgrade deadlocks between our own writers)
//! while reads use a pool of their own on the WAL. `synchronous=NORMAL` in
//! WAL mode keeps every committed transaction across a crash of the process.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::{
    Ban, EventOutcome, NewMember, NewRecording, NewSession, PoolStats, RecordingFile, RecordingKey,
    RecordingOutcome, Report, RoomKey, RoomScope, SessionOutcome, Store, StoreResult, StreamEvent,
    migrations,
};
use crate::callbacks::{recording_urls, same_broadcast};
use crate::config::{DatabaseSettings, MemberOrder};
use crate::protocol::{Counted, Group, MemberInfo, Page, PusherInfo, UserInfo};

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(&settings.url)
            .map_err(|e| anyhow::anyhow!("database.url: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let acquire = Duration::from_secs(settings.acquire_timeout_secs);
        // An embedded file does not drop connections: no ping before each use.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(acquire)
            .connect_with(options.clone())
            .await?;
        let in_memory = settings.url.contains(":memory:") || settings.url.contains("mode=memory");
        let reader = if in_memory {
            // Each connection to an in-memory database is its own database.
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(settings.max_connections)
                .min_connections(settings.max_connections)
                .test_before_acquire(false)
                .acquire_timeout(acquire)
                .connect_with(options.read_only(true))
                .await?
        };
        migrations::migrator(migrations::SQLITE)
            .await?
            .run(&writer)
            .await?;
        Ok(Self { writer, reader })
    }

    async fn write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        // IMMEDIATE: take the write lock up front, so that another process
        // holding it (the operator commands) makes us wait out the busy
        // timeout instead of failing when a read turns into a write.
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// The cover the lists show: the anchor's, else the latest screenshot.
const ROOM_COVER: &str = "CASE WHEN frontcover = '' THEN snapshot_url ELSE frontcover END";

const ROOM_COLUMNS: &str = "userid, groupid, started_at, viewer_count, like_count, title, \
     play_url, hls_play_url, online, nickname, headpic, location, \
     CASE WHEN frontcover = '' THEN snapshot_url ELSE frontcover END AS frontcover";

const RECORDING_COLUMNS: &str = "userid, fileid, end_time, viewer_count, like_count, title, \
     play_url, hls_play_url, nickname, headpic, frontcover, location";

/// Leaves out the rows of banned users from a table with a `userid` column.
fn not_banned(table: &str) -> String {
    // NOT IN reads the (small) bans table once per query; a correlated
    // NOT EXISTS would probe it once per row.
    format!("{table}.userid NOT IN (SELECT userid FROM bans)")
}

/// `n` copies of `one`, comma-separated: the placeholders of an IN list.
fn placeholders(n: usize, one: &str) -> String {
    vec![one; n].join(", ")
}

fn room_filter(scope: RoomScope) -> String {
    match scope {
        RoomScope::Online => format!("WHERE online = 1 AND {}", not_banned("rooms")),
        RoomScope::Listed => format!("WHERE {}", not_banned("rooms")),
        RoomScope::All => String::new(),
    }
}

fn userinfo(row: &SqliteRow) -> UserInfo {
    UserInfo {
        nickname: row.get("nickname"),
        headpic: row.get("headpic"),
        frontcover: row.get("frontcover"),
        location: row.get("location"),
    }
}

fn room_info(row: &SqliteRow) -> PusherInfo {
    PusherInfo {
        userid: row.get("userid"),
        groupid: row.get("groupid"),
        timestamp: row.get("started_at"),
        kind: 0,
        viewercount: row.get("viewer_count"),
        likecount: row.get("like_count"),
        title: row.get("title"),
        playurl: row.get("play_url"),
        fileid: String::new(),
        status: row.get::<i64, _>("online") != 0,
        hls_play_url: row.get("hls_play_url"),
        userinfo: userinfo(row),
    }
}

fn recording_info(row: &SqliteRow) -> PusherInfo {
    let fileid: String = row.get("fileid");
    PusherInfo {
        userid: row.get("userid"),
        // The apps enter a recording's group by its fileid.
        groupid: fileid.clone(),
        timestamp: row.get("end_time"),
        kind: 1,
        viewercount: row.get("viewer_count"),
        likecount: row.get("like_count"),
        title: row.get("title"),
        playurl: row.get("play_url"),
        fileid,
        status: false,
        hls_play_url: row.get("hls_play_url"),
        userinfo: userinfo(row),
    }
}

/// Finds the row a group's members are counted on and changes its count.
async fn change_viewers(
    tx: &mut Transaction<'static, Sqlite>,
    group: &Group,
    delta: i64,
) -> StoreResult<()> {
    let sql = match group {
        Group::Room { .. } => {
            "UPDATE rooms SET viewer_count = MAX(viewer_count + ?, 0) WHERE userid = ? AND groupid = ?"
        }
        Group::Recording { .. } => {
            "UPDATE recordings SET viewer_count = MAX(viewer_count + ?, 0) WHERE userid = ? AND fileid = ?"
        }
    };
    sqlx::query(sql)
        .bind(delta)
        .bind(group.anchor())
        .bind(group.key())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn group_exists(tx: &mut Transaction<'static, Sqlite>, group: &Group) -> StoreResult<bool> {
    let sql = match group {
        Group::Room { .. } => "SELECT 1 FROM rooms WHERE userid = ? AND groupid = ?",
        Group::Recording { .. } => "SELECT 1 FROM recordings WHERE userid = ? AND fileid = ?",
    };
    Ok(sqlx::query(sql)
        .bind(group.anchor())
        .bind(group.key())
        .fetch_optional(&mut **tx)
        .await?
        .is_some())
}

fn group_kind(group: &Group) -> i64 {
    match group {
        Group::Room { .. } => 0,
        Group::Recording { .. } => 1,
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn stream_id_of(&self, userid: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT stream_id FROM rooms WHERE userid = ?")
                .bind(userid)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn start_session(&self, s: &NewSession) -> StoreResult<SessionOutcome> {
        let mut tx = self.write().await?;
        let owner: Option<String> =
            sqlx::query_scalar("SELECT userid FROM rooms WHERE stream_id = ? AND userid <> ?")
                .bind(&s.stream_id)
                .bind(&s.userid)
                .fetch_optional(&mut *tx)
                .await?;
        if owner.is_some() {
            return Ok(SessionOutcome::StreamTaken);
        }
        sqlx::query(
            "INSERT INTO rooms (userid, stream_id, groupid, title, nickname, headpic, frontcover, \
             location, play_url, hls_play_url, online, viewer_count, like_count, started_at, status_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?, ?) \
             ON CONFLICT (userid) DO UPDATE SET stream_id = excluded.stream_id, \
             groupid = excluded.groupid, title = excluded.title, nickname = excluded.nickname, \
             headpic = excluded.headpic, frontcover = excluded.frontcover, \
             location = excluded.location, play_url = excluded.play_url, \
             hls_play_url = excluded.hls_play_url, online = 0, viewer_count = 0, like_count = 0, \
             started_at = excluded.started_at, status_at = excluded.status_at, \
             snapshot_url = '', snapshot_at = 0, \
             last_event_seq = CASE WHEN last_event_time < excluded.started_at THEN '' ELSE last_event_seq END, \
             last_event_time = MAX(last_event_time, excluded.started_at)",
        )
        .bind(&s.userid)
        .bind(&s.stream_id)
        .bind(&s.groupid)
        .bind(&s.title)
        .bind(&s.userinfo.nickname)
        .bind(&s.userinfo.headpic)
        .bind(&s.userinfo.frontcover)
        .bind(&s.userinfo.location)
        .bind(&s.play_url)
        .bind(&s.hls_play_url)
        .bind(s.started_at)
        .bind(s.started_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM members WHERE anchor = ? AND kind = 0")
            .bind(&s.userid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(SessionOutcome::Started)
    }

    async fn set_online(&self, userid: &str, online: bool, now: i64) -> StoreResult<bool> {
        // ChangeStatus counts as a status event "now", so that a late
        // callback about an earlier moment cannot undo it.
        let done = sqlx::query(
            "UPDATE rooms SET online = ?1, status_at = ?2, \
             last_event_seq = CASE WHEN last_event_time < ?2 THEN '' ELSE last_event_seq END, \
             last_event_time = MAX(last_event_time, ?2) WHERE userid = ?3",
        )
        .bind(online as i64)
        .bind(now)
        .bind(userid)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_likes(&self, target: &Counted, delta: i64) -> StoreResult<bool> {
        let done = match target {
            Counted::Room { userid } => {
                sqlx::query("UPDATE rooms SET like_count = MAX(like_count + ?, 0) WHERE userid = ?")
                    .bind(delta)
                    .bind(userid)
                    .execute(&self.writer)
                    .await?
            }
            Counted::Recording { userid, fileid } => {
                sqlx::query(
                    "UPDATE recordings SET like_count = MAX(like_count + ?, 0) \
                     WHERE userid = ? AND fileid = ?",
                )
                .bind(delta)
                .bind(userid)
                .bind(fileid)
                .execute(&self.writer)
                .await?
            }
        };
        Ok(done.rows_affected() > 0)
    }

    async fn exists(&self, target: &Counted) -> StoreResult<bool> {
        let row = match target {
            Counted::Room { userid } => {
                sqlx::query("SELECT 1 FROM rooms WHERE userid = ?")
                    .bind(userid)
                    .fetch_optional(&self.reader)
                    .await?
            }
            Counted::Recording { userid, fileid } => {
                sqlx::query("SELECT 1 FROM recordings WHERE userid = ? AND fileid = ?")
                    .bind(userid)
                    .bind(fileid)
                    .fetch_optional(&self.reader)
                    .await?
            }
        };
        Ok(row.is_some())
    }

    async fn enter(&self, group: &Group, m: &NewMember) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        if !group_exists(&mut tx, group).await? {
            return Ok(false);
        }
        let inserted = sqlx::query(
            "INSERT INTO members (anchor, group_key, kind, userid, nickname, headpic, level, joined_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (anchor, kind, group_key, userid) DO NOTHING",
        )
        .bind(group.anchor())
        .bind(group.key())
        .bind(group_kind(group))
        .bind(&m.userid)
        .bind(&m.nickname)
        .bind(&m.headpic)
        .bind(m.level.unwrap_or(0))
        .bind(m.joined_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if inserted {
            change_viewers(&mut tx, group, 1).await?;
        } else {
            sqlx::query(
                "UPDATE members SET nickname = CASE WHEN ? = '' THEN nickname ELSE ? END, \
                 headpic = CASE WHEN ? = '' THEN headpic ELSE ? END, level = COALESCE(?, level) \
                 WHERE anchor = ? AND kind = ? AND group_key = ? AND userid = ?",
            )
            .bind(&m.nickname)
            .bind(&m.nickname)
            .bind(&m.headpic)
            .bind(&m.headpic)
            .bind(m.level)
            .bind(group.anchor())
            .bind(group_kind(group))
            .bind(group.key())
            .bind(&m.userid)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn quit(&self, group: &Group, userid: &str) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let removed = sqlx::query(
            "DELETE FROM members WHERE anchor = ? AND group_key = ? AND userid = ? AND kind = ?",
        )
        .bind(group.anchor())
        .bind(group.key())
        .bind(userid)
        .bind(group_kind(group))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if removed > 0 {
            change_viewers(&mut tx, group, -1).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn members(
        &self,
        group: &Group,
        order: MemberOrder,
        page: Page,
    ) -> StoreResult<(i64, Vec<MemberInfo>)> {
        let order_by = match order {
            MemberOrder::Join => "id",
            MemberOrder::Latest => "id DESC",
            MemberOrder::Level => "level DESC, id",
        };
        let sql = format!(
            "SELECT userid, nickname, headpic FROM members \
             WHERE anchor = ? AND kind = ? AND group_key = ? ORDER BY {order_by} LIMIT ? OFFSET ?"
        );
        let mut conn = self.reader.acquire().await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM members WHERE anchor = ? AND kind = ? AND group_key = ?",
        )
        .bind(group.anchor())
        .bind(group_kind(group))
        .bind(group.key())
        .fetch_one(&mut *conn)
        .await?;
        let members = sqlx::query(&sql)
            .bind(group.anchor())
            .bind(group_kind(group))
            .bind(group.key())
            .bind(page.size)
            .bind(page.offset())
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| MemberInfo {
                userid: row.get("userid"),
                nickname: row.get("nickname"),
                headpic: row.get("headpic"),
            })
            .collect();
        Ok((total, members))
    }

    async fn count_rooms(&self, scope: RoomScope) -> StoreResult<i64> {
        let sql = format!("SELECT COUNT(*) FROM rooms {}", room_filter(scope));
        Ok(sqlx::query_scalar(&sql).fetch_one(&self.reader).await?)
    }

    async fn rooms(
        &self,
        scope: RoomScope,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<PusherInfo>> {
        let sql = format!(
            "SELECT {ROOM_COLUMNS} FROM rooms {} ORDER BY started_at DESC, userid LIMIT ? OFFSET ?",
            room_filter(scope)
        );
        let rows = sqlx::query(&sql)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(room_info).collect())
    }

    async fn count_recordings(&self, since: i64) -> StoreResult<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM recordings WHERE end_time >= ? AND {}",
            not_banned("recordings")
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(since)
            .fetch_one(&self.reader)
            .await?)
    }

    async fn recordings(
        &self,
        since: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<PusherInfo>> {
        let sql = format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE end_time >= ? AND {} \
             ORDER BY end_time DESC, userid, fileid LIMIT ? OFFSET ?",
            not_banned("recordings")
        );
        let rows = sqlx::query(&sql)
            .bind(since)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(recording_info).collect())
    }

    async fn room_keys(&self) -> StoreResult<Vec<RoomKey>> {
        let sql = format!(
            "SELECT userid, online FROM rooms {} ORDER BY started_at DESC, userid",
            room_filter(RoomScope::Listed)
        );
        let rows: Vec<(String, i64)> = sqlx::query_as(&sql).fetch_all(&self.reader).await?;
        Ok(rows
            .into_iter()
            .map(|(userid, online)| RoomKey {
                userid,
                online: online != 0,
            })
            .collect())
    }

    async fn recording_keys(&self) -> StoreResult<Vec<RecordingKey>> {
        let sql = format!(
            "SELECT userid, fileid, end_time FROM recordings WHERE {} \
             ORDER BY end_time DESC, userid, fileid",
            not_banned("recordings")
        );
        let rows: Vec<(String, String, i64)> = sqlx::query_as(&sql).fetch_all(&self.reader).await?;
        Ok(rows
            .into_iter()
            .map(|(userid, fileid, end_time)| RecordingKey {
                userid,
                fileid,
                end_time,
            })
            .collect())
    }

    async fn rooms_by_userid(&self, userids: &[&str]) -> StoreResult<Vec<PusherInfo>> {
        if userids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {ROOM_COLUMNS} FROM rooms WHERE userid IN ({})",
            placeholders(userids.len(), "?")
        );
        let mut query = sqlx::query(&sql);
        for userid in userids {
            query = query.bind(*userid);
        }
        Ok(query
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(room_info)
            .collect())
    }

    async fn recordings_by_key(&self, keys: &[(&str, &str)]) -> StoreResult<Vec<PusherInfo>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            // An OR of key lookups: SQLite scans the table for a row-value IN.
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE {}",
            vec!["(userid = ? AND fileid = ?)"; keys.len()].join(" OR ")
        );
        let mut query = sqlx::query(&sql);
        for (userid, fileid) in keys {
            query = query.bind(*userid).bind(*fileid);
        }
        Ok(query
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(recording_info)
            .collect())
    }

    async fn pusher(&self, target: &Counted) -> StoreResult<Option<PusherInfo>> {
        Ok(match target {
            Counted::Room { userid } => {
                let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE userid = ?");
                sqlx::query(&sql)
                    .bind(userid)
                    .fetch_optional(&self.reader)
                    .await?
                    .as_ref()
                    .map(room_info)
            }
            Counted::Recording { userid, fileid } => {
                let sql = format!(
                    "SELECT {RECORDING_COLUMNS} FROM recordings WHERE userid = ? AND fileid = ?"
                );
                sqlx::query(&sql)
                    .bind(userid)
                    .bind(fileid)
                    .fetch_optional(&self.reader)
                    .await?
                    .as_ref()
                    .map(recording_info)
            }
        })
    }

    async fn put_recording(&self, r: &NewRecording) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO recordings (userid, fileid, title, nickname, headpic, frontcover, location, \
             play_url, hls_play_url, start_time, end_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (userid, fileid) DO UPDATE SET title = excluded.title, \
             nickname = excluded.nickname, headpic = excluded.headpic, \
             frontcover = excluded.frontcover, location = excluded.location, \
             play_url = excluded.play_url, hls_play_url = excluded.hls_play_url, \
             start_time = excluded.start_time, end_time = excluded.end_time",
        )
        .bind(&r.userid)
        .bind(&r.fileid)
        .bind(&r.title)
        .bind(&r.userinfo.nickname)
        .bind(&r.userinfo.headpic)
        .bind(&r.userinfo.frontcover)
        .bind(&r.userinfo.location)
        .bind(&r.play_url)
        .bind(&r.hls_play_url)
        .bind(r.start_time)
        .bind(r.end_time)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn stream_event(&self, e: &StreamEvent) -> StoreResult<EventOutcome> {
        let applied = sqlx::query(
            "UPDATE rooms SET online = ?1, status_at = ?2, last_event_time = ?3, last_event_seq = ?4 \
             WHERE stream_id = ?5 AND (last_event_time < ?3 OR (last_event_time = ?3 AND \
             (last_event_seq < ?4 OR (last_event_seq = ?4 AND ?1 = 0))))",
        )
        .bind(e.online as i64)
        .bind(e.now)
        .bind(e.at)
        .bind(&e.sequence)
        .bind(&e.stream_id)
        .execute(&self.writer)
        .await?
        .rows_affected()
            > 0;
        if applied {
            return Ok(EventOutcome::Applied);
        }
        let known = sqlx::query("SELECT 1 FROM rooms WHERE stream_id = ?")
            .bind(&e.stream_id)
            .fetch_optional(&self.writer)
            .await?
            .is_some();
        Ok(if known {
            EventOutcome::Stale
        } else {
            EventOutcome::UnknownStream
        })
    }

    async fn add_recording_file(&self, f: &RecordingFile) -> StoreResult<RecordingOutcome> {
        let mut tx = self.write().await?;
        let seen = sqlx::query("SELECT 1 FROM recording_files WHERE notice_key = ?")
            .bind(&f.notice_key)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if seen {
            return Ok(RecordingOutcome::Duplicate);
        }
        let room_sql = format!(
            "SELECT userid, title, nickname, headpic, location, {ROOM_COVER} AS frontcover \
             FROM rooms WHERE stream_id = ?"
        );
        let Some(room) = sqlx::query(&room_sql)
            .bind(&f.stream_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(RecordingOutcome::UnknownStream);
        };
        let userid: String = room.get("userid");
        // A recording of the same broadcast that lacks this format?
        let candidates = sqlx::query(
            "SELECT fileid, start_time, end_time FROM recordings r WHERE userid = ?1 \
             AND start_time < ?3 AND end_time > ?2 AND NOT EXISTS (SELECT 1 FROM recording_files f \
             WHERE f.userid = r.userid AND f.fileid = r.fileid AND f.format = ?4) \
             ORDER BY end_time DESC LIMIT 8",
        )
        .bind(&userid)
        .bind(f.start_time)
        .bind(f.end_time)
        .bind(&f.format)
        .fetch_all(&mut *tx)
        .await?;
        let merged_into = candidates.iter().find_map(|row| {
            let span = (
                row.get::<i64, _>("start_time"),
                row.get::<i64, _>("end_time"),
            );
            same_broadcast(span, (f.start_time, f.end_time)).then(|| row.get::<String, _>("fileid"))
        });
        let fileid = merged_into.clone().unwrap_or_else(|| f.fileid.clone());
        sqlx::query(
            "INSERT INTO recordings (userid, fileid, title, nickname, headpic, frontcover, location, \
             play_url, hls_play_url, start_time, end_time) VALUES (?, ?, ?, ?, ?, ?, ?, '', '', ?, ?) \
             ON CONFLICT (userid, fileid) DO NOTHING",
        )
        .bind(&userid)
        .bind(&fileid)
        .bind(room.get::<String, _>("title"))
        .bind(room.get::<String, _>("nickname"))
        .bind(room.get::<String, _>("headpic"))
        .bind(room.get::<String, _>("frontcover"))
        .bind(room.get::<String, _>("location"))
        .bind(f.start_time)
        .bind(f.end_time)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO recording_files (notice_key, userid, fileid, format, url, start_time, end_time) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&f.notice_key)
        .bind(&userid)
        .bind(&fileid)
        .bind(&f.format)
        .bind(&f.url)
        .bind(f.start_time)
        .bind(f.end_time)
        .execute(&mut *tx)
        .await?;
        let files: Vec<(String, String)> = sqlx::query_as(
            "SELECT format, url FROM recording_files WHERE userid = ? AND fileid = ?",
        )
        .bind(&userid)
        .bind(&fileid)
        .fetch_all(&mut *tx)
        .await?;
        let (play_url, hls_play_url) = recording_urls(
            files
                .iter()
                .map(|(format, url)| (format.as_str(), url.as_str())),
        );
        sqlx::query(
            "UPDATE recordings SET play_url = ?, hls_play_url = ?, start_time = MIN(start_time, ?), \
             end_time = MAX(end_time, ?) WHERE userid = ? AND fileid = ?",
        )
        .bind(play_url)
        .bind(hls_play_url)
        .bind(f.start_time)
        .bind(f.end_time)
        .bind(&userid)
        .bind(&fileid)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(match merged_into {
            Some(_) => RecordingOutcome::Merged { userid, fileid },
            None => RecordingOutcome::Created { userid, fileid },
        })
    }

    async fn set_snapshot(&self, stream_id: &str, url: &str, taken_at: i64) -> StoreResult<bool> {
        sqlx::query(
            "UPDATE rooms SET snapshot_url = ?, snapshot_at = ? WHERE stream_id = ? AND snapshot_at <= ?",
        )
        .bind(url)
        .bind(taken_at)
        .bind(stream_id)
        .bind(taken_at)
        .execute(&self.writer)
        .await?;
        Ok(sqlx::query("SELECT 1 FROM rooms WHERE stream_id = ?")
            .bind(stream_id)
            .fetch_optional(&self.writer)
            .await?
            .is_some())
    }

    async fn expire_online(&self, cutoff: i64) -> StoreResult<u64> {
        Ok(
            sqlx::query("UPDATE rooms SET online = 0 WHERE online = 1 AND status_at < ?")
                .bind(cutoff)
                .execute(&self.writer)
                .await?
                .rows_affected(),
        )
    }

    async fn add_report(&self, reporter: &str, reported: &str, now: i64) -> StoreResult<i64> {
        let mut tx = self.write().await?;
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM reports WHERE resolved_at IS NULL AND reported = ? AND reporter = ?",
        )
        .bind(reported)
        .bind(reporter)
        .fetch_optional(&mut *tx)
        .await?;
        let id = match open {
            Some(id) => {
                sqlx::query("UPDATE reports SET times = times + 1, last_at = ? WHERE id = ?")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                id
            }
            None => sqlx::query(
                "INSERT INTO reports (reporter, reported, created_at, last_at) VALUES (?, ?, ?, ?)",
            )
            .bind(reporter)
            .bind(reported)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid(),
        };
        tx.commit().await?;
        Ok(id)
    }

    async fn reports(&self, include_resolved: bool) -> StoreResult<Vec<Report>> {
        let filter = if include_resolved {
            ""
        } else {
            "WHERE resolved_at IS NULL"
        };
        let sql = format!(
            "SELECT id, reporter, reported, times, created_at, last_at, resolved_at, resolution \
             FROM reports {filter} ORDER BY id DESC"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await?;
        Ok(rows
            .iter()
            .map(|row| Report {
                id: row.get("id"),
                reporter: row.get("reporter"),
                reported: row.get("reported"),
                times: row.get("times"),
                created_at: row.get("created_at"),
                last_at: row.get("last_at"),
                resolved_at: row.get("resolved_at"),
                resolution: row.get("resolution"),
            })
            .collect())
    }

    async fn resolve_report(&self, id: i64, resolution: &str, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE reports SET resolved_at = ?, resolution = ? WHERE id = ? AND resolved_at IS NULL",
        )
        .bind(now)
        .bind(resolution)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn ban(&self, userid: &str, reason: &str, now: i64) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let added = sqlx::query(
            "INSERT INTO bans (userid, reason, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (userid) DO NOTHING",
        )
        .bind(userid)
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if !added {
            sqlx::query("UPDATE bans SET reason = ? WHERE userid = ?")
                .bind(reason)
                .bind(userid)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE rooms SET online = 0, status_at = ? WHERE userid = ?")
            .bind(now)
            .bind(userid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(added)
    }

    async fn unban(&self, userid: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM bans WHERE userid = ?")
            .bind(userid)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn is_banned(&self, userid: &str) -> StoreResult<bool> {
        Ok(sqlx::query("SELECT 1 FROM bans WHERE userid = ?")
            .bind(userid)
            .fetch_optional(&self.reader)
            .await?
            .is_some())
    }

    async fn bans(&self) -> StoreResult<Vec<Ban>> {
        Ok(sqlx::query_as::<_, (String, String, i64)>(
            "SELECT userid, reason, created_at FROM bans ORDER BY created_at DESC, userid",
        )
        .fetch_all(&self.reader)
        .await?
        .into_iter()
        .map(|(userid, reason, created_at)| Ban {
            userid,
            reason,
            created_at,
        })
        .collect())
    }

    async fn delete_recording(&self, userid: &str, fileid: &str) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let deleted = sqlx::query("DELETE FROM recordings WHERE userid = ? AND fileid = ?")
            .bind(userid)
            .bind(fileid)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        sqlx::query("DELETE FROM members WHERE anchor = ? AND group_key = ? AND kind = 1")
            .bind(userid)
            .bind(fileid)
            .execute(&mut *tx)
            .await?;
        // The files stay keyed by notice, so that a late repeat of a deleted
        // recording's notice does not bring it back.
        tx.commit().await?;
        Ok(deleted)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn count_members(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM members")
            .fetch_one(&self.reader)
            .await?)
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        let stats = |pool: &'static str, p: &SqlitePool| PoolStats {
            pool,
            size: p.size(),
            idle: p.num_idle() as u32,
            max: p.options().get_max_connections(),
        };
        vec![stats("write", &self.writer), stats("read", &self.reader)]
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
