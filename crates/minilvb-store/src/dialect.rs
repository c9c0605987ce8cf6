//! What differs between the databases the one SQL store runs on: a few
//! pieces of SQL, which errors mean "re-run", and how statements reach the
//! database.
//!
//! PostgreSQL and MySQL go through sqlx's pools ([`SqlxDialect`], one
//! generic implementation of [`Dialect`] for both). SQLite has a driver of
//! its own (`sqlite.rs`): it is a library in the process, so its reads run
//! where they are asked for and its writes on one connection, with no
//! worker thread or channel in between.

use std::future::Future;
use std::ops::DerefMut;

use sqlx::error::DatabaseError;
use sqlx::pool::PoolConnection;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use super::PoolStats;
use crate::settings::{DatabaseSettings, MemberOrder};

/// A bound value.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(&'a str),
    Int(i64),
    OptInt(Option<i64>),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(value: &'a str) -> Self {
        Arg::Text(value)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(value: &'a String) -> Self {
        Arg::Text(value)
    }
}

impl From<i64> for Arg<'_> {
    fn from(value: i64) -> Self {
        Arg::Int(value)
    }
}

impl From<bool> for Arg<'_> {
    fn from(value: bool) -> Self {
        Arg::Int(i64::from(value))
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(value: Option<i64>) -> Self {
        Arg::OptInt(value)
    }
}

/// A transaction found out that what it read is no longer so (or, on a
/// Galera node, that its acknowledged commit did not happen): nothing of it
/// is applied, and it is re-run, as after a deadlock.
#[derive(Debug)]
pub struct Rerun(pub &'static str);

impl Rerun {
    pub fn error(why: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Rerun(why)))
    }
}

impl std::fmt::Display for Rerun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Rerun {}

impl DatabaseError for Rerun {
    fn message(&self) -> &str {
        self.0
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

    fn kind(&self) -> sqlx::error::ErrorKind {
        sqlx::error::ErrorKind::Other
    }
}

/// A row of a result, read by column name. A missing or NULL value reads
/// as empty or 0: the schema has no NULL where the store reads it as such.
pub trait SqlRow {
    fn text(&self, column: &str) -> String;
    fn int(&self, column: &str) -> i64;
    fn opt_int(&self, column: &str) -> Option<i64>;
    /// The first column as an integer (a `COUNT` or a `SUM`).
    fn first_int(&self) -> Result<i64, sqlx::Error>;
}

/// One kind of database, as the store in `sql.rs` sees it.
pub trait Dialect: Sized + Send + 'static {
    /// Placeholders are `$1, $2, ...` rather than `?`.
    const NUMBERED_PARAMS: bool;
    /// Appended to a `SELECT` that locks the rows it reads until the
    /// transaction ends; empty where a single writer makes it moot.
    const FOR_UPDATE: &'static str;
    /// The type in `CAST(x AS ...)` that reads back as a 64-bit integer
    /// (sums are NUMERIC on PostgreSQL, DECIMAL on MySQL).
    const INTEGER: &'static str;
    /// Writes go through one connection and reads through others (SQLite);
    /// otherwise one pool serves both. A single writer also numbers new
    /// members itself (its group's largest id plus one, race-free there:
    /// SQLite keys members by group and id) where the others draw ids from
    /// a sequence.
    const SINGLE_WRITER: bool;
    /// Refreshes the planner's statistics of the store's tables, where
    /// the planner needs them.
    const ANALYZE: Option<&'static str>;
    /// A connection statements run on.
    type Conn: Send;
    /// A row of a result.
    type Row: SqlRow + Send + Sync;
    /// The open connections.
    type Pools: Send + Sync;
    /// A connection lent for a read.
    type Lent: DerefMut<Target = Self::Conn> + Send;
    /// An open write transaction; dropped without [`Dialect::commit`], it
    /// rolls back.
    type Tx: DerefMut<Target = Self::Conn> + Send;

    /// A conflict with another transaction that re-running resolves
    /// (deadlock, serialization failure, lock wait timeout, busy).
    fn is_conflict(error: &dyn DatabaseError) -> bool;

    /// The server refuses to serve or is going away (shutting down, the
    /// connection killed, a cluster node not in the primary component):
    /// treated as a lost connection.
    fn is_unavailable(_error: &dyn DatabaseError) -> bool {
        false
    }

