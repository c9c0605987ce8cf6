//! The moderation commands at the cloud: the real binary, with `cloud_api`
//! pointed at a fake of Tencent Cloud API 3.0 that verifies every request's
//! TC3 signature, and what they change here.

use std::process::Output;

use minilvb_cloud::fake::{CallRecord, FakeCloud, Fault, StreamKey};
use serde_json::{Value, json};

use crate::backend_test;
use crate::common::*;

pub const SECRET_ID: &str = "AKIDminilvbFakeCloud";
pub const SECRET_KEY: &str = "fake-cloud-Sup3rSecret-key";
/// The push domain of the test settings (BIZID 8888, derived).
pub const PUSH_DOMAIN: &str = "8888.livepush2.myqcloud.com";
const LIVE_VERSION: &str = "2018-08-01";
const VOD_VERSION: &str = "2018-07-17";
/// The fake's first RequestId; the n-th ends in n, in hex.
const FIRST_REQUEST_ID: &str = "fa4ec10d-0000-4000-8000-000000000001";

pub async fn fake_cloud() -> FakeCloud {
    FakeCloud::start(SECRET_ID, SECRET_KEY)
        .await
        .expect("the fake cloud starts")
}

/// The environment that points `cloud_api` at `fake`, signing with `key`.
fn cloud_env(fake: &FakeCloud, key: &str) -> Vec<(String, String)> {
    vec![
        ("MINILVB_CLOUD_API__SECRET_ID".into(), SECRET_ID.into()),
        ("MINILVB_CLOUD_API__SECRET_KEY".into(), key.into()),
        ("MINILVB_CLOUD_API__LIVE_ENDPOINT".into(), fake.base_url()),
        ("MINILVB_CLOUD_API__VOD_ENDPOINT".into(), fake.base_url()),
    ]
}

/// Runs `minilvb ARGS` on the app's database, with `env` and nothing else
/// of `MINILVB_*`.
fn minilvb(app: &TestApp, env: &[(String, String)], args: &[&str]) -> Output {
    let cli = Cli::new();
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([("RUST_LOG", "warn")])
        .collect();
    cli.command(
        &[&["--database-url", &app.settings.database.url], args].concat(),
        &env,
    )
    .stdin(std::process::Stdio::null())
    .output()
    .expect("minilvb runs")
}

