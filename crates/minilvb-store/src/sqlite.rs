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

/// A group commit closes after this many transactions or this long, even
/// with writers still queueing, so that no caller waits on a long queue.
const MAX_BATCH: usize = 256;
const MAX_BATCH_AGE: Duration = Duration::from_millis(2);

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 128;
/// Each reader's page cache, in KiB (SQLite's default is 2 000). A reader
/// drops its whole cache whenever another connection committed since its
/// last read, so under a write load the cache is refilled for every read;
/// the list rows read most are kept by the list snapshots anyway. Measured
/// in `churn`: the same throughput, 15-20 MiB less resident.
const READER_CACHE_KIB: i64 = 512;

/// The page size of a database file minilvb creates (SQLite's default is
/// 4 KiB). A commit writes every page it changed whole, to the WAL and
/// again at the checkpoint, and the enters, quits and likes of a busy
/// server change a row here and a row there: some tens of pages a commit,
/// few of them changed by more than a row. Readers, whose caches every
/// commit empties, read pages whole too. Measured on 2 cores against 4 KiB
/// pages (BENCHMARKS.md, session 8): `mixed` and `likes` up by a fifth,
/// `churn` and `list` by up to a tenth. A row larger than about 1 000 bytes
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
    // (`sqlite_stat1`) it chose worse plans for the list pages (measured:
    // the `list` benchmark at half the rate).
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
    /// `level` order, and costs every enter and quit a b-tree write (churn
    /// +8 % without it): kept only while the order is `level`. Built when
    /// a server starts with that order (0.6 s per million members here).
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

// Reads.

/// Read-only connections, opened as concurrent reads need them (a read
/// never yields while it runs, so there are about as many as threads
/// running requests); up to `keep` of them are kept between reads.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    open: AtomicUsize,
    keep: usize,
}

impl Readers {
    fn lend(self: &Arc<Self>) -> Result<ReadConn, sqlx::Error> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = connect(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .map_err(database_error)?;
                conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)
                    .map_err(database_error)?;
                self.open.fetch_add(1, Ordering::Relaxed);
                conn
            }
        };
        Ok(ReadConn {
            conn: Some(conn),
            home: Arc::clone(self),
        })
    }
}

pub struct ReadConn {
    conn: Option<Connection>,
    home: Arc<Readers>,
}

impl Drop for ReadConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self.home.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < self.home.keep {
                idle.push(conn);
            } else {
                drop(idle);
                drop(conn);
                self.home.open.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// A connection lent for a read.
pub enum Lent {
    Reader(ReadConn),
    /// An in-memory database has one connection.
    Writer(OwnedMutexGuard<WriterState>),
}

impl Deref for Lent {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Lent::Reader(reader) => reader.conn.as_ref().expect("lent connection"),
            Lent::Writer(writer) => &writer.conn,
        }
    }
}

impl DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut Connection {
        match self {
            Lent::Reader(reader) => reader.conn.as_mut().expect("lent connection"),
            Lent::Writer(writer) => &mut writer.conn,
        }
    }
}

// Writes, group-committed.

struct Writer {
    conn: Arc<tokio::sync::Mutex<WriterState>>,
    /// Callers waiting for the connection to begin a transaction.
    queued: AtomicUsize,
    /// Numbers the group commits.
    batches: AtomicU64,
    group_commit: bool,
}

pub struct WriterState {
    conn: Connection,
    /// The open transaction holding released, uncommitted transactions.
    batch: Option<Batch>,
}

struct Batch {
    id: u64,
    released: usize,
    opened: Instant,
    /// The outcome of its `COMMIT`, for the callers waiting on it.
    outcome: watch::Sender<Option<Result<(), SqliteError>>>,
}

impl WriterState {
    /// Commits the open group, if any, and tells its callers.
    fn commit_batch(&mut self) -> Result<(), SqliteError> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        let outcome = match self.conn.run("COMMIT") {
            Ok(()) => Ok(()),
            Err(error) => {
                let error = SqliteError::from(error);
                tracing::error!(%error, transactions = batch.released, "SQLite group commit failed");
                // A failed COMMIT may leave the transaction open.
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(error)
            }
        };
        batch.outcome.send_replace(Some(outcome.clone()));
        outcome
    }

    /// Undoes the open group (its transactions are lost) and tells its callers.
    fn abandon_batch(&mut self, error: SqliteError) {
        let _ = self.conn.execute_batch("ROLLBACK");
        if let Some(batch) = self.batch.take() {
            batch.outcome.send_replace(Some(Err(error)));
        }
    }
}

