//! FetchList (flags, paging, the recordings window, order) and GetUserInfo.

use serde_json::{Value, json};

use crate::backend_test;
use crate::common::*;

const DAY: i64 = 86_400;

/// Rooms whose sessions start one minute apart (`a0` first, so last in
/// the lists), each online unless listed in `offline`.
async fn rooms(app: &TestApp, count: usize, offline: &[usize]) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let anchor = format!("a{i}");
        app.go_live(&anchor, &format!("g{i}")).await;
        if offline.contains(&i) {
            assert_acked(&app.change_status(&anchor, 1).await);
        }
        app.clock.advance(60);
        ids.push(anchor);
    }
    ids
}

backend_test! {
    async fn flag_1_lists_online_rooms_newest_session_first(backend) {
        let app = TestApp::spawn(backend).await;
        rooms(&app, 5, &[1, 3]).await;
        let list = app.fetch_all(1, 20).await;
        assert_eq!(userids(&list), ["a4", "a2", "a0"]);
        for room in &list {
            let anchor = room["userid"].as_str().unwrap();
            let i: i64 = anchor[1..].parse().unwrap();
            assert_eq!(room["type"], 0);
            assert_eq!(room["status"], "1");
            assert_eq!(room["fileid"], "");
            assert_eq!(room["groupid"], format!("g{i}"));
            assert_eq!(room["title"], format!("title of {anchor}"));
            assert_eq!(room["timestamp"], T0 + 60 * i);
            assert_eq!(room["playurl"], format!("http://8888.liveplay.myqcloud.com/live/8888_{anchor}.flv"));
            assert_eq!(room["hls_play_url"], format!("http://8888.liveplay.myqcloud.com/live/8888_{anchor}.m3u8"));
            assert_eq!(room["userinfo"], json!({"nickname": format!("nick-{anchor}"), "headpic": "http://img/h.png",
                "frontcover": "http://img/f.png", "location": "Shenzhen"}));
        }
        // A new session of the oldest room puts it first once it is online.
        app.go_live("a0", "g0").await;
        assert_eq!(userids(&app.fetch_all(1, 20).await), ["a0", "a4", "a2"]);
        // Going offline and online again does not reorder: the session start does.
        assert_acked(&app.change_status("a2", 1).await);
        app.clock.advance(60);
        assert_acked(&app.change_status("a2", 0).await);
        assert_eq!(userids(&app.fetch_all(1, 20).await), ["a0", "a4", "a2"]);
        // Recordings are never in flag 1.
        app.add_recording("a0", "f1", app.clock_now()).await;
        assert_eq!(app.fetch_all(1, 20).await.len(), 3);
    }
}

backend_test! {
    async fn flag_4_lists_every_room_whatever_its_status(backend) {
        let app = TestApp::spawn(backend).await;
        rooms(&app, 5, &[1, 3]).await;
        // A room that never went online.
        app.request_addr("z", "gz", "never online").await;
        app.add_recording("a0", "f1", T0).await;
        let list = app.fetch_all(4, 20).await;
        assert_eq!(userids(&list), ["z", "a4", "a3", "a2", "a1", "a0"]);
        let statuses: Vec<&str> = list.iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["0", "1", "0", "1", "0", "1"]);
        assert!(list.iter().all(|r| r["type"] == 0));
    }
}

backend_test! {
    async fn rooms_starting_in_the_same_second_have_a_stable_order(backend) {
        let app = TestApp::spawn(backend).await;
        for anchor in ["c", "a", "d", "b"] {
            app.go_live(anchor, "g").await;
        }
        let first = userids(&app.fetch_all(1, 20).await);
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(first, sorted, "ties by userid");
        for pagesize in 1..=4 {
            assert_eq!(userids(&app.fetch_all(1, pagesize).await), first, "pagesize {pagesize}");
        }
    }
}

