//! PostgreSQL (and engines that speak its protocol): one pool per node,
//! shared by reads and writes; row locks and READ COMMITTED (the default)
//! keep several nodes on one database correct.

use std::str::FromStr;

use sqlx::error::DatabaseError;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Pool, Postgres};

use super::dialect::SqlxDialect;
use super::migrations;
use crate::settings::DatabaseSettings;

pub fn options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    PgConnectOptions::from_str(url)
}

impl SqlxDialect for Postgres {
    const NUMBERED_PARAMS: bool = true;
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const ANALYZE: &'static str = "ANALYZE rooms, recordings, members, like_slots, bans";

    fn is_conflict(error: &dyn DatabaseError) -> bool {
        // serialization_failure, deadlock_detected.
        matches!(error.code().as_deref(), Some("40001" | "40P01"))
    }

    fn is_unavailable(error: &dyn DatabaseError) -> bool {
        // admin_shutdown, crash_shutdown, cannot_connect_now; connection exceptions.
        error.code().is_some_and(|code| {
            matches!(code.as_ref(), "57P01" | "57P02" | "57P03") || code.starts_with("08")
        })
    }

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }

    async fn open(settings: &DatabaseSettings) -> anyhow::Result<Pool<Self>> {
        let options = options(&settings.url)
            .map_err(|e| anyhow::anyhow!("database.url: {e}"))?
            .application_name("minilvb");
        let within = std::time::Duration::from_secs(settings.acquire_timeout_secs);
        super::diagnosis::first_connection::<sqlx::PgConnection>(&options, &settings.url, within)
            .await?;
        let pool = super::pool_options::<Postgres>(settings)
            .connect_with(options)
            .await?;
        migrations::migrator(migrations::POSTGRES, str::to_owned)
            .await?
            .run(&pool)
            .await?;
        Ok(pool)
    }
}