/// Counts a caller queued for the writer while it waits.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Writer {
    fn is_queued(&self) -> bool {
        self.queued.load(Ordering::SeqCst) > 0
    }

    /// Commits the open group when nobody queued is left to: it may hold
    /// others' released transactions, and it holds the write lock.
    fn close_if_idle(&self, state: &mut WriterState) {
        if !self.is_queued() {
            let _ = state.commit_batch();
        }
    }

    async fn begin(self: &Arc<Self>) -> Result<Tx, sqlx::Error> {
        let mut state = {
            let _queued = Queued::new(&self.queued);
            self.conn.clone().lock_owned().await
        };
        if state.batch.is_none() {
            // IMMEDIATE takes the write lock up front: another process
            // holding it (the operator commands) makes us wait out the busy
            // timeout instead of failing when a read turns into a write.
            begin_immediate(&mut state.conn).await?;
            let (outcome, _) = watch::channel(None);
            state.batch = Some(Batch {
                id: self.batches.fetch_add(1, Ordering::Relaxed),
                released: 0,
                opened: Instant::now(),
                outcome,
            });
        }
        if let Err(error) = state.conn.run("SAVEPOINT tx") {
            let error = SqliteError::from(error);
            state.abandon_batch(error.clone());
            return Err(error.into());
        }
        Ok(Tx {
            state: Some(state),
            writer: Arc::clone(self),
        })
    }
}

/// `BEGIN IMMEDIATE`, waiting for another process's write lock (the
/// operator commands) for up to [`BUSY_TIMEOUT`]. The writer's connection
/// has no busy timeout of its own: SQLite would wait inside the call,
/// holding up a runtime thread where no deadline can interrupt it; here the
/// wait is a sleep that a request's deadline cancels.
async fn begin_immediate(conn: &mut Connection) -> Result<(), sqlx::Error> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.run("BEGIN IMMEDIATE") {
            Ok(()) => return Ok(()),
            Err(error) => {
                let error = SqliteError::from(error);
                let busy = error.code.is_some_and(|code| matches!(code & 0xff, 5 | 6));
                if !busy || started.elapsed() >= BUSY_TIMEOUT {
                    return Err(error.into());
                }
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// A write transaction: a savepoint in the open group.
pub struct Tx {
    state: Option<OwnedMutexGuard<WriterState>>,
    writer: Arc<Writer>,
}

impl Deref for Tx {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.state.as_ref().expect("open transaction").conn
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.state.as_mut().expect("open transaction").conn
    }
}

impl Tx {
    async fn commit(mut self) -> Result<(), sqlx::Error> {
        let mut state = self.state.take().expect("open transaction");
        if let Err(error) = state.conn.run("RELEASE tx") {
            let error = SqliteError::from(error);
            state.abandon_batch(error.clone());
            return Err(error.into());
        }
        let batch = state.batch.as_mut().expect("a transaction is in a batch");
        batch.released += 1;
        let full = batch.released >= MAX_BATCH || batch.opened.elapsed() >= MAX_BATCH_AGE;
        if !self.writer.group_commit || full {
            return state.commit_batch().map_err(Into::into);
        }
        if !self.writer.is_queued() {
            // A transaction runs without a pause, so other writers can
            // only queue behind this one while it lets them: give the
            // requests ready to run their turn first, once.
            let mut holding = Holding {
                state: Some(state),
                writer: &self.writer,
            };
            tokio::task::yield_now().await;
            state = holding.state.take().expect("held");
            if !self.writer.is_queued() {
                return state.commit_batch().map_err(Into::into);
            }
        }
        let batch = state.batch.as_mut().expect("a transaction is in a batch");
        // Others are queued: the last of them commits for us.
        let id = batch.id;
        let mut outcome = batch.outcome.subscribe();
        let settled = outcome.clone();
        drop(state);
        let mut waiter = BatchWaiter {
            writer: &self.writer,
            id,
        };
        let result = tokio::select! {
            biased;
            done = outcome.wait_for(Option::is_some) => match done {
                Ok(done) => done.clone().expect("is some"),
                Err(_) => Err(SqliteError::message("the group commit was dropped")),
            },
            // The queue broke up (its callers gave up): commit it ourselves.
            mut state = self.writer.conn.clone().lock_owned() => {
                if state.batch.as_ref().is_some_and(|b| b.id == id) {
                    state.commit_batch()
                } else {
                    settled.borrow().clone().unwrap_or(Ok(()))
                }
            }
        };
        waiter.id = u64::MAX;
        result.map_err(Into::into)
    }
}

impl Drop for Tx {
    /// Rolls the transaction back: its savepoint, or the whole group if the
    /// savepoint is gone (SQLite rolled the transaction back itself).
    fn drop(&mut self) {
        let Some(mut state) = self.state.take() else {
            return;
        };
        if let Err(error) = state.conn.execute_batch("ROLLBACK TO tx; RELEASE tx") {
            state.abandon_batch(SqliteError::from(error));
            return;
        }
        self.writer.close_if_idle(&mut state);
    }
}

/// The connection held across a pause after a release; given up (a
/// deadline) with nobody queued, it commits the group itself.
struct Holding<'a> {
    state: Option<OwnedMutexGuard<WriterState>>,
    writer: &'a Arc<Writer>,
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        if let Some(mut state) = self.state.take() {
            self.writer.close_if_idle(&mut state);
        }
    }
}

