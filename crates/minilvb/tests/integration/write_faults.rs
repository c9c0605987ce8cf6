//! Writes fail while reads work, as on a full disk: every write is
//! answered 2003, reads keep working, `/readyz` says 503 with the reason
//! and 200 again once a write succeeds, and the log gets one line per
//! kind of failure and interval, not one per failed write.
//!
//! The fault: triggers, created behind the server's back, that make every
//! insert, update and delete fail on each of the store's tables (a full
//! disk cannot be had without root).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::{Connection, Executor};

use crate::backend_test;
use crate::common::*;

/// The message the failing writes carry.
const FAULT: &str = "injected fault: no space left on device";

/// The store's tables (not the migrations' history).
async fn tables(backend: Backend, url: &str) -> Vec<String> {
    let query = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'"
        }
        Backend::Postgres => {
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
             AND tablename NOT LIKE '_sqlx%'"
        }
        Backend::Mysql => {
            "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE '\\_sqlx%'"
        }
    };
    let rows: Vec<(String,)> = match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_as(query).fetch_all(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_as(query).fetch_all(&mut conn).await.unwrap()
        }
        Backend::Mysql => {
            let url = minilvb_store::settings::driver_url(url);
            let mut conn = sqlx::MySqlConnection::connect(&url).await.unwrap();
            sqlx::query_as(query).fetch_all(&mut conn).await.unwrap()
        }
    };
    rows.into_iter().map(|(name,)| name).collect()
}

/// The statements that make every write fail, or (`on` false) that undo that.
fn fault_statements(backend: Backend, tables: &[String], on: bool) -> Vec<String> {
    let mut statements = Vec::new();
    match (backend, on) {
        (Backend::Sqlite, true) => {
            for table in tables {
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    statements.push(format!(
                        "CREATE TRIGGER fault_{table}_{event} BEFORE {event} ON {table} \
                         BEGIN SELECT RAISE(ABORT, '{FAULT}'); END"
                    ));
                }
            }
        }
        (Backend::Sqlite, false) | (Backend::Mysql, false) => {
            for table in tables {
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    statements.push(format!("DROP TRIGGER IF EXISTS fault_{table}_{event}"));
                }
            }
        }
        (Backend::Postgres, true) => {
            statements.push(format!(
                "CREATE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION '{FAULT}'; END $$"
            ));
            for table in tables {
                statements.push(format!(
                    "CREATE TRIGGER fault BEFORE INSERT OR UPDATE OR DELETE ON {table} \
                     FOR EACH ROW EXECUTE FUNCTION fault()"
                ));
            }
        }
        (Backend::Postgres, false) => statements.push("DROP FUNCTION fault() CASCADE".into()),
        (Backend::Mysql, true) => {
            for table in tables {
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    statements.push(format!(
                        "CREATE TRIGGER fault_{table}_{event} BEFORE {event} ON {table} \
                         FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{FAULT}'"
                    ));
                }
            }
        }
    }
    statements
}

/// Makes every write of the database at `url` fail (`on`), or work again.
async fn writes_fail(backend: Backend, url: &str, on: bool) {
    let tables = tables(backend, url).await;
    assert!(tables.iter().any(|t| t == "rooms"), "{tables:?}");
    let statements = fault_statements(backend, &tables, on);
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            for statement in &statements {
                conn.execute(statement.as_str()).await.unwrap();
            }
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            for statement in &statements {
                conn.execute(statement.as_str()).await.unwrap();
            }
        }
        Backend::Mysql => {
            let url = minilvb_store::settings::driver_url(url);
            let mut conn = sqlx::MySqlConnection::connect(&url).await.unwrap();
            for statement in &statements {
                conn.execute(statement.as_str()).await.unwrap();
            }
        }
    }
}

async fn readyz(client: &reqwest::Client, base: &str) -> (u16, Value) {
    let response = client.get(format!("{base}/readyz")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn like() -> Value {
    json!({"Action":"ChangeCount","userid":"anchor","type":1,"optype":0,"flag":0,"fileid":""})
}

backend_test! {
    async fn failing_writes_make_the_server_unready_until_a_write_succeeds(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("anchor", "g1").await;
        assert_acked(&app.like("anchor", 0).await);
        assert_eq!(readyz(&app.client, &app.base).await.0, 200);

        writes_fail(backend, &app.settings.database.url, true).await;
        for _ in 0..20 {
            app.fails(like(), 2003).await;
        }
        app.fails(json!({"Action":"EnterGroup","userid":"v1","liveuserid":"anchor","groupid":"g1",
            "nickname":"n","headpic":"","flag":0}), 2003).await;
        // Reads work.
        assert_eq!(app.room("anchor").await["likecount"], 1);
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 1);
        // Not ready, and why.
        let (status, body) = readyz(&app.client, &app.base).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["status"], "database writes failing", "{body}");
        assert!(body["reason"].as_str().unwrap_or_default().contains(FAULT), "{body}");
        // Still, without a write in between.
        assert_eq!(readyz(&app.client, &app.base).await.0, 503);

        // Space is freed: the next readiness check writes, and succeeds.
        writes_fail(backend, &app.settings.database.url, false).await;
        let (status, body) = readyz(&app.client, &app.base).await;
        assert_eq!((status, body["status"].clone()), (200, json!("ready")), "{body}");
        assert_acked(&app.like("anchor", 0).await);
        assert_eq!(app.room("anchor").await["likecount"], 2);
    }
}

