//! Connections under attack: clients that send headers and then hold back
//! the body, and idle connections piling up, from one address and from
//! many. A well-behaved client on another address keeps getting its
//! answers, and each connection costs the server one file descriptor.
//! Client sockets are bound to loopback addresses other than 127.0.0.1
//! (all of 127.0.0.0/8 is the loopback on Linux) to act as other clients.
//! Connections are handled before any database is asked, so these run on
//! SQLite only.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::*;

/// The server's address, from `http://ADDR`.
fn server_addr(base: &str) -> SocketAddr {
    base.trim_start_matches("http://")
        .parse()
        .expect("an address")
}

/// The `n`-th loopback address after 127.0.0.1 (127.0.0.2, 127.0.0.3, ...).
fn other_address(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 2)) + n)
}

/// A well-behaved client's own address, outside the attackers' ranges.
const GOOD_CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 9, 9);

async fn connect_from(local: Ipv4Addr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(local), 0))?;
    socket.connect(server).await
}

/// The test process holds thousands of sockets: its own ends and, in
/// process, the server's. Raise the soft descriptor limit to the hard one.
fn raise_descriptor_limit() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
}

/// What became of a connection, read until the server closed it.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    /// An HTTP reply with this status (and its envelope's returnValue).
    Answered(u16, i64),
    /// Closed (or reset) without a reply.
    Closed,
    /// Still open after the wait.
    Open,
}

async fn fate(stream: &mut TcpStream, within: Duration) -> Fate {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 2048];
    let read = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    if read.is_err() && bytes.is_empty() {
        return Fate::Open;
    }
    let text = String::from_utf8_lossy(&bytes);
    let Some(status) = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()) else {
        return Fate::Closed;
    };
    let code = text
        .split("\r\n\r\n")
        .nth(1)
        .and_then(|body| serde_json::from_str::<Value>(body).ok())
        .and_then(|body| body["returnValue"].as_i64())
        .unwrap_or(-1);
    Fate::Answered(status, code)
}

/// A client that sends a complete request head announcing a 10-byte body,
/// and then nothing. `None` when it could not even connect.
async fn slow_body_from(local: Ipv4Addr, server: SocketAddr) -> Option<TcpStream> {
    let mut stream = connect_from(local, server).await.ok()?;
    let head = "POST /interface.php HTTP/1.1\r\nHost: minilvb\r\n\
                Content-Type: application/json; charset=utf-8\r\nContent-Length: 10\r\n\r\n";
    // A connection refused at once may be closed before the head is written.
    let _ = stream.write_all(head.as_bytes()).await;
    Some(stream)
}

/// `count` well-behaved requests from [`GOOD_CLIENT`], one after the other:
/// the latencies, each request having had to answer 0.
async fn good_client_latencies(base: &str, count: usize) -> Vec<Duration> {
    let client = reqwest::Client::builder()
        .local_address(IpAddr::V4(GOOD_CLIENT))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        let body = if i % 2 == 0 {
            json!({"Action":"FetchList","flag":1,"pageno":1,"pagesize":20})
        } else {
            json!({"Action":"GetUserInfo","userid":"anchor","type":0,"fileid":""})
        };
        let started = Instant::now();
        let response = client
            .post(format!("{base}/interface.php"))
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i} failed: {e}"));
        let status = response.status();
        let reply: Value = response.json().await.expect("a JSON reply");
        latencies.push(started.elapsed());
        assert_eq!(
            (status.as_u16(), reply["returnValue"].as_i64()),
            (200, Some(0)),
            "request {i} of the good client: {reply}"
        );
    }
    latencies
}

