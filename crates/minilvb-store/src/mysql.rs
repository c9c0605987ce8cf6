//! MySQL 8 and MariaDB 10.11 (and engines that speak the protocol): one pool
//! per node, shared by reads and writes. Sessions run READ COMMITTED: row
//! locks are what keep several nodes correct, and InnoDB's gap locks under
//! REPEATABLE READ would only add deadlocks.
//!
//! Tables are utf8mb4 (nicknames carry emoji) with a binary, no-pad
//! collation, so that text compares and sorts byte for byte as on SQLite
//! and PostgreSQL ("a" and "a " are two userids). Its name differs between
//! servers (`utf8mb4_nopad_bin` on MariaDB, `utf8mb4_0900_bin` on MySQL 8),
//! so the migrations name it `{{text}}` and it is looked up at start-up.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::error::DatabaseError;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError};
use sqlx::{Connection, Executor, MySql, Pool, Row};

use super::dialect::{Rerun, SqlxDialect};
use super::migrations;
use crate::settings::{DatabaseSettings, driver_url};

pub fn options(url: &str) -> Result<MySqlConnectOptions, sqlx::Error> {
    MySqlConnectOptions::from_str(&driver_url(url))
}

/// Binary collations, best first; `utf8mb4_bin` pads with spaces but exists everywhere.
const COLLATIONS: [&str; 3] = ["utf8mb4_nopad_bin", "utf8mb4_0900_bin", "utf8mb4_bin"];

impl SqlxDialect for MySql {
    const NUMBERED_PARAMS: bool = false;
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const INTEGER: &'static str = "SIGNED";
    const ANALYZE: &'static str = "ANALYZE TABLE rooms, recordings, members, like_slots, bans";
    /// Read-write even where the session's default is read-only (Galera, see
    /// `GALERA_SESSION`).
    const BEGIN: Option<&'static str> = Some("START TRANSACTION READ WRITE");
    const BEGIN_GUARDED: &'static str = BEGIN_GUARDED;
    /// MariaDB's; Galera is MariaDB here (MySQL has no `SET STATEMENT`).
    const WRITE_ALONE_GUARDED: &'static str = "SET STATEMENT tx_read_only = 0 FOR ";

    fn is_conflict(error: &dyn DatabaseError) -> bool {
        // ER_LOCK_DEADLOCK (also Galera's certification failure and
        // brute-force abort), ER_LOCK_WAIT_TIMEOUT. Not tested here, each a
        // transaction rolled back: MySQL Group Replication's lost
        // certification (ER_TRANSACTION_ROLLBACK_DURING_COMMIT) and TiDB's
        // optimistic write conflict. And a transaction a Galera node rolled
        // back without an error (see `GALERA_SESSION`): a write then outside
        // it (ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION); a commit that did
        // not happen is a [`Rerun`] (see `commit_guarded`).
        error
            .try_downcast_ref::<MySqlDatabaseError>()
            .is_some_and(|e| matches!(e.number(), 1213 | 1205 | 3101 | 9007 | 1792))
    }

    fn is_unavailable(error: &dyn DatabaseError) -> bool {
        // ER_UNKNOWN_COM_ERROR is what a Galera node outside the primary
        // component (or still joining) answers: "WSREP has not yet prepared
        // node for application use". ER_SERVER_SHUTDOWN, ER_CONNECTION_KILLED.
        error
            .try_downcast_ref::<MySqlDatabaseError>()
            .is_some_and(|e| matches!(e.number(), 1047 | 1053 | 1927))
    }

    async fn guarded(pool: &Pool<MySql>) -> Result<bool, sqlx::Error> {
        is_galera(&mut *pool.acquire().await?).await
    }

    async fn commit_guarded(conn: &mut MySqlConnection) -> Result<(), sqlx::Error> {
        let rows = conn.fetch_all(COMMIT_GUARDED).await?;
        match rows.last().map(|row| row.try_get::<i64, _>(0)) {
            Some(Ok(1)) => Ok(()),
            _ => Err(Rerun::error(
                "the database acknowledged a commit that did not happen",
            )),
        }
    }

    fn rows_affected(result: &sqlx::mysql::MySqlQueryResult) -> u64 {
        result.rows_affected()
    }

