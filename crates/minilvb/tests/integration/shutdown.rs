//! The real binary: graceful shutdown on SIGTERM under load and a crash
//! (SIGKILL) lose no acknowledged write; the logs are JSON lines with one
//! line per request and no secrets. SQLite, the default store.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use minilvb::config::{DatabaseSettings, MemberOrder};
use minilvb_protocol::{Group, Page};
use serde_json::{Value, json};

/// A running `minilvb serve`.
struct Server {
    child: Child,
    base: String,
    db_url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_on("127.0.0.1:0", dir, env)
    }

    /// Starts on `listen`; with port 0 the address comes from the start-up
    /// log line (which a quiet log level hides: then name a port).
    fn start_on(listen: &str, dir: &Path, env: &[(&str, &str)]) -> Self {
        let db_url = format!("sqlite:{}", dir.join("minilvb.db").display());
        let mut command = Command::new(env!("CARGO_BIN_EXE_minilvb"));
        command
            .args(["--log-format", "json", "serve"])
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .env("MINILVB_SERVER__LISTEN", listen)
            .env("MINILVB_DATABASE__URL", &db_url)
            .env("MINILVB_RATE_LIMIT__ENABLED", "false")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(entry) = serde_json::from_str::<Value>(&line)
                    && entry["message"] == "minilvb serving"
                {
                    let _ =
                        address_tx.send(entry["address"].as_str().unwrap_or_default().to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let address = if listen.ends_with(":0") {
            address_rx
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no start-up line; log: {:?}", log.lock().unwrap()))
        } else {
            let deadline = Instant::now() + Duration::from_secs(20);
            while std::net::TcpStream::connect(listen).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "the server did not start listening"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            listen.to_owned()
        };
        Server {
            child,
            base: format!("http://{address}"),
            db_url,
            log,
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to end; its exit code (None: killed by a signal).
    fn wait(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the server did not stop in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_lines(&self) -> Vec<String> {
        // Let the reader thread catch up with the last lines.
        std::thread::sleep(Duration::from_millis(100));
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(client: &reqwest::Client, base: &str, body: Value) -> Result<Value, reqwest::Error> {
    post_to(client, &format!("{base}/interface.php"), &[], body).await
}

async fn post_to(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> Result<Value, reqwest::Error> {
    let mut request = client.post(url).body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await?.json().await
}

/// Eight clients enter viewers into one room as fast as they can until the
/// server goes away (or 3000 requests each); each returns its acknowledged ones.
async fn enter_until_gone(
    base: &str,
    progress: Arc<AtomicUsize>,
) -> tokio::task::JoinSet<BTreeSet<String>> {
    let client = reqwest::Client::new();
    let data = post(
        &client,
        base,
        json!({"Action":"RequestLVBAddr","userid":"vj","groupid":"g"}),
    )
    .await
    .unwrap();
    assert_eq!(data["returnValue"], 0, "{data}");
    let mut clients = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let base = base.to_owned();
        let progress = progress.clone();
        clients.spawn(async move {
            let client = reqwest::Client::new();
            let mut acked = BTreeSet::new();
            for i in 0..3000 {
                let viewer = format!("v{worker}-{i}");
                let body = json!({"Action":"EnterGroup","userid":viewer,"liveuserid":"vj",
                    "groupid":"g","nickname":"n","flag":0});
                match post(&client, &base, body).await {
                    Ok(reply) if reply["returnValue"] == 0 => {
                        acked.insert(viewer);
                        progress.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(reply) => panic!("unexpected reply {reply}"),
                    Err(_) => break,
                }
            }
            acked
        });
    }
    clients
}

/// Every member of the room, read from the database with a fresh store.
async fn members_in_database(db_url: &str) -> BTreeSet<String> {
    let store = minilvb_store::connect(
        &DatabaseSettings {
            url: db_url.to_owned(),
            ..DatabaseSettings::default()
        },
        None,
    )
    .await
    .expect("the database reopens");
    let room = Group::Room {
        anchor: "vj".into(),
        groupid: "g".into(),
    };
    let mut all = BTreeSet::new();
    for number in 1.. {
        let (total, page) = store
            .members(&room, MemberOrder::Join, Page { number, size: 100 })
            .await
            .unwrap();
        if page.is_empty() {
            assert_eq!(all.len() as i64, total);
            break;
        }
        all.extend(page.into_iter().map(|m| m.userid));
    }
    store.close().await;
    all
}

async fn stop_under_load(signal: &str) -> (Option<i32>, usize, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let progress = Arc::new(AtomicUsize::new(0));
    let mut clients = enter_until_gone(&server.base, progress.clone()).await;
    let mut acked = BTreeSet::new();
    // Under load: well into the writes, whatever the machine's speed.
    let deadline = Instant::now() + Duration::from_secs(20);
    while progress.load(Ordering::Relaxed) < 150 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.signal(signal);
    while let Some(done) = clients.join_next().await {
        acked.extend(done.unwrap());
    }
    let (code, server) = tokio::task::spawn_blocking(move || {
        let code = server.wait(Duration::from_secs(20));
        (code, server)
    })
    .await
    .unwrap();
    assert!(
        acked.len() >= 150,
        "too little load: {} writes",
        acked.len()
    );
    let stored = members_in_database(&server.db_url).await;
    eprintln!(
        "SIG{signal}: {} writes acknowledged, {} stored",
        acked.len(),
        stored.len()
    );
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost after {signal}: {lost:?}",
        lost.len()
    );
    (code, acked.len(), server.log_lines())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_loses_no_acknowledged_write() {
    let (code, acked, log) = stop_under_load("TERM").await;
    assert_eq!(
        code,
        Some(0),
        "exit code; log tail: {:?}",
        &log[log.len().saturating_sub(5)..]
    );
    assert!(acked > 0);
    let messages: Vec<String> = log
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect();
    for expected in [
        "SIGTERM: shutting down",
        "stopped accepting; draining",
        "minilvb stopped",
    ] {
        assert!(
            messages.iter().any(|m| m == expected),
            "{expected:?} not in {messages:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_acknowledged_write() {
    let (code, acked, _) = stop_under_load("KILL").await;
    assert_eq!(code, None, "killed by a signal");
    assert!(acked > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_one_line_per_request_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let im_key = "im-key-never-logged";
    let usersig =
        minilvb_protocol::cloud::usersig::mint(1400000001, im_key, "vj-log", chrono_now(), 3600);
    let mut server = Server::start(
        dir.path(),
        &[
            ("MINILVB_LIVE__PUSH_KEY", "push-key-never-logged"),
            ("MINILVB_LIVE__API_KEY", "api-key-never-logged"),
            ("MINILVB_AUTH__ENABLED", "true"),
            ("MINILVB_AUTH__SDKAPPID", "1400000001"),
            ("MINILVB_AUTH__SECRET_KEY", im_key),
        ],
    );
    let client = reqwest::Client::new();
    let interface = format!("{}/interface.php", server.base);
    let reply = post_to(
        &client,
        &interface,
        &[("X-UserSig", &usersig)],
        json!({"Action":"RequestLVBAddr","userid":"vj-log","groupid":"g","title":"t"}),
    )
    .await
    .unwrap();
    assert_eq!(reply["returnValue"], 0, "{reply}");
    let pushurl = reply["returnData"]["pushurl"].as_str().unwrap().to_owned();
    let tx_secret = pushurl
        .split("txSecret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let t = chrono_now();
    let sign = minilvb_protocol::cloud::callback_sign("api-key-never-logged", &t.to_string());
    let reply = post_to(
        &client,
        &format!("{}/callback", server.base),
        &[],
        json!({"t":t,"sign":sign,"event_type":1,"stream_id":"8888_vj_log"}),
    )
    .await
    .unwrap();
    assert_eq!(reply["code"], 0, "{reply}");
    // A refused signature is not logged either.
    let forged =
        minilvb_protocol::cloud::usersig::mint(1400000001, "wrong", "vj-log", chrono_now(), 3600);
    let reply = post_to(
        &client,
        &interface,
        &[("X-UserSig", &forged)],
        json!({"Action":"ChangeStatus","userid":"vj-log","status":0}),
    )
    .await
    .unwrap();
    assert_eq!(reply["returnValue"], 4005, "{reply}");
    server.signal("INT");
    let code = server.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0));
    let log = server.log_lines();
    let entries: Vec<Value> = log
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let request = entries
        .iter()
        .find(|e| e["message"] == "request" && e["action"] == "RequestLVBAddr")
        .unwrap_or_else(|| panic!("no request line in {log:?}"));
    assert_eq!(request["userid"], "vj-log");
    assert_eq!(request["return_value"], 0);
    assert_eq!(request["level"], "INFO");
    assert!(request["latency_us"].is_u64(), "{request}");
    assert!(request["client"].is_string(), "{request}");
    let refused = entries
        .iter()
        .find(|e| e["message"] == "request" && e["action"] == "ChangeStatus")
        .unwrap_or_else(|| panic!("no ChangeStatus line in {log:?}"));
    assert_eq!(refused["return_value"], 4005);
    assert!(
        entries
            .iter()
            .any(|e| e["message"] == "SIGINT: shutting down")
    );
    let all = log.join("\n");
    for secret in [
        im_key,
        "push-key-never-logged",
        "api-key-never-logged",
        &usersig,
        &forged,
        &sign,
        &tx_secret,
    ] {
        assert!(!all.contains(secret), "{secret} logged:\n{all}");
    }

    // The level comes from the configuration (or RUST_LOG): at warn, no request lines.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut quiet = Server::start_on(&listen, dir.path(), &[("MINILVB_LOG__LEVEL", "warn")]);
    post(&client, &quiet.base, json!({"Action":"FetchList","flag":1}))
        .await
        .unwrap();
    quiet.signal("TERM");
    assert_eq!(quiet.wait(Duration::from_secs(20)), Some(0));
    let log = quiet.log_lines();
    assert!(
        !log.iter().any(|l| l.contains("\"message\":\"request\"")),
        "{log:?}"
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
