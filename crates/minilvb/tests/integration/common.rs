//! Shared test helpers: spawning the server, posting requests, checking envelopes.
#![allow(dead_code)] // not every helper is used by every test file

use std::path::Path;
use std::sync::Arc;

use minilvb::Application;
use minilvb::clock::ManualClock;
use minilvb::config::Settings;
use minilvb_store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Where "now" starts in tests: 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600;

pub use minilvb_test_databases::{Backend, TestDatabase};

/// A running server with its own fresh database.
pub struct TestApp {
    pub base: String,
    /// `http://ADDR` of the metrics endpoint, when `metrics.listen` is set.
    pub metrics_base: Option<String>,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub store: Arc<dyn Store>,
    pub settings: Settings,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Dropped after the server stops: the server database goes with it.
    _database: TestDatabase,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with settings changed by `configure` (after the test defaults).
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        let database = TestDatabase::create(backend).await;
        let mut settings = Settings::demo();
        settings.server.listen = "127.0.0.1:0".into();
        settings.database.url = database.url.clone();
        // Tests fire requests faster than any client may; the rate-limit
        // tests switch it back on.
        settings.rate_limit.enabled = false;
        configure(&mut settings);
        let clock = ManualClock::new(T0);
        let app = Application::build_with_clock(settings.clone(), Arc::new(clock.clone()))
            .await
            .expect("the server starts");
        let base = format!("http://{}", app.local_addr());
        let metrics_base = app.metrics_addr().map(|addr| format!("http://{addr}"));
        let store = app.store();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            metrics_base,
            client: reqwest::Client::new(),
            clock,
            store,
            settings,
            stop: Some(stop),
            server: Some(server),
            _database: database,
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server ran cleanly");
        }
    }

    /// POSTs a raw body to `path` as the apps do (JSON Content-Type); returns
    /// the status and the JSON reply, checking the Content-Type the apps require.
    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        self.post_with(path, Some("application/json; charset=utf-8"), body)
            .await
    }

    /// As [`TestApp::post_raw`], with the given request Content-Type (or none).
    pub async fn post_with(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.post(format!("{}{path}", self.base));
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        let response = request.body(body).send().await.expect("request sent");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.expect("body");
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("reply is not JSON ({e}): {text}"));
        let protocol_path = path.split('?').next().unwrap_or_default();
        if protocol_path == "/" || protocol_path == "/interface.php" {
            assert_eq!(content_type, "application/json; charset=utf-8", "{text}");
            assert_envelope(&value);
        }
        (status, value)
    }

    /// POSTs a request to `/interface.php`; expects HTTP 200 and returns the envelope.
    pub async fn post(&self, body: Value) -> Value {
        let (status, reply) = self.post_raw("/interface.php", body.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        reply
    }

    /// POSTs a request that must succeed; returns `returnData`.
    pub async fn ok(&self, body: Value) -> Value {
        let reply = self.post(body.clone()).await;
        assert_eq!(reply["returnValue"], 0, "request {body} answered {reply}");
        assert_eq!(reply["returnMsg"], "return successfully!");
        assert!(reply["returnData"].is_object(), "{reply}");
        reply["returnData"].clone()
    }

    /// POSTs a request that must fail with `code`; returns `returnMsg`.
    pub async fn fails(&self, body: Value, code: i64) -> String {
        let reply = self.post(body.clone()).await;
        assert_eq!(
            reply["returnValue"], code,
            "request {body} answered {reply}"
        );
        assert_eq!(reply["returnData"], json!([]), "{reply}");
        reply["returnMsg"].as_str().unwrap_or_default().to_owned()
    }

    // The apps' request shapes (key order as Android sends them).

    pub async fn request_addr(&self, userid: &str, groupid: &str, title: &str) -> Value {
        self.ok(
            json!({"Action":"RequestLVBAddr","userid":userid,"groupid":groupid,"title":title,
            "userinfo":{"nickname":format!("nick-{userid}"),"headpic":"http://img/h.png",
            "frontcover":"http://img/f.png","location":"Shenzhen"}}),
        )
        .await
    }

    pub async fn change_status(&self, userid: &str, status: i64) -> Value {
        self.post(json!({"Action":"ChangeStatus","userid":userid,"status":status}))
            .await
    }

    /// A room that is live: RequestLVBAddr, then ChangeStatus 0.
    pub async fn go_live(&self, userid: &str, groupid: &str) {
        self.request_addr(userid, groupid, &format!("title of {userid}"))
            .await;
        let reply = self.change_status(userid, 0).await;
        assert_eq!(reply["returnValue"], 0, "{reply}");
    }

    pub async fn like(&self, anchor: &str, optype: i64) -> Value {
        self.post(json!({"Action":"ChangeCount","userid":anchor,"type":1,"optype":optype,"flag":0,"fileid":""}))
            .await
    }

    pub async fn enter(&self, viewer: &str, anchor: &str, groupid: &str, flag: i64) -> Value {
        self.post(json!({"Action":"EnterGroup","userid":viewer,"liveuserid":anchor,"groupid":groupid,
            "nickname":format!("nick-{viewer}"),"headpic":format!("http://img/{viewer}.png"),"flag":flag}))
            .await
    }

    pub async fn quit(&self, viewer: &str, anchor: &str, groupid: &str, flag: i64) -> Value {
        self.post(json!({"Action":"QuitGroup","userid":viewer,"flag":flag,"liveuserid":anchor,"groupid":groupid}))
            .await
    }

    pub async fn fetch_list(&self, flag: i64, pageno: i64, pagesize: i64) -> Value {
        self.ok(json!({"flag":flag,"pageno":pageno,"pagesize":pagesize,"Action":"FetchList"}))
            .await
    }

    pub async fn members(&self, anchor: &str, groupid: &str, pageno: i64, pagesize: i64) -> Value {
        self.ok(
            json!({"Action":"FetchGroupMemberList","liveuserid":anchor,"groupid":groupid,
            "pageno":pageno,"pagesize":pagesize}),
        )
        .await
    }

    pub async fn user_info(&self, userid: &str, kind: i64, fileid: &str) -> Value {
        self.post(json!({"Action":"GetUserInfo","userid":userid,"type":kind,"fileid":fileid}))
            .await
    }

    /// Adds a recording directly through the store (as the recording
    /// callback would), ending at `end`.
    pub async fn add_recording(&self, userid: &str, fileid: &str, end: i64) {
        use minilvb_protocol::UserInfo;
        use minilvb_store::NewRecording;
        self.store
            .put_recording(&NewRecording {
                userid: userid.into(),
                fileid: fileid.into(),
                title: format!("recording {fileid}"),
                userinfo: UserInfo {
                    nickname: format!("nick-{userid}"),
                    ..UserInfo::default()
                },
                play_url: format!("http://vod.example.com/{fileid}.flv"),
                hls_play_url: format!("http://vod.example.com/{fileid}.m3u8"),
                start_time: end - 600,
                end_time: end,
            })
            .await
            .expect("recording stored");
    }
}