    /// Prefixed to a statement that commits by itself (see
    /// `SqlStore::write_alone`) where sessions are guarded (see
    /// [`Dialect::guarded`]), so that it may write.
    const WRITE_ALONE_GUARDED: &'static str = "";

    /// Opens the connections and brings the schema up to date.
    fn open(
        settings: &DatabaseSettings,
    ) -> impl Future<Output = anyhow::Result<Self::Pools>> + Send;

    /// Keeps the indexes that `order` needs and drops those it does not,
    /// where that is the dialect's choice (SQLite: one node decides).
    fn index_members_for(
        _pools: &Self::Pools,
        _order: MemberOrder,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        async { Ok(()) }
    }

    /// Whether the sessions are guarded against transactions that the
    /// database rolls back without an error (on a Galera node; see
    /// `mysql.rs`): a statement left outside its transaction cannot write,
    /// a transaction begins with a mark ([`Dialect::begin`] with `guarded`)
    /// and commits with [`Dialect::commit_guarded`].
    fn guarded(_pools: &Self::Pools) -> impl Future<Output = Result<bool, sqlx::Error>> + Send {
        async { Ok(false) }
    }

    /// Commits the transaction on `conn` and checks that its mark is there,
    /// in one command; fails as a conflict if not (nothing was committed).
    /// [`Dialect::commit`] then finds nothing left to commit.
    fn commit_guarded(
        _conn: &mut Self::Conn,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        async { Ok(()) }
    }

    /// A connection for a read.
    fn lend(pools: &Self::Pools) -> impl Future<Output = Result<Self::Lent, sqlx::Error>> + Send;

    /// Begins a write transaction; marked, where sessions are `guarded`.
    fn begin(
        pools: &Self::Pools,
        guarded: bool,
    ) -> impl Future<Output = Result<Self::Tx, sqlx::Error>> + Send;

    /// Commits it; when this returns `Ok`, the writes are durable.
    fn commit(tx: Self::Tx) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// The rows of one statement (`?` placeholders already numbered where
    /// the dialect wants).
    fn fetch<'a>(
        conn: &'a mut Self::Conn,
        statement: &'a str,
        args: &'a [Arg<'a>],
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send + 'a;

    /// Runs one statement; the rows it changed (on MySQL: matched).
    fn exec<'a>(
        conn: &'a mut Self::Conn,
        statement: &'a str,
        args: &'a [Arg<'a>],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'a;

    fn pool_stats(pools: &Self::Pools) -> Vec<PoolStats>;

    /// See [`super::Store::foreign_writes`].
    fn foreign_writes(_pools: &Self::Pools) -> impl Future<Output = Option<u64>> + Send {
        async { None }
    }

    fn close(pools: &Self::Pools) -> impl Future<Output = ()> + Send;
}

/// A database sqlx drives (PostgreSQL, MySQL): the pieces that differ.
pub trait SqlxDialect: Database {
    const NUMBERED_PARAMS: bool;
    const FOR_UPDATE: &'static str;
    const INTEGER: &'static str = "BIGINT";
    const ANALYZE: &'static str;
    /// The statement that begins a write transaction, if not `BEGIN`.
    const BEGIN: Option<&'static str> = None;
    /// The command that begins a write transaction where sessions are
    /// guarded (see [`Dialect::guarded`]).
    const BEGIN_GUARDED: &'static str = "";
    const WRITE_ALONE_GUARDED: &'static str = "";

    fn is_conflict(error: &dyn DatabaseError) -> bool;

    fn is_unavailable(_error: &dyn DatabaseError) -> bool {
        false
    }

    /// Rows a statement changed (on MySQL: matched, as sqlx asks for found rows).
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Opens the pool and brings the schema up to date.
    fn open(settings: &DatabaseSettings)
    -> impl Future<Output = anyhow::Result<Pool<Self>>> + Send;

    fn guarded(_pool: &Pool<Self>) -> impl Future<Output = Result<bool, sqlx::Error>> + Send {
        async { Ok(false) }
    }

    fn commit_guarded(
        _conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        async { Ok(()) }
    }
}