backend_test! {
    async fn flag_2_lists_recordings_of_the_last_7_days_newest_first(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        app.add_recording("a1", "old", T0 - 7 * DAY - 1).await;
        app.add_recording("a1", "f6d", T0 - 6 * DAY).await;
        app.add_recording("a2", "f1h", T0 - 3600).await;
        app.add_recording("a1", "f7d", T0 - 7 * DAY + 1).await;
        app.add_recording("a3", "fnow", T0).await;
        let list = app.fetch_all(2, 20).await;
        assert_eq!(
            keys(&list),
            [("a3", "fnow"), ("a2", "f1h"), ("a1", "f6d"), ("a1", "f7d")]
                .map(|(u, f)| (u.to_owned(), 1, f.to_owned()))
        );
        let ends = [T0, T0 - 3600, T0 - 6 * DAY, T0 - 7 * DAY + 1];
        for (info, end) in list.iter().zip(ends) {
            let (userid, fileid) = (info["userid"].as_str().unwrap(), info["fileid"].as_str().unwrap());
            assert_recording_info(info, userid, fileid, end);
            assert_eq!((info["viewercount"].as_i64(), info["likecount"].as_i64()), (Some(0), Some(0)));
        }
        // A day (and a minute) later, the two oldest are out of the window;
        // totalcount follows.
        app.clock.advance(DAY + 60);
        assert_eq!(
            keys(&app.fetch_all(2, 20).await),
            [("a3", "fnow"), ("a2", "f1h")].map(|(u, f)| (u.to_owned(), 1, f.to_owned()))
        );
        // Another week: none.
        app.clock.advance(7 * DAY);
        assert_eq!(app.fetch_list(2, 1, 20).await, json!({"totalcount": 0, "pusherlist": []}));
        // But GetUserInfo still finds a recording out of the window.
        assert_recording_info(&app.recording("a1", "old").await, "a1", "old", T0 - 7 * DAY - 1);
    }
}

backend_test! {
    async fn recordings_window_is_configurable(backend) {
        let app = TestApp::spawn_with(backend, |s| s.live.recordings_window_days = 1).await;
        app.add_recording("a1", "in", T0 - DAY + 10).await;
        app.add_recording("a1", "out", T0 - DAY - 10).await;
        let list = app.fetch_all(2, 20).await;
        assert_eq!(keys(&list), [("a1".to_owned(), 1, "in".to_owned())]);
        assert_eq!(app.fetch_all(3, 20).await.len(), 1);
    }
}

backend_test! {
    async fn recordings_ending_together_have_a_stable_order(backend) {
        let app = TestApp::spawn(backend).await;
        for (userid, fileid) in [("b", "2"), ("a", "2"), ("b", "1"), ("a", "1")] {
            app.add_recording(userid, fileid, T0).await;
        }
        let first = keys(&app.fetch_all(2, 20).await);
        assert_eq!(first.len(), 4);
        for pagesize in 1..=4 {
            assert_eq!(keys(&app.fetch_all(2, pagesize).await), first, "pagesize {pagesize}");
        }
    }
}

backend_test! {
    async fn flag_3_pages_through_rooms_then_recordings(backend) {
        let app = TestApp::spawn(backend).await;
        rooms(&app, 6, &[1, 4]).await;
        let now = app.clock_now();
        for i in 0..5 {
            app.add_recording(&format!("a{i}"), &format!("f{i}"), now - 3600 * (i + 1)).await;
        }
        app.add_recording("a0", "too-old", now - 8 * DAY).await;
        let online = app.fetch_all(1, 100).await;
        let recordings = app.fetch_all(2, 100).await;
        assert_eq!((online.len(), recordings.len()), (4, 5));
        let expected: Vec<_> = keys(&online).into_iter().chain(keys(&recordings)).collect();
        let total = expected.len() as i64;
        // Every page size, every page, including the ones past the end.
        for pagesize in 1..=total + 1 {
            let mut seen = Vec::new();
            for pageno in 1..=(total / pagesize + 2) {
                let data = app.fetch_list(3, pageno, pagesize).await;
                assert_eq!(data["totalcount"], total, "pagesize {pagesize} page {pageno}");
                let page = data["pusherlist"].as_array().unwrap();
                let offset = (pageno - 1) * pagesize;
                let expected_len = (total - offset).clamp(0, pagesize);
                assert_eq!(page.len() as i64, expected_len, "pagesize {pagesize} page {pageno}: {data}");
                page.iter().for_each(assert_pusherinfo);
                seen.extend(keys(page));
            }
            assert_eq!(seen, expected, "pagesize {pagesize}");
        }
        // The app's own paging agrees.
        assert_eq!(keys(&app.fetch_all(3, 20).await), expected);
        // With no rooms online, flag 3 is the recordings alone; with no recordings, the rooms.
        for anchor in userids(&online) {
            assert_acked(&app.change_status(&anchor, 1).await);
        }
        assert_eq!(keys(&app.fetch_all(3, 2).await), keys(&recordings));
        app.clock.advance(30 * DAY);
        assert_eq!(app.fetch_list(3, 1, 20).await, json!({"totalcount": 0, "pusherlist": []}));
        app.go_live("a2", "g2").await;
        assert_eq!(userids(&app.fetch_all(3, 1).await), ["a2"]);
    }
}