fn p99(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort();
    let index = (latencies.len() * 99).div_ceil(100).saturating_sub(1);
    latencies[index]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_slow_to_send_their_body_do_not_starve_the_others() {
    raise_descriptor_limit();
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.go_live("anchor", "g1").await;
    let server = server_addr(&app.base);
    // 1 000 from one address, 1 000 from 1 000 other addresses: more
    // than server.max_concurrent_requests (512) all told.
    let mut attacks = Vec::new();
    for i in 0..2000u32 {
        let local = if i < 1000 {
            Ipv4Addr::LOCALHOST
        } else {
            other_address(i - 1000)
        };
        attacks.push(tokio::spawn(async move {
            (i < 1000, slow_body_from(local, server).await)
        }));
    }
    let mut streams = Vec::new();
    for attack in attacks {
        let (same_address, stream) = attack.await.expect("an attacker");
        streams.push((same_address, stream.expect("the attacker connects")));
    }
    // Meanwhile a normal client, from yet another address.
    let latencies = good_client_latencies(&app.base, 200).await;
    let p99 = p99(latencies);
    assert!(
        p99 < Duration::from_millis(50),
        "p99 {p99:?} under slow-body attack"
    );

    // The attackers: those over the per-address cap were refused at
    // once; the rest got HTTP 408 once the body deadline passed.
    let readers: Vec<_> = streams
        .into_iter()
        .map(|(same_address, mut stream)| {
            tokio::spawn(async move {
                (
                    same_address,
                    fate(&mut stream, Duration::from_secs(15)).await,
                )
            })
        })
        .collect();
    let (mut refused, mut timed_out_same, mut timed_out_other) = (0, 0, 0);
    for reader in readers {
        let (same_address, fate) = reader.await.expect("a reader");
        match fate {
            Fate::Answered(503, 4003) | Fate::Closed if same_address => refused += 1,
            Fate::Answered(408, 4001) if same_address => timed_out_same += 1,
            Fate::Answered(408, 4001) => timed_out_other += 1,
            other => panic!(
                "an attacker from {} got {other:?}",
                if same_address {
                    "127.0.0.1"
                } else {
                    "another address"
                }
            ),
        }
    }
    assert!(
        timed_out_same <= 64,
        "{timed_out_same} connections held from one address"
    );
    assert_eq!(refused + timed_out_same, 1000);
    assert_eq!(timed_out_other, 1000);
    eprintln!(
        "slow bodies: good client p99 {p99:?}; from one address {timed_out_same} held until \
         the body deadline, {refused} refused; {timed_out_other} from other addresses held"
    );
    // And the server is fine afterwards.
    app.fetch_list(1, 1, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_from_one_address_are_capped() {
    raise_descriptor_limit();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let server = server_addr(&app.base);
    // From one address, open idle connections until one is refused.
    let mut open = Vec::new();
    let mut refusal = None;
    while refusal.is_none() && open.len() < 2000 {
        let mut batch = Vec::new();
        for _ in 0..16 {
            batch.push(
                connect_from(Ipv4Addr::LOCALHOST, server)
                    .await
                    .expect("connect"),
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        for mut stream in batch {
            match fate(&mut stream, Duration::from_millis(1)).await {
                Fate::Open => open.push(stream),
                fate => refusal = refusal.or(Some(fate)),
            }
        }
    }
    let refusal = refusal.unwrap_or_else(|| {
        panic!(
            "{} idle connections from one address, none refused",
            open.len()
        )
    });
    assert_eq!(refusal, Fate::Answered(503, 4003));
    assert!(open.len() <= 64, "{} connections held", open.len());
    // A new client from another address gets its answer at once.
    let client = reqwest::Client::builder()
        .local_address(IpAddr::V4(other_address(0)))
        .build()
        .unwrap();
    let started = Instant::now();
    let reply: Value = client
        .post(format!("{}/interface.php", app.base))
        .body(json!({"Action":"FetchList","flag":1}).to_string())
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(reply["returnValue"], 0, "{reply}");
    assert!(took < Duration::from_millis(100), "took {took:?}");
    // A held connection closed frees its place.
    drop(open.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut stream = connect_from(Ipv4Addr::LOCALHOST, server).await.unwrap();
    assert_eq!(
        fate(&mut stream, Duration::from_millis(200)).await,
        Fate::Open
    );
}

/// The open file descriptors of process `pid`.
fn descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count())
}

/// Waits until `pid`'s descriptor count stays put for a while; returns it.
fn settled_descriptors(pid: u32) -> usize {
    let mut last = descriptors(pid);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = descriptors(pid);
        if now == last {
            return now;
        }
        last = now;
    }
}

#[test]
fn each_connection_costs_the_server_one_descriptor() {
    let cli = Cli::new();
    let server = cli.serve(&["--listen", "127.0.0.1:0"], &[]);
    let pid = server.child.id();
    let addr: SocketAddr = server.addr.parse().unwrap();
    let before = settled_descriptors(pid);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let held: Vec<TcpStream> = runtime.block_on(async {
        let mut held = Vec::new();
        for i in 0..100 {
            held.push(
                connect_from(other_address(i % 4), addr)
                    .await
                    .expect("connect"),
            );
        }
        held
    });
    let after = settled_descriptors(pid);
    assert_eq!(
        after - before,
        100,
        "{before} descriptors before 100 idle connections, {after} after"
    );
    drop(held);
    let (_, log) = server.terminate();
    assert!(log.iter().any(|l| l.contains("minilvb serving")));
}

#[test]
fn the_total_is_capped_and_said_at_start_up_and_refusals_are_logged() {
    let cli = Cli::new();
    let server = cli.serve(
        &["--listen", "127.0.0.1:0"],
        &[
            ("MINILVB_SERVER__MAX_CONNECTIONS", "40"),
            ("MINILVB_SERVER__MAX_CONNECTIONS_PER_IP", "20"),
        ],
    );
    let serving = server
        .log
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["message"] == "minilvb serving")
        .expect("the serving line");
    assert_eq!(serving["max_connections"], 40, "{serving}");
    let addr: SocketAddr = server.addr.parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fates = runtime.block_on(async {
        // 3 addresses, 20 each: 40 held, 20 refused, whichever address.
        let mut streams = Vec::new();
        for i in 0..60 {
            streams.push(
                connect_from(other_address(i % 3), addr)
                    .await
                    .expect("connect"),
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let readers: Vec<_> = streams
            .into_iter()
            .map(|mut stream| {
                tokio::spawn(async move { fate(&mut stream, Duration::from_millis(500)).await })
            })
            .collect();
        let mut fates = Vec::new();
        for reader in readers {
            fates.push(reader.await.expect("a reader"));
        }
        fates
    });
    let held = fates.iter().filter(|f| **f == Fate::Open).count();
    let refused = fates
        .iter()
        .filter(|f| **f == Fate::Answered(503, 4003))
        .count();
    assert_eq!((held, refused), (40, 20), "{fates:?}");
    let (_, log) = server.terminate();
    let refusals: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("connection refused"))
        .collect();
    // The first refusal, at once; the rest summed up (or, stopped before
    // the interval was over, not at all).
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert!(refusals[0].contains("too many connections"), "{refusals:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_port_shares_the_connection_caps() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.server.max_connections_per_ip = 2;
        s.metrics.listen = "127.0.0.1:0".into();
    })
    .await;
    let public = server_addr(&app.base);
    let metrics = server_addr(app.metrics_base.as_ref().unwrap());
    let client = other_address(40);
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(connect_from(client, public).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The metrics port too: the address has its two.
    let mut third = connect_from(client, metrics).await.unwrap();
    assert_eq!(
        fate(&mut third, Duration::from_millis(500)).await,
        Fate::Answered(503, 4003)
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = connect_from(client, metrics).await.unwrap();
    assert_eq!(
        fate(&mut again, Duration::from_millis(300)).await,
        Fate::Open
    );
}