/// The log lines of `server` so far whose message starts with `message`.
fn lines_starting(log: &[String], message: &str) -> Vec<Value> {
    log.iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| {
            event["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(message))
        })
        .collect()
}

backend_test! {
    async fn a_burst_of_identical_failures_logs_once_with_a_count(backend) {
        if !backend.available().await {
            return;
        }
        let cli = Cli::new();
        let url = database_url(backend, cli.dir.path());
        let server = cli.serve(&["--listen", "127.0.0.1:0", "--database-url", &url], &[("MINILVB_RATE_LIMIT__ENABLED", "false")]);
        let base = format!("http://{}", server.addr);
        let client = reqwest::Client::new();
        let post = |body: Value| {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let reply: Value = client.post(format!("{base}/interface.php")).body(body.to_string())
                    .send().await.unwrap().json().await.unwrap();
                reply
            }
        };
        let started = post(json!({"Action":"RequestLVBAddr","userid":"anchor","groupid":"g1","title":"t"})).await;
        assert_eq!(started["returnValue"], 0, "{started}");
        writes_fail(backend, &url, true).await;
        let burst = Instant::now();
        for _ in 0..50 {
            assert_eq!(post(like()).await["returnValue"], 2003);
        }
        // The summary comes when the interval (10 s) is over.
        let wait = Duration::from_secs(12).saturating_sub(burst.elapsed());
        tokio::time::sleep(wait).await;
        let (_, log) = server.terminate();
        let failures = lines_starting(&log, "storage failure");
        assert_eq!(failures.len(), 2, "{failures:#?}");
        let summary = failures[1]["message"].as_str().unwrap();
        assert!(summary.contains("(repeated 49 times in the last 10 s)"), "{summary}");
        assert!(failures[0]["error"].as_str().unwrap_or_default().contains(FAULT), "{failures:?}");
        // Nothing else logged an error for each request.
        let errors = log.iter().filter(|l| l.contains("\"level\":\"ERROR\"")).count();
        assert_eq!(errors, 2, "{log:#?}");
    }
}

/// SQLite: makes every write fail at its `COMMIT` (a deferred foreign key
/// left dangling), where a full disk makes a write-ahead log append fail.
async fn commits_fail(url: &str) {
    let tables = tables(Backend::Sqlite, url).await;
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    conn.execute(
        "CREATE TABLE fault_parent (id INTEGER PRIMARY KEY); \
         CREATE TABLE fault_dangling (parent INTEGER \
             REFERENCES fault_parent (id) DEFERRABLE INITIALLY DEFERRED)",
    )
    .await
    .unwrap();
    for table in tables {
        for event in ["INSERT", "UPDATE", "DELETE"] {
            let trigger = format!(
                "CREATE TRIGGER fault_commit_{table}_{event} AFTER {event} ON {table} \
                 BEGIN INSERT INTO fault_dangling VALUES (1); END"
            );
            conn.execute(trigger.as_str()).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_failing_at_commit_logs_one_line_not_two() {
    let cli = Cli::new();
    let url = database_url(Backend::Sqlite, cli.dir.path());
    let server = cli.serve(
        &["--listen", "127.0.0.1:0", "--database-url", &url],
        &[("MINILVB_RATE_LIMIT__ENABLED", "false")],
    );
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let post = |body: Value| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let reply: Value = client
                .post(format!("{base}/interface.php"))
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            reply
        }
    };
    let started =
        post(json!({"Action":"RequestLVBAddr","userid":"anchor","groupid":"g1","title":"t"})).await;
    assert_eq!(started["returnValue"], 0, "{started}");
    commits_fail(&url).await;
    for _ in 0..20 {
        assert_eq!(post(like()).await["returnValue"], 2003);
    }
    let (_, log) = server.terminate();
    let errors: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("\"level\":\"ERROR\""))
        .collect();
    // The first failure, once; the other 19 are summed up at the end of the
    // interval, or (stopped before) not at all.
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("FOREIGN KEY"), "{errors:?}");
}
