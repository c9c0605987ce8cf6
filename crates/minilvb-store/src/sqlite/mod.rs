//! SQLite, the zero-set-up default, driven directly (rusqlite).
//!
//! SQLite is a library in this process, so a statement is a function call:
//! reads run right where they are asked for, each on a connection of its
//! own on the WAL (a read takes microseconds, less than handing it to
//! another thread would). Writes go through one connection, one
//! transaction at a time, and are **group-committed**: while other writes
//! wait for the connection, a finished transaction is only released (a
//! savepoint inside one open transaction) and its caller waits; the last
//! of the queue commits for all of them and every caller learns the
//! outcome of that one `COMMIT`. With nobody waiting, a write commits at
//! once. `synchronous=NORMAL` in WAL mode makes a committed transaction
//! survive a crash of the process (`kill -9`); an acknowledgement always
//! follows its `COMMIT`.
//!
//! Migrations are run by sqlx's migrator over a connection of its own, as
//! on the other databases, so the history table is the same everywhere
//! (an in-memory database, always new, just applies them).

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection as _};
use tokio::sync::{OwnedMutexGuard, watch};

use super::PoolStats;
use super::dialect::{Arg, Dialect, SqlRow};
use super::migrations;
use crate::settings::{DatabaseSettings, MemberOrder};

mod readers;
mod rows;
#[cfg(test)]
mod tests;
mod writer;

use readers::*;
pub(super) use rows::*;
use writer::*;

pub fn options(url: &str) -> Result<SqliteConnectOptions, sqlx::Error> {
    SqliteConnectOptions::from_str(url)
}

/// The database file a URL names; `None` for an in-memory database.
pub fn file_path(url: &str) -> Result<Option<PathBuf>, sqlx::Error> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if in_memory {
        return Ok(None);
    }
    Ok(Some(options(url)?.get_filename().to_owned()))
}

/// How long a connection waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 128;
/// Each reader's page cache, in KiB (SQLite's default is 2 000). A reader
/// drops its whole cache whenever another connection committed since its
/// last read, so under a write load the cache is refilled for every read;
/// the list rows read most are kept by the list snapshots anyway: a small
/// cache costs no throughput and saves memory (docs/BENCHMARKS.md).
const READER_CACHE_KIB: i64 = 512;

/// The page size of a database file minilvb creates (SQLite's default is
/// 4 KiB). A commit writes every page it changed whole, to the WAL and
/// again at the checkpoint, and the enters, quits and likes of a busy
/// server change a row here and a row there: some tens of pages a commit,
/// few of them changed by more than a row. Readers, whose caches every
/// commit empties, read pages whole too: smaller pages raise every write
/// scenario's throughput (docs/BENCHMARKS.md, design measurements). A row larger than about 1 000 bytes
/// spills into overflow pages (the rows here are a few hundred). A file
/// created with another page size keeps it (see DEPLOYMENT.md to change it).
const NEW_PAGE_BYTES: u32 = 1024;

/// The SQLite dialect and driver.
pub struct Sqlite;

pub struct SqlitePools {
    /// Set by `close`: every later operation fails as on a closed pool.
    closed: std::sync::atomic::AtomicBool,
    /// Stops the checkpoint thread.
    stop_checkpoints: Arc<std::sync::atomic::AtomicBool>,
    writer: Arc<Writer>,
    /// `None` for an in-memory database: reads use the writer's connection.
    readers: Option<Arc<Readers>>,
    max_readers: u32,
}

/// The index the `level` member order reads (see `index_members_for`).
const LEVEL_INDEX: &str =
    "CREATE INDEX members_by_level ON members (anchor, kind, group_key, level DESC, id)";

impl Dialect for Sqlite {
    const NUMBERED_PARAMS: bool = false;
    // The single writer connection serializes every write transaction.
    const FOR_UPDATE: &'static str = "";
    const INTEGER: &'static str = "INTEGER";
    const SINGLE_WRITER: bool = true;
    // Its planner finds the key lookups without statistics; with them
    // (`sqlite_stat1`) it chose worse plans for the list pages
    // (docs/BENCHMARKS.md, design measurements).
    const ANALYZE: Option<&'static str> = None;

    type Conn = Connection;
    type Row = SqliteRow;
    type Pools = SqlitePools;
    type Lent = Lent;
    type Tx = Tx;

    fn is_conflict(error: &dyn DatabaseError) -> bool {
        // SQLITE_BUSY and SQLITE_LOCKED, with their extended codes.
        let code: i64 = error.code().and_then(|c| c.parse().ok()).unwrap_or(0);
        matches!(code & 0xff, 5 | 6)
    }