    async fn open(settings: &DatabaseSettings) -> anyhow::Result<Pool<Self>> {
        let options = options(&settings.url)
            .map_err(|e| anyhow::anyhow!("database.url: {e}"))?
            .charset("utf8mb4");
        let within = Duration::from_secs(settings.acquire_timeout_secs);
        super::diagnosis::first_connection::<MySqlConnection>(&options, &settings.url, within)
            .await?;
        let pool = super::pool_options::<MySql>(settings)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .await?;
                    if is_galera(conn).await? {
                        // Rows of connections long gone; an error (the
                        // table not there yet, a conflict with another
                        // node's sweep) leaves them for the next connection.
                        if let Err(error) = conn.execute(SWEEP_COMMIT_MARKS).await {
                            tracing::debug!(%error, "commit marks not swept");
                        }
                        // Causal reads: each transaction (and each statement
                        // outside one) first waits until this node has
                        // applied everything the cluster committed before it
                        // began, so that a write acknowledged by one node is
                        // seen by the next request on any other node.
                        conn.execute(GALERA_SESSION).await?;
                        sqlx::query("SET @minilvb_mark = ?, @minilvb_marks = 0")
                            .bind(rand::random::<i64>())
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let available = sqlx::query(
            "SELECT COLLATION_NAME FROM information_schema.COLLATIONS \
             WHERE COLLATION_NAME IN (?, ?, ?)",
        )
        .bind(COLLATIONS[0])
        .bind(COLLATIONS[1])
        .bind(COLLATIONS[2])
        .fetch_all(&pool)
        .await?
        .iter()
        .filter_map(|row| row.try_get_unchecked::<String, _>(0).ok())
        .collect::<Vec<_>>();
        let collation = COLLATIONS
            .into_iter()
            .find(|c| available.iter().any(|a| a == c))
            .unwrap_or("utf8mb4_bin");
        migrate(&pool, collation).await?;
        if is_galera(&mut *pool.acquire().await?).await? {
            // Read-write: the session's default is read-only.
            pool.execute(format!("SET STATEMENT tx_read_only = 0 FOR {COMMIT_MARKS}").as_str())
                .await?;
        }
        Ok(pool)
    }
}

/// Commit marks, on a Galera node: each connection's row (a random id,
/// `@minilvb_mark`) holds the number of its latest write transaction
/// (`@minilvb_marks`). `BEGIN_GUARDED` writes the next number as the
/// transaction's first write, and `COMMIT_GUARDED` reads the row back in
/// the command that commits: the number is there if and only if the
/// transaction committed.
///
/// MariaDB 10.11 on Galera sometimes answers OK to the `COMMIT` of a
/// transaction that a replicated write brute-force aborted, and nothing was
/// committed (rarely, and more often when the `COMMIT` follows other
/// statements in its command: docs/BENCHMARKS.md, design measurements).
/// A mark read back missing is a [`Rerun`], a conflict: the
/// transaction is re-run. Unlike `WSREP_LAST_WRITTEN_GTID()`, the mark
/// tells a transaction that wrote nothing from one that was lost, and
/// stays right should the node replay a transaction on another thread
/// (MariaDB sets that GTID only on the client's own).
const COMMIT_MARKS: &str = "CREATE TABLE IF NOT EXISTS minilvb_commit_marks (\
     id BIGINT NOT NULL PRIMARY KEY, marks BIGINT NOT NULL, \
     marked_at BIGINT NOT NULL) ENGINE=InnoDB";
const BEGIN_GUARDED: &str = "START TRANSACTION READ WRITE; \
     SET @minilvb_marks = @minilvb_marks + 1; \
     INSERT INTO minilvb_commit_marks (id, marks, marked_at) \
     VALUES (@minilvb_mark, @minilvb_marks, UNIX_TIMESTAMP()) \
     ON DUPLICATE KEY UPDATE marks = VALUES(marks), marked_at = VALUES(marked_at)";
/// The read-back waits for no other node (`wsrep_sync_wait` 0): its own
/// commit is all it looks for.
const COMMIT_GUARDED: &str = "COMMIT; SET STATEMENT wsrep_sync_wait = 0 FOR \
     SELECT COUNT(*) FROM minilvb_commit_marks \
     WHERE id = @minilvb_mark AND marks = @minilvb_marks";
/// A connection lives for `database.max_lifetime_secs` (30 minutes by
/// default) at most: a row not marked for a day is a closed connection's.
/// (A live connection's row swept all the same is written afresh by its
/// next transaction.)
const SWEEP_COMMIT_MARKS: &str =
    "DELETE FROM minilvb_commit_marks WHERE marked_at < UNIX_TIMESTAMP() - 86400";

/// Session settings on a Galera node.
///
/// `wsrep_sync_wait` 7 makes reads, `BEGIN`, updates, deletes and inserts
/// wait for causality (one wait per transaction: statements inside one do
/// not wait again).
///
/// Read-only by default, transactions read-write (`BEGIN`): MariaDB 10.11
/// sometimes rolls back a transaction that a replicated one brute-force
/// aborts without reporting it, neither to the statement then running (a
/// PREPARE) nor to the next one, and the session is then in autocommit:
/// the transaction's remaining statements ran, and committed, one by one
/// (seen as a quit's compensating +1 committed without its -1, and as a
/// recording notice that neither merged nor conflicted). With
/// this default such a statement cannot write (1792, a conflict: re-run),
/// and the commit mark (`COMMIT_MARKS`) catches a transaction lost after
/// its last write, or at its `COMMIT`. The one write meant to commit by
/// itself (likes) says so (`WRITE_ALONE_GUARDED`); a statement alone
/// commits inside the statement, and none was seen lost.
const GALERA_SESSION: &str = "SET SESSION wsrep_sync_wait = 7; SET SESSION TRANSACTION READ ONLY";

/// Whether the server is a node of a Galera cluster.
async fn is_galera(conn: &mut MySqlConnection) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SHOW VARIABLES LIKE 'wsrep_on'")
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row
        .and_then(|row| row.try_get_unchecked::<String, _>(1).ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("ON")))
}

