//! The databases tests run on: a temporary SQLite file, or a fresh database
//! created for the test on a PostgreSQL or MySQL/MariaDB server (and
//! dropped afterwards), so that tests run in parallel.
//!
//! Servers come from `MINILVB_TEST_POSTGRES_URL` and `MINILVB_TEST_MYSQL_URL`
//! (default: the local servers, `postgres://postgres@127.0.0.1:5432` and
//! `mysql://root@127.0.0.1:3306`). Whatever database a URL names, the
//! tests connect to the server's maintenance database (PostgreSQL's
//! `postgres`; none on MySQL) to create their own: nothing needs to be
//! made by hand. A server that cannot be reached is skipped, and said so
//! in one line when the test process exits; with
//! `MINILVB_TEST_REQUIRE_BACKENDS=1` it is a failure instead.

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{Connection, Executor, MySqlConnection, PgConnection};
use tokio::sync::OnceCell;

/// The backends a test can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

/// Per backend: `None` when the server answers, else why not.
static PROBES: [OnceCell<Option<String>>; 3] = [
    OnceCell::const_new(),
    OnceCell::const_new(),
    OnceCell::const_new(),
];

/// Test databases older than this are left-overs of crashed runs.
const STALE_SECS: u64 = 3 * 3600;
const PREFIX: &str = "minilvb_t_";

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }

    /// The variable that names this backend's server.
    fn url_variable(self) -> &'static str {
        match self {
            Backend::Postgres => "MINILVB_TEST_POSTGRES_URL",
            _ => "MINILVB_TEST_MYSQL_URL",
        }
    }

    /// The server's URL (for server backends), as configured or the default.
    pub fn server_url(self) -> Option<String> {
        let default = match self {
            Backend::Sqlite => return None,
            Backend::Postgres => "postgres://postgres@127.0.0.1:5432",
            Backend::Mysql => "mysql://root@127.0.0.1:3306",
        };
        Some(std::env::var(self.url_variable()).unwrap_or_else(|_| default.to_owned()))
    }

    /// Whether tests can run on this backend here. An unreachable server
    /// is skipped (and reported when the process exits), or panics when
    /// `MINILVB_TEST_REQUIRE_BACKENDS=1`.
    pub async fn available(self) -> bool {
        let Some(url) = self.server_url() else {
            return true;
        };
        let problem = PROBES[self as usize]
            .get_or_init(|| async { probe(self, &url).await.err() })
            .await;
        match problem {
            None => true,
            Some(why) if required() => panic!(
                "the {} backend is required (MINILVB_TEST_REQUIRE_BACKENDS=1) but {}: {why} \
                 (set {})",
                self.name(),
                minilvb_store::settings::redact_url(&url),
                self.url_variable(),
            ),
            Some(_) => false,
        }
    }
}

/// When the test process exits (libtest ends with `std::process::exit`, so
/// this is after every test and its output): one line naming each backend
/// that was skipped, its server and why. The marker is the `dtor` crate's
/// acknowledgement that this runs after `main`; it only formats and writes
/// to stderr, which needs nothing torn down by then.
#[dtor::dtor(unsafe)]
fn report_skipped_backends() {
    let skipped: Vec<String> = [Backend::Postgres, Backend::Mysql]
        .into_iter()
        .filter_map(|backend| {
            let why = PROBES[backend as usize].get()?.as_ref()?;
            let url = backend.server_url().unwrap_or_default();
            Some(format!(
                "{}: skipped ({}: {why}; set {})",
                backend.name(),
                minilvb_store::settings::redact_url(&url),
                backend.url_variable()
            ))
        })
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "minilvb tests: {}. MINILVB_TEST_REQUIRE_BACKENDS=1 makes a skipped backend a failure.",
            skipped.join("; ")
        );
    }
}

fn required() -> bool {
    std::env::var("MINILVB_TEST_REQUIRE_BACKENDS").is_ok_and(|v| v == "1")
}

/// Connects to the server and drops test databases left by crashed runs.
/// The error is why the server cannot be used, in a few words.
async fn probe(backend: Backend, url: &str) -> Result<(), String> {
    let list = match backend {
        Backend::Postgres => "SELECT datname FROM pg_database WHERE datname LIKE 'minilvb\\_t\\_%'",
        _ => {
            "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA \
              WHERE SCHEMA_NAME LIKE 'minilvb\\_t\\_%'"
        }
    };
    let names: Vec<String> = tokio::time::timeout(Duration::from_secs(5), async {
        let mut admin = Admin::connect(backend, url).await?;
        admin.names(list).await
    })
    .await
    .map_err(|_| "no answer within 5 s".to_owned())?
    .map_err(|e| minilvb_store::diagnosis::connect_error_cause(&admin_url(backend, url), &e))?;
    let now = unix_now();
    for name in names {
        let created: u64 = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse().ok())
            .unwrap_or(now);
        if now.saturating_sub(created) > STALE_SECS {
            let _ = drop_database(backend, url, &name).await;
        }
    }
    Ok(())
}