impl TestApp {
    /// Another process's store on the app's database (another node, the
    /// operator), caching no lists. Close it when done.
    pub async fn other_store(&self) -> Arc<dyn Store> {
        let settings = minilvb::config::DatabaseSettings {
            url: self.settings.database.url.clone(),
            list_snapshot_ms: 0,
            ..Default::default()
        };
        minilvb_store::connect(&settings, None)
            .await
            .expect("another process's store")
    }

    /// POSTs a request that must succeed with `{"result":0}`, the write actions' reply.
    pub async fn ack(&self, body: Value) {
        let data = self.ok(body).await;
        assert_eq!(data, json!({"result": 0}));
    }

    /// ChangeCount on a recording (flag 1), as the apps send it.
    pub async fn like_recording(&self, anchor: &str, fileid: &str, optype: i64) -> Value {
        self.post(json!({"Action":"ChangeCount","userid":anchor,"type":1,"optype":optype,"flag":1,"fileid":fileid}))
            .await
    }

    /// The room of `anchor` as GetUserInfo shows it (pusherinfo checked).
    pub async fn room(&self, anchor: &str) -> Value {
        let info = self
            .ok(json!({"Action":"GetUserInfo","userid":anchor,"type":0,"fileid":""}))
            .await;
        assert_pusherinfo(&info);
        assert_eq!(info["type"], 0, "{info}");
        info
    }

