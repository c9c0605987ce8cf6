//! SQLite, the zero-set-up default.
//!
//! SQLite takes one writer at a time, so writes go through a pool of one
//! connection (no `SQLITE_BUSY` upgrade deadlocks between our own writers)
//! while reads use a pool of their own on the WAL. `synchronous=NORMAL` in
//! WAL mode keeps every committed transaction across a crash of the process.

use std::str::FromStr;
use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Pool, Sqlite};

use super::migrations;
use super::sql::Dialect;
use crate::config::DatabaseSettings;

pub fn options(url: &str) -> Result<SqliteConnectOptions, sqlx::Error> {
    SqliteConnectOptions::from_str(url)
}

impl Dialect for Sqlite {
    const NUMBERED_PARAMS: bool = false;
    // The single writer connection serializes every write transaction.
    const FOR_UPDATE: &'static str = "";
    // Take the write lock up front, so that another process holding it (the
    // operator commands) makes us wait out the busy timeout instead of
    // failing when a read turns into a write.
    const BEGIN: Option<&'static str> = Some("BEGIN IMMEDIATE");
    const SINGLE_WRITER: bool = true;

    fn is_conflict(error: &dyn DatabaseError) -> bool {
        // SQLITE_BUSY and SQLITE_LOCKED, with their extended codes.
        let code: i64 = error.code().and_then(|c| c.parse().ok()).unwrap_or(0);
        matches!(code & 0xff, 5 | 6)
    }

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    async fn open(settings: &DatabaseSettings) -> anyhow::Result<(Pool<Self>, Pool<Self>)> {
        let options = options(&settings.url)
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
        let reader: SqlitePool = if in_memory {
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
        migrations::migrator(migrations::SQLITE, str::to_owned)
            .await?
            .run(&writer)
            .await?;
        Ok((writer, reader))
    }
}
