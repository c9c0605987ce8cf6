//! The cloud's stream event callbacks: authenticity, freshness, order,
//! idempotence, recordings and screenshots, as the cloud sends them.

use minilvb_protocol::cloud::callback_sign;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_test;
use crate::common::*;

const PATH: &str = "/callback/Live_callback.php";

/// Signs a notice with the demo callback key and `t` = now + `t_offset`.
fn signed(app: &TestApp, mut notice: Value, t_offset: i64) -> Value {
    let t = app.clock_now() + t_offset;
    notice["t"] = json!(t);
    notice["sign"] = json!(callback_sign(
        app.settings.live.api_key.expose(),
        &t.to_string()
    ));
    notice
}

async fn deliver(app: &TestApp, notice: Value) -> (StatusCode, Value) {
    app.post_raw(PATH, signed(app, notice, 0).to_string()).await
}

/// Delivers a notice that must be acknowledged with code 0.
async fn ack(app: &TestApp, notice: Value) -> Value {
    let (status, reply) = deliver(app, notice.clone()).await;
    assert_eq!(status, StatusCode::OK, "{notice} -> {reply}");
    assert_eq!(reply["code"], 0, "{notice} -> {reply}");
    reply
}

fn push_event(stream: &str, event_type: i64, event_time: i64, sequence: &str) -> Value {
    json!({"event_type":event_type,"stream_id":stream,"channel_id":stream,"event_time":event_time,
        "sequence":sequence,"errcode":0,"errmsg":"","stream_param":"bizid=8888&txSecret=x&txTime=y",
        "push_duration":"0","app":"8888.livepush.myqcloud.com","appname":"live"})
}

/// A current-format recording notice (no video_id).
fn recording(stream: &str, file_id: &str, format: &str, start: i64, end: i64) -> Value {
    let ext = if format == "hls" { "m3u8" } else { format };
    json!({"event_type":100,"stream_id":stream,"channel_id":stream,
        "video_url":format!("http://1234.vod2.myqcloud.com/abc/{file_id}/f0.{ext}"),
        "file_format":format,"start_time":start,"end_time":end,"duration":end - start,
        "file_size":123456,"file_id":file_id,"stream_param":"bizid=8888","record_file_id":file_id})
}

/// Where the cloud puts screenshots: a COS bucket.
const PICS: &str = "http://shots-1250000000.cos.ap-guangzhou.myqcloud.com/live";

