//! What the store is told by its deployment: the database URL, pool sizes
//! and timeouts, and the member lists' order. The server's configuration
//! embeds these as its `[database]` and `[members]` sections.

use serde::{Deserialize, Serialize};

/// A database URL that names no backend, or that its driver cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidUrl(pub String);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite:PATH` (created on first start), `postgres://USER:PASSWORD@HOST/DB`
    /// (or `postgresql://`), `mysql://USER:PASSWORD@HOST/DB` (or `mariadb://`).
    pub url: String,
    /// Most connections this node opens. SQLite: connections for reads (one
    /// more writes). PostgreSQL/MySQL: the whole pool; mind the server's own
    /// limit times the number of nodes.
    pub max_connections: u32,
    /// Connections kept open even when idle (PostgreSQL/MySQL).
    pub min_connections: u32,
    /// How long a request waits for a free connection before failing with 2003.
    pub acquire_timeout_secs: u64,
    /// The public lists' order, and the rows their pages and GetUserInfo
    /// showed, are kept in memory at most this long (for other nodes' and
    /// processes' writes; this node's own writes drop what they change);
    /// 0 reads every list and GetUserInfo from the database.
    pub list_snapshot_ms: u64,
    /// Memory for the rows the lists and GetUserInfo showed, per list
    /// (rooms, recordings), in MiB; the rows used longest ago go first.
    /// About the JSON's size a row: 32 MiB keeps some 60 000 rows of the
    /// usual size, so that deep pages of a large list cost no query.
    pub list_cache_mib: u64,
    /// An idle connection is closed after this long (0: never).
    pub idle_timeout_secs: u64,
    /// A connection is replaced after this long (0: never), so that nodes
    /// follow fail-overs and balance across replicas behind a proxy.
    pub max_lifetime_secs: u64,
    /// Longest a store operation (with its retries) may take before the
    /// request fails with 2003; a database that stops answering never hangs a request.
    pub operation_timeout_secs: u64,
    /// How often a transaction that lost a conflict (deadlock, serialization
    /// failure, Galera certification failure) is re-run before the request
    /// fails with 2003; the operation deadline bounds it too.
    pub max_retries: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite:minilvb.db".into(),
            max_connections: 8,
            min_connections: 0,
            acquire_timeout_secs: 5,
            list_snapshot_ms: 1000,
            list_cache_mib: 32,
            idle_timeout_secs: 600,
            max_lifetime_secs: 1800,
            operation_timeout_secs: 8,
            max_retries: 30,
        }
    }
}

/// The order of FetchGroupMemberList.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberOrder {
    /// Earliest join first.
    #[default]
    Join,
    /// Latest join first.
    Latest,
    /// Highest `level` first (an optional EnterGroup field), ties by join time.
    Level,
}

/// Which storage a database URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, InvalidUrl> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "mysql" | "mariadb" => Ok(Backend::MySql),
            _ => Err(InvalidUrl(
                "expected a URL starting with sqlite:, postgres://, postgresql://, mysql:// \
                 or mariadb:// (for example sqlite:minilvb.db)"
                    .into(),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }
}

/// The URL the database driver understands: `mariadb://` is MySQL's protocol.
pub fn driver_url(url: &str) -> std::borrow::Cow<'_, str> {
    match url.strip_prefix("mariadb:") {
        Some(rest) => format!("mysql:{rest}").into(),
        None => url.into(),
    }
}

/// A database URL fit for a log line: no password.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:<redacted>{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
