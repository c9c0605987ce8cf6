//! Reading an original server's `live_demo` database (MySQL): `live_data`
//! (rooms), `tape_data` (recordings) and `group_info` (members), for
//! `minilvb import-legacy`.
//!
//! The original's schema varied between releases and forks, so the reader
//! asks `information_schema` which columns exist and how they are typed:
//! times may be `TIMESTAMP`/`DATETIME` (read as Unix seconds, zero dates as
//! 0) or integers; text may be NULL (read as ""); a missing optional
//! column reads as "" or 0.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::{Executor, Row};

use crate::settings::driver_url;
use minilvb_protocol::UserInfo;

/// What rooms and recordings both carry: title, the anchor's profile and
/// play URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyShow {
    pub title: String,
    pub userinfo: UserInfo,
    pub play_url: String,
    pub hls_play_url: String,
    pub like_count: i64,
    pub create_time: i64,
}

/// A row of `live_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyRoom {
    pub userid: String,
    pub stream_id: String,
    pub groupid: String,
    /// 1 online (the original stored ChangeStatus 0 as 1).
    pub status: i64,
    /// `create_time`: the session's start.
    pub show: LegacyShow,
}

/// A row of `tape_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyRecording {
    pub userid: String,
    pub file_id: String,
    pub start_time: i64,
    /// `create_time`: the recording's end.
    pub show: LegacyShow,
}

/// A row of `group_info`: `userid` watches `liveuserid`'s room (by its
/// groupid) or recording (by its file id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyMember {
    pub liveuserid: String,
    pub groupid: String,
    pub userid: String,
    pub nickname: String,
    pub headpic: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Time,
}

/// (column, kind, required)
type Columns = &'static [(&'static str, Kind, bool)];

/// The columns of [`LegacyShow`], in `live_data` and `tape_data` alike.
const SHOW_COLUMNS: Columns = &[
    ("title", Kind::Text, false),
    ("nickname", Kind::Text, false),
    ("headpic", Kind::Text, false),
    ("frontcover", Kind::Text, false),
    ("location", Kind::Text, false),
    ("play_url", Kind::Text, false),
    ("hls_play_url", Kind::Text, false),
    ("like_count", Kind::Int, false),
    ("create_time", Kind::Time, false),
];

const ROOM_COLUMNS: Columns = &[
    ("userid", Kind::Text, true),
    ("stream_id", Kind::Text, false),
    ("groupid", Kind::Text, true),
    ("status", Kind::Int, false),
];

const RECORDING_COLUMNS: Columns = &[
    ("userid", Kind::Text, true),
    ("file_id", Kind::Text, true),
    ("start_time", Kind::Time, false),
];

const MEMBER_COLUMNS: Columns = &[
    ("liveuserid", Kind::Text, true),
    ("groupid", Kind::Text, true),
    ("userid", Kind::Text, true),
    ("nickname", Kind::Text, false),
    ("headpic", Kind::Text, false),
];

/// The original's database, read-only.
pub struct LegacySource {
    pool: MySqlPool,
    rooms: String,
    recordings: String,
    members: String,
}

fn text(row: &MySqlRow, column: &str) -> String {
    row.try_get_unchecked(column).unwrap_or_default()
}

fn int(row: &MySqlRow, column: &str) -> i64 {
    row.try_get(column).unwrap_or_default()
}

fn show(row: &MySqlRow) -> LegacyShow {
    LegacyShow {
        title: text(row, "title"),
        userinfo: UserInfo {
            nickname: text(row, "nickname"),
            headpic: text(row, "headpic"),
            frontcover: text(row, "frontcover"),
            location: text(row, "location"),
        },
        play_url: text(row, "play_url"),
        hls_play_url: text(row, "hls_play_url"),
        like_count: int(row, "like_count"),
        create_time: int(row, "create_time"),
    }
}

