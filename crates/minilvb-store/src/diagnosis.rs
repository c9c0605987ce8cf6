//! Why a database cannot be opened, in the operator's words: which server
//! or file, what is wrong with it, and what to do about it. The drivers'
//! own errors ("pool timed out", "unable to open database file") say none
//! of that.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::Connection;

use crate::settings::{Backend, redact_url};

/// A database that cannot be opened: its URL (password removed) and the
/// whole story of what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("database.url ({url}): {problem}")]
pub struct CannotOpen {
    pub url: String,
    pub problem: String,
}

/// An operator's command found no SQLite database where the URL points
/// (they never create one).
#[derive(Debug, thiserror::Error)]
#[error("no database at {}", path.display())]
pub struct NoDatabase {
    /// As the URL names it, made absolute.
    pub path: PathBuf,
}

/// What a URL names on a database server, for the messages.
struct Server {
    /// `host:port`, or the Unix socket's path.
    address: String,
    /// As a client program's `-h` and `-p` take them.
    host: String,
    port: u16,
    user: String,
    database: String,
    backend: Backend,
}

impl Server {
    fn from_url(url: &str) -> Option<Self> {
        let backend = Backend::from_url(url).ok()?;
        let (host, port, socket, user, database) = match backend {
            Backend::Postgres => {
                let o = crate::postgres::options(url).ok()?;
                let user = o.get_username().to_owned();
                // PostgreSQL's default database is the user's name.
                let database = o.get_database().unwrap_or(&user).to_owned();
                let socket = o.get_socket().cloned();
                (
                    o.get_host().to_owned(),
                    o.get_port(),
                    socket,
                    user,
                    database,
                )
            }
            Backend::MySql => {
                let o = crate::mysql::options(url).ok()?;
                let database = o.get_database().unwrap_or_default().to_owned();
                let socket = o.get_socket().cloned();
                let user = o.get_username().to_owned();
                (
                    o.get_host().to_owned(),
                    o.get_port(),
                    socket,
                    user,
                    database,
                )
            }
            Backend::Sqlite => return None,
        };
        let (address, host) = match socket {
            Some(path) => (path.display().to_string(), path.display().to_string()),
            None if host.contains(':') && !host.starts_with('[') => {
                (format!("[{host}]:{port}"), host)
            }
            None => (format!("{host}:{port}"), host),
        };
        Some(Server {
            address,
            host,
            port,
            user,
            database,
            backend,
        })
    }

    fn create_hint(&self) -> String {
        let Server {
            database,
            host,
            port,
            user,
            ..
        } = self;
        match self.backend {
            Backend::Postgres => format!(
                "create it with: createdb -h {host} -p {port} -U {user} {database} (or \
                 CREATE DATABASE {database}; in psql)"
            ),
            _ => format!(
                "create it with CREATE DATABASE {database} CHARACTER SET utf8mb4; in the mysql \
                 or mariadb client (mariadb -h {host} -P {port} -u {user})"
            ),
        }
    }
}

/// What went wrong connecting to the server `url` names, with what to do
/// about it: `connection refused at 127.0.0.1:5432: no database server
/// listens there; start it, or correct the host and port`.
pub fn describe_connect_error(url: &str, error: &sqlx::Error) -> String {
    match explain(url, error) {
        (cause, Some(advice)) => format!("{cause}; {advice}"),
        (cause, None) => cause,
    }
}

/// Only what went wrong: `connection refused at 127.0.0.1:5432`.
pub fn connect_error_cause(url: &str, error: &sqlx::Error) -> String {
    explain(url, error).0
}

/// The cause, and the advice when there is some.
fn explain(url: &str, error: &sqlx::Error) -> (String, Option<String>) {
    let Some(server) = Server::from_url(url) else {
        return (error.to_string(), None);
    };
    let address = &server.address;
    match error {
        sqlx::Error::Io(e) if e.kind() == ErrorKind::ConnectionRefused => (
            format!("connection refused at {address}"),
            Some("no database server listens there; start it, or correct the host and port".into()),
        ),
        sqlx::Error::Io(e) if e.kind() == ErrorKind::NotFound => (
            format!("no socket at {address}"),
            Some("is the database server running?".into()),
        ),
        sqlx::Error::Io(e) => (format!("cannot reach {address}: {e}"), None),
        sqlx::Error::Tls(e) => (format!("TLS with {address} failed: {e}"), None),
        sqlx::Error::Database(e) => {
            let message = e.message();
            let code = e.code().unwrap_or_default();
            let (user, database) = (&server.user, &server.database);
            match (server.backend, code.as_ref()) {
                // invalid_catalog_name; ER_BAD_DB_ERROR.
                (Backend::Postgres, "3D000") | (Backend::MySql, "42000")
                    if is_missing_database(&server, e.as_ref()) =>
                {
                    (
                        format!("database {database} does not exist on {address}"),
                        Some(server.create_hint()),
                    )
                }
                // invalid_password, invalid_authorization_specification;
                // ER_ACCESS_DENIED_ERROR.
                (Backend::Postgres, "28P01" | "28000") | (Backend::MySql, "28000") => (
                    format!("{address} refused user {user}: {message}"),
                    Some("correct the user and password in the URL".into()),
                ),
                // ER_DBACCESS_DENIED_ERROR.
                (Backend::MySql, "42000") if mysql_number(e.as_ref()) == Some(1044) => (
                    format!("user {user} may not use database {database} on {address}: {message}"),
                    Some(format!("GRANT ALL ON {database}.* TO the user")),
                ),
                _ => (format!("{address} refused the connection: {message}"), None),
            }
        }
        other => (format!("cannot connect to {address}: {other}"), None),
    }
}