// Text is read unchecked: MySQL flags binary-collated text
// (`utf8mb4_nopad_bin` and kin) BINARY, which sqlx's type check refuses.
impl<R> SqlRow for R
where
    R: Row,
    String: for<'r> Decode<'r, R::Database>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    Option<i64>: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
    usize: ColumnIndex<R>,
{
    fn text(&self, column: &str) -> String {
        self.try_get_unchecked(column).unwrap_or_default()
    }

    fn int(&self, column: &str) -> i64 {
        self.try_get(column).unwrap_or_default()
    }

    fn opt_int(&self, column: &str) -> Option<i64> {
        self.try_get(column).unwrap_or_default()
    }

    fn first_int(&self) -> Result<i64, sqlx::Error> {
        self.try_get(0)
    }
}

fn bind<'q, DB>(
    statement: &'q str,
    args: &[Arg<'q>],
) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    i64: Type<DB> + Encode<'q, DB>,
    Option<i64>: Type<DB> + Encode<'q, DB>,
    &'q str: Type<DB> + Encode<'q, DB>,
{
    let mut query = sqlx::query(statement);
    for arg in args {
        query = match *arg {
            Arg::Text(value) => query.bind(value),
            Arg::Int(value) => query.bind(value),
            Arg::OptInt(value) => query.bind(value),
        };
    }
    query
}

impl<DB> Dialect for DB
where
    DB: SqlxDialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    i64: Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB>,
    Option<i64>: Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB>,
    String: Type<DB> + for<'r> Decode<'r, DB>,
    for<'q> &'q str: Type<DB> + Encode<'q, DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    const NUMBERED_PARAMS: bool = <DB as SqlxDialect>::NUMBERED_PARAMS;
    const FOR_UPDATE: &'static str = <DB as SqlxDialect>::FOR_UPDATE;
    const INTEGER: &'static str = <DB as SqlxDialect>::INTEGER;
    const SINGLE_WRITER: bool = false;
    const ANALYZE: Option<&'static str> = Some(<DB as SqlxDialect>::ANALYZE);
    const WRITE_ALONE_GUARDED: &'static str = <DB as SqlxDialect>::WRITE_ALONE_GUARDED;

    type Conn = DB::Connection;
    type Row = DB::Row;
    type Pools = Pool<DB>;
    type Lent = PoolConnection<DB>;
    type Tx = sqlx::Transaction<'static, DB>;

    fn is_conflict(error: &dyn DatabaseError) -> bool {
        <DB as SqlxDialect>::is_conflict(error)
    }

    fn is_unavailable(error: &dyn DatabaseError) -> bool {
        <DB as SqlxDialect>::is_unavailable(error)
    }

    async fn open(settings: &DatabaseSettings) -> anyhow::Result<Pool<DB>> {
        <DB as SqlxDialect>::open(settings).await
    }

    async fn guarded(pool: &Pool<DB>) -> Result<bool, sqlx::Error> {
        <DB as SqlxDialect>::guarded(pool).await
    }

    async fn commit_guarded(conn: &mut DB::Connection) -> Result<(), sqlx::Error> {
        <DB as SqlxDialect>::commit_guarded(conn).await
    }

    async fn lend(pool: &Pool<DB>) -> Result<PoolConnection<DB>, sqlx::Error> {
        pool.acquire().await
    }

    async fn begin(pool: &Pool<DB>, guarded: bool) -> Result<Self::Tx, sqlx::Error> {
        match <DB as SqlxDialect>::BEGIN {
            _ if guarded => pool.begin_with(<DB as SqlxDialect>::BEGIN_GUARDED).await,
            Some(statement) => pool.begin_with(statement).await,
            None => pool.begin().await,
        }
    }

    async fn commit(tx: Self::Tx) -> Result<(), sqlx::Error> {
        tx.commit().await
    }

    async fn fetch<'a>(
        conn: &'a mut DB::Connection,
        statement: &'a str,
        args: &'a [Arg<'a>],
    ) -> Result<Vec<DB::Row>, sqlx::Error> {
        bind::<DB>(statement, args).fetch_all(conn).await
    }

    async fn exec<'a>(
        conn: &'a mut DB::Connection,
        statement: &'a str,
        args: &'a [Arg<'a>],
    ) -> Result<u64, sqlx::Error> {
        let done = bind::<DB>(statement, args).execute(conn).await?;
        Ok(DB::rows_affected(&done))
    }

    fn pool_stats(pool: &Pool<DB>) -> Vec<PoolStats> {
        vec![PoolStats {
            pool: "shared",
            size: pool.size(),
            idle: pool.num_idle() as u32,
            max: pool.options().get_max_connections(),
        }]
    }

    async fn close(pool: &Pool<DB>) {
        pool.close().await;
    }
}