/// A caller waiting for its group to commit; if it gives up (a deadline),
/// it commits the group itself when the connection is free, so that an
/// open group never outlives its callers.
struct BatchWaiter<'a> {
    writer: &'a Arc<Writer>,
    id: u64,
}

impl Drop for BatchWaiter<'_> {
    fn drop(&mut self) {
        if self.id == u64::MAX {
            return;
        }
        if let Ok(mut state) = self.writer.conn.try_lock() {
            if state.batch.as_ref().is_some_and(|b| b.id == self.id) {
                let _ = state.commit_batch();
            }
        }
    }
}

// Statements and rows.

fn bind(statement: &mut rusqlite::CachedStatement<'_>, args: &[Arg<'_>]) -> rusqlite::Result<()> {
    for (at, arg) in args.iter().enumerate() {
        match *arg {
            Arg::Text(value) => statement.raw_bind_parameter(at + 1, value)?,
            Arg::Int(value) => statement.raw_bind_parameter(at + 1, value)?,
            Arg::OptInt(value) => statement.raw_bind_parameter(at + 1, value)?,
        }
    }
    Ok(())
}

fn fetch(conn: &Connection, statement: &str, args: &[Arg<'_>]) -> rusqlite::Result<Vec<SqliteRow>> {
    let mut prepared = conn.prepare_cached(statement)?;
    bind(&mut prepared, args)?;
    let columns: Arc<[Box<str>]> = prepared.column_names().into_iter().map(Box::from).collect();
    let width = columns.len();
    let mut rows = prepared.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(width);
        for at in 0..width {
            values.push(Value::from(row.get_ref(at)?));
        }
        out.push(SqliteRow {
            columns: Arc::clone(&columns),
            values,
        });
    }
    Ok(out)
}

/// A row read into memory.
pub struct SqliteRow {
    columns: Arc<[Box<str>]>,
    values: Vec<Value>,
}

impl SqliteRow {
    fn get(&self, column: &str) -> Option<&Value> {
        let at = self.columns.iter().position(|c| &**c == column)?;
        self.values.get(at)
    }
}

fn as_int(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Integer(n) => Some(*n),
        Value::Real(x) => Some(*x as i64),
        Value::Text(text) => text.trim().parse().ok(),
        Value::Null | Value::Blob(_) => None,
    }
}

impl SqlRow for SqliteRow {
    fn text(&self, column: &str) -> String {
        match self.get(column) {
            Some(Value::Text(text)) => text.clone(),
            Some(Value::Integer(n)) => n.to_string(),
            Some(Value::Blob(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
            _ => String::new(),
        }
    }

    fn int(&self, column: &str) -> i64 {
        as_int(self.get(column)).unwrap_or(0)
    }

    fn opt_int(&self, column: &str) -> Option<i64> {
        as_int(self.get(column))
    }

    fn first_int(&self) -> Result<i64, sqlx::Error> {
        match self.values.first() {
            Some(Value::Null) => Ok(0),
            value => as_int(value)
                .ok_or_else(|| SqliteError::message("the first column is not an integer").into()),
        }
    }
}

// Errors, as sqlx's database errors, so that the store classifies them
// (busy, unique key) the same way for every database.

#[derive(Debug, Clone)]
pub struct SqliteError {
    /// The extended result code, when SQLite gave one.
    code: Option<i32>,
    message: String,
}

impl SqliteError {
    fn message(message: &str) -> Self {
        Self {
            code: None,
            message: message.to_owned(),
        }
    }
}

impl From<rusqlite::Error> for SqliteError {
    fn from(error: rusqlite::Error) -> Self {
        match error {
            rusqlite::Error::SqliteFailure(failure, message) => Self {
                code: Some(failure.extended_code),
                message: message.unwrap_or_else(|| failure.to_string()),
            },
            other => Self {
                code: None,
                message: other.to_string(),
            },
        }
    }
}

pub(super) fn database_error(error: rusqlite::Error) -> sqlx::Error {
    SqliteError::from(error).into()
}

impl std::fmt::Display for SqliteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "SQLite error {code}: {}", self.message),
            None => write!(f, "SQLite: {}", self.message),
        }
    }
}