backend_test! {
    async fn other_flags_answer_an_empty_list(backend) {
        let app = TestApp::spawn(backend).await;
        rooms(&app, 2, &[]).await;
        app.add_recording("a0", "f0", T0).await;
        for flag in [json!(0), json!(5), json!(-1), json!(100), json!("7")] {
            let data = app.ok(json!({"Action":"FetchList","flag":flag,"pageno":1,"pagesize":20})).await;
            assert_eq!(data, json!({"totalcount": 0, "pusherlist": []}), "flag {flag}");
        }
    }
}

backend_test! {
    async fn paging_rules(backend) {
        let app = TestApp::spawn(backend).await;
        // 25 online rooms.
        for i in 0..25 {
            app.go_live(&format!("a{i:02}"), "g").await;
            app.clock.advance(1);
        }
        let all = userids(&app.fetch_all(1, 100).await);
        assert_eq!(all.len(), 25);
        let page = |data: &Value| userids(data["pusherlist"].as_array().unwrap());
        // pageno <= 0 means 1.
        let first = page(&app.fetch_list(1, 1, 7).await);
        assert_eq!(first, all[..7]);
        for pageno in [0, -1, -100, i64::MIN] {
            assert_eq!(page(&app.fetch_list(1, pageno, 7).await), first, "pageno {pageno}");
        }
        // pagesize 0 (or negative, or absent) means 10.
        for pagesize in [json!(0), json!(-3), json!(null), json!("0")] {
            let data = app.ok(json!({"Action":"FetchList","flag":1,"pageno":1,"pagesize":pagesize})).await;
            assert_eq!(page(&data), all[..10], "pagesize {pagesize}");
            assert_eq!(data["totalcount"], 25);
            let data = app.ok(json!({"Action":"FetchList","flag":1,"pageno":3,"pagesize":pagesize})).await;
            assert_eq!(page(&data), all[20..], "page 3 of pagesize {pagesize}");
        }
        // 1..=100 honoured, including sizes the original refused (below 10).
        for pagesize in [1, 2, 9, 10, 11, 24, 25, 26, 99, 100] {
            let data = app.fetch_list(1, 2, pagesize).await;
            let start = (pagesize as usize).min(25);
            let end = (2 * pagesize as usize).min(25);
            assert_eq!(page(&data), all[start..end], "pagesize {pagesize}");
        }
        // Far past the end: an empty page, the same totalcount.
        for pageno in [4, 1000, i64::MAX] {
            let data = app.fetch_list(1, pageno, 10).await;
            assert_eq!(data, json!({"totalcount": 25, "pusherlist": []}), "pageno {pageno}");
        }
        let data = app.fetch_list(1, i64::MAX, 100).await;
        assert_eq!(data["pusherlist"], json!([]));
    }
}

backend_test! {
    async fn pagesize_above_100_means_100(backend) {
        let app = TestApp::spawn(backend).await;
        for i in 0..105 {
            app.request_addr(&format!("a{i:03}"), "g", "t").await;
            app.clock.advance(1);
        }
        let all = userids(&app.fetch_all(4, 7).await);
        assert_eq!(all.len(), 105);
        for pagesize in [101, 150, 1000, i64::MAX] {
            let data = app.fetch_list(4, 1, pagesize).await;
            assert_eq!(data["totalcount"], 105);
            assert_eq!(userids(data["pusherlist"].as_array().unwrap()), all[..100], "pagesize {pagesize}");
            let data = app.fetch_list(4, 2, pagesize).await;
            assert_eq!(userids(data["pusherlist"].as_array().unwrap()), all[100..], "pagesize {pagesize}");
        }
    }
}