    async fn open(settings: &DatabaseSettings) -> anyhow::Result<SqlitePools> {
        let parsed = options(&settings.url).map_err(|e| anyhow::anyhow!("database.url: {e}"))?;
        let in_memory = settings.url.contains(":memory:") || settings.url.contains("mode=memory");
        let path = parsed.get_filename().to_owned();
        let writer = if in_memory {
            // A fresh database each time: every migration applies, with no
            // history to keep (and sqlx could not reach this connection's).
            let conn = connect(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_MEMORY,
            )?;
            conn.pragma_update(None, "page_size", NEW_PAGE_BYTES)?;
            for (_, _, migration) in migrations::SQLITE.0 {
                conn.execute_batch(migration)?;
            }
            conn
        } else {
            super::diagnosis::check_sqlite_path(&path)?;
            migrate(&path)
                .await
                .map_err(|e| super::diagnosis::sqlite_open_failed(&path, e))?;
            let conn = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            configure(&conn)?;
            conn.busy_timeout(Duration::ZERO)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            // Checkpoints run beside the writer (see `checkpoints`); this
            // one only if they fall far behind.
            let page_bytes: i64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0))?;
            let backstop = WAL_BACKSTOP_BYTES / page_bytes.max(512);
            conn.pragma_update(None, "wal_autocheckpoint", backstop)?;
            // Each grouped transaction is a savepoint, whose undo pages
            // (the sub-journal) otherwise spill to a temporary file past
            // 64 KiB: created, written and deleted on every commit.
            conn.pragma_update(None, "temp_store", "MEMORY")?;
            conn
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        if !in_memory {
            checkpoints(path.clone(), Arc::clone(&stop))?;
        }
        let readers = (!in_memory).then(|| {
            Arc::new(Readers {
                path: path.clone(),
                idle: Mutex::new(Vec::new()),
                open: AtomicUsize::new(0),
                keep: settings.max_connections.max(1) as usize,
            })
        });
        Ok(SqlitePools {
            closed: Default::default(),
            stop_checkpoints: stop,
            writer: Arc::new(Writer {
                conn: Arc::new(tokio::sync::Mutex::new(WriterState {
                    conn: writer,
                    batch: None,
                })),
                queued: AtomicUsize::new(0),
                batches: AtomicU64::new(0),
                group_commit: !in_memory,
            }),
            readers,
            max_readers: settings.max_connections,
        })
    }

    async fn lend(pools: &SqlitePools) -> Result<Lent, sqlx::Error> {
        pools.check_open()?;
        match &pools.readers {
            Some(readers) => readers.lend().map(Lent::Reader),
            None => Ok(Lent::Writer(pools.writer.conn.clone().lock_owned().await)),
        }
    }

    /// The level index (members by group, level and id) serves only the
    /// `level` order, and costs every enter and quit a b-tree write: kept
    /// only while the order is `level`. Built when a server starts with that
    /// order (docs/BENCHMARKS.md, design measurements, has both costs).
    async fn index_members_for(pools: &SqlitePools, order: MemberOrder) -> anyhow::Result<()> {
        let state = pools.writer.conn.lock().await;
        let conn = &state.conn;
        let exists = conn
            .prepare(
                "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'members_by_level'",
            )?
            .exists([])?;
        let statement = match (order, exists) {
            (MemberOrder::Level, false) => LEVEL_INDEX,
            (MemberOrder::Join | MemberOrder::Latest, true) => "DROP INDEX members_by_level",
            _ => return Ok(()),
        };
        // Another process may hold the write lock for a moment.
        conn.busy_timeout(Duration::from_secs(10))?;
        let started = Instant::now();
        let done = conn.execute_batch(statement);
        conn.busy_timeout(Duration::ZERO)?;
        done?;
        let took = started.elapsed();
        let what = if exists {
            "members' level index dropped"
        } else {
            "members' level index built"
        };
        // Routine on a new database; worth an operator's notice only when
        // it held up the start.
        if took >= Duration::from_secs(1) {
            tracing::info!(?order, took_ms = took.as_millis() as u64, "{what}");
        } else {
            tracing::debug!(?order, took_ms = took.as_millis() as u64, "{what}");
        }
        Ok(())
    }

    async fn begin(pools: &SqlitePools, _guarded: bool) -> Result<Tx, sqlx::Error> {
        pools.check_open()?;
        pools.writer.begin().await
    }

    async fn commit(tx: Tx) -> Result<(), sqlx::Error> {
        tx.commit().await
    }

    async fn fetch<'a>(
        conn: &'a mut Connection,
        statement: &'a str,
        args: &'a [Arg<'a>],
    ) -> Result<Vec<SqliteRow>, sqlx::Error> {
        fetch(conn, statement, args).map_err(database_error)
    }

    async fn exec<'a>(
        conn: &'a mut Connection,
        statement: &'a str,
        args: &'a [Arg<'a>],
    ) -> Result<u64, sqlx::Error> {
        let mut prepared = conn.prepare_cached(statement).map_err(database_error)?;
        bind(&mut prepared, args).map_err(database_error)?;
        let changed = prepared.raw_execute().map_err(database_error)?;
        Ok(changed as u64)
    }

    async fn foreign_writes(pools: &SqlitePools) -> Option<u64> {
        // `data_version` moves when another connection commits; the only
        // other writers of the file are other processes (our readers never
        // write), and this connection's own commits leave it as it is.
        let state = pools.writer.conn.lock().await;
        state
            .conn
            .query_row("PRAGMA data_version", [], |row| row.get::<_, i64>(0))
            .ok()
            .map(|version| version as u64)
    }

    fn pool_stats(pools: &SqlitePools) -> Vec<PoolStats> {
        let writer_idle = u32::from(pools.writer.conn.try_lock().is_ok());
        let mut stats = vec![PoolStats {
            pool: "write",
            size: 1,
            idle: writer_idle,
            max: 1,
        }];
        if let Some(readers) = &pools.readers {
            let open = readers.open.load(Ordering::Relaxed) as u32;
            let idle = readers.idle.lock().map(|idle| idle.len()).unwrap_or(0) as u32;
            stats.push(PoolStats {
                pool: "read",
                size: open,
                idle,
                max: pools.max_readers.max(open),
            });
        }
        stats
    }

    async fn close(pools: &SqlitePools) {
        pools.closed.store(true, Ordering::SeqCst);
        pools.stop_checkpoints.store(true, Ordering::SeqCst);
        // Commit what a group commit still holds (its callers are waiting).
        let mut state = pools.writer.conn.lock().await;
        if let Err(error) = state.commit_batch() {
            tracing::error!(%error, "SQLite: the last group commit failed");
        }
        // Fold the WAL into the database file, as the last connection to
        // close would, so that a stopped server leaves one file behind.
        if let Err(error) = state.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
            tracing::warn!(%error, "SQLite: checkpoint at close failed");
        }
        if let Some(readers) = &pools.readers {
            readers
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
    }
}

