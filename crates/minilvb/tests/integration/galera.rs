//! On a real distributed database: a three-node MariaDB Galera cluster,
//! bootstrapped by `scripts/galera-test.sh`, which sets
//! `MINILVB_TEST_GALERA_DIR` (the cluster's directory, for
//! `scripts/galera-cluster.sh DIR kill|restart N`) and
//! `MINILVB_TEST_GALERA_URLS` (the three nodes, `mysql://root@HOST:PORT,...`).
//! Without them these tests are skipped with one line on stderr.
//!
//! - `migrations_race`: `minilvb migrate` on the three database nodes at
//!   once, against fresh databases: the schema is created once, completely.
//! - `node_lost_under_load`: three minilvb nodes, minilvb node N on database
//!   node N. A like storm on one room across all three (the like throughput
//!   of the cluster), then likes, unlikes, enters, quits, stream events and
//!   recording notices from every side while database node 3 is SIGKILLed,
//!   left dead, and brought back. The clients act as a load balancer that
//!   health-checks `/readyz`. Afterwards every count is checked exactly from
//!   every node; the only slack is for likes whose reply was 2003 while the
//!   node died (their outcome is unknown), and it is counted and shown.
//! - then, on the healed cluster: join order across nodes is time order.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use minilvb_protocol::cloud::callback_sign;
use serde_json::{Value, json};
use sqlx::{Connection, Executor, MySqlConnection, Row};

use crate::common::{anchor, group, like_body};
use crate::nodes::{Node, ok, post, room_with_members};

const API_KEY: &str = "galera-harness-callback-key";
const ROOMS: usize = 3;
const VIEWERS_PER_ROOM: usize = 8;
const LIKE_WORKERS: usize = 24;
/// The like storm on one room, healthy cluster.
const STORM: Duration = Duration::from_secs(4);

struct Cluster {
    dir: String,
    servers: Vec<String>,
}

fn cluster(test: &str) -> Option<Cluster> {
    match (
        std::env::var("MINILVB_TEST_GALERA_DIR"),
        std::env::var("MINILVB_TEST_GALERA_URLS"),
    ) {
        (Ok(dir), Ok(urls)) => Some(Cluster {
            dir,
            servers: urls
                .split(',')
                .map(|u| u.trim_end_matches('/').to_owned())
                .collect(),
        }),
        _ => {
            // Once per process, past the test harness's capture (as for the
            // backends that are not there).
            static SKIPPED: std::sync::Once = std::sync::Once::new();
            SKIPPED.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "minilvb tests: SKIPPING galera::* (first: {test}): no Galera cluster; \
                     scripts/galera-test.sh starts one and sets MINILVB_TEST_GALERA_DIR and \
                     MINILVB_TEST_GALERA_URLS"
                );
            });
            None
        }
    }
}

impl Cluster {
    /// `scripts/galera-cluster.sh DIR ARGS...`.
    async fn ctl(&self, args: &[&str]) {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/galera-cluster.sh"
        );
        let out = tokio::process::Command::new("bash")
            .arg(script)
            .arg(&self.dir)
            .args(args)
            .output()
            .await
            .expect("galera-cluster.sh runs");
        assert!(
            out.status.success(),
            "galera-cluster.sh {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn admin(&self, node: usize) -> MySqlConnection {
        MySqlConnection::connect(&format!("{}/mysql", self.servers[node]))
            .await
            .expect("connect to a Galera node")
    }