backend_test! {
    async fn recordings_list_counts_and_members(backend) {
        let app = TestApp::spawn(backend).await;
        app.add_recording("a1", "f1", T0).await;
        assert_acked(&app.enter("v1", "a1", "f1", 1).await);
        assert_acked(&app.enter("v2", "a1", "f1", 1).await);
        assert_acked(&app.like_recording("a1", "f1", 0).await);
        let list = app.fetch_all(2, 20).await;
        assert_eq!(list[0]["viewercount"], 2);
        assert_eq!(list[0]["likecount"], 1);
        // Replacing a recording (the callbacks do) keeps its counts.
        app.add_recording("a1", "f1", T0 + 5).await;
        let info = app.recording("a1", "f1").await;
        assert_eq!((info["viewercount"].as_i64(), info["likecount"].as_i64(), info["timestamp"].as_i64()),
            (Some(2), Some(1), Some(T0 + 5)), "{info}");
        app.assert_recording_viewers("a1", "f1", 2).await;
    }
}

backend_test! {
    async fn a_recording_with_one_url_shows_it_in_both_fields(backend) {
        use minilvb_protocol::UserInfo;
        use minilvb_store::NewRecording;
        let app = TestApp::spawn(backend).await;
        for (fileid, flv, hls) in [
            ("hls-only", "", "http://vod.example.com/x.m3u8"),
            ("flv-only", "http://vod.example.com/y.flv", ""),
        ] {
            app.store
                .put_recording(&NewRecording {
                    userid: "a1".into(),
                    fileid: fileid.into(),
                    title: "t".into(),
                    userinfo: UserInfo::default(),
                    play_url: flv.into(),
                    hls_play_url: hls.into(),
                    start_time: T0 - 100,
                    end_time: T0,
                })
                .await
                .unwrap();
        }
        let list = app.fetch_all(2, 20).await;
        assert_eq!(list.len(), 2, "listed and counted alike");
        for info in list.iter().chain([&app.recording("a1", "hls-only").await, &app.recording("a1", "flv-only").await]) {
            assert_ne!(info["playurl"], "", "{info}");
            assert_ne!(info["hls_play_url"], "", "{info}");
            assert_eq!(info["userinfo"], json!({"nickname":"","headpic":"","frontcover":"","location":""}));
        }
    }
}

backend_test! {
    async fn get_user_info_of_a_room(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        assert_acked(&app.enter("v1", "a1", "g1", 0).await);
        assert_acked(&app.like("a1", 0).await);
        let listed = app.fetch_all(1, 20).await.remove(0);
        for kind in [json!(0), json!("0"), json!(null)] {
            let mut info = app.ok(json!({"Action":"GetUserInfo","userid":"a1","type":kind,"fileid":""})).await;
            assert_pusherinfo(&info);
            // The userinfo may carry `desc` on top of what the list shows.
            if let Some(userinfo) = info["userinfo"].as_object_mut() {
                if let Some(desc) = userinfo.remove("desc") {
                    assert!(desc.is_string(), "{desc}");
                }
            }
            assert_eq!(info, listed, "type {kind}");
        }
        // Any status: offline too.
        assert_acked(&app.change_status("a1", 1).await);
        let info = app.room("a1").await;
        assert_eq!(info["status"], "0");
        assert_eq!(info["viewercount"], 1);
    }
}

backend_test! {
    async fn get_user_info_of_a_recording(backend) {
        let app = TestApp::spawn(backend).await;
        app.add_recording("a1", "f1", T0 - 10).await;
        app.add_recording("a1", "f2", T0 - 20).await;
        for kind in [json!(1), json!("1"), json!(1.0)] {
            let info = app.ok(json!({"Action":"GetUserInfo","userid":"a1","type":kind,"fileid":"f2"})).await;
            assert_recording_info(&info, "a1", "f2", T0 - 20);
        }
        // The anchor has recordings but no room.
        app.fails(json!({"Action":"GetUserInfo","userid":"a1","type":0,"fileid":""}), 2003).await;
    }
}