async fn online(app: &TestApp, userid: &str) -> String {
    let info = app.user_info(userid, 0, "").await;
    info["returnData"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

backend_test! {
    async fn begin_and_end_set_the_room_status(backend) {
        let app = TestApp::spawn(backend).await;
        app.request_addr("anchor-1", "g1", "hello").await;
        let stream = "8888_anchor_1";
        ack(&app, push_event(stream, 1, T0 + 10, "100")).await;
        assert_eq!(online(&app, "anchor-1").await, "1");
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 1);
        ack(&app, push_event(stream, 0, T0 + 20, "100")).await;
        assert_eq!(online(&app, "anchor-1").await, "0");
        // The old format: channel_id only, event time in t.
        app.clock.set(T0 + 30);
        let reply = ack(&app, json!({"event_type":1,"channel_id":stream})).await;
        assert_eq!(reply["msg"], "applied");
        assert_eq!(online(&app, "anchor-1").await, "1");
    }
}

backend_test! {
    async fn late_and_repeated_events_do_not_flip_the_room(backend) {
        let app = TestApp::spawn(backend).await;
        app.request_addr("anchor-1", "g1", "hello").await;
        let stream = "8888_anchor_1";
        // 0 before 1 of the same push: the push is over.
        ack(&app, push_event(stream, 0, T0 + 50, "7")).await;
        let reply = ack(&app, push_event(stream, 1, T0 + 40, "7")).await;
        assert_eq!(reply["msg"], "ignored: a more recent event was applied");
        assert_eq!(online(&app, "anchor-1").await, "0");
        // A newer push begins; a late end of the older push arrives after it.
        app.clock.set(T0 + 100);
        ack(&app, push_event(stream, 1, T0 + 100, "8")).await;
        ack(&app, push_event(stream, 0, T0 + 50, "7")).await;
        assert_eq!(online(&app, "anchor-1").await, "1");
        // Same second: the higher sequence wins; repeated delivery changes nothing.
        ack(&app, push_event(stream, 0, T0 + 100, "10")).await;
        ack(&app, push_event(stream, 1, T0 + 100, "9")).await;
        ack(&app, push_event(stream, 1, T0 + 100, "10")).await;
        assert_eq!(online(&app, "anchor-1").await, "0");
        // ChangeStatus is an event "now": an older callback cannot undo it.
        app.clock.set(T0 + 200);
        app.change_status("anchor-1", 0).await;
        ack(&app, push_event(stream, 0, T0 + 150, "11")).await;
        assert_eq!(online(&app, "anchor-1").await, "1");
        // A new session starts offline; a late begin of the previous push is ignored.
        app.request_addr("anchor-1", "g2", "again").await;
        ack(&app, push_event(stream, 1, T0 + 190, "11")).await;
        assert_eq!(online(&app, "anchor-1").await, "0");
        ack(&app, push_event(stream, 1, T0 + 210, "12")).await;
        assert_eq!(online(&app, "anchor-1").await, "1");
    }
}

backend_test! {
    async fn notices_are_authenticated_and_fresh(backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.live.api_key = minilvb::config::Secret::new("callbackkey");
            s.live.api_key_secondary = minilvb::config::Secret::new("nextkey");
        }).await;
        app.request_addr("anchor-1", "g1", "hello").await;
        let stream = "8888_anchor_1";
        let now = app.clock_now();
        let with = |key: &str, t: i64| {
            let mut n = push_event(stream, 1, T0 + 1, "1");
            n["t"] = json!(t);
            n["sign"] = json!(callback_sign(key, &t.to_string()));
            n
        };
        for (notice, code) in [
            (with("wrongkey", now), 4010),
            (with("callbackkey", now - 601), 4011),
            // t as the event time, the old meaning: expired.
            (with("callbackkey", now - 600), 4011),
            (with("callbackkey", now + 901), 4011),
        ] {
            let (status, reply) = app.post_raw(PATH, notice.to_string()).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(reply["code"], code, "{notice} -> {reply}");
            assert_eq!(online(&app, "anchor-1").await, "0");
        }
        let mut forged = with("callbackkey", now);
        forged["t"] = json!(now + 1);
        assert_eq!(app.post_raw(PATH, forged.to_string()).await.1["code"], 4010);
        // t as the expiry, now to 15 minutes ahead; the second key.
        for notice in [with("callbackkey", now + 600), with("callbackkey", now), with("nextkey", now + 1)] {
            let (status, reply) = app.post_raw(PATH, notice.to_string()).await;
            assert_eq!((status, reply["code"].clone()), (StatusCode::OK, json!(0)), "{reply}");
        }
        assert_eq!(online(&app, "anchor-1").await, "1");
        // The published vector.
        let mut vector = push_event(stream, 0, 1_471_256_000, "1");
        vector["t"] = json!(1_471_256_100);
        vector["sign"] = json!("8242c9c1826f72903adf2c146ef6ba14");
        app.clock.set(1_471_256_100);
        let reply = app.post_raw(PATH, vector.to_string()).await.1;
        assert_eq!(reply["code"], 0, "{reply}");
    }
}