fn run_ok(app: &TestApp, env: &[(String, String)], args: &[&str]) -> String {
    let out = minilvb(app, env, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "minilvb {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn run_json(app: &TestApp, env: &[(String, String)], args: &[&str]) -> Value {
    let stdout = run_ok(app, env, &[args, &["--json"]].concat());
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// Runs a command that must exit 1; returns (stdout, stderr).
fn run_fails(app: &TestApp, env: &[(String, String)], args: &[&str]) -> (String, String) {
    let out = minilvb(app, env, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "minilvb {args:?}: {stdout}{stderr}"
    );
    (stdout, stderr)
}

/// The one call of `action`, checked as the fake saw it: signed right, of
/// the action's API version, answered.
fn only_call(fake: &FakeCloud, action: &str, version: &str) -> CallRecord {
    let calls = fake.calls_of(action);
    assert_eq!(calls.len(), 1, "{action}: {calls:?}");
    let call = calls.into_iter().next().unwrap();
    assert!(call.verified, "the signature did not verify: {call:?}");
    assert_eq!(call.version, version, "{call:?}");
    assert_eq!(call.content_type, "application/json; charset=utf-8");
    assert_eq!(
        call.host,
        fake.addr().to_string(),
        "the signed Host: {call:?}"
    );
    assert_eq!(call.outcome, "ok", "{call:?}");
    call
}

fn stream_params(stream: &str) -> Value {
    json!({"DomainName": PUSH_DOMAIN, "AppName": "live", "StreamName": stream})
}

async fn spawn(backend: Backend) -> TestApp {
    // The commands run in other processes: read the lists from the database.
    TestApp::spawn_with(backend, |s| s.database.list_snapshot_ms = 0).await
}

backend_test! {
    async fn rooms_offline_cuts_the_stream_at_the_cloud_then_sets_the_room_offline(backend) {
        let fake = fake_cloud().await;
        let app = spawn(backend).await;
        let env = cloud_env(&fake, SECRET_KEY);
        app.go_live("vj-1", "g1").await;

        let out = run_ok(&app, &env, &["rooms", "offline", "vj-1", "--reason", "app crashed"]);
        assert_eq!(
            out,
            format!("room of vj-1 is offline; cut at the cloud (RequestId {FIRST_REQUEST_ID})\n")
        );
        let drop = only_call(&fake, "DropLiveStream", LIVE_VERSION);
        assert_eq!(drop.params, stream_params("8888_vj_1"));
        assert_eq!(fake.dropped_streams(), [StreamKey::new(PUSH_DOMAIN, "live", "8888_vj_1")]);
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 0);

        // Throttled twice: retried, and done all the same.
        app.go_live("vj-1", "g1").await;
        fake.fail_next(2, Fault::request_limit_exceeded());
        let outcome = run_json(&app, &env, &["rooms", "offline", "vj-1"]);
        assert_eq!(outcome["action"], "force_offline");
        assert_eq!(outcome["target"], "vj-1");
        assert_eq!(outcome["cloud"]["state"], "done");
        let request_id = outcome["cloud"]["request_id"].as_str().unwrap();
        assert!(outcome["message"].as_str().unwrap().contains(request_id), "{outcome}");
        let drops = fake.calls_of("DropLiveStream");
        let outcomes: Vec<&str> = drops.iter().map(|c| c.outcome.as_str()).collect();
        assert_eq!(outcomes, ["ok", "RequestLimitExceeded", "RequestLimitExceeded", "ok"]);
        assert!(drops.iter().all(|c| c.verified));

        run_fails(&app, &env, &["rooms", "offline", "nobody"]);
        assert_eq!(fake.calls_of("DropLiveStream").len(), 4, "no call for a room that does not exist");

        let audit = run_json(&app, &env, &["audit"]);
        let latest = &audit[0];
        assert_eq!(latest["action"], "force_offline");
        assert_eq!(latest["target"], "vj-1");
        assert!(latest["actor"].as_str().unwrap().starts_with("cli:"), "{latest}");
        assert!(latest["outcome"].as_str().unwrap().contains(request_id), "{latest}");
        assert_eq!(audit[1]["reason"], "app crashed");
        assert_eq!(audit.as_array().map(Vec::len), Some(2), "{audit}");
        let table = run_ok(&app, &env, &["audit", "--limit", "1"]);
        assert!(table.starts_with("AT (UTC)") && table.contains("force_offline"), "{table}");
        assert_eq!(table.lines().count(), 2, "{table}");
    }
}

backend_test! {
    async fn users_ban_forbids_and_cuts_the_stream_and_unban_resumes_it(backend) {
        let fake = fake_cloud().await;
        let app = spawn(backend).await;
        let env = cloud_env(&fake, SECRET_KEY);
        app.go_live("spammer", "g1").await;
        let key = StreamKey::new(PUSH_DOMAIN, "live", "8888_spammer");

        let out = run_ok(&app, &env, &["users", "ban", "spammer", "--reason", "spam", "--until", "7d"]);
        assert!(out.contains("spammer is banned until "), "{out}");
        assert!(out.contains("forbidden and cut at the cloud (RequestId "), "{out}");
        let actions: Vec<String> = fake.calls().into_iter().map(|c| c.action).collect();
        assert_eq!(actions, ["ForbidLiveStream", "DropLiveStream"], "forbidden first, then cut");
        let forbid = only_call(&fake, "ForbidLiveStream", LIVE_VERSION);
        only_call(&fake, "DropLiveStream", LIVE_VERSION);
        let forbidden = fake.forbidden_stream(PUSH_DOMAIN, "live", "8888_spammer").expect("forbidden");
        assert_eq!(forbidden.reason.as_deref(), Some("spam"));
        let resume_time = forbidden.resume_time.clone().expect("a ResumeTime");
        let mut expected = stream_params("8888_spammer");
        expected["ResumeTime"] = json!(resume_time);
        expected["Reason"] = json!("spam");
        assert_eq!(forbid.params, expected);
        let week_from_signing = forbid.timestamp.unwrap() + 7 * 86_400;
        assert!((forbidden.resume_at - week_from_signing).abs() <= 5, "{forbidden:?}");
        assert_eq!(fake.dropped_streams(), [key]);

        // Here: banned until the same moment, and refused a push URL.
        let bans = run_json(&app, &env, &["users", "banned"]);
        assert_eq!(bans[0]["userid"], "spammer");
        assert_eq!(bans[0]["ends_at"], forbidden.resume_at);
        assert!(run_ok(&app, &env, &["users", "banned"]).contains("ENDS (UTC)"));
        app.fails(json!({"Action":"RequestLVBAddr","userid":"spammer","groupid":"g2","title":"x"}), 4004).await;

        let outcome = run_json(&app, &env, &["users", "unban", "spammer", "--reason", "appeal"]);
        assert_eq!(outcome["cloud"]["state"], "done");
        assert!(outcome["message"].as_str().unwrap().contains("resumed at the cloud (RequestId "), "{outcome}");
        let resume = only_call(&fake, "ResumeLiveStream", LIVE_VERSION);
        assert_eq!(resume.params, stream_params("8888_spammer"));
        assert_eq!(fake.forbidden_stream(PUSH_DOMAIN, "live", "8888_spammer"), None);
        app.request_addr("spammer", "g2", "back").await;

        // Without an end: no ResumeTime, the cloud's own default.
        run_ok(&app, &env, &["users", "ban", "spammer", "--reason", "again"]);
        let forbids = fake.calls_of("ForbidLiveStream");
        assert_eq!(forbids.len(), 2);
        assert!(forbids[1].verified);
        assert_eq!(forbids[1].params.get("ResumeTime"), None, "{:?}", forbids[1]);
        assert_eq!(run_json(&app, &env, &["users", "banned"])[0]["ends_at"], Value::Null);
        assert!(run_ok(&app, &env, &["users", "banned"]).contains("until lifted"));

        // Ends the cloud cannot take are refused before anything is sent.
        let calls = fake.calls().len();
        let (_, stderr) = run_fails(&app, &env, &["users", "ban", "other", "--reason", "r", "--until", "91d"]);
        assert!(stderr.contains("90 days at most"), "{stderr}");
        let (_, stderr) = run_fails(&app, &env, &["users", "ban", "other", "--reason", "r", "--until", "2020-01-01 00:00"]);
        assert!(stderr.contains("in the future"), "{stderr}");
        let (_, stderr) = run_fails(&app, &env, &["users", "ban", "other", "--reason", "r", "--until", "soon"]);
        assert!(stderr.contains("2026-12-31T18:00:00Z"), "{stderr}");
        assert_eq!(fake.calls().len(), calls);
        assert_eq!(run_json(&app, &env, &["users", "banned"]).as_array().map(Vec::len), Some(1));
        // A reason is required.
        let out = minilvb(&app, &env, &["users", "ban", "other"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("--reason"));
        // The database alone takes any end.
        let outcome = run_json(&app, &env, &["users", "ban", "other", "--reason", "r", "--until", "120d", "--local-only"]);
        assert_eq!(outcome["cloud"]["state"], "skipped");
        assert_eq!(fake.calls().len(), calls);
    }
}

backend_test! {
    async fn recordings_delete_deletes_the_media_on_vod_then_the_recording(backend) {
        let fake = fake_cloud().await;
        let app = spawn(backend).await;
        let env = cloud_env(&fake, SECRET_KEY);
        app.add_recording("vj", "rec-1", T0 - 200).await;
        app.add_recording("vj", "rec-2", T0 - 100).await;
        fake.add_media("rec-1", None);

        let out = run_ok(&app, &env, &["recordings", "delete", "vj", "rec-1", "--reason", "copyright"]);
        assert!(out.contains("recording rec-1 of vj deleted; deleted at the cloud (RequestId "), "{out}");
        let delete = only_call(&fake, "DeleteMedia", VOD_VERSION);
        assert_eq!(delete.params, json!({"FileId": "rec-1"}));
        assert!(!fake.has_media("rec-1"));
        assert_eq!(app.fetch_list(2, 1, 20).await["totalcount"], 1);

        // Gone at the cloud already: deleted here all the same.
        let outcome = run_json(&app, &env, &["recordings", "delete", "vj", "rec-2"]);
        assert_eq!(outcome["cloud"]["state"], "nothing_there", "{outcome}");
        assert_eq!(fake.calls_of("DeleteMedia")[1].outcome, "ResourceNotFound.FileNotExist");
        assert_eq!(app.fetch_list(2, 1, 20).await["totalcount"], 0);
        let (_, stderr) = run_fails(&app, &env, &["recordings", "delete", "vj", "rec-2"]);
        assert!(stderr.contains("no recording rec-2"), "{stderr}");
        assert_eq!(fake.calls_of("DeleteMedia").len(), 2);
    }
}

backend_test! {
    async fn a_cloud_refusal_exits_1_and_leaves_the_database_unchanged(backend) {
        let fake = fake_cloud().await;
        let app = spawn(backend).await;
        // A key the cloud does not know: every signature fails to verify.
        let wrong = cloud_env(&fake, "not-the-key");
        app.go_live("vj", "g1").await;
        app.add_recording("vj", "rec-1", T0 - 100).await;
        fake.add_media("rec-1", None);

        let (_, stderr) = run_fails(&app, &wrong, &["rooms", "offline", "vj", "--reason", "r1"]);
        assert!(stderr.contains("the cloud refused DropLiveStream: AuthFailure.SignatureFailure"), "{stderr}");
        assert!(stderr.contains(&format!("(RequestId {FIRST_REQUEST_ID})")), "{stderr}");
        assert!(stderr.contains("nothing was changed here"), "{stderr}");
        let (stdout, _) = run_fails(&app, &wrong, &["users", "ban", "vj", "--reason", "r2", "--json"]);
        let error: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        assert_eq!(error["code"], "AuthFailure.SignatureFailure");
        assert!(error["request_id"].as_str().is_some_and(|id| error["error"].as_str().unwrap().contains(id)), "{error}");
        run_fails(&app, &wrong, &["recordings", "delete", "vj", "rec-1"]);
        assert!(fake.calls().iter().all(|c| !c.verified && c.outcome == "AuthFailure.SignatureFailure"));
        assert_eq!(fake.calls().len(), 3, "a refusal about the credentials is not retried");

        // Nothing changed here or there.
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 1);
        assert_eq!(app.fetch_list(2, 1, 20).await["totalcount"], 1);
        assert_eq!(run_json(&app, &wrong, &["users", "banned"]), json!([]));
        assert!(fake.has_media("rec-1"));
        assert!(fake.dropped_streams().is_empty());
        // Each refusal is in the audit log.
        let audit = run_json(&app, &wrong, &["audit"]);
        let failed: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(failed, ["delete_recording", "ban", "force_offline"]);
        for entry in audit.as_array().unwrap() {
            let outcome = entry["outcome"].as_str().unwrap();
            assert!(outcome.starts_with("failed: ") && outcome.contains("AuthFailure.SignatureFailure"), "{entry}");
        }

        // --local-only: the database alone, the cloud not asked.
        let outcome = run_json(&app, &wrong, &["rooms", "offline", "vj", "--local-only"]);
        assert_eq!(outcome["cloud"], json!({"state": "skipped"}));
        assert!(outcome["message"].as_str().unwrap().contains("not asked"), "{outcome}");
        run_ok(&app, &wrong, &["users", "ban", "vj", "--reason", "r", "--local-only"]);
        run_ok(&app, &wrong, &["recordings", "delete", "vj", "rec-1", "--local-only"]);
        run_ok(&app, &wrong, &["users", "unban", "vj", "--local-only"]);
        assert_eq!(fake.calls().len(), 3);
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 0);
        assert_eq!(app.fetch_list(2, 1, 20).await["totalcount"], 0);
        assert_eq!(run_json(&app, &wrong, &["audit"]).as_array().map(Vec::len), Some(7));
    }
}

