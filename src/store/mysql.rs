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

use sqlx::error::DatabaseError;
use sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError};
use sqlx::{Executor, MySql, Pool, Row};

use super::migrations;
use super::sql::Dialect;
use crate::config::{DatabaseSettings, driver_url};
use sqlx::pool::PoolConnection;

pub fn options(url: &str) -> Result<MySqlConnectOptions, sqlx::Error> {
    MySqlConnectOptions::from_str(&driver_url(url))
}

/// Binary collations, best first; `utf8mb4_bin` pads with spaces but exists everywhere.
const COLLATIONS: [&str; 3] = ["utf8mb4_nopad_bin", "utf8mb4_0900_bin", "utf8mb4_bin"];

impl Dialect for MySql {
    const NUMBERED_PARAMS: bool = false;
    const FOR_UPDATE: &'static str = " FOR UPDATE";

    fn is_conflict(error: &dyn DatabaseError) -> bool {
        // ER_LOCK_DEADLOCK (also Galera's certification failure), ER_LOCK_WAIT_TIMEOUT.
        error
            .try_downcast_ref::<MySqlDatabaseError>()
            .is_some_and(|e| matches!(e.number(), 1213 | 1205))
    }

    fn rows_affected(result: &sqlx::mysql::MySqlQueryResult) -> u64 {
        result.rows_affected()
    }

    async fn open(settings: &DatabaseSettings) -> anyhow::Result<(Pool<Self>, Pool<Self>)> {
        let options = options(&settings.url)
            .map_err(|e| anyhow::anyhow!("database.url: {e}"))?
            .charset("utf8mb4");
        let pool = super::pool_options::<MySql>(settings)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .await?;
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
        Ok((pool.clone(), pool))
    }
}

/// Applies the migrations under a named lock of our own: sqlx's waits with
/// `GET_LOCK(name, -1)`, which MariaDB answers at once with NULL, so two
/// nodes starting together would both migrate.
async fn migrate(pool: &Pool<MySql>, collation: &str) -> anyhow::Result<()> {
    const LOCK: &str = "CONCAT('minilvb-migrate:', DATABASE())";
    let mut conn: PoolConnection<MySql> = pool.acquire().await?;
    let locked: Option<i64> = sqlx::query_scalar(&format!("SELECT GET_LOCK({LOCK}, 120)"))
        .fetch_one(&mut *conn)
        .await?;
    if locked != Some(1) {
        anyhow::bail!("another node held the migration lock for 120 s");
    }
    let mut migrator =
        migrations::migrator(migrations::MYSQL, |sql| sql.replace("{{text}}", collation)).await?;
    migrator.set_locking(false);
    let result = migrator.run_direct(&mut *conn).await;
    sqlx::query(&format!("SELECT RELEASE_LOCK({LOCK})"))
        .execute(&mut *conn)
        .await?;
    Ok(result?)
}