/// The server's maintenance database, whatever database `url` names:
/// PostgreSQL's `postgres`, none on MySQL.
fn admin_url(backend: Backend, url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    parsed.set_path(match backend {
        Backend::Postgres => "/postgres",
        _ => "",
    });
    parsed.to_string()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// One administrative connection to a server.
enum Admin {
    Pg(PgConnection),
    My(MySqlConnection),
}

impl Admin {
    /// Connects to the maintenance database of the server `url` names.
    async fn connect(backend: Backend, url: &str) -> Result<Self, sqlx::Error> {
        let url = admin_url(backend, url);
        Ok(match backend {
            Backend::Postgres => Admin::Pg(PgConnection::connect(&url).await?),
            _ => Admin::My(
                MySqlConnection::connect(&minilvb_store::settings::driver_url(&url)).await?,
            ),
        })
    }

    async fn run(&mut self, statement: &str) -> Result<(), sqlx::Error> {
        match self {
            Admin::Pg(conn) => conn.execute(statement).await.map(drop),
            Admin::My(conn) => conn.execute(statement).await.map(drop),
        }
    }

    async fn names(&mut self, statement: &str) -> Result<Vec<String>, sqlx::Error> {
        match self {
            Admin::Pg(conn) => sqlx::query_scalar(statement).fetch_all(conn).await,
            Admin::My(conn) => sqlx::query_scalar(statement).fetch_all(conn).await,
        }
    }

    async fn close(self) {
        let _ = match self {
            Admin::Pg(conn) => conn.close().await,
            Admin::My(conn) => conn.close().await,
        };
    }
}

async fn drop_database(backend: Backend, url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut admin = Admin::connect(backend, url).await?;
    match backend {
        Backend::Postgres => {
            admin
                .run(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?
        }
        _ => {
            admin.run("SET SESSION lock_wait_timeout = 10").await?;
            admin
                .run(&format!("DROP DATABASE IF EXISTS {name}"))
                .await?;
        }
    }
    admin.close().await;
    Ok(())
}

/// A fresh, empty database for one test; dropped with this value.
pub struct TestDatabase {
    pub backend: Backend,
    /// The URL the server is configured with.
    pub url: String,
    /// Server backends: the database's name.
    pub name: String,
    /// Kept for its `Drop`, which removes the SQLite file.
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// Creates the database. Call [`Backend::available`] first: this
    /// panics when the server cannot be reached.
    pub async fn create(backend: Backend) -> Self {
        let Some(server) = backend.server_url() else {
            let dir = tempfile::tempdir().expect("temp dir");
            return TestDatabase {
                backend,
                url: format!("sqlite:{}", dir.path().join("test.db").display()),
                name: String::new(),
                _dir: Some(dir),
            };
        };
        assert!(
            backend.available().await,
            "the {} server is not available",
            backend.name()
        );
        let name = format!("{PREFIX}{}_{:08x}", unix_now(), rand::random::<u32>());
        let create = match backend {
            Backend::Postgres => format!("CREATE DATABASE {name}"),
            _ => format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"),
        };
        let mut admin = Admin::connect(backend, &server)
            .await
            .expect("connect to the test server");
        admin.run(&create).await.expect("create a test database");
        admin.close().await;
        let mut url = url::Url::parse(&server).expect("a test server URL");
        url.set_path(&format!("/{name}"));
        TestDatabase {
            backend,
            url: url.to_string(),
            name,
            _dir: None,
        }
    }
}

impl Backend {
    /// The server's address (host and port), for server backends.
    pub fn server_addr(self) -> Option<std::net::SocketAddr> {
        use std::net::ToSocketAddrs;
        let url = url::Url::parse(&self.server_url()?).ok()?;
        let default_port = if self == Backend::Postgres {
            5432
        } else {
            3306
        };
        (url.host_str()?, url.port().unwrap_or(default_port))
            .to_socket_addrs()
            .ok()?
            .next()
    }
}

/// `url` with its host and port replaced by `addr` (a proxy's).
pub fn url_via(url: &str, addr: std::net::SocketAddr) -> String {
    let mut url = url::Url::parse(url).expect("a server URL");
    url.set_ip_host(addr.ip()).expect("a host");
    url.set_port(Some(addr.port())).expect("a port");
    url.to_string()
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(server) = self.backend.server_url() else {
            return;
        };
        let (backend, name) = (self.backend, std::mem::take(&mut self.name));
        // Dropping may happen inside a runtime: do it on a thread of its own.
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let done = tokio::time::timeout(
                    Duration::from_secs(15),
                    drop_database(backend, &server, &name),
                )
                .await;
                if !matches!(done, Ok(Ok(()))) {
                    let _ = writeln!(
                        std::io::stderr(),
                        "minilvb tests: could not drop test database {name}; a later run will"
                    );
                }
            });
        });
        let _ = dropper.join();
    }
}

/// Another client holding the lock a write of `userid`'s room needs: SQLite's
/// write lock, or the room's row lock on a server. Released by `release`.
pub enum RoomLock {
    Sqlite(sqlx::SqliteConnection),
    Pg(PgConnection),
    My(MySqlConnection),
}

impl RoomLock {
    pub async fn hold(backend: Backend, url: &str, userid: &str) -> RoomLock {
        let lock = format!("SELECT userid FROM rooms WHERE userid = '{userid}' FOR UPDATE");
        match backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
                conn.execute("BEGIN IMMEDIATE").await.expect("lock");
                RoomLock::Sqlite(conn)
            }
            Backend::Postgres => {
                let mut conn = PgConnection::connect(url).await.expect("connect");
                conn.execute("BEGIN").await.expect("begin");
                conn.execute(lock.as_str()).await.expect("lock");
                RoomLock::Pg(conn)
            }
            Backend::Mysql => {
                let url = minilvb_store::settings::driver_url(url);
                let mut conn = MySqlConnection::connect(&url).await.expect("connect");
                conn.execute("BEGIN").await.expect("begin");
                conn.execute(lock.as_str()).await.expect("lock");
                RoomLock::My(conn)
            }
        }
    }

    pub async fn release(self) {
        let _ = match self {
            RoomLock::Sqlite(mut conn) => conn.execute("ROLLBACK").await.map(drop),
            RoomLock::Pg(mut conn) => conn.execute("ROLLBACK").await.map(drop),
            RoomLock::My(mut conn) => conn.execute("ROLLBACK").await.map(drop),
        };
    }
}
