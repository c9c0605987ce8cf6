//! Storage: role traits in the actions' words ([`Rooms`], [`Likes`],
//! [`Members`], [`Lists`], [`Recordings`], [`Lookups`], [`Moderation`],
//! [`Import`], [`Leases`], [`Operators`], [`Upkeep`]; [`Store`] is all of them), implemented once over
//! SQL ([`sql::SqlStore`]) for the three databases the URL selects: SQLite,
//! PostgreSQL and MySQL/MariaDB. What differs between them (placeholders,
//! row locks, conflict errors, pools, migrations) is a small [`sql::Dialect`]
//! per backend module. SQL and migrations stay inside this crate. The list
//! snapshots ([`Layer`]) keep what the public lists show in memory.
//!
//! Invariants every backend keeps, each inside one transaction:
//! - a room's or recording's `viewercount` equals the number of its members;
//! - counts never go negative;
//! - a new session resets the room's counts and member list.

pub mod diagnosis;
mod dialect;
mod error;
mod layer;
pub mod legacy;
mod member_changes;
mod member_order;
pub mod metric_names;
mod migrations;
mod model;
mod mysql;
mod postgres;
pub mod repeated_log;
mod roles;
pub mod settings;
mod snapshots;
pub mod sql;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

pub use crate::error::{StoreError, StoreResult};
pub use crate::layer::{Layer, Written};
pub use crate::model::*;
pub use crate::roles::{
    Import, Leases, Likes, Lists, Lookups, Members, Moderation, Operators, Recordings, Rooms,
    Store, Upkeep,
};
pub use crate::settings::{Backend, DatabaseSettings, InvalidUrl, MemberOrder};

/// Whether the URL's database takes every write through one writer
/// (SQLite): the actions then batch likes across targets and run one lane
/// of member batches (see `actions::batch`, `actions::members`).
pub fn single_writer(url: &str) -> bool {
    matches!(Backend::from_url(url), Ok(Backend::Sqlite) | Err(_))
}

/// How many updates of one target's likes a node runs at once on a
/// database server (see `actions::coalesce`): it commits concurrent updates
/// together (one log flush). Measured on PostgreSQL and MariaDB
/// (docs/BENCHMARKS.md): a second lane helps; more split the likes into
/// smaller updates for no gain.
pub const LIKE_LANES: usize = 2;

/// How many batches of enters and quits a node applies at once on a
/// database server, each for its own share of the groups (see
/// `actions::members::MemberWrites`): a popular room's changes go together
/// in large batches, while changes to other groups need not wait for them.
pub const MEMBER_LANES: usize = 4;

/// Opens the store the URL selects and brings its schema up to date; a
/// SQLite file is created if there is none. `members`: the member order
/// the server serves, for the indexes that depend on it (see
/// `members.order`); `None` (tools, tests) leaves them as they are.
///
/// A database that cannot be opened fails with a [`diagnosis::CannotOpen`]
/// that says why.
pub async fn connect(
    settings: &DatabaseSettings,
    members: Option<MemberOrder>,
) -> anyhow::Result<Arc<dyn Store>> {
    open(settings, members)
        .await
        .map_err(|e| diagnosis::cannot_open(&settings.url, e))
}

/// As [`connect`], for a database that must exist already (the operator's
/// commands): where no SQLite file is, it fails with a
/// [`diagnosis::NoDatabase`] and creates nothing.
pub async fn connect_existing(
    settings: &DatabaseSettings,
    members: Option<MemberOrder>,
) -> anyhow::Result<Arc<dyn Store>> {
    if Backend::from_url(&settings.url)? == Backend::Sqlite
        && let Some(path) = sqlite::file_path(&settings.url)?
    {
        diagnosis::require_sqlite_file(&path)
            .map_err(|e| diagnosis::cannot_open(&settings.url, e))?;
    }
    connect(settings, members).await
}

async fn open(
    settings: &DatabaseSettings,
    members: Option<MemberOrder>,
) -> anyhow::Result<Arc<dyn Store>> {
    let backend = Backend::from_url(&settings.url)?;
    let store: Arc<dyn Store> = match backend {
        Backend::Sqlite => {
            Arc::new(sql::SqlStore::<sqlite::Sqlite>::connect(settings, members).await?)
        }
        Backend::Postgres => {
            Arc::new(sql::SqlStore::<sqlx::Postgres>::connect(settings, members).await?)
        }
        Backend::MySql => Arc::new(sql::SqlStore::<sqlx::MySql>::connect(settings, members).await?),
    };
    Ok(match settings.list_snapshot_ms {
        0 => store,
        ms => Arc::new(snapshots::ListSnapshots::new(
            store,
            Duration::from_millis(ms),
            usize::try_from(settings.list_cache_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
        )),
    })
}

/// Checks that a database URL names a backend and that its driver can read it.
pub fn check_url(url: &str) -> Result<Backend, InvalidUrl> {
    let backend = Backend::from_url(url)?;
    let parsed = match backend {
        Backend::Sqlite => sqlite::options(url).map(drop),
        Backend::Postgres => postgres::options(url).map(drop),
        Backend::MySql => match mysql::options(url) {
            // The server has no default database: the migrations would fail
            // with "No database selected".
            Ok(options) if options.get_database().is_none_or(str::is_empty) => {
                let shown = settings::redact_url(url);
                let shown = shown.trim_end_matches('/');
                return Err(InvalidUrl(format!(
                    "{shown} names no database; add its name, e.g. {shown}/minilvb, after \
                     creating it with CREATE DATABASE minilvb CHARACTER SET utf8mb4;"
                )));
            }
            parsed => parsed.map(drop),
        },
    };
    parsed.map_err(|e| InvalidUrl(e.to_string()))?;
    Ok(backend)
}

/// Pool settings shared by the server databases.
fn pool_options<DB: sqlx::Database>(settings: &DatabaseSettings) -> sqlx::pool::PoolOptions<DB> {
    let secs = |n: u64| (n > 0).then(|| Duration::from_secs(n));
    sqlx::pool::PoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
        .idle_timeout(secs(settings.idle_timeout_secs))
        .max_lifetime(secs(settings.max_lifetime_secs))
        // sqlx pings a connection as it goes back to the pool; pinging it
        // again when it is taken would cost every operation a round trip
        // more. Only one idle long enough that the database may have gone
        // away meanwhile is pinged again.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IDLE_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// A pooled connection idle this long is pinged before it is lent.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);