/// The migration lock: one row in a table of its own. Only one INSERT of
/// the row succeeds. On one server the others fail on its key (1062); on a
/// Galera cluster, inserts on different nodes at once fail certification
/// on every node but one (1213). `GET_LOCK` would not do there: its locks
/// hold on one node only. The holder refreshes `heartbeat_at` while it
/// migrates; a lock not refreshed for [`STALE_SECS`] (its node died) is
/// taken over, by an UPDATE that certification again grants to one node.
const LOCK_TABLE: &str = "CREATE TABLE IF NOT EXISTS minilvb_migration_lock (\
     id INT NOT NULL PRIMARY KEY, owner VARCHAR(64) NOT NULL, \
     heartbeat_at BIGINT NOT NULL) ENGINE=InnoDB";
const NOW: &str = "CAST(UNIX_TIMESTAMP() AS SIGNED)";
const HEARTBEAT: Duration = Duration::from_secs(2);
const STALE_SECS: i64 = 60;
/// Longest wait for another node's migrations.
const LOCK_WAIT: Duration = Duration::from_secs(600);

/// Brings the schema up to date, unless it is already: then no lock and no
/// DDL at all, so that nodes starting together on an up-to-date database
/// do not queue. Otherwise under the migration lock, so that nodes starting
/// together against different nodes of a cluster migrate once.
async fn migrate(pool: &Pool<MySql>, collation: &str) -> anyhow::Result<()> {
    let mut migrator =
        migrations::migrator(migrations::MYSQL, |sql| sql.replace("{{text}}", collation)).await?;
    migrator.set_locking(false);
    let mut conn = pool.acquire().await?;
    if up_to_date(&mut conn, &migrator).await {
        return Ok(());
    }
    // Writes outside a transaction, where a Galera session's default is
    // read-only: this connection is closed afterwards, not pooled so.
    conn.close_on_drop();
    conn.execute("SET SESSION TRANSACTION READ WRITE").await?;
    conn.execute(LOCK_TABLE).await?;
    let owner = format!("{}:{:016x}", std::process::id(), rand::random::<u64>());
    acquire_lock(&mut conn, &owner).await?;
    let heartbeat = tokio::spawn(heartbeat(pool.connect_options(), owner.clone()));
    let result = migrator.run_direct(&mut *conn).await;
    heartbeat.abort();
    let released = sqlx::query("DELETE FROM minilvb_migration_lock WHERE id = 1 AND owner = ?")
        .bind(&owner)
        .execute(&mut *conn)
        .await;
    if let Err(error) = released {
        tracing::warn!(%error, "could not release the migration lock; it goes stale in {STALE_SECS} s");
    }
    Ok(result?)
}