impl Drop for SqlitePools {
    fn drop(&mut self) {
        self.stop_checkpoints.store(true, Ordering::SeqCst);
    }
}

/// How often the WAL is checkpointed, beside the writer. Under a steady
/// stream of enters and quits the WAL grew by some 30 000 pages a second
/// (of 4 KiB, before [`NEW_PAGE_BYTES`]):
/// checkpointed only every 250 ms it reached the writer's backstop, and
/// the writer's own checkpoint (two fsyncs in its COMMIT) stalled every
/// queued write for 20-30 ms several times a second. A checkpoint of an
/// unchanged WAL costs next to nothing.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);
/// The writer checkpoints itself only past this much WAL (in pages of the
/// file's size): only if the checkpoints above fall far behind.
const WAL_BACKSTOP_BYTES: i64 = 128 << 20;

/// Copies the WAL back into the database file from a thread and a
/// connection of its own. SQLite would do it in the writer's `COMMIT` every
/// 1 000 pages, syncing the file while every queued write waits; a passive
/// checkpoint here never blocks the writer or the readers.
fn checkpoints(path: PathBuf, stop: Arc<std::sync::atomic::AtomicBool>) -> anyhow::Result<()> {
    let conn = connect(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(CHECKPOINT_EVERY);
                let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                if let Err(error) = done {
                    tracing::debug!(%error, "SQLite checkpoint");
                }
            }
        })?;
    Ok(())
}

impl SqlitePools {
    fn check_open(&self) -> Result<(), sqlx::Error> {
        match self.closed.load(Ordering::SeqCst) {
            true => Err(sqlx::Error::PoolClosed),
            false => Ok(()),
        }
    }
}

/// Runs a statement with no parameters, prepared once per connection.
trait Run {
    fn run(&self, statement: &str) -> rusqlite::Result<()>;
}

impl Run for Connection {
    fn run(&self, statement: &str) -> rusqlite::Result<()> {
        self.prepare_cached(statement)?.raw_execute().map(drop)
    }
}

fn connect(path: &std::path::Path, flags: OpenFlags) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    configure(&conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Runs the migrations through sqlx, on a connection of its own.
async fn migrate(path: &std::path::Path) -> anyhow::Result<()> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .page_size(NEW_PAGE_BYTES)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        .connect()
        .await?;
    migrations::migrator(migrations::SQLITE, str::to_owned)
        .await?
        .run_direct(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}