    /// A recording as GetUserInfo shows it (pusherinfo checked).
    pub async fn recording(&self, anchor: &str, fileid: &str) -> Value {
        let info = self
            .ok(json!({"Action":"GetUserInfo","userid":anchor,"type":1,"fileid":fileid}))
            .await;
        assert_pusherinfo(&info);
        assert_eq!(info["type"], 1, "{info}");
        info
    }

    /// Pages through FetchList as the app does (from page 1 until it has
    /// `totalcount` items or a page comes back empty), checking that every
    /// page has the same `totalcount`, is full except the last, and that
    /// every entry is a well-formed pusherinfo. Returns every entry.
    pub async fn fetch_all(&self, flag: i64, pagesize: i64) -> Vec<Value> {
        let mut all = Vec::new();
        let mut total = None;
        for pageno in 1.. {
            let data = self.fetch_list(flag, pageno, pagesize).await;
            let totalcount = data["totalcount"]
                .as_i64()
                .unwrap_or_else(|| panic!("totalcount is not a number: {data}"));
            assert_eq!(
                *total.get_or_insert(totalcount),
                totalcount,
                "page {pageno}"
            );
            let page = data["pusherlist"].as_array().expect("pusherlist").clone();
            let expected = (totalcount - all.len() as i64).clamp(0, pagesize);
            assert_eq!(
                page.len() as i64,
                expected,
                "flag {flag} page {pageno} of size {pagesize}: {data}"
            );
            page.iter().for_each(assert_pusherinfo);
            let empty = page.is_empty();
            all.extend(page);
            if empty || all.len() as i64 >= totalcount {
                break;
            }
        }
        assert_eq!(
            Some(all.len() as i64),
            total,
            "totalcount equals what is listed"
        );
        all
    }

    /// The userids of every member, in list order (all pages).
    pub async fn member_ids(&self, anchor: &str, groupid: &str) -> Vec<String> {
        let data = self.members(anchor, groupid, 1, 100).await;
        assert_member_list(&data);
        let ids: Vec<String> = data["memberlist"]
            .as_array()
            .expect("memberlist")
            .iter()
            .map(|m| m["userid"].as_str().expect("userid").to_owned())
            .collect();
        assert_eq!(data["totalcount"], ids.len() as i64, "{data}");
        ids
    }

    /// The invariant of issue 2: a room's `viewercount` is its member count.
    pub async fn assert_room_viewers(&self, anchor: &str, groupid: &str, expected: i64) {
        let room = self.room(anchor).await;
        let members = self.members(anchor, groupid, 1, 100).await;
        assert_eq!(room["viewercount"], expected, "{room}");
        assert_eq!(members["totalcount"], expected, "{members}");
    }

    /// The same for a recording, whose members are filed under its fileid.
    pub async fn assert_recording_viewers(&self, anchor: &str, fileid: &str, expected: i64) {
        let recording = self.recording(anchor, fileid).await;
        let members = self.members(anchor, fileid, 1, 100).await;
        assert_eq!(recording["viewercount"], expected, "{recording}");
        assert_eq!(members["totalcount"], expected, "{members}");
    }
}

/// The VJ of room `room` in the multi-node tests.
pub fn anchor(room: usize) -> String {
    format!("anchor-{room}")
}

/// The group id of room `room` in the multi-node tests.
pub fn group(room: usize) -> String {
    format!("@TGS#room{room}")
}

/// A like (`optype` 0) or unlike (1) of room `room`, as the apps send it.
pub fn like_body(room: usize, optype: i64) -> Value {
    json!({"Action":"ChangeCount","userid":anchor(room),"type":1,"optype":optype,"flag":0,"fileid":""})
}

/// A write action's reply (as returned by `post`): success, `{"result":0}`.
pub fn assert_acked(reply: &Value) {
    assert_eq!(reply["returnValue"], 0, "{reply}");
    assert_eq!(reply["returnMsg"], "return successfully!", "{reply}");
    assert_eq!(reply["returnData"], json!({"result": 0}), "{reply}");
}