backend_test! {
    async fn malformed_notices_change_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        app.request_addr("anchor-1", "g1", "hello").await;
        for body in ["", "not json", "[]", "{}", "null"] {
            let (status, reply) = app.post_raw(PATH, body).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(reply["code"], 4001, "{body} -> {reply}");
        }
        let complete = signed(&app, push_event("8888_anchor_1", 1, T0, "1"), 0);
        // Read as a request is: a key twice (which would the cloud mean?)
        // or nesting past the bound is not a notice.
        let text = complete.to_string();
        let twice = text.replacen('{', "{\"event_type\":0,", 1);
        let deep = text.replacen('{', &format!("{{\"x\":{}{},", "[".repeat(40), "]".repeat(40)), 1);
        for body in [twice, deep] {
            let reply = app.post_raw(PATH, body.clone()).await.1;
            assert_eq!(reply["code"], 4001, "{body} -> {reply}");
        }
        for missing in ["t", "sign", "event_type"] {
            let mut notice = complete.clone();
            notice.as_object_mut().unwrap().remove(missing);
            let reply = app.post_raw(PATH, notice.to_string()).await.1;
            assert_eq!(reply["code"], 4002, "{missing} -> {reply}");
            assert!(reply["msg"].as_str().unwrap().contains(missing), "{reply}");
        }
        let mut no_stream = complete.clone();
        no_stream.as_object_mut().unwrap().remove("stream_id");
        no_stream.as_object_mut().unwrap().remove("channel_id");
        assert_eq!(app.post_raw(PATH, no_stream.to_string()).await.1["code"], 4002);
        let mut bad_type = complete.clone();
        bad_type["event_type"] = json!("begin");
        assert_eq!(app.post_raw(PATH, bad_type.to_string()).await.1["code"], 4002);
        assert_eq!(online(&app, "anchor-1").await, "0");
        // Unknown streams and event types are acknowledged.
        assert_eq!(ack(&app, push_event("8888_nobody", 1, T0, "1")).await["msg"], "ignored: unknown stream");
        let other = json!({"event_type":7,"stream_id":"8888_anchor_1"});
        assert_eq!(ack(&app, other).await["msg"], "ignored: unknown event type");
    }
}

backend_test! {
    async fn formats_of_one_broadcast_become_one_recording(backend) {
        let app = TestApp::spawn(backend).await;
        app.request_addr("anchor-1", "g1", "my show").await;
        let stream = "8888_anchor_1";
        let (start, end) = (T0 - 3600, T0 - 60);
        assert_eq!(ack(&app, recording(stream, "f-flv", "flv", start, end)).await["msg"], "recording added");
        assert_eq!(ack(&app, recording(stream, "f-hls", "hls", start, end + 2)).await["msg"], "recording completed");
        // Repeated notices change nothing.
        assert_eq!(ack(&app, recording(stream, "f-hls", "hls", start, end + 2)).await["msg"], "ignored: notice already applied");
        assert_eq!(ack(&app, recording(stream, "f-flv", "flv", start, end)).await["msg"], "ignored: notice already applied");
        let list = app.fetch_list(2, 1, 20).await;
        assert_eq!(list["totalcount"], 1, "{list}");
        let rec = &list["pusherlist"][0];
        assert_pusherinfo(rec);
        assert_eq!(rec["fileid"], "f-flv");
        assert_eq!(rec["type"], 1);
        assert_eq!(rec["status"], "0");
        assert_eq!(rec["title"], "my show");
        assert_eq!(rec["userinfo"]["nickname"], "nick-anchor-1");
        assert!(rec["playurl"].as_str().unwrap().ends_with(".flv"), "{rec}");
        assert!(rec["hls_play_url"].as_str().unwrap().ends_with(".m3u8"), "{rec}");
        assert_eq!(rec["timestamp"], end + 2);
        // A later broadcast is a recording of its own; hls alone fills both URLs.
        app.clock.set(T0 + 3100);
        ack(&app, recording(stream, "f2", "hls", T0 - 50, T0 + 3000)).await;
        let list = app.fetch_list(2, 1, 20).await;
        assert_eq!(list["totalcount"], 2);
        let newest = &list["pusherlist"][0];
        assert_eq!(newest["fileid"], "f2");
        assert_eq!(newest["playurl"], newest["hls_play_url"]);
        // Flag 3: the (offline) room is not listed, the two recordings are.
        assert_eq!(app.fetch_list(3, 1, 20).await["totalcount"], 2);
    }
}