impl LegacySource {
    /// Connects (`mysql://` or `mariadb://`) and checks the three tables.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let options = MySqlConnectOptions::from_str(&driver_url(url))
            .map_err(|e| anyhow::anyhow!("--from: {e}"))?
            .charset("utf8mb4");
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // Times as UTC seconds whatever the server's zone says.
                    conn.execute("SET time_zone = '+00:00'").await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let rooms = [ROOM_COLUMNS, SHOW_COLUMNS].concat();
        let rooms = select(&pool, "live_data", &rooms, "userid").await?;
        let recordings = [RECORDING_COLUMNS, SHOW_COLUMNS].concat();
        let recordings = select(&pool, "tape_data", &recordings, "userid, file_id").await?;
        let members = select(&pool, "group_info", MEMBER_COLUMNS, "").await?;
        let members = format!(
            "{members} WHERE (liveuserid, groupid, userid) > (?, ?, ?) \
             ORDER BY liveuserid, groupid, userid LIMIT ?"
        );
        Ok(Self {
            pool,
            rooms,
            recordings,
            members,
        })
    }

    pub async fn rooms(&self) -> anyhow::Result<Vec<LegacyRoom>> {
        let rows = sqlx::query(&self.rooms).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|row| LegacyRoom {
                userid: text(row, "userid"),
                stream_id: text(row, "stream_id"),
                groupid: text(row, "groupid"),
                status: int(row, "status"),
                show: show(row),
            })
            .collect())
    }

    pub async fn recordings(&self) -> anyhow::Result<Vec<LegacyRecording>> {
        let rows = sqlx::query(&self.recordings).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|row| LegacyRecording {
                userid: text(row, "userid"),
                file_id: text(row, "file_id"),
                start_time: int(row, "start_time"),
                show: show(row),
            })
            .collect())
    }

    /// Up to `limit` members after `after` (liveuserid, groupid, userid),
    /// in that order: a whole table read page by page.
    pub async fn members(
        &self,
        after: &(String, String, String),
        limit: i64,
    ) -> anyhow::Result<Vec<LegacyMember>> {
        let rows = sqlx::query(&self.members)
            .bind(&after.0)
            .bind(&after.1)
            .bind(&after.2)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|row| LegacyMember {
                liveuserid: text(row, "liveuserid"),
                groupid: text(row, "groupid"),
                userid: text(row, "userid"),
                nickname: text(row, "nickname"),
                headpic: text(row, "headpic"),
            })
            .collect())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `SELECT` of `columns` from `table` as they exist there (typed by `Kind`);
/// an error names a missing table or required column.
async fn select(
    pool: &MySqlPool,
    table: &str,
    columns: &[(&'static str, Kind, bool)],
    order_by: &str,
) -> anyhow::Result<String> {
    let found: HashMap<String, String> = sqlx::query(
        "SELECT CAST(COLUMN_NAME AS CHAR) AS name, CAST(DATA_TYPE AS CHAR) AS type \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    )
    .bind(table)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| (text(row, "name").to_lowercase(), text(row, "type")))
    .collect();
    if found.is_empty() {
        anyhow::bail!(
            "--from: the database has no table {table} (is it the original's live_demo?)"
        );
    }
    let mut list = Vec::new();
    for &(name, kind, required) in columns {
        let expression = match (found.get(name).map(String::as_str), kind) {
            (None, _) if required => {
                anyhow::bail!("--from: table {table} has no column {name}")
            }
            (None, Kind::Text) => "''".to_owned(),
            (None, _) => "0".to_owned(),
            (Some(_), Kind::Text) => format!("COALESCE(CAST(`{name}` AS CHAR), '')"),
            (Some("timestamp" | "datetime" | "date"), Kind::Time) => {
                format!("COALESCE(CAST(UNIX_TIMESTAMP(`{name}`) AS SIGNED), 0)")
            }
            (Some(_), _) => format!("COALESCE(CAST(`{name}` AS SIGNED), 0)"),
        };
        list.push(format!("{expression} AS {name}"));
    }
    let mut statement = format!("SELECT {} FROM `{table}`", list.join(", "));
    if !order_by.is_empty() {
        statement.push_str(&format!(" ORDER BY {order_by}"));
    }
    Ok(statement)
}