backend_test! {
    async fn get_user_info_errors(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        app.add_recording("a1", "f1", T0).await;
        for kind in [json!(2), json!(-1), json!("3")] {
            let msg = app.fails(json!({"Action":"GetUserInfo","userid":"a1","type":kind,"fileid":"f1"}), 4002).await;
            assert!(msg.contains("type"), "{msg}");
        }
        let msg = assert_code(&app.user_info("nobody", 0, "").await, 2003);
        assert!(msg.contains("nobody"), "{msg}");
        let msg = assert_code(&app.user_info("a1", 1, "nope").await, 2003);
        assert!(msg.contains("nope"), "{msg}");
        assert_code(&app.user_info("a2", 1, "f1").await, 2003);
        let msg = assert_code(&app.user_info("a1", 1, "").await, 1000);
        assert!(msg.contains("fileid"), "{msg}");
        let msg = app.fails(json!({"Action":"GetUserInfo","userid":"a1","type":1}), 1000).await;
        assert!(msg.contains("fileid"), "{msg}");
        // type 0 ignores the fileid.
        assert_eq!(app.user_info("a1", 0, "f1").await["returnData"]["type"], 0);
    }
}

/// (likecount, viewercount) of room `a1` and recording `f1` in every view
/// that shows them: FetchList 1, 3 (room), 2, 3 (recording), GetUserInfo.
async fn counts_everywhere(app: &TestApp) -> Vec<(&'static str, i64, i64)> {
    let counts = |info: &Value| {
        (
            info["likecount"].as_i64().expect("likecount"),
            info["viewercount"].as_i64().expect("viewercount"),
        )
    };
    let find = |list: &Value, kind: i64| {
        list["pusherlist"]
            .as_array()
            .expect("pusherlist")
            .iter()
            .find(|info| info["type"] == kind)
            .map(counts)
            .unwrap_or_else(|| panic!("no type {kind} in {list}"))
    };
    let mut seen = Vec::new();
    for (what, flag, kind) in [
        ("flag 1", 1, 0),
        ("flag 3 room", 3, 0),
        ("flag 2", 2, 1),
        ("flag 3 recording", 3, 1),
    ] {
        let (likes, viewers) = find(&app.fetch_list(flag, 1, 20).await, kind);
        seen.push((what, likes, viewers));
    }
    let (likes, viewers) = counts(&app.room("a1").await);
    seen.push(("GetUserInfo room", likes, viewers));
    let (likes, viewers) = counts(&app.recording("a1", "f1").await);
    seen.push(("GetUserInfo recording", likes, viewers));
    seen
}

fn expect_counts(room: (i64, i64), recording: (i64, i64)) -> Vec<(&'static str, i64, i64)> {
    vec![
        ("flag 1", room.0, room.1),
        ("flag 3 room", room.0, room.1),
        ("flag 2", recording.0, recording.1),
        ("flag 3 recording", recording.0, recording.1),
        ("GetUserInfo room", room.0, room.1),
        ("GetUserInfo recording", recording.0, recording.1),
    ]
}