backend_test! {
    async fn old_notices_short_recordings_and_unknown_streams(backend) {
        let app = TestApp::spawn(backend).await;
        app.request_addr("anchor-1", "g1", "show").await;
        let stream = "8888_anchor_1";
        // The old notice carries video_id.
        let mut old = recording(stream, "9031868222", "flv", T0 - 900, T0 - 100);
        old["video_id"] = json!("200025724_ac92b781a22c4a3e937c9e61c2624af7");
        ack(&app, old.clone()).await;
        assert_eq!(ack(&app, old).await["msg"], "ignored: notice already applied");
        // Not longer than 60 s: ignored.
        let short = recording(stream, "short", "flv", T0 - 60, T0);
        assert_eq!(ack(&app, short).await["msg"], "ignored: recording too short");
        // No file_id at all: keyed on the URL.
        let mut bare = recording(stream, "x", "mp4", T0 - 5000, T0 - 4000);
        bare.as_object_mut().unwrap().remove("file_id");
        bare.as_object_mut().unwrap().remove("record_file_id");
        ack(&app, bare.clone()).await;
        assert_eq!(ack(&app, bare).await["msg"], "ignored: notice already applied");
        let unknown = recording("8888_nobody", "z", "flv", T0 - 900, T0 - 100);
        assert_eq!(ack(&app, unknown).await["msg"], "ignored: unknown stream");
        let list = app.fetch_list(2, 1, 20).await;
        assert_eq!(list["totalcount"], 2, "{list}");
        assert_eq!(list["pusherlist"][0]["fileid"], "9031868222");
    }
}

backend_test! {
    async fn recordings_from_callbacks_are_watchable(backend) {
        let app = TestApp::spawn(backend).await;
        app.request_addr("anchor-1", "g1", "show").await;
        ack(&app, recording("8888_anchor_1", "rec-1", "flv", T0 - 900, T0 - 100)).await;
        let info = app.user_info("anchor-1", 1, "rec-1").await;
        assert_eq!(info["returnValue"], 0, "{info}");
        assert_pusherinfo(&info["returnData"]);
        assert_eq!(app.enter("v1", "anchor-1", "rec-1", 1).await["returnValue"], 0);
        assert_eq!(app.enter("v2", "anchor-1", "rec-1", 1).await["returnValue"], 0);
        assert_eq!(app.enter("v2", "anchor-1", "rec-1", 1).await["returnValue"], 0);
        assert_eq!(app.quit("v1", "anchor-1", "rec-1", 1).await["returnValue"], 0);
        let like = json!({"Action":"ChangeCount","userid":"anchor-1","type":1,"optype":0,"flag":1,"fileid":"rec-1"});
        app.ok(like).await;
        let members = app.members("anchor-1", "rec-1", 1, 20).await;
        assert_eq!(members["totalcount"], 1);
        assert_eq!(members["memberlist"][0]["userid"], "v2");
        let rec = &app.fetch_list(2, 1, 20).await["pusherlist"][0];
        assert_eq!((rec["viewercount"].clone(), rec["likecount"].clone()), (json!(1), json!(1)), "{rec}");
        // The recording outlives a new session of its room.
        app.request_addr("anchor-1", "g2", "next").await;
        assert_eq!(app.user_info("anchor-1", 1, "rec-1").await["returnData"]["viewercount"], 1);
    }
}

backend_test! {
    async fn screenshots_cover_rooms_without_one(backend) {
        let app = TestApp::spawn(backend).await;
        app.ok(json!({"Action":"RequestLVBAddr","userid":"bare","groupid":"g1","title":"t",
            "userinfo":{"nickname":"n","headpic":"","frontcover":"","location":""}})).await;
        app.request_addr("covered", "g2", "t").await;
        let shot = |stream: &str, name: &str, at: i64| json!({"event_type":200,"stream_id":stream,
            "pic_url":"/snap.jpg","pic_full_url":format!("{PICS}/{name}"),"create_time":at});
        ack(&app, shot("8888_bare", "1.jpg", T0 + 1)).await;
        ack(&app, shot("8888_bare", "3.jpg", T0 + 3)).await;
        ack(&app, shot("8888_bare", "2.jpg", T0 + 2)).await;
        ack(&app, shot("8888_covered", "9.jpg", T0 + 1)).await;
        let bare = app.user_info("bare", 0, "").await;
        assert_eq!(bare["returnData"]["userinfo"]["frontcover"], format!("{PICS}/3.jpg"));
        let covered = app.user_info("covered", 0, "").await;
        assert_eq!(covered["returnData"]["userinfo"]["frontcover"], "http://img/f.png");
        assert_eq!(ack(&app, shot("8888_nobody", "x.jpg", T0)).await["msg"], "ignored: unknown stream");
    }
}