backend_test! {
    async fn without_keys_moderation_acts_on_the_database_only(backend) {
        let fake = fake_cloud().await;
        let app = spawn(backend).await;
        app.go_live("vj", "g1").await;
        let outcome = run_json(&app, &[], &["rooms", "offline", "vj"]);
        assert_eq!(outcome["cloud"], json!({"state": "not_configured"}));
        assert_eq!(
            outcome["message"],
            "room of vj is offline; the cloud API is not configured: database only"
        );
        run_ok(&app, &[], &["users", "ban", "vj", "--reason", "r", "--until", "365d"]);
        run_ok(&app, &[], &["users", "unban", "vj"]);
        assert!(fake.calls().is_empty());
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 0);

        // Start-up says so, and runs no sweep.
        let cli = Cli::new();
        let url = database_url(backend, cli.dir.path());
        let server = cli.serve(&["--listen", "127.0.0.1:0", "--database-url", &url], &[]);
        let (status, log) = server.terminate();
        assert!(status.success(), "{log:?}");
        let log = log.join("\n");
        assert!(log.contains("moderation acts on the database only, and the stream-status sweep is off"), "{log}");
        assert!(!log.contains("this node now runs the stream-status sweep"), "{log}");
        assert!(fake.calls().is_empty());
    }
}