/// An error reply (as returned by `post`) with `code`; returns `returnMsg`.
pub fn assert_code(reply: &Value, code: i64) -> String {
    assert_eq!(reply["returnValue"], code, "{reply}");
    if code != 0 {
        assert_eq!(reply["returnData"], json!([]), "{reply}");
    }
    reply["returnMsg"].as_str().unwrap_or_default().to_owned()
}

/// The database URL of a fresh database for `backend`: a file under `dir`
/// for SQLite, a new database on the server otherwise, dropped when the
/// [`Cli`] whose `dir` this is goes (or with the test process's leftovers).
pub fn database_url(backend: Backend, dir: &Path) -> String {
    if backend == Backend::Sqlite {
        return format!("sqlite:{}", dir.join("test.db").display());
    }
    // Callers may be in a runtime or not: create it on a thread of its own.
    let database = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(TestDatabase::create(backend))
    })
    .join()
    .expect("test database created");
    let url = database.url.clone();
    DATABASES
        .lock()
        .unwrap()
        .push((dir.to_path_buf(), database));
    url
}

/// Databases made by [`database_url`], with the directory they belong to.
static DATABASES: std::sync::Mutex<Vec<(std::path::PathBuf, TestDatabase)>> =
    std::sync::Mutex::new(Vec::new());

impl Drop for Cli {
    fn drop(&mut self) {
        let dir = self.dir.path();
        let mine: Vec<_> = {
            let mut all = DATABASES.lock().unwrap();
            let (mine, others) = std::mem::take(&mut *all)
                .into_iter()
                .partition(|(owner, _)| owner.starts_with(dir));
            *all = others;
            mine
        };
        drop(mine);
    }
}

/// A FetchGroupMemberList reply: `totalcount` a number, each member
/// `{userid, nickname, headpic}` strings.
pub fn assert_member_list(data: &Value) {
    assert!(data["totalcount"].is_i64(), "{data}");
    for member in data["memberlist"].as_array().expect("memberlist") {
        let object = member.as_object().expect("meminfo object");
        assert_eq!(object.len(), 3, "{member}");
        for key in ["userid", "nickname", "headpic"] {
            assert!(object[key].is_string(), "{key}: {member}");
        }
    }
}

/// A recording as FetchList and GetUserInfo show it, made by `add_recording`.
pub fn assert_recording_info(info: &Value, anchor: &str, fileid: &str, end: i64) {
    assert_pusherinfo(info);
    assert_eq!(info["type"], 1, "{info}");
    assert_eq!(info["status"], "0", "{info}");
    assert_eq!(info["userid"], anchor, "{info}");
    assert_eq!(info["fileid"], fileid, "{info}");
    assert_eq!(info["groupid"], fileid, "groupid is the fileid: {info}");
    assert_eq!(info["timestamp"], end, "timestamp is the end time: {info}");
    assert_eq!(info["title"], format!("recording {fileid}"), "{info}");
    assert_eq!(
        info["playurl"],
        format!("http://vod.example.com/{fileid}.flv"),
        "{info}"
    );
    assert_eq!(
        info["hls_play_url"],
        format!("http://vod.example.com/{fileid}.m3u8"),
        "{info}"
    );
    assert_eq!(info["userinfo"]["nickname"], format!("nick-{anchor}"));
}

/// A push URL taken apart: `rtmp://DOMAIN/live/STREAM?QUERY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUrl {
    pub domain: String,
    pub stream_id: String,
    /// Query parameters in URL order.
    pub query: Vec<(String, String)>,
}

impl PushUrl {
    pub fn parse(url: &str) -> Self {
        let rest = url
            .strip_prefix("rtmp://")
            .unwrap_or_else(|| panic!("not rtmp: {url}"));
        let (domain, rest) = rest.split_once("/live/").expect("/live/ path");
        let (stream_id, query) = rest.split_once('?').expect("a query");
        let query = query
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').expect("key=value");
                (k.to_owned(), v.to_owned())
            })
            .collect();
        Self {
            domain: domain.to_owned(),
            stream_id: stream_id.to_owned(),
            query,
        }
    }

    pub fn param(&self, key: &str) -> &str {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {key} in {self:?}"))
    }

    /// Checks the anti-leech signature independently of minilvb's code:
    /// `txTime` = `expires_at` in lower-case hex, `txSecret = md5(KEY + STREAM + txTime)`.
    pub fn assert_signed(&self, push_key: &str, expires_at: i64) {
        use md5::{Digest, Md5};
        let tx_time = self.param("txTime");
        assert_eq!(tx_time, format!("{expires_at:x}"), "{self:?}");
        let digest = Md5::digest(format!("{push_key}{}{tx_time}", self.stream_id).as_bytes());
        assert_eq!(self.param("txSecret"), hex::encode(digest), "{self:?}");
    }
}