backend_test! {
    async fn likes_enters_and_quits_show_in_the_very_next_list(backend) {
        // The default interval (1 s): lists and GetUserInfo come from the
        // rows the node keeps, and each write through it drops the row.
        let app = TestApp::spawn(backend).await;
        assert_eq!(app.settings.database.list_snapshot_ms, 1000);
        app.go_live("a1", "g1").await;
        app.add_recording("a1", "f1", T0 - 10).await;
        assert_eq!(counts_everywhere(&app).await, expect_counts((0, 0), (0, 0)));
        // Read again: now from the rows kept.
        assert_eq!(counts_everywhere(&app).await, expect_counts((0, 0), (0, 0)));

        assert_acked(&app.like("a1", 0).await);
        assert_eq!(counts_everywhere(&app).await, expect_counts((1, 0), (0, 0)), "a like");
        assert_acked(&app.enter("v1", "a1", "g1", 0).await);
        assert_eq!(counts_everywhere(&app).await, expect_counts((1, 1), (0, 0)), "an enter");
        assert_acked(&app.enter("v2", "a1", "g1", 0).await);
        assert_acked(&app.quit("v1", "a1", "g1", 0).await);
        assert_eq!(counts_everywhere(&app).await, expect_counts((1, 1), (0, 0)), "an enter and a quit");
        assert_acked(&app.quit("v2", "a1", "g1", 0).await);
        assert_eq!(counts_everywhere(&app).await, expect_counts((1, 0), (0, 0)), "a quit");

        assert_acked(&app.like_recording("a1", "f1", 0).await);
        assert_eq!(counts_everywhere(&app).await, expect_counts((1, 0), (1, 0)), "a like of the recording");
        assert_acked(&app.enter("v1", "a1", "f1", 1).await);
        assert_eq!(counts_everywhere(&app).await, expect_counts((1, 0), (1, 1)), "an enter into the recording");
        assert_acked(&app.quit("v1", "a1", "f1", 1).await);
        assert_eq!(counts_everywhere(&app).await, expect_counts((1, 0), (1, 0)), "a quit of the recording");
        assert_acked(&app.like("a1", 1).await);
        assert_acked(&app.like_recording("a1", "f1", 1).await);
        assert_eq!(counts_everywhere(&app).await, expect_counts((0, 0), (0, 0)), "unlikes");

        // A new session resets the room's counts; the list shows it at once.
        assert_acked(&app.like("a1", 0).await);
        app.go_live("a1", "g2").await;
        let room = app.fetch_list(1, 1, 20).await["pusherlist"][0].clone();
        assert_eq!((room["groupid"].as_str(), room["likecount"].as_i64()), (Some("g2"), Some(0)), "{room}");
        assert_eq!(app.room("a1").await["groupid"], "g2");
        // Going offline: GetUserInfo says so at once.
        assert_acked(&app.change_status("a1", 1).await);
        assert_eq!(app.room("a1").await["status"], "0");
    }
}

backend_test! {
    async fn writes_behind_the_nodes_back_show_within_the_interval(backend) {
        use minilvb_protocol::{Counted, Group};
        use minilvb_store::NewMember;

        let app = TestApp::spawn_with(backend, |s| s.database.list_snapshot_ms = 200).await;
        app.go_live("a1", "g1").await;
        app.add_recording("a1", "f1", T0 - 10).await;
        assert_eq!(counts_everywhere(&app).await, expect_counts((0, 0), (0, 0)));
        // Another process on the same database (another node, the operator).
        let other = app.other_store().await;
        let room = Counted::Room { userid: "a1".into() };
        let recording = Counted::Recording { userid: "a1".into(), fileid: "f1".into() };
        assert!(other.add_likes(&room, 3).await.unwrap());
        assert!(other.add_likes(&recording, 5).await.unwrap());
        let viewer = NewMember {
            userid: "v1".into(),
            nickname: "v".into(),
            headpic: String::new(),
            level: None,
            joined_at: T0,
        };
        let group = Group::Recording { anchor: "a1".into(), fileid: "f1".into() };
        assert!(other.enter(&group, &viewer).await.unwrap());
        // Bounded wait for the interval; never a timing assertion.
        let expected = expect_counts((3, 0), (5, 1));
        let mut seen = Vec::new();
        for _ in 0..100 {
            seen = counts_everywhere(&app).await;
            if seen == expected {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(seen, expected, "the other process's writes never showed");
        other.close().await;
    }
}

backend_test! {
    async fn fetch_list_without_a_flag_is_refused_as_the_original_did(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("vj", "g1").await;
        for body in [
            json!({"Action":"FetchList"}),
            json!({"Action":"FetchList","flag":null,"pageno":1,"pagesize":20}),
            json!({"Action":"FetchList","flag":"","pageno":1,"pagesize":20}),
        ] {
            let message = app.fails(body, 1000).await;
            assert_eq!(message, "invalid param in json from client! | flag is null or empty!");
        }
        // Any other integer is still an empty list.
        assert_eq!(app.fetch_list(7, 1, 20).await["totalcount"], 0);
    }
}