backend_test! {
    async fn with_keys_start_up_names_the_endpoints_and_the_sweep_but_never_the_key(backend) {
        let fake = fake_cloud().await;
        let cli = Cli::new();
        let url = database_url(backend, cli.dir.path());
        let mut env = cloud_env(&fake, SECRET_KEY);
        env.push(("MINILVB_CLOUD_API__SWEEP_SECS".into(), "1".into()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let server = cli.serve(&["--listen", "127.0.0.1:0", "--database-url", &url], &env);
        // Poll for the first sweep; the fake logs each request as it comes.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while fake.calls_of("DescribeLiveStreamOnlineList").is_empty() {
            assert!(std::time::Instant::now() < deadline, "no sweep within 30 s");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (status, log) = server.terminate();
        assert!(status.success(), "{log:?}");
        let events: Vec<Value> = log.iter().filter_map(|line| serde_json::from_str(line).ok()).collect();
        let configured = events
            .iter()
            .find(|e| e["message"] == "cloud API configured: moderation acts at the cloud, then in the database")
            .unwrap_or_else(|| panic!("{log:?}"));
        assert_eq!(configured["live_endpoint"], fake.base_url());
        assert_eq!(configured["vod_endpoint"], fake.base_url());
        assert_eq!(configured["sweep"], "every 1 s, a room offline after 3 misses");
        let text = log.join("\n");
        assert!(text.contains("this node now runs the stream-status sweep"), "{text}");
        assert!(text.contains("stream sweep lease released"), "{text}");
        assert!(!text.contains(SECRET_KEY) && !text.contains("Sup3rSecret"), "the key was logged: {text}");
        let list = &fake.calls_of("DescribeLiveStreamOnlineList")[0];
        assert!(list.verified, "{list:?}");
        assert_eq!(list.params["DomainName"], "8888.livepush2.myqcloud.com");
        assert_eq!(list.params["AppName"], "live");
    }
}

#[test]
fn config_shows_the_cloud_api_settings_with_the_key_redacted() {
    let cli = Cli::new();
    let (table, _) = cli.config(&[], &[]);
    assert_eq!(setting(&table, "cloud_api.secret_id"), "");
    assert_eq!(setting(&table, "cloud_api.secret_key"), "");
    assert_eq!(
        setting(&table, "cloud_api.live_endpoint"),
        "https://live.tencentcloudapi.com"
    );
    assert_eq!(
        setting(&table, "cloud_api.vod_endpoint"),
        "https://vod.tencentcloudapi.com"
    );
    assert_eq!(setting(&table, "cloud_api.timeout_secs"), "10");
    assert_eq!(setting(&table, "cloud_api.max_attempts"), "3");
    assert_eq!(setting(&table, "cloud_api.sweep_secs"), "60");
    assert_eq!(setting(&table, "cloud_api.sweep_misses"), "3");
    let keys = [
        ("MINILVB_CLOUD_API__SECRET_ID", SECRET_ID),
        ("MINILVB_CLOUD_API__SECRET_KEY", SECRET_KEY),
    ];
    let (table, text) = cli.config(&[], &keys);
    assert_eq!(setting(&table, "cloud_api.secret_id"), SECRET_ID);
    assert_eq!(setting(&table, "cloud_api.secret_key"), "<redacted>");
    assert!(!text.contains(SECRET_KEY), "{text}");
}

#[test]
fn unusable_cloud_api_settings_stop_start_up_naming_the_setting() {
    let cli = Cli::new();
    for (env, setting) in [
        (
            vec![("MINILVB_CLOUD_API__SECRET_ID", SECRET_ID)],
            "cloud_api.secret_key",
        ),
        (
            vec![("MINILVB_CLOUD_API__SECRET_KEY", SECRET_KEY)],
            "cloud_api.secret_id",
        ),
        (
            vec![(
                "MINILVB_CLOUD_API__LIVE_ENDPOINT",
                "live.tencentcloudapi.com",
            )],
            "cloud_api.live_endpoint",
        ),
        (
            vec![(
                "MINILVB_CLOUD_API__VOD_ENDPOINT",
                "https://vod.tencentcloudapi.com/v2",
            )],
            "cloud_api.vod_endpoint",
        ),
        (
            vec![("MINILVB_CLOUD_API__MAX_ATTEMPTS", "0")],
            "cloud_api.max_attempts",
        ),
        (
            vec![("MINILVB_CLOUD_API__TIMEOUT_SECS", "0")],
            "cloud_api.timeout_secs",
        ),
        (
            vec![("MINILVB_CLOUD_API__SWEEP_MISSES", "0")],
            "cloud_api.sweep_misses",
        ),
    ] {
        let stderr = cli.fails_naming(&["config"], &env, setting);
        assert!(!stderr.contains(SECRET_KEY), "{stderr}");
    }
}

backend_test! {
    async fn without_the_sweep_ended_bans_are_lifted_all_the_same(backend) {
        let app = spawn(backend).await;
        app.go_live("vj", "g1").await;
        app.store.ban("vj", "a day off", T0 - 86_400, Some(T0 - 10)).await.unwrap();
        assert_eq!(app.fetch_list(4, 1, 20).await["totalcount"], 0, "a banned user's room is not listed");
        // A node starting now lifts it at once (the running one, within a minute).
        let node = app.spawn_sibling(|_| {}).await;
        assert!(node.sweep.is_none());
        // The audit entry is written after the ban is gone: wait for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let entries = loop {
            let (_, entries) = app.store.audit_log(0, 10).await.unwrap();
            if entries.iter().any(|e| e.action == "unban") {
                break entries;
            }
            assert!(std::time::Instant::now() < deadline, "the ended ban was never lifted");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert!(app.store.bans().await.unwrap().is_empty());
        assert_eq!(app.fetch_list(4, 1, 20).await["totalcount"], 1);
        let lifted: Vec<_> = entries.iter().filter(|e| e.action == "unban").collect();
        assert_eq!(lifted.len(), 1, "lifted once, by one node: {entries:?}");
        assert_eq!((lifted[0].actor.as_str(), lifted[0].target.as_str()), ("server", "vj"));
        node.stop().await;
    }
}