/// Whether every migration this binary has is applied, exactly as it is,
/// and nothing else (the migrator's own checks report anything amiss).
async fn up_to_date(conn: &mut MySqlConnection, migrator: &Migrator) -> bool {
    let Ok(None) = conn.dirty_version().await else {
        return false;
    };
    let Ok(applied) = conn.list_applied_migrations().await else {
        return false;
    };
    applied.len() == migrator.iter().count()
        && applied
            .iter()
            .zip(migrator.iter())
            .all(|(a, m)| a.version == m.version && a.checksum == m.checksum)
}

async fn acquire_lock(conn: &mut MySqlConnection, owner: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut announced = false;
    loop {
        let inserted = sqlx::query(&format!(
            "INSERT INTO minilvb_migration_lock (id, owner, heartbeat_at) VALUES (1, ?, {NOW})"
        ))
        .bind(owner)
        .execute(&mut *conn)
        .await;
        match inserted {
            Ok(_) => return Ok(()),
            Err(sqlx::Error::Database(e))
                if e.is_unique_violation() || MySql::is_conflict(e.as_ref()) => {}
            Err(error) => return Err(error.into()),
        }
        let holder = sqlx::query(&format!(
            "SELECT owner, heartbeat_at, {NOW} - heartbeat_at AS age \
             FROM minilvb_migration_lock WHERE id = 1"
        ))
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(holder) = holder {
            let held_by: String = holder.try_get_unchecked("owner").unwrap_or_default();
            let heartbeat_at: i64 = holder.try_get("heartbeat_at").unwrap_or_default();
            let age: i64 = holder.try_get("age").unwrap_or_default();
            if age > STALE_SECS {
                let taken = sqlx::query(&format!(
                    "UPDATE minilvb_migration_lock SET owner = ?, heartbeat_at = {NOW} \
                     WHERE id = 1 AND owner = ? AND heartbeat_at = ?"
                ))
                .bind(owner)
                .bind(&held_by)
                .bind(heartbeat_at)
                .execute(&mut *conn)
                .await;
                match taken {
                    Ok(done) if done.rows_affected() == 1 => {
                        tracing::warn!(
                            stale_owner = %held_by,
                            age,
                            "took over a migration lock whose holder stopped refreshing it"
                        );
                        return Ok(());
                    }
                    Ok(_) => {}
                    Err(sqlx::Error::Database(e)) if MySql::is_conflict(e.as_ref()) => {}
                    Err(error) => return Err(error.into()),
                }
            } else if !announced {
                announced = true;
                tracing::info!(holder = %held_by, "another node is migrating; waiting for it");
            }
        }
        if started.elapsed() > LOCK_WAIT {
            anyhow::bail!(
                "another node held the migration lock for {} s",
                LOCK_WAIT.as_secs()
            );
        }
        let jitter = rand::random_range(0..100);
        tokio::time::sleep(Duration::from_millis(150 + jitter)).await;
    }
}