impl std::error::Error for SqliteError {}

impl DatabaseError for SqliteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.code.map(|code| Cow::Owned(code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY.
            Some(2067 | 1555) => ErrorKind::UniqueViolation,
            Some(787) => ErrorKind::ForeignKeyViolation,
            Some(1299) => ErrorKind::NotNullViolation,
            Some(275) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Executor;

    /// The build settings of `.cargo/config.toml` (`LIBSQLITE3_FLAGS`) are
    /// in the SQLite this binary runs: no shared page cache behind a global
    /// mutex, no global mutex around each allocation for its statistics.
    #[test]
    fn sqlite_is_built_without_its_global_mutexes() {
        let conn = Connection::open_in_memory().unwrap();
        let mut statement = conn.prepare("PRAGMA compile_options").unwrap();
        let options: Vec<String> = statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
    }

    use super::*;
    use crate::settings::MemberOrder;

    /// The writer keeps its savepoints' undo pages in memory: a group
    /// commit of many transactions would otherwise create, write and
    /// delete a temporary file each time.
    #[tokio::test]
    async fn the_writer_keeps_undo_pages_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let settings = DatabaseSettings {
            url: format!("sqlite:{}", dir.path().join("t.db").display()),
            ..DatabaseSettings::default()
        };
        let pools = Sqlite::open(&settings).await.unwrap();
        let state = pools.writer.conn.lock().await;
        let temp_store: i64 = state
            .conn
            .query_row("PRAGMA temp_store", [], |row| row.get(0))
            .unwrap();
        assert_eq!(temp_store, 2, "2 is MEMORY");
    }

    /// A new file gets small pages (see `NEW_PAGE_BYTES`); a file made with
    /// SQLite's default keeps it, and its WAL backstop stays 128 MiB.
    #[tokio::test]
    async fn new_files_get_small_pages_and_old_files_keep_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let page_size = |path: &std::path::Path| -> i64 {
            let conn = Connection::open(path).unwrap();
            conn.query_row("PRAGMA page_size", [], |row| row.get(0))
                .unwrap()
        };
        let url = |path: &std::path::Path| DatabaseSettings {
            url: format!("sqlite:{}", path.display()),
            ..DatabaseSettings::default()
        };
        let new = dir.path().join("new.db");
        let pools = Sqlite::open(&url(&new)).await.unwrap();
        Sqlite::close(&pools).await;
        assert_eq!(page_size(&new), i64::from(NEW_PAGE_BYTES));

        let old = dir.path().join("old.db");
        let conn = Connection::open(&old).unwrap();
        conn.execute_batch(
            "PRAGMA page_size = 4096; CREATE TABLE t (x); PRAGMA journal_mode = WAL",
        )
        .unwrap();
        drop(conn);
        let pools = Sqlite::open(&url(&old)).await.unwrap();
        let backstop: i64 = pools
            .writer
            .conn
            .lock()
            .await
            .conn
            .query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))
            .unwrap();
        Sqlite::close(&pools).await;
        assert_eq!(page_size(&old), 4096);
        assert_eq!(backstop, WAL_BACKSTOP_BYTES / 4096);
    }

    use crate::NewMember;
    use minilvb_protocol::{Group, Page};

    /// A database made before members were keyed by group (migrations 1-5,
    /// one id sequence for all groups) keeps every member and its order,
    /// and new members go after the old ones.
    #[tokio::test]
    async fn members_keyed_by_group_keep_their_order_across_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        let before = migrations::Embedded(&migrations::SQLITE.0[..5]);
        migrations::migrator(before, str::to_owned)
            .await
            .unwrap()
            .run_direct(&mut conn)
            .await
            .unwrap();
        for anchor in ["a", "b"] {
            conn.execute(&*format!(
                "INSERT INTO rooms (userid, stream_id, groupid, title, nickname, headpic, \
                 frontcover, location, play_url, hls_play_url, online, viewer_count, \
                 started_at, status_at) VALUES ('{anchor}', 's-{anchor}', 'g', '', '', '', \
                 '', '', '', '', 1, 3, 1, 1)"
            ))
            .await
            .unwrap();
        }
        // Interleaved, as the one sequence numbered them.
        for (anchor, userid) in [("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2")]
            .into_iter()
            .chain([("a", "a3"), ("b", "b3")])
        {
            conn.execute(&*format!(
                "INSERT INTO members (anchor, kind, group_key, userid, nickname, headpic, \
                 level, joined_at) VALUES ('{anchor}', 0, 'g', '{userid}', 'n', 'h', 0, 1)"
            ))
            .await
            .unwrap();
        }
        conn.execute("DELETE FROM members WHERE userid = 'a3'")
            .await
            .unwrap();
        conn.execute("UPDATE rooms SET viewer_count = 2 WHERE userid = 'a'")
            .await
            .unwrap();
        conn.close().await.unwrap();

        let settings = DatabaseSettings {
            url: format!("sqlite:{}", path.display()),
            list_snapshot_ms: 0,
            ..DatabaseSettings::default()
        };
        let store = crate::connect(&settings, None).await.unwrap();
        let room = |anchor: &str| Group::Room {
            anchor: anchor.into(),
            groupid: "g".into(),
        };
        let page = Page {
            number: 1,
            size: 10,
        };
        let userids = |members: Vec<minilvb_protocol::MemberInfo>| {
            members.into_iter().map(|m| m.userid).collect::<Vec<_>>()
        };
        let (total, members) = store
            .members(&room("a"), MemberOrder::Join, page)
            .await
            .unwrap();
        assert_eq!(
            (total, userids(members)),
            (2, vec!["a1".into(), "a2".into()])
        );
        let newcomer = NewMember {
            userid: "a4".into(),
            nickname: "n".into(),
            headpic: "h".into(),
            level: None,
            joined_at: 2,
        };
        assert!(store.enter(&room("a"), &newcomer).await.unwrap());
        for (order, expected) in [
            (MemberOrder::Join, ["a1", "a2", "a4"]),
            (MemberOrder::Latest, ["a4", "a2", "a1"]),
        ] {
            let (total, members) = store.members(&room("a"), order, page).await.unwrap();
            assert_eq!(
                (total, userids(members)),
                (3, expected.map(String::from).to_vec())
            );
        }
        let (_, members) = store
            .members(&room("b"), MemberOrder::Join, page)
            .await
            .unwrap();
        assert_eq!(userids(members), ["b1", "b2", "b3"]);
        store.close().await;
    }

    /// The level index exists while the server's order is `level`, and
    /// only then; a tool (no order) leaves it as it is. Members list in
    /// every order with or without it.
    #[tokio::test]
    async fn the_level_index_follows_the_member_order() {
        let dir = tempfile::tempdir().unwrap();
        let settings = DatabaseSettings {
            url: format!("sqlite:{}", dir.path().join("m.db").display()),
            list_snapshot_ms: 0,
            ..DatabaseSettings::default()
        };
        let has_index = || {
            let conn = Connection::open(dir.path().join("m.db")).unwrap();
            conn.prepare("SELECT 1 FROM sqlite_master WHERE name = 'members_by_level'")
                .unwrap()
                .exists([])
                .unwrap()
        };
        let room = Group::Room {
            anchor: "a".into(),
            groupid: "g".into(),
        };
        let page = Page {
            number: 1,
            size: 10,
        };
        let mut entered: Vec<(i64, usize, String)> = Vec::new();
        for (step, (order, indexed)) in [
            (Some(MemberOrder::Join), false),
            (None, false),
            (Some(MemberOrder::Level), true),
            (None, true),
            (Some(MemberOrder::Latest), false),
        ]
        .into_iter()
        .enumerate()
        {
            let store = crate::connect(&settings, order).await.unwrap();
            assert_eq!(has_index(), indexed, "{order:?}");
            if step == 0 {
                let session = crate::NewSession {
                    userid: "a".into(),
                    stream_id: "s".into(),
                    groupid: "g".into(),
                    title: "t".into(),
                    userinfo: Default::default(),
                    play_url: String::new(),
                    hls_play_url: String::new(),
                    started_at: 1,
                };
                store.start_session(&session).await.unwrap();
            }
            let level = step as i64 % 2;
            let member = NewMember {
                userid: format!("u{step}"),
                nickname: "n".into(),
                headpic: "h".into(),
                level: Some(level),
                joined_at: step as i64,
            };
            assert!(store.enter(&room, &member).await.unwrap());
            entered.push((-level, step, member.userid));
            entered.sort();
            let (_, members) = store
                .members(&room, MemberOrder::Level, page)
                .await
                .unwrap();
            let listed: Vec<_> = members.into_iter().map(|m| m.userid).collect();
            let expected: Vec<_> = entered.iter().map(|e| e.2.clone()).collect();
            assert_eq!(listed, expected, "{order:?}");
            store.close().await;
        }
    }
}