backend_test! {
    async fn storage_failure_asks_the_cloud_to_retry(backend) {
        let app = TestApp::spawn(backend).await;
        app.request_addr("anchor-1", "g1", "show").await;
        app.store.close().await;
        let (status, reply) = deliver(&app, push_event("8888_anchor_1", 1, T0, "1")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{reply}");
        assert_ne!(reply["code"], 0);
        assert!(!reply.to_string().contains("closed"), "internal cause leaked: {reply}");
    }
}

backend_test! {
    async fn stale_rooms_go_offline_after_the_timeout(backend) {
        let app = TestApp::spawn_with(backend, |s| s.live.online_timeout_secs = 4).await;
        app.go_live("quiet", "g1").await;
        app.go_live("busy", "g2").await;
        app.clock.advance(3);
        app.change_status("busy", 0).await;
        app.clock.advance(2);
        // The sweep runs every second of real time; wait for it, bounded.
        let mut offline = false;
        for _ in 0..100 {
            if online(&app, "quiet").await == "0" {
                offline = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(offline, "the stale room stayed online");
        assert_eq!(online(&app, "busy").await, "1");
    }
}

/// The signature of a genuine notice whose `t` is `t`, as the cloud sends it.
fn genuine_sign(app: &TestApp, t: i64) -> Value {
    json!(callback_sign(
        app.settings.live.api_key.expose(),
        &t.to_string()
    ))
}

backend_test! {
    async fn a_seen_signature_cannot_bring_in_media_from_elsewhere(backend) {
        let app = TestApp::spawn_with(backend, |s| s.metrics.listen = "127.0.0.1:0".into()).await;
        app.request_addr("anchor-1", "g1", "show").await;
        let stream = "8888_anchor_1";
        // A genuine notice: t is its expiry, ten minutes ahead.
        let t = app.clock_now() + 600;
        let mut genuine = push_event(stream, 1, T0, "1");
        genuine["t"] = json!(t);
        genuine["sign"] = genuine_sign(&app, t);
        assert_eq!(app.post_raw(PATH, genuine.to_string()).await.1["code"], 0);
        // Its t and sign, seen on the way, on a body of the forger's choosing.
        let mut forged = recording(stream, "phish", "flv", T0 - 900, T0 - 100);
        forged["video_url"] = json!("http://evil.example/phish.flv");
        forged["t"] = json!(t);
        forged["sign"] = genuine_sign(&app, t);
        let (status, reply) = app.post_raw(PATH, forged.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["code"], 4012, "{reply}");
        assert!(reply["msg"].as_str().unwrap().contains("evil.example"), "{reply}");
        assert_eq!(app.fetch_list(2, 1, 20).await["totalcount"], 0);
        // Nor a screenshot that would become the room's cover.
        let mut shot = json!({"event_type":200,"stream_id":stream,"pic_url":"/x.jpg",
            "pic_full_url":"https://evil.example/x.jpg","create_time":T0});
        shot["t"] = json!(t);
        shot["sign"] = genuine_sign(&app, t);
        assert_eq!(app.post_raw(PATH, shot.to_string()).await.1["code"], 4012);
        // Hosts that only look like the cloud's are not the cloud's.
        for url in [
            "http://1234.vod2.myqcloud.com.evil.example/a.flv",
            "http://1234.vod2.myqcloud.com@evil.example/a.flv",
            "http://evilmyqcloud.com/a.flv",
            "ftp://1234.vod2.myqcloud.com/a.flv",
            "not a url",
        ] {
            let mut forged = recording(stream, "phish", "flv", T0 - 900, T0 - 100);
            forged["video_url"] = json!(url);
            let (_, reply) = deliver(&app, forged).await;
            assert_eq!(reply["code"], 4012, "{url}: {reply}");
        }
        assert_eq!(app.fetch_list(2, 1, 20).await["totalcount"], 0);
        // The cloud's own hosts are fine.
        ack(&app, recording(stream, "real", "flv", T0 - 900, T0 - 100)).await;
        assert_eq!(app.fetch_list(2, 1, 20).await["totalcount"], 1);
        let base = app.metrics_base.as_ref().unwrap();
        let text = app.client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        let refused = text
            .lines()
            .find_map(|l| l.strip_prefix("minilvb_callbacks_refused_total{reason=\"media_host\"} "))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no media_host refusals counted:\n{text}"));
        assert!(refused >= 7.0, "{refused}");
    }
}

backend_test! {
    async fn an_event_time_far_ahead_cannot_pin_the_room(backend) {
        let app = TestApp::spawn(backend).await;
        app.request_addr("anchor-1", "g1", "show").await;
        let stream = "8888_anchor_1";
        let ten_years = 10 * 365 * 86_400;
        let (status, reply) = deliver(&app, push_event(stream, 1, T0 + ten_years, "1")).await;
        assert_eq!((status, reply["code"].clone()), (StatusCode::OK, json!(4013)), "{reply}");
        assert_eq!(online(&app, "anchor-1").await, "0");
        // Screenshots and recordings from the future neither.
        let shot = json!({"event_type":200,"stream_id":stream,"pic_url":"/x.jpg",
            "pic_full_url":"http://1250000000.cos.ap-guangzhou.myqcloud.com/x.jpg","create_time":T0 + ten_years});
        assert_eq!(deliver(&app, shot).await.1["code"], 4013);
        let ahead = recording(stream, "ahead", "flv", T0, T0 + ten_years);
        assert_eq!(deliver(&app, ahead).await.1["code"], 4013);
        // A little clock difference is fine.
        ack(&app, push_event(stream, 1, T0 + 30, "2")).await;
        assert_eq!(online(&app, "anchor-1").await, "1");
        // The genuine end of that push, later, applies.
        app.clock.advance(120);
        ack(&app, push_event(stream, 0, T0 + 100, "2")).await;
        assert_eq!(online(&app, "anchor-1").await, "0");
        assert_eq!(app.fetch_list(2, 1, 20).await["totalcount"], 0);
    }
}

backend_test! {
    async fn t_is_an_expiry_accepted_only_until_then(backend) {
        let app = TestApp::spawn(backend).await;
        app.request_addr("anchor-1", "g1", "show").await;
        let stream = "8888_anchor_1";
        let now = app.clock_now();
        let at = |t: i64| {
            let mut notice = push_event(stream, 1, T0, "1");
            notice["t"] = json!(t);
            notice["sign"] = genuine_sign(&app, t);
            notice
        };
        // Expired, or further ahead than callback.max_future_secs (900 s).
        for t in [now - 1, now - 600, now + 901, now + 86_400] {
            let (status, reply) = app.post_raw(PATH, at(t).to_string()).await;
            assert_eq!((status, reply["code"].clone()), (StatusCode::OK, json!(4011)), "t = now {:+}: {reply}", t - now);
        }
        assert_eq!(online(&app, "anchor-1").await, "0");
        for t in [now, now + 600, now + 900] {
            let (status, reply) = app.post_raw(PATH, at(t).to_string()).await;
            assert_eq!((status, reply["code"].clone()), (StatusCode::OK, json!(0)), "t = now {:+}: {reply}", t - now);
        }
        assert_eq!(online(&app, "anchor-1").await, "1");
    }
}

backend_test! {
    async fn notices_may_be_limited_to_the_clouds_addresses(backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.callback.allowed_sources = vec!["192.0.2.0/24".into(), "198.51.100.7".into()];
        }).await;
        app.request_addr("anchor-1", "g1", "show").await;
        let notice = push_event("8888_anchor_1", 1, T0, "1");
        // From 127.0.0.1: refused, however well signed.
        let (status, reply) = deliver(&app, notice.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
        assert_eq!(reply["code"], 4014, "{reply}");
        assert_eq!(online(&app, "anchor-1").await, "0");
        // Allowed: from the listed addresses.
        let app = TestApp::spawn_with(backend, |s| {
            s.callback.allowed_sources = vec!["127.0.0.0/8".into()];
        }).await;
        app.request_addr("anchor-1", "g1", "show").await;
        ack(&app, notice).await;
        assert_eq!(online(&app, "anchor-1").await, "1");
    }
}