/// A stream id the cloud takes and a URL carries unescaped.
pub fn assert_url_safe_stream_id(id: &str) {
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "stream id {id:?} is not URL-safe"
    );
}

/// The `(userid, type, fileid)` of each entry, to compare lists.
pub fn keys(list: &[Value]) -> Vec<(String, i64, String)> {
    list.iter()
        .map(|info| {
            (
                info["userid"].as_str().unwrap_or_default().to_owned(),
                info["type"].as_i64().unwrap_or(-1),
                info["fileid"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The userids of each entry, in order.
pub fn userids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|info| info["userid"].as_str().unwrap_or_default().to_owned())
        .collect()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Every protocol reply: `returnValue` an integer, `returnMsg` a string,
/// `returnData` an object on success and `[]` on error.
pub fn assert_envelope(reply: &Value) {
    let code = reply["returnValue"]
        .as_i64()
        .unwrap_or_else(|| panic!("returnValue: {reply}"));
    assert!(reply["returnMsg"].is_string(), "returnMsg: {reply}");
    if code == 0 {
        assert!(reply["returnData"].is_object(), "returnData: {reply}");
    } else {
        assert_eq!(reply["returnData"], json!([]), "returnData: {reply}");
    }
    assert_eq!(
        reply.as_object().map(|o| o.len()),
        Some(3),
        "extra keys: {reply}"
    );
}

/// Checks one pusherinfo's keys and JSON types exactly as the apps read them.
pub fn assert_pusherinfo(info: &Value) {
    let object = info
        .as_object()
        .unwrap_or_else(|| panic!("pusherinfo: {info}"));
    for key in [
        "userid",
        "groupid",
        "title",
        "playurl",
        "hls_play_url",
        "fileid",
        "status",
    ] {
        assert!(object[key].is_string(), "{key} is not a string: {info}");
    }
    for key in ["timestamp", "type", "viewercount", "likecount"] {
        assert!(object[key].is_i64(), "{key} is not an integer: {info}");
    }
    let status = object["status"].as_str().unwrap_or_default();
    assert!(status == "0" || status == "1", "status: {info}");
    let userinfo = object["userinfo"]
        .as_object()
        .unwrap_or_else(|| panic!("userinfo: {info}"));
    for key in ["nickname", "headpic", "frontcover", "location"] {
        assert!(userinfo[key].is_string(), "userinfo.{key}: {info}");
    }
    assert_eq!(object.len(), 12, "unexpected keys: {info}");
}

/// The `minilvb` binary run in a temporary working directory, with no
/// `MINILVB_*` or `RUST_LOG` from the test's own environment.
pub struct Cli {
    pub dir: tempfile::TempDir,
}

impl Cli {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the working directory.
    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).expect("file written");
    }

    /// The command, ready to run: `args` and `env` on top of a clean environment.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_minilvb"));
        command.current_dir(self.dir.path()).args(args);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("MINILVB_") || key == "RUST_LOG" {
                command.env_remove(key.as_ref());
            }
        }
        command.envs(env.iter().copied());
        command
    }

    /// Runs to completion; returns (success, stdout, stderr).
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
        let output = self
            .command(args, env)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("minilvb runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// `minilvb config` that must succeed; returns the printed settings as TOML.
    pub fn config(&self, args: &[&str], env: &[(&str, &str)]) -> (toml::Table, String) {
        let mut all = args.to_vec();
        all.push("config");
        let (ok, stdout, stderr) = self.run(&all, env);
        assert!(ok, "minilvb {all:?} failed: {stderr}");
        let table: toml::Table = stdout
            .parse()
            .unwrap_or_else(|e| panic!("config output is not TOML ({e}): {stdout}"));
        (table, stdout)
    }

    /// A run that must fail, with a message on stderr naming `setting`.
    pub fn fails_naming(&self, args: &[&str], env: &[(&str, &str)], setting: &str) -> String {
        let (ok, stdout, stderr) = self.run(args, env);
        assert!(!ok, "minilvb {args:?} {env:?} succeeded: {stdout}");
        assert!(
            stderr.contains(setting),
            "minilvb {args:?} {env:?}: the message does not name {setting}: {stderr}"
        );
        stderr
    }
}

/// A `minilvb serve` process with JSON logs, its stderr read line by line.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub addr: String,
    /// Every log line so far (more arrive through `lines`).
    pub log: Vec<String>,
    lines: std::sync::mpsc::Receiver<String>,
}