    /// A fresh database (created on node 1; DDL replicates): its URL on each node.
    async fn database(&self) -> Vec<String> {
        let name = format!("minilvb_g_{:08x}", rand::random::<u32>());
        let mut admin = self.admin(0).await;
        admin
            .execute(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4").as_str())
            .await
            .expect("create a database");
        admin.close().await.ok();
        self.servers.iter().map(|s| format!("{s}/{name}")).collect()
    }

    /// `wsrep_local_cert_failures + wsrep_local_bf_aborts`, over the nodes.
    async fn certification_failures(&self) -> u64 {
        let mut total = 0;
        for node in 0..self.servers.len() {
            let mut admin = self.admin(node).await;
            let rows = sqlx::query(
                "SHOW GLOBAL STATUS WHERE Variable_name IN \
                 ('wsrep_local_cert_failures', 'wsrep_local_bf_aborts')",
            )
            .fetch_all(&mut admin)
            .await
            .expect("wsrep status");
            for row in rows {
                let value: String = row.try_get_unchecked(1).unwrap_or_default();
                total += value.parse::<u64>().unwrap_or(0);
            }
            admin.close().await.ok();
        }
        total
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A minilvb node with its metrics endpoint.
struct Served {
    node: Node,
    metrics: String,
}

async fn start_node(url: &str) -> Served {
    let metrics = format!("127.0.0.1:{}", free_port());
    let env = [
        ("MINILVB_LIVE__API_KEY", API_KEY),
        ("MINILVB_METRICS__LISTEN", metrics.as_str()),
        ("RUST_LOG", "warn,minilvb::cli=info,minilvb_store=info"),
        // Above the cluster's stall when a node vanishes (the harness's
        // evs.suspect_timeout of 3 s, plus the view change): see DEPLOYMENT.md.
        ("MINILVB_DATABASE__ACQUIRE_TIMEOUT_SECS", "8"),
        ("MINILVB_DATABASE__OPERATION_TIMEOUT_SECS", "8"),
        // The stream events run ahead of the clock, two seconds apart each.
        ("MINILVB_CALLBACK__MAX_EVENT_SKEW_SECS", "86400"),
    ];
    let node = Node::spawn(url, &env, false).await;
    Served {
        node,
        metrics: format!("http://{metrics}/metrics"),
    }
}

/// The sum of a counter's series whose labels contain `labels`.
async fn counter(client: &reqwest::Client, url: &str, name: &str, labels: &str) -> f64 {
    let Ok(response) = client.get(url).send().await else {
        return 0.0;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .filter(|line| line.starts_with(name) && line.contains(labels))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A fresh database and three minilvb nodes on it, node N on database node
/// N, started together (so they race to migrate); the database's URLs.
async fn three_nodes(cluster: &Cluster) -> (Vec<String>, [Served; 3], Balancer) {
    let urls = cluster.database().await;
    let (a, b, c) = tokio::join!(
        start_node(&urls[0]),
        start_node(&urls[1]),
        start_node(&urls[2])
    );
    let nodes = [a, b, c];
    let lb = Balancer::new(nodes.iter().map(|n| n.node.base.clone()).collect());
    (urls, nodes, lb)
}

/// RequestLVBAddr of a room.
fn session(room: usize) -> Value {
    json!({"Action":"RequestLVBAddr","userid":anchor(room),"groupid":group(room),
        "title":"galera","userinfo":{"nickname":"主播 🎤","headpic":"","frontcover":"","location":""}})
}

fn stream(room: usize) -> String {
    format!("8888_anchor_{room}")
}

/// Signed as the cloud does: `t` is the notice's expiry, some minutes ahead.
fn signed(mut notice: Value) -> Value {
    let t = unix_now() + 600;
    notice["t"] = json!(t);
    notice["sign"] = json!(callback_sign(API_KEY, &t.to_string()));
    notice
}

fn push_event(room: usize, online: bool, event_time: i64, k: u64) -> Value {
    json!({"event_type":i64::from(online),"stream_id":stream(room),"channel_id":stream(room),
        "event_time":event_time,"sequence":format!("seq-{k}"),"errcode":0,"errmsg":"",
        "stream_param":"bizid=8888","app":"8888.livepush.myqcloud.com","appname":"live"})
}

fn recording_notice(room: usize, broadcast: u64, format: &str, start: i64) -> Value {
    let file_id = format!("f{room}-{broadcast}-{format}");
    let ext = if format == "hls" { "m3u8" } else { format };
    let end = start + 600;
    json!({"event_type":100,"stream_id":stream(room),"channel_id":stream(room),
        "video_url":format!("http://1234.vod2.myqcloud.com/g/{file_id}/f0.{ext}"),
        "file_format":format,"start_time":start,"end_time":end,"duration":end - start,
        "file_size":123456,"file_id":file_id,"stream_param":"bizid=8888","record_file_id":file_id})
}

/// What one request got.
enum Reply {
    Ok,
    /// 2003 (protocol) or HTTP 500 (callback): not acknowledged.
    Failed,
    /// Anything else: a failure of the test.
    Wrong(String),
}

/// The clients' view: a load balancer over the three nodes that takes a
/// node out after a failed reply and back in when its `/readyz` says 200.
struct Balancer {
    bases: Vec<String>,
    up: Vec<AtomicBool>,
    next: AtomicUsize,
    client: reqwest::Client,
    /// Per node: replies, failed replies, slowest reply.
    stats: Mutex<Vec<(usize, usize, Duration)>>,
    /// Failed replies: (node, when, what).
    failed: Mutex<Vec<(usize, Instant, String)>>,
    wrong: Mutex<Vec<String>>,
}

impl Balancer {
    fn new(bases: Vec<String>) -> Self {
        let n = bases.len();
        Balancer {
            up: (0..n).map(|_| AtomicBool::new(true)).collect(),
            next: AtomicUsize::new(0),
            client: reqwest::Client::new(),
            stats: Mutex::new(vec![(0, 0, Duration::ZERO); n]),
            failed: Mutex::default(),
            wrong: Mutex::default(),
            bases,
        }
    }

    /// The next node in turn that is up (any node if none is).
    fn pick(&self) -> usize {
        let n = self.bases.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| self.up[i].load(Ordering::Relaxed))
            .unwrap_or(start % n)
    }

    /// Another node that is up, if there is one.
    fn other(&self, than: usize) -> usize {
        let n = self.bases.len();
        (1..n)
            .map(|i| (than + i) % n)
            .find(|&i| self.up[i].load(Ordering::Relaxed))
            .unwrap_or((than + 1) % n)
    }

    fn record(&self, node: usize, took: Duration, reply: &Reply, what: &Value) {
        let mut stats = self.stats.lock().unwrap();
        stats[node].0 += 1;
        stats[node].2 = stats[node].2.max(took);
        match reply {
            Reply::Ok => {}
            Reply::Failed => {
                stats[node].1 += 1;
                self.up[node].store(false, Ordering::Relaxed);
                let what = what["Action"]
                    .as_str()
                    .map_or_else(|| format!("callback {}", what["event_type"]), str::to_owned);
                self.failed
                    .lock()
                    .unwrap()
                    .push((node, Instant::now(), what));
            }
            Reply::Wrong(e) => self
                .wrong
                .lock()
                .unwrap()
                .push(format!("node {}: {e}", node + 1)),
        }
    }

    /// A protocol request to `node`.
    async fn send(&self, node: usize, body: &Value) -> Reply {
        let started = Instant::now();
        let reply = match post(&self.client, &self.bases[node], body).await {
            Ok(reply) if reply["returnValue"] == 0 => Reply::Ok,
            Ok(reply) if reply["returnValue"] == 2003 && reply["returnData"] == json!([]) => {
                Reply::Failed
            }
            Ok(reply) => Reply::Wrong(format!("{body} answered {reply}")),
            Err(e) => Reply::Wrong(e),
        };
        self.record(node, started.elapsed(), &reply, body);
        reply
    }

    /// A cloud callback to `node`.
    async fn deliver(&self, node: usize, notice: &Value) -> Reply {
        let started = Instant::now();
        let response = self
            .client
            .post(format!("{}/callback/Live_callback.php", self.bases[node]))
            .body(signed(notice.clone()).to_string())
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        let reply = match response {
            Ok(r) => {
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                match (status, body["code"].as_i64()) {
                    (200, Some(0)) => Reply::Ok,
                    (500, Some(2003)) => Reply::Failed,
                    _ => Reply::Wrong(format!("{notice} answered HTTP {status} {body}")),
                }
            }
            Err(e) => Reply::Wrong(format!("{notice}: {e}")),
        };
        self.record(node, started.elapsed(), &reply, notice);
        reply
    }

    /// Sends an idempotent request until a node acknowledges it, as an app
    /// retrying would; each try goes to the next node that is up.
    async fn until_acked(&self, body: &Value, callback: bool) {
        for _ in 0..200 {
            let node = self.pick();
            let reply = if callback {
                self.deliver(node, body).await
            } else {
                self.send(node, body).await
            };
            match reply {
                Reply::Ok => return,
                Reply::Failed => tokio::time::sleep(Duration::from_millis(50)).await,
                Reply::Wrong(_) => return,
            }
        }
        self.wrong
            .lock()
            .unwrap()
            .push(format!("never acknowledged: {body}"));
    }

    /// Puts nodes that are down back in when `/readyz` answers 200.
    async fn health_checks(self: Arc<Self>, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            for (node, base) in self.bases.iter().enumerate() {
                if self.up[node].load(Ordering::Relaxed) {
                    continue;
                }
                let ready = self
                    .client
                    .get(format!("{base}/readyz"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                if ready {
                    self.up[node].store(true, Ordering::Relaxed);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Likes per room as the clients saw them.
#[derive(Debug, Default, Clone, Copy)]
struct Likes {
    acked: i64,
    /// Answered 2003: applied or not, nobody can say.
    unknown_up: i64,
    unknown_down: i64,
}

/// Likes (and some unlikes, never more than the worker's own acknowledged
/// likes, so that the floor at 0 never applies) until `stop`.
async fn like_worker(
    lb: Arc<Balancer>,
    rooms: Vec<usize>,
    unlikes: bool,
    likes: Arc<Mutex<Vec<Likes>>>,
    stop: Arc<AtomicBool>,
) {
    let mut balance = [0i64; ROOMS];
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let room = rooms[i % rooms.len()];
        i += 1;
        let down = unlikes && balance[room] > 0 && rand::random_range(0..100) < 15;
        let reply = lb.send(lb.pick(), &like_body(room, i64::from(down))).await;
        let mut likes = likes.lock().unwrap();
        match (reply, down) {
            (Reply::Ok, false) => {
                likes[room].acked += 1;
                balance[room] += 1;
            }
            (Reply::Ok, true) => {
                likes[room].acked -= 1;
                balance[room] -= 1;
            }
            (Reply::Failed, false) => likes[room].unknown_up += 1,
            (Reply::Failed, true) => {
                likes[room].unknown_down += 1;
                balance[room] -= 1;
            }
            (Reply::Wrong(_), _) => {}
        }
    }
}

/// A viewer entering and quitting (sometimes the same POST to two nodes at
/// once) until `stop`; each change is re-sent until acknowledged. Returns
/// whether it is a member at the end.
async fn viewer(lb: Arc<Balancer>, room: usize, id: String, stop: Arc<AtomicBool>) -> bool {
    let enter = json!({"Action":"EnterGroup","userid":id,"liveuserid":anchor(room),"groupid":group(room),
        "nickname":format!("观众 {id} 😀"),"headpic":format!("http://img/{id}.png"),"flag":0});
    let quit = json!({"Action":"QuitGroup","userid":id,"flag":0,"liveuserid":anchor(room),"groupid":group(room)});
    let mut member = false;
    while !stop.load(Ordering::Relaxed) {
        let entering = rand::random_range(0..100) < 55;
        let body = if entering { &enter } else { &quit };
        if rand::random_range(0..100) < 10 {
            let (a, b) = (lb.pick(), lb.pick());
            let b = if a == b { lb.other(a) } else { b };
            let (x, y) = tokio::join!(lb.send(a, body), lb.send(b, body));
            if !matches!(x, Reply::Ok) && !matches!(y, Reply::Ok) {
                lb.until_acked(body, false).await;
            }
        } else {
            lb.until_acked(body, false).await;
        }
        member = entering;
    }
    member
}

/// What the callbacks of one room should have left.
#[derive(Debug, Default)]
struct Stream {
    online: bool,
    broadcasts: u64,
}

/// Stream events of one room in time order (some repeated to two nodes at
/// once, some late ones that must be ignored), and now and then the flv and
/// hls notices of one recorded broadcast delivered to two nodes at once,
/// which must merge into one recording. Every notice is delivered again
/// until acknowledged, as the cloud does.
async fn callbacks(lb: Arc<Balancer>, room: usize, stop: Arc<AtomicBool>) -> Stream {
    let base = unix_now() + 60;
    let mut state = Stream::default();
    let mut k = 0u64;
    while !stop.load(Ordering::Relaxed) {
        k += 1;
        let online = k % 2 == 1;
        let event = push_event(room, online, base + 2 * k as i64, k);
        match rand::random_range(0..10) {
            0 => {
                let (a, b) = (lb.pick(), lb.pick());
                let b = if a == b { lb.other(a) } else { b };
                let (x, y) = tokio::join!(lb.deliver(a, &event), lb.deliver(b, &event));
                if !matches!(x, Reply::Ok) || !matches!(y, Reply::Ok) {
                    lb.until_acked(&event, true).await;
                }
            }
            1 if k > 2 => {
                lb.until_acked(&event, true).await;
                let late = push_event(room, !online, base + 2 * k as i64 - 1, k);
                lb.until_acked(&late, true).await;
            }
            _ => lb.until_acked(&event, true).await,
        }
        state.online = online;
        if k.is_multiple_of(6) {
            let broadcast = state.broadcasts;
            let start = unix_now() - 100_000 + broadcast as i64 * 1000;
            let flv = recording_notice(room, broadcast, "flv", start);
            let hls = recording_notice(room, broadcast, "hls", start);
            let a = lb.pick();
            let b = lb.other(a);
            let (x, y) = tokio::join!(lb.deliver(a, &flv), lb.deliver(b, &hls));
            let (retry_flv, retry_hls) = (!matches!(x, Reply::Ok), !matches!(y, Reply::Ok));
            if retry_flv {
                lb.until_acked(&flv, true).await;
            }
            if retry_hls {
                lb.until_acked(&hls, true).await;
            }
            state.broadcasts += 1;
        }
    }
    state
}

/// GetUserInfo on one node every 100 ms, whatever the balancer thinks:
/// (since the start, returnValue or -1 for no answer, how long it took).
async fn probe(
    client: reqwest::Client,
    base: String,
    stop: Arc<AtomicBool>,
    t0: Instant,
) -> Vec<(Duration, i64, Duration)> {
    let body = json!({"Action":"GetUserInfo","userid":anchor(0),"type":0,"fileid":""});
    let mut seen = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let code = match post(&client, &base, &body).await {
            Ok(reply) => reply["returnValue"].as_i64().unwrap_or(-1),
            Err(_) => -1,
        };
        seen.push((started - t0, code, started.elapsed()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

async fn readyz(client: &reqwest::Client, base: &str) -> u16 {
    client
        .get(format!("{base}/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// The versions of MySQL's migrations, from their files' names (`0007_...sql`).
fn mysql_migrations() -> Vec<i64> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../minilvb-store/src/migrations/mysql"
    );
    let mut versions: Vec<i64> = std::fs::read_dir(dir)
        .expect("the MySQL migrations")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".sql")?.split('_').next()?.parse().ok()
        })
        .collect();
    versions.sort_unstable();
    versions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_race() {
    let Some(cluster) = cluster("migrations_race") else {
        return;
    };
    for round in 0..3 {
        let urls = cluster.database().await;
        let started = Instant::now();
        let children: Vec<_> = urls
            .iter()
            .map(|url| {
                tokio::process::Command::new(env!("CARGO_BIN_EXE_minilvb"))
                    .args(["--database-url", url, "migrate"])
                    .env("RUST_LOG", "minilvb=info")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .expect("minilvb migrate starts")
            })
            .collect();
        let outputs = futures_join_all(children.into_iter().map(|c| c.wait_with_output())).await;
        let mut waited = 0;
        for (node, output) in outputs.into_iter().enumerate() {
            let output = output.expect("minilvb migrate runs");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "round {round}: migrate on node {} failed: {stderr}",
                node + 1
            );
            waited += stderr.matches("another node is migrating").count();
        }
        // Every node sees the whole schema, once.
        for (node, url) in urls.iter().enumerate() {
            let mut conn = MySqlConnection::connect(url).await.expect("connect");
            let applied: Vec<(i64, bool)> =
                sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                    .fetch_all(&mut conn)
                    .await
                    .expect("migrations table");
            assert_eq!(
                applied,
                mysql_migrations()
                    .into_iter()
                    .map(|v| (v, true))
                    .collect::<Vec<_>>(),
                "round {round}, node {}",
                node + 1
            );
            let locks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM minilvb_migration_lock")
                .fetch_one(&mut conn)
                .await
                .expect("lock table");
            assert_eq!(locks, 0, "the lock is released");
            let tables: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME IN ('rooms', 'recordings', 'members', 'recording_files', \
                 'reports', 'bans', 'recording_notices', 'like_slots')",
            )
            .fetch_one(&mut conn)
            .await
            .expect("tables");
            assert_eq!(tables, 8);
            conn.close().await.ok();
        }
        eprintln!(
            "galera migrations race, round {round}: 3 nodes migrated one database in {:.2?}; \
             {waited} waited for another's lock",
            started.elapsed()
        );
    }
}

/// `join_all` for a handful of futures, without another dependency.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_lost_under_load() {
    let Some(cluster) = cluster("node_lost_under_load") else {
        return;
    };
    let (urls, nodes, lb) = three_nodes(&cluster).await;
    let lb = Arc::new(lb);
    let client = lb.client.clone();
    for room in 0..ROOMS {
        ok(&client, &lb.bases[room % 3], &session(room)).await;
    }

    // 1. The like storm: every worker on one room, through all three nodes.
    let likes = Arc::new(Mutex::new(vec![Likes::default(); ROOMS]));
    let conflicts_before = total(&client, &nodes, "minilvb_db_retries_total", "conflict").await;
    let cert_before = cluster.certification_failures().await;
    let stop = Arc::new(AtomicBool::new(false));
    let storm: Vec<_> = (0..LIKE_WORKERS)
        .map(|_| {
            tokio::spawn(like_worker(
                lb.clone(),
                vec![0],
                false,
                likes.clone(),
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(STORM).await;
    stop.store(true, Ordering::Relaxed);
    for task in storm {
        task.await.expect("storm worker");
    }
    let stormed = likes.lock().unwrap()[0].acked;
    let conflicts =
        total(&client, &nodes, "minilvb_db_retries_total", "conflict").await - conflicts_before;
    let cert = cluster.certification_failures().await - cert_before;
    let throughput = stormed as f64 / STORM.as_secs_f64();
    eprintln!(
        "galera like storm: {stormed} likes on one room in {STORM:?} from {LIKE_WORKERS} clients \
         through 3 nodes: {throughput:.0} likes/s; {conflicts} transactions re-run after a \
         conflict, {cert} certification failures and brute-force aborts on the cluster"
    );
    assert!(
        lb.wrong.lock().unwrap().is_empty(),
        "{:?}",
        lb.wrong.lock().unwrap()
    );
    assert_eq!(
        lb.stats.lock().unwrap().iter().map(|s| s.1).sum::<usize>(),
        0,
        "no failures in the storm"
    );

    // 2. Everything at once, and database node 3 is lost and comes back.
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let health = tokio::spawn(lb.clone().health_checks(stop.clone()));
    let probing = tokio::spawn(probe(client.clone(), lb.bases[2].clone(), stop.clone(), t0));
    let mut like_tasks = Vec::new();
    for w in 0..LIKE_WORKERS {
        let rooms = if w % 2 == 0 { vec![0] } else { vec![0, 1, 2] };
        like_tasks.push(tokio::spawn(like_worker(
            lb.clone(),
            rooms,
            true,
            likes.clone(),
            stop.clone(),
        )));
    }
    let mut viewers = Vec::new();
    for room in 0..ROOMS {
        for v in 0..VIEWERS_PER_ROOM {
            let id = format!("viewer-{room}-{v}");
            let task = tokio::spawn(viewer(lb.clone(), room, id.clone(), stop.clone()));
            viewers.push((room, id, task));
        }
    }
    let streams: Vec<_> = (0..ROOMS)
        .map(|room| tokio::spawn(callbacks(lb.clone(), room, stop.clone())))
        .collect();

    tokio::time::sleep(Duration::from_secs(4)).await;
    let unknown_before = counter(
        &client,
        &nodes[2].metrics,
        "minilvb_db_unknown_outcomes_total",
        "",
    )
    .await;
    let killed_at = t0.elapsed();
    cluster.ctl(&["kill", "3"]).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let restarting_at = t0.elapsed();
    cluster.ctl(&["restart", "3"]).await;
    let restarted_at = t0.elapsed();
    let recovered_at = loop {
        if readyz(&client, &lb.bases[2]).await == 200 {
            break t0.elapsed();
        }
        assert!(
            t0.elapsed() - restarted_at < Duration::from_secs(20),
            "node 3 did not recover"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    let run = t0.elapsed();
    for task in like_tasks {
        task.await.expect("like worker");
    }
    let mut members: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for (room, id, task) in viewers {
        if task.await.expect("viewer") {
            members.entry(room).or_default().insert(id);
        }
    }
    let mut expected_streams = Vec::new();
    for task in streams {
        expected_streams.push(task.await.expect("callbacks"));
    }
    let probes = probing.await.expect("probe");
    health.await.expect("health checks");
    let unknown_flagged = counter(
        &client,
        &nodes[2].metrics,
        "minilvb_db_unknown_outcomes_total",
        "",
    )
    .await
        - unknown_before;

    // Nothing but acknowledgements and 2003s; node 3's 2003s only while its
    // database was away, and none at all from the others.
    let wrong = lb.wrong.lock().unwrap().clone();
    assert!(
        wrong.is_empty(),
        "{} wrong replies, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    let stats = lb.stats.lock().unwrap().clone();
    let failed = lb.failed.lock().unwrap().clone();
    for (node, (requests, failures, slowest)) in stats.iter().enumerate() {
        eprintln!(
            "galera node {}: {requests} requests, {failures} failed, slowest {slowest:.2?}",
            node + 1
        );
    }
    for (n, served) in nodes.iter().enumerate() {
        summarize_log(n, &served.node);
    }
    for (node, at, what) in &failed {
        assert_eq!(
            *node,
            2,
            "{what} failed on node {} (database node alive)",
            node + 1
        );
        let at = *at - t0;
        assert!(
            at >= killed_at && at <= recovered_at + Duration::from_millis(500),
            "{what} failed on node 3 at {at:?}, outside the outage ({killed_at:?}..{recovered_at:?})"
        );
    }
    // Node 3 failed fast while its database was away, and recovered.
    let outage: Vec<_> = probes
        .iter()
        .filter(|(at, _, _)| *at > killed_at + Duration::from_secs(1) && *at < restarting_at)
        .collect();
    assert!(!outage.is_empty());
    for (at, code, took) in &outage {
        assert_eq!(*code, 2003, "node 3 at {at:?}");
        assert!(
            *took < Duration::from_millis(1500),
            "node 3 at {at:?} took {took:?} to fail"
        );
    }
    let after: Vec<_> = probes
        .iter()
        .filter(|(at, _, _)| *at > recovered_at)
        .collect();
    assert!(
        !after.is_empty() && after.iter().all(|(_, code, _)| *code == 0),
        "{after:?}"
    );
    let node3 = &nodes[2].node;
    assert!(node3.logged("database unreachable; failing fast until it answers") >= 1);
    assert!(node3.logged("database reachable again") >= 1);

    // Every count, from every node.
    tokio::time::sleep(Duration::from_millis(1500)).await; // the lists' snapshots
    let likes = likes.lock().unwrap().clone();
    let unknown: i64 = likes.iter().map(|l| l.unknown_up + l.unknown_down).sum();
    for base in &lb.bases {
        let recordings = all_recordings(&client, base).await;
        for room in 0..ROOMS {
            let (info, list, listed) =
                room_with_members(&client, base, &anchor(room), &group(room)).await;
            let listed: BTreeSet<String> = listed.into_iter().collect();
            let expected = members.get(&room).cloned().unwrap_or_default();
            assert_eq!(listed, expected, "room {room} members via {base}");
            assert_eq!(list["totalcount"], expected.len(), "room {room} via {base}");
            assert_eq!(
                info["viewercount"],
                expected.len(),
                "room {room} via {base}"
            );
            let count = info["likecount"].as_i64().unwrap();
            let l = likes[room];
            assert!(
                count >= l.acked - l.unknown_down && count <= l.acked + l.unknown_up,
                "room {room} via {base}: {count} likes, acknowledged {} (+{} -{} unknown)",
                l.acked,
                l.unknown_up,
                l.unknown_down
            );
            assert!(
                (count - l.acked).unsigned_abs() as f64 <= unknown_flagged,
                "room {room}: {count} likes, acknowledged {}; only {unknown_flagged} outcomes were unknown",
                l.acked
            );
            let s = &expected_streams[room];
            assert_eq!(
                info["status"],
                if s.online { "1" } else { "0" },
                "room {room} via {base}"
            );
            let mine: Vec<(String, String, String)> = recordings
                .iter()
                .filter(|r| r["userid"] == anchor(room))
                .map(|r| {
                    let url = |k: &str| {
                        r[k].as_str()
                            .unwrap_or_default()
                            .rsplit('.')
                            .next()
                            .unwrap_or_default()
                            .to_owned()
                    };
                    (
                        r["fileid"].as_str().unwrap_or_default().to_owned(),
                        url("playurl"),
                        url("hls_play_url"),
                    )
                })
                .collect();
            let merged = mine
                .iter()
                .filter(|(_, flv, hls)| flv == "flv" && hls == "m3u8")
                .count();
            if mine.len() as u64 != s.broadcasts || merged != mine.len() {
                let database = recording_rows(&urls[0], &anchor(room)).await;
                panic!(
                    "room {room} via {base}: {} broadcasts, recordings (fileid, play, hls) {mine:?}; \
                     in the database: {database}",
                    s.broadcasts
                );
            }
        }
    }
    let requests: usize = stats.iter().map(|s| s.0).sum();
    let conflicts = total(&client, &nodes, "minilvb_db_retries_total", "conflict").await
        - conflicts_before
        - conflicts;
    let reconnects = total(&client, &nodes, "minilvb_db_retries_total", "connection").await;
    eprintln!(
        "galera node lost under load: {conflicts} transactions re-run after a conflict, \
         {reconnects} after a connection lost before commit"
    );
    eprintln!(
        "galera node lost under load: {requests} requests in {run:.1?} ({:.0}/s); database node 3 \
         killed at {killed_at:.1?}, restarted at {restarting_at:.1?}..{restarted_at:.1?}, minilvb \
         node 3 ready at {recovered_at:.1?}; {} failed replies, all on node 3 during the outage \
         (slowest probe {:.0?}); {unknown} likes answered 2003 with an outcome unknown to the \
         client, {unknown_flagged} requests flagged outcome-unknown by node 3; likes {:?}; members {:?}; \
         streams {:?}",
        requests as f64 / run.as_secs_f64(),
        failed.len(),
        outage.iter().map(|p| p.2).max().unwrap_or_default(),
        likes.iter().map(|l| l.acked).collect::<Vec<_>>(),
        (0..ROOMS)
            .map(|r| members.get(&r).map_or(0, BTreeSet::len))
            .collect::<Vec<_>>(),
        expected_streams
            .iter()
            .map(|s| (s.online, s.broadcasts))
            .collect::<Vec<_>>(),
    );

    // 3. Join order across nodes: enters one after another, each through
    // the next node, list in that order (auto-increment ids are interleaved
    // per node, but each transaction starts after the ones acknowledged before it).
    let order_room = json!({"Action":"RequestLVBAddr","userid":"anchor-order","groupid":"@TGS#order",
        "title":"order","userinfo":{"nickname":"","headpic":"","frontcover":"","location":""}});
    ok(&client, &lb.bases[0], &order_room).await;
    let joined: Vec<String> = (0..12).map(|i| format!("early-{i:02}")).collect();
    for (i, id) in joined.iter().enumerate() {
        let enter = json!({"Action":"EnterGroup","userid":id,"liveuserid":"anchor-order","groupid":"@TGS#order",
            "nickname":id,"headpic":"","flag":0});
        ok(&client, &lb.bases[(i + 1) % 3], &enter).await;
    }
    for base in &lb.bases {
        let (_, _, order) = room_with_members(&client, base, "anchor-order", "@TGS#order").await;
        assert_eq!(order, joined, "join order via {base}");
    }
    for served in nodes {
        served.node.stop().await;
    }
}

async fn total(client: &reqwest::Client, nodes: &[Served], name: &str, labels: &str) -> u64 {
    let mut sum = 0.0;
    for node in nodes {
        sum += counter(client, &node.metrics, name, labels).await;
    }
    sum as u64
}

/// Every recording FetchList flag 2 lists, through `base`.
async fn all_recordings(client: &reqwest::Client, base: &str) -> Vec<Value> {
    let mut all = Vec::new();
    for page in 1.. {
        let list = ok(
            client,
            base,
            &json!({"flag":2,"pageno":page,"pagesize":100,"Action":"FetchList"}),
        )
        .await;
        let items = list["pusherlist"].as_array().cloned().unwrap_or_default();
        let done = items.len() < 100;
        all.extend(items);
        if done {
            break;
        }
    }
    all
}

/// The node's warnings and errors, counted by message and cause.
fn summarize_log(n: usize, node: &Node) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for line in node.log.lock().unwrap().iter() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if event["level"] != "WARN" && event["level"] != "ERROR" {
            continue;
        }
        let error: String = event["error"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(100)
            .collect();
        let key = format!("{} {} {}", event["level"], event["message"], error);
        *seen.entry(key).or_default() += 1;
    }
    for (what, times) in seen {
        eprintln!("galera node {} log: {times} x {what}", n + 1);
    }
}

/// The flv and hls notices of one broadcast, delivered to two nodes at once,
/// merge into one recording, broadcast after broadcast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_notices_merge_across_nodes() {
    let Some(cluster) = cluster("recording_notices_merge_across_nodes") else {
        return;
    };
    let (_, nodes, lb) = three_nodes(&cluster).await;
    let client = lb.client.clone();
    ok(&client, &lb.bases[0], &session(0)).await;
    const BROADCASTS: usize = 40;
    let mut outcomes = Vec::new();
    for broadcast in 0..BROADCASTS {
        let start = unix_now() - 100_000 + broadcast as i64 * 1000;
        let flv = signed(recording_notice(0, broadcast as u64, "flv", start));
        let hls = signed(recording_notice(0, broadcast as u64, "hls", start));
        let deliver = |node: usize, notice: Value| {
            let client = client.clone();
            let url = format!("{}/callback/Live_callback.php", lb.bases[node]);
            async move {
                let reply = client
                    .post(url)
                    .body(notice.to_string())
                    .send()
                    .await
                    .expect("callback");
                reply.json::<Value>().await.expect("json")["msg"].clone()
            }
        };
        let (x, y) = tokio::join!(
            deliver(broadcast % 3, flv),
            deliver((broadcast + 1) % 3, hls)
        );
        outcomes.push((broadcast, x, y));
    }
    // Each node lists them once its list snapshot has expired (1 s): wait
    // for that, generously (a loaded machine), rather than a fixed time. An
    // unmerged pair never merges later, so the wait hides no failure.
    for base in &lb.bases {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let recordings = all_recordings(&client, base).await;
            let unmerged: Vec<_> = recordings
                .iter()
                .filter(|r| {
                    !r["playurl"].as_str().unwrap().ends_with(".flv")
                        || !r["hls_play_url"].as_str().unwrap().ends_with(".m3u8")
                })
                .cloned()
                .collect();
            if recordings.len() == BROADCASTS && unmerged.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "via {base}: {} recordings, unmerged {unmerged:?}; outcomes {outcomes:?}",
                recordings.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for served in nodes {
        served.node.stop().await;
    }
}

/// The recordings and recording files of an anchor, as stored (for failures).
async fn recording_rows(url: &str, anchor: &str) -> String {
    let mut conn = MySqlConnection::connect(url).await.expect("connect");
    let recordings: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT CAST(fileid AS CHAR), CAST(play_url AS CHAR), CAST(hls_play_url AS CHAR) \
             FROM recordings WHERE userid = ? ORDER BY start_time",
    )
    .bind(anchor)
    .fetch_all(&mut conn)
    .await
    .unwrap_or_default();
    let files: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT CAST(notice_key AS CHAR), CAST(fileid AS CHAR), CAST(format AS CHAR) \
         FROM recording_files WHERE userid = ? ORDER BY start_time",
    )
    .bind(anchor)
    .fetch_all(&mut conn)
    .await
    .unwrap_or_default();
    format!("recordings {recordings:?}; files {files:?}")
}

/// Viewers entering one room through all three nodes at once: every enter
/// writes the room's row, so transactions on different nodes abort each
/// other all the time. Every acknowledged enter is there afterwards, and
/// the room counts exactly its members. (MariaDB sometimes answers OK to
/// the COMMIT of such an aborted transaction with nothing committed; the
/// commit mark catches it, see `mysql.rs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_enters_on_one_hot_room_all_stay() {
    let Some(cluster) = cluster("acknowledged_enters_on_one_hot_room_all_stay") else {
        return;
    };
    let (urls, nodes, lb) = three_nodes(&cluster).await;
    let lb = Arc::new(lb);
    ok(&lb.client, &lb.bases[0], &session(0)).await;
    const VIEWERS_PER_NODE: usize = 8;
    const ENTERS_PER_VIEWER: usize = 120;
    let viewers = (0..3 * VIEWERS_PER_NODE).map(|v| {
        let lb = lb.clone();
        async move {
            let node = v % 3;
            let mut acked = Vec::new();
            for k in 0..ENTERS_PER_VIEWER {
                let id = format!("hot-{v}-{k}");
                let enter = json!({"Action":"EnterGroup","userid":id,"liveuserid":anchor(0),
                    "groupid":group(0),"nickname":id,"headpic":"","flag":0});
                match lb.send(node, &enter).await {
                    Reply::Ok => acked.push(id),
                    Reply::Failed => {}
                    Reply::Wrong(what) => panic!("{what}"),
                }
            }
            acked
        }
    });
    let mut acked = BTreeSet::new();
    for viewer in futures_join_all(viewers).await {
        acked.extend(viewer);
    }
    let mut db = MySqlConnection::connect(&urls[0]).await.expect("connect");
    let stored: BTreeSet<String> =
        sqlx::query_scalar("SELECT CAST(userid AS CHAR) FROM members WHERE anchor = ?")
            .bind(anchor(0))
            .fetch_all(&mut db)
            .await
            .expect("members")
            .into_iter()
            .collect();
    let count: i64 = sqlx::query_scalar("SELECT viewer_count FROM rooms WHERE userid = ?")
        .bind(anchor(0))
        .fetch_one(&mut db)
        .await
        .expect("the room");
    let lost: Vec<_> = acked.difference(&stored).collect();
    let conflicts = total(&lb.client, &nodes, "minilvb_db_retries_total", "conflict").await;
    eprintln!(
        "galera hot room: {} enters acknowledged of {}, {conflicts} transactions re-run after a conflict",
        acked.len(),
        3 * VIEWERS_PER_NODE * ENTERS_PER_VIEWER
    );
    assert!(lost.is_empty(), "acknowledged and lost: {lost:?}");
    assert_eq!(
        count,
        stored.len() as i64,
        "the room's count against its members"
    );
    assert!(
        acked.len() * 10 >= 9 * 3 * VIEWERS_PER_NODE * ENTERS_PER_VIEWER,
        "most enters acknowledged: {}",
        acked.len()
    );
    for served in nodes {
        served.node.stop().await;
    }
}