fn mysql_number(error: &dyn sqlx::error::DatabaseError) -> Option<u16> {
    error
        .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .map(|e| e.number())
}

fn is_missing_database(server: &Server, error: &dyn sqlx::error::DatabaseError) -> bool {
    match server.backend {
        Backend::MySql => mysql_number(error) == Some(1049),
        _ => true,
    }
}

/// Connects once, before the pool is made: a server that refuses the
/// connection (still starting, perhaps) is tried again until `within` has
/// passed; then, or at once for any other refusal, the error says why.
/// The pool itself would only report that it timed out.
pub(crate) async fn first_connection<C: Connection>(
    options: &C::Options,
    url: &str,
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = Duration::from_millis(50);
    loop {
        let error = match tokio::time::timeout_at(deadline, C::connect_with(options)).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                return Ok(());
            }
            Ok(Err(error)) => error,
            Err(_) => {
                let address = Server::from_url(url).map(|s| s.address).unwrap_or_default();
                anyhow::bail!(
                    "no answer from {address} within {} s (database.acquire_timeout_secs); \
                     check the host and port, and that a firewall lets the connection through",
                    within.as_secs()
                );
            }
        };
        let retry = match &error {
            sqlx::Error::Io(e) => e.kind() == ErrorKind::ConnectionRefused,
            sqlx::Error::Database(e) => e.is_transient_in_connect_phase(),
            _ => false,
        };
        if !retry || tokio::time::Instant::now() + pause >= deadline {
            anyhow::bail!("{}", describe_connect_error(url, &error));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// Before SQLite creates or opens `path`: what is plainly wrong with it.
pub(crate) fn check_sqlite_path(path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        anyhow::bail!(
            "{} is a directory, not a database file; name a file, e.g. sqlite:{}",
            path.display(),
            path.join("minilvb.db").display()
        );
    }
    if path.exists() {
        return Ok(());
    }
    let dir = parent(path);
    if !dir.exists() {
        anyhow::bail!(
            "directory {} does not exist; create it (mkdir -p {}) or name a file in an \
             existing directory",
            dir.display(),
            dir.display()
        );
    }
    if !dir.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    Ok(())
}

/// SQLite could not open or create `path`: find out why, in words.
pub(crate) fn sqlite_open_failed(path: &Path, error: anyhow::Error) -> anyhow::Error {
    if let Err(problem) = check_sqlite_path(path) {
        return problem;
    }
    let dir = parent(path);
    // SQLite creates the file, and its -wal and -shm files, beside it.
    let probe = dir.join(format!(".minilvb-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
        }
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            return anyhow::anyhow!(
                "cannot create files in directory {}: permission denied (SQLite keeps its \
                 -wal and -shm files beside the database); give the server's user write \
                 access to it, or name a file in another directory",
                dir.display()
            );
        }
        Err(e) => {
            return anyhow::anyhow!("cannot create files in directory {}: {e}", dir.display());
        }
    }
    if path.exists()
        && let Err(e) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
    {
        return anyhow::anyhow!("cannot open {} for writing: {e}", path.display());
    }
    anyhow::anyhow!("cannot open {}: {error:#}", path.display())
}

/// Fails unless a SQLite database file is at `path` (opened without
/// SQLite's CREATE flag, so that nothing is created).
pub(crate) fn require_sqlite_file(path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        return check_sqlite_path(path);
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    match rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) {
        Ok(conn) => {
            let _ = conn.close();
            Ok(())
        }
        Err(_) if !path.exists() => Err(NoDatabase { path: absolute }.into()),
        Err(error) => Err(sqlite_open_failed(path, error.into())),
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Says `error` of opening `url` in full, unless it already is.
pub(crate) fn cannot_open(url: &str, error: anyhow::Error) -> anyhow::Error {
    if error.is::<NoDatabase>() || error.is::<CannotOpen>() {
        return error;
    }
    CannotOpen {
        url: redact_url(url),
        problem: format!("{error:#}"),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_names_the_address() {
        let refused = sqlx::Error::Io(std::io::Error::from(ErrorKind::ConnectionRefused));
        let text = describe_connect_error("postgres://postgres@127.0.0.1:1/x", &refused);
        assert!(
            text.starts_with("connection refused at 127.0.0.1:1"),
            "{text}"
        );
        let text = describe_connect_error("mysql://root@[::1]:3307/x", &refused);
        assert!(
            text.starts_with("connection refused at [::1]:3307"),
            "{text}"
        );
    }

    #[test]
    fn sqlite_paths_that_cannot_work_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let error = check_sqlite_path(dir.path()).unwrap_err().to_string();
        assert!(error.contains("is a directory"), "{error}");
        let missing = dir.path().join("no/such/dir/x.db");
        let error = check_sqlite_path(&missing).unwrap_err().to_string();
        assert!(
            error.contains(&format!(
                "directory {} does not exist",
                dir.path().join("no/such/dir").display()
            )),
            "{error}"
        );
        check_sqlite_path(&dir.path().join("x.db")).unwrap();
    }

    #[test]
    fn an_existing_database_is_required_without_creating_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let error = require_sqlite_file(&path).unwrap_err();
        assert!(error.is::<NoDatabase>(), "{error}");
        assert!(!path.exists(), "a database file was created");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        require_sqlite_file(&path).unwrap();
    }
}