/// Keeps the lock fresh while the migrations run, on a connection of its own.
async fn heartbeat(options: std::sync::Arc<MySqlConnectOptions>, owner: String) {
    let Ok(mut conn) = MySqlConnection::connect_with(&options).await else {
        return;
    };
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let refreshed = sqlx::query(&format!(
            "UPDATE minilvb_migration_lock SET heartbeat_at = {NOW} WHERE id = 1 AND owner = ?"
        ))
        .bind(&owner)
        .execute(&mut conn)
        .await;
        if let Err(error) = refreshed {
            tracing::debug!(%error, "migration lock heartbeat failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{Arg, Dialect};

    /// A connection to the test server (`MINILVB_TEST_MYSQL_URL`, as the
    /// integration tests), or `None` (said on stderr) when it does not answer.
    async fn test_server() -> Option<MySqlConnection> {
        let url = std::env::var("MINILVB_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
        match MySqlConnection::connect_with(&options(&url).ok()?).await {
            Ok(conn) => Some(conn),
            Err(error) if std::env::var("MINILVB_TEST_REQUIRE_BACKENDS").as_deref() != Ok("1") => {
                eprintln!("minilvb tests: SKIPPING a MySQL store test: {error}");
                None
            }
            Err(error) => panic!("the MySQL test server does not answer: {error}"),
        }
    }

    /// Whether the store re-runs the transaction after `error`.
    fn is_conflict(error: &sqlx::Error) -> bool {
        use crate::sql::{Failure, classify};
        classify::<MySql>(error) == Failure::Conflict
    }

    async fn ids(conn: &mut MySqlConnection, table: &str) -> usize {
        <MySql as Dialect>::fetch(conn, &format!("SELECT id FROM {table}"), &[])
            .await
            .unwrap()
            .len()
    }

    /// A Galera node's session, and transactions the node rolls back
    /// without an error (here a ROLLBACK behind sqlx's back): a statement
    /// that follows cannot write on its own, and the commit finds the
    /// transaction's mark missing; both are conflicts, so the transaction
    /// is re-run. A transaction that commits, even one that wrote nothing
    /// but its mark, is not taken for lost.
    #[tokio::test]
    async fn a_transaction_dropped_unannounced_is_re_run() {
        let Some(mut conn) = test_server().await else {
            return;
        };
        let version: String = sqlx::query_scalar("SELECT VERSION()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        if !version.contains("MariaDB") {
            eprintln!("minilvb tests: SKIPPING a Galera session test: {version} is not MariaDB");
            return;
        }
        // A table of its own (temporary tables take writes in read-only
        // transactions), dropped at the end.
        let table = format!("minilvb_guard_{:08x}", rand::random::<u32>());
        conn.execute(
            format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY) ENGINE=InnoDB").as_str(),
        )
        .await
        .unwrap();
        conn.execute(COMMIT_MARKS).await.unwrap();
        conn.execute(GALERA_SESSION).await.unwrap();
        let mark = rand::random::<i64>();
        sqlx::query("SET @minilvb_mark = ?, @minilvb_marks = 0")
            .bind(mark)
            .execute(&mut conn)
            .await
            .unwrap();
        let insert = format!("INSERT INTO {table} (id) VALUES (?)");
        let insert = insert.as_str();

        // Dropped with a write after it (which fails, and so does the
        // commit), or after its last write (the COMMIT alone would answer OK).
        for (id, stray_write) in [(1, true), (3, false)] {
            let mut tx = conn.begin_with(BEGIN_GUARDED).await.unwrap();
            <MySql as Dialect>::exec(&mut tx, insert, &[Arg::Int(id)])
                .await
                .unwrap();
            tx.execute("ROLLBACK").await.unwrap();
            if stray_write {
                let error = <MySql as Dialect>::exec(&mut tx, insert, &[Arg::Int(id + 1)])
                    .await
                    .expect_err("a write outside the transaction");
                assert!(is_conflict(&error), "{error}");
            }
            let error = <MySql as Dialect>::commit_guarded(&mut tx)
                .await
                .expect_err("the transaction is gone");
            assert!(is_conflict(&error), "{error}");
            drop(tx);
            assert_eq!(ids(&mut conn, &table).await, 0, "nothing written");
        }

        // A live transaction commits (the COMMIT after it finds nothing to do).
        let mut tx = conn.begin_with(BEGIN_GUARDED).await.unwrap();
        <MySql as Dialect>::exec(&mut tx, insert, &[Arg::Int(4)])
            .await
            .unwrap();
        <MySql as Dialect>::commit_guarded(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(ids(&mut conn, &table).await, 1);

        // So does one that only reads, and one after the mark's row was
        // swept away.
        for sweep in [false, true] {
            if sweep {
                sqlx::query("SET STATEMENT tx_read_only = 0 FOR DELETE FROM minilvb_commit_marks WHERE id = ?")
                    .bind(mark)
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            let mut tx = conn.begin_with(BEGIN_GUARDED).await.unwrap();
            ids(&mut tx, &table).await;
            <MySql as Dialect>::commit_guarded(&mut tx).await.unwrap();
            tx.commit().await.unwrap();
        }

        // A write meant to commit by itself says so.
        let alone = format!("{}{insert}", <MySql as Dialect>::WRITE_ALONE_GUARDED);
        <MySql as Dialect>::exec(&mut conn, &alone, &[Arg::Int(5)])
            .await
            .unwrap();
        assert_eq!(ids(&mut conn, &table).await, 2);
        conn.execute(format!("SET SESSION TRANSACTION READ WRITE; DROP TABLE {table}").as_str())
            .await
            .unwrap();
        sqlx::query("DELETE FROM minilvb_commit_marks WHERE id = ?")
            .bind(mark)
            .execute(&mut conn)
            .await
            .unwrap();
    }
}
