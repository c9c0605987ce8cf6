//! The database goes away under a running server, through a proxy the test
//! cuts: requests fail fast with clear envelopes (2003 for the protocol,
//! HTTP 500 for callbacks so the cloud retries), `/readyz` says 503, and
//! the server recovers by itself when the database is back. Both ways of
//! going away: refused and reset connections (a stopped database), and a
//! black hole (a network that drops everything).

use std::time::{Duration, Instant};

use minilvb_protocol::cloud::callback_sign;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::proxy::{Mode, Proxy};
use minilvb_test_databases::url_via;

/// The test's database settings: a 2 s wait for a connection, 3 s per operation.
const ACQUIRE_SECS: u64 = 2;
const OPERATION_SECS: u64 = 3;

async fn readyz(app: &TestApp) -> (StatusCode, Duration) {
    let started = Instant::now();
    let response = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz answers");
    (response.status(), started.elapsed())
}

/// Every kind of request (or the first `kinds`) answers 2003 quickly, a
/// callback HTTP 500, `/readyz` 503; returns the slowest.
async fn all_fail_fast(app: &TestApp, kinds: usize, limit: Duration) -> Duration {
    let requests = [
        json!({"Action":"ChangeCount","userid":"anchor","type":1,"optype":0,"flag":0,"fileid":""}),
        json!({"Action":"EnterGroup","userid":"v2","liveuserid":"anchor","groupid":"g1","nickname":"n","headpic":"","flag":0}),
        json!({"Action":"QuitGroup","userid":"v1","flag":0,"liveuserid":"anchor","groupid":"g1"}),
        json!({"flag":1,"pageno":1,"pagesize":20,"Action":"FetchList"}),
        json!({"Action":"GetUserInfo","userid":"anchor","type":0,"fileid":""}),
        json!({"Action":"FetchGroupMemberList","liveuserid":"anchor","groupid":"g1","pageno":1,"pagesize":20}),
        json!({"Action":"RequestLVBAddr","userid":"newcomer","groupid":"g9","title":"t"}),
        json!({"Action":"ChangeStatus","userid":"anchor","status":1}),
    ];
    let mut slowest = Duration::ZERO;
    for request in requests.into_iter().take(kinds) {
        let started = Instant::now();
        let reply = app.post(request.clone()).await;
        let took = started.elapsed();
        assert_eq!(reply["returnValue"], 2003, "{request} -> {reply}");
        assert_eq!(reply["returnData"], json!([]), "{reply}");
        assert!(took <= limit, "{request} took {took:?} (limit {limit:?})");
        slowest = slowest.max(took);
    }
    // A callback asks the cloud to deliver again.
    let t = app.clock_now();
    let notice = json!({"event_type":1,"stream_id":"8888_anchor","channel_id":"8888_anchor",
        "event_time":t,"sequence":"1","t":t,"sign":callback_sign(app.settings.live.api_key.expose(), &t.to_string())});
    let (status, reply) = app
        .post_raw("/callback/Live_callback.php", notice.to_string())
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{reply}");
    let (status, took) = readyz(app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(took <= limit, "readyz took {took:?}");
    slowest.max(took)
}

/// Waits until `/readyz` says 200; how long that took.
async fn recovers(app: &TestApp) -> Duration {
    let started = Instant::now();
    loop {
        if readyz(app).await.0 == StatusCode::OK {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no recovery within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn state(app: &TestApp) -> (Value, i64) {
    let room = app.room("anchor").await;
    let members = app.members("anchor", "g1", 1, 100).await;
    (
        json!([room["viewercount"], room["likecount"], room["status"]]),
        members["totalcount"].as_i64().unwrap(),
    )
}

async fn outage_and_recovery(backend: Backend) {
    if !backend.available().await {
        return;
    }
    let server = backend.server_addr().expect("a server address");
    let proxy = Proxy::start(server).await;
    let app = TestApp::spawn_with(backend, |s| {
        s.database.url = url_via(&s.database.url, proxy.addr);
        s.database.acquire_timeout_secs = ACQUIRE_SECS;
        s.database.operation_timeout_secs = OPERATION_SECS;
    })
    .await;
    app.go_live("anchor", "g1").await;
    app.enter("v1", "anchor", "g1", 0).await;
    for _ in 0..3 {
        assert_acked(&app.like("anchor", 0).await);
    }
    let before = state(&app).await;
    assert_eq!(before, (json!([1, 3, "1"]), 1));

    // The database stops: connections reset, new ones refused. The first
    // request may wait out the acquire timeout; then the store fails fast.
    proxy.set(Mode::Down);
    let first = all_fail_fast(&app, 8, Duration::from_secs(ACQUIRE_SECS + 1)).await;
    let next = all_fail_fast(&app, 2, Duration::from_millis(1500)).await;
    proxy.set(Mode::Up);
    let recovery = recovers(&app).await;
    assert_eq!(state(&app).await, before, "nothing failed was half-applied");
    assert_acked(&app.like("anchor", 0).await);
    app.enter("v2", "anchor", "g1", 0).await;

    // The network black-holes: nothing answers, nothing is refused. The
    // operation deadline bounds every request.
    proxy.set(Mode::Stalled);
    let stalled = all_fail_fast(&app, 3, Duration::from_secs(OPERATION_SECS + 1)).await;
    proxy.set(Mode::Up);
    let stalled_recovery = recovers(&app).await;
    assert_eq!(state(&app).await, (json!([2, 4, "1"]), 2));
    assert_acked(&app.like("anchor", 1).await);
    assert_eq!(state(&app).await, (json!([2, 3, "1"]), 2));
    eprintln!(
        "outage {}: down: first {first:?}, then {next:?}, recovered in {recovery:?}; \
         black hole: {stalled:?}, recovered in {stalled_recovery:?}",
        backend.name()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    outage_and_recovery(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    outage_and_recovery(Backend::Mysql).await;
}