/// How long a process may take to start or stop before the test fails.
const PROCESS_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

impl Cli {
    /// Starts `minilvb --log-format json ARGS` and waits for its
    /// "minilvb serving" log line, which gives the bound address.
    pub fn serve(&self, args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        use std::io::BufRead;
        let mut all = vec!["--log-format", "json"];
        all.extend_from_slice(args);
        let mut child = self
            .command(&all, env)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("minilvb starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ServerProcess {
            child,
            addr: String::new(),
            log: Vec::new(),
            lines,
        };
        while server.addr.is_empty() {
            let line = server
                .next_line()
                .unwrap_or_else(|| panic!("minilvb stopped before serving: {:?}", server.log));
            if let Ok(event) = serde_json::from_str::<Value>(&line) {
                if event["message"] == "minilvb serving" {
                    server.addr = event["address"].as_str().expect("address").to_owned();
                }
            }
        }
        server
    }
}

impl ServerProcess {
    /// The next log line; `None` once stderr is closed.
    fn next_line(&mut self) -> Option<String> {
        use std::sync::mpsc::RecvTimeoutError;
        match self.lines.recv_timeout(PROCESS_DEADLINE) {
            Ok(line) => {
                self.log.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                panic!(
                    "minilvb said nothing for {PROCESS_DEADLINE:?}: {:?}",
                    self.log
                );
            }
        }
    }

    /// Sends SIGTERM, waits for the process to exit; returns its exit
    /// status and its complete log.
    pub fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        while self.next_line().is_some() {}
        let status = self.child.wait().expect("minilvb exits");
        (status, std::mem::take(&mut self.log))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A failed test must not leave the server running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain blocking HTTP/1.1 GET; returns the whole response text.
pub fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(PROCESS_DEADLINE))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request written");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    response
}

/// `table["section"]["key"]` as a string (or the TOML of a non-string).
pub fn setting(table: &toml::Table, path: &str) -> String {
    let (section, key) = path.split_once('.').expect("section.key");
    match &table[section][key] {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Writes a test once; it runs on every backend, as `NAME::sqlite`,
/// `NAME::postgres` and `NAME::mysql`. The body gets the backend as
/// `$backend` and spawns what it needs (`TestApp::spawn`, or
/// `TestDatabase::create` for a bare fresh database). A server backend that
/// cannot be reached is skipped with one line on stderr per process, or
/// fails the test when `MINILVB_TEST_REQUIRE_BACKENDS=1`.
#[macro_export]
macro_rules! backend_test {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($backend: $crate::common::Backend) $body

            // Attributes such as `#[ignore = "why"]` apply to each backend's test.
            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::common::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::common::Backend::Postgres.available().await {
                    run($crate::common::Backend::Postgres).await
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                if $crate::common::Backend::Mysql.available().await {
                    run($crate::common::Backend::Mysql).await
                }
            }
        }
    };
}

impl TestApp {
    /// The server's "now".
    pub fn clock_now(&self) -> i64 {
        use minilvb::clock::Clock;
        self.clock.now()
    }
}

impl TestApp {
    /// POSTs a request to `/interface.php` with extra headers; expects HTTP
    /// 200 and a valid envelope, and returns it.
    pub async fn post_with_headers(&self, headers: &[(&str, &str)], body: Value) -> Value {
        let mut request = self
            .client
            .post(format!("{}/interface.php", self.base))
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request sent");
        assert_eq!(response.status(), StatusCode::OK);
        let reply: Value = response.json().await.expect("a JSON reply");
        assert_envelope(&reply);
        reply
    }
}
