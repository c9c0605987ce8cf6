//! A fresh database for each scenario of an in-process run: the scenarios'
//! checks count rows, so none may see another's. SQLite gets a new file
//! (in the temporary directory, or beside the file a `sqlite:` URL names);
//! PostgreSQL and MySQL/MariaDB get a new database on the server the URL
//! names, created with the URL's credentials and dropped afterwards.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use sqlx::{Connection, Executor, MySqlConnection, PgConnection};

use minilvb::config::{Backend, driver_url};

static CREATED: AtomicUsize = AtomicUsize::new(0);

/// Names of the databases made here start with this.
const PREFIX: &str = "minilvb_bench_";

pub struct ScenarioDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    /// A directory of ours holding the SQLite file.
    Dir(PathBuf),
    /// A SQLite file of ours and its `-wal` and `-shm`.
    Files(PathBuf),
    /// A database on a server: the server's URL and the database's name.
    Server {
        backend: Backend,
        server: String,
        name: String,
    },
}

/// `url` with its database (the path after the host) replaced by `name`.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let authority = url
        .find("://")
        .map(|i| i + 3)
        .ok_or_else(|| anyhow::anyhow!("not a server URL: {}", minilvb::redact_url(url)))?;
    let path = url[authority..].find('/').map(|i| authority + i);
    let query = url[authority..].find('?').map(|i| authority + i);
    let (head, tail) = match (path, query) {
        (Some(p), Some(q)) if p < q => (&url[..p], &url[q..]),
        (Some(p), None) => (&url[..p], ""),
        (_, Some(q)) => (&url[..q], &url[q..]),
        (None, None) => (url, ""),
    };
    Ok(format!("{head}/{name}{tail}"))
}

async fn admin(backend: Backend, server: &str, statement: &str) -> anyhow::Result<()> {
    match backend {
        Backend::Postgres => {
            let mut conn = PgConnection::connect(server).await?;
            conn.execute(statement).await?;
            conn.close().await?;
        }
        _ => {
            let mut conn = MySqlConnection::connect(&driver_url(server)).await?;
            conn.execute(statement).await?;
            conn.close().await?;
        }
    }
    Ok(())
}

impl ScenarioDatabase {
    /// A new, empty database: on the backend `base` names, or a SQLite file
    /// in the temporary directory when `base` is `None`.
    pub async fn create(base: Option<&str>) -> anyhow::Result<Self> {
        let n = CREATED.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let Some(base) = base else {
            let dir = std::env::temp_dir().join(format!("minilvb-bench-{pid}-{n}"));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            return Ok(Self {
                url: format!("sqlite:{}", dir.join("bench.db").display()),
                cleanup: Cleanup::Dir(dir),
            });
        };
        match Backend::from_url(base)? {
            Backend::Sqlite => {
                let path = base.trim_start_matches("sqlite:").trim_start_matches("//");
                let path = path.split('?').next().unwrap_or(path);
                let file = PathBuf::from(format!("{path}-bench-{pid}-{n}"));
                Ok(Self {
                    url: format!("sqlite:{}", file.display()),
                    cleanup: Cleanup::Files(file),
                })
            }
            backend => {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let name = format!("{PREFIX}{secs}_{pid}_{n}");
                let create = match backend {
                    Backend::Postgres => format!("CREATE DATABASE {name}"),
                    _ => format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"),
                };
                admin(backend, base, &create).await.with_context(|| {
                    format!(
                        "cannot create a database for the scenario on {}",
                        minilvb::redact_url(base)
                    )
                })?;
                Ok(Self {
                    url: with_database(base, &name)?,
                    cleanup: Cleanup::Server {
                        backend,
                        server: base.to_owned(),
                        name,
                    },
                })
            }
        }
    }

    /// Removes the database (best effort: a failure is only reported).
    pub async fn remove(self) {
        match self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Files(file) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
            }
            Cleanup::Server {
                backend,
                server,
                name,
            } => {
                let drop = match backend {
                    Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    _ => format!("DROP DATABASE IF EXISTS {name}"),
                };
                if let Err(error) = admin(backend, &server, &drop).await {
                    eprintln!("minilvb-bench: could not drop the database {name}: {error:#}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5432/test",
                "postgres://postgres@127.0.0.1:5432/x",
            ),
            (
                "mysql://root:pw@db:3306/test?ssl-mode=disabled",
                "mysql://root:pw@db:3306/x?ssl-mode=disabled",
            ),
            ("postgres://db", "postgres://db/x"),
            ("mariadb://db?a=b", "mariadb://db/x?a=b"),
        ];
        for (url, want) in cases {
            assert_eq!(with_database(url, "x").unwrap(), want);
        }
    }
}
