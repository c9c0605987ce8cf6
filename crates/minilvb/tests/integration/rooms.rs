//! A broadcaster's room: RequestLVBAddr (push URL, sessions, stream ids),
//! ChangeStatus and ChangeCount.

use std::collections::HashSet;

use minilvb::config::Secret;
use serde_json::json;

use crate::backend_test;
use crate::common::*;

backend_test! {
    async fn push_url_matches_the_cloud_vector(backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.live.bizid = "8888".into();
            s.live.push_key = Secret::new("testkey");
        })
        .await;
        app.clock.set(1_500_000_000);
        let data = app.request_addr("user-1@x", "g1", "t").await;
        assert_eq!(
            data,
            json!({
                "pushurl": "rtmp://8888.livepush2.myqcloud.com/live/8888_user_1_x?bizid=8888&record_interval=10800&record=flv|hls&txSecret=4f3a812ed89ea8a0a9447414e617457f&txTime=59685930",
                "timestamp": 1_500_000_000,
            })
        );
        let room = app.room("user-1@x").await;
        assert_eq!(room["playurl"], "http://8888.liveplay.myqcloud.com/live/8888_user_1_x.flv");
        assert_eq!(room["hls_play_url"], "http://8888.liveplay.myqcloud.com/live/8888_user_1_x.m3u8");
        assert_eq!(room["timestamp"], 1_500_000_000);
    }
}

backend_test! {
    async fn push_url_shape_and_signature_with_defaults(backend) {
        let app = TestApp::spawn(backend).await;
        let data = app.request_addr("anchor", "g1", "t").await;
        assert_eq!(data["timestamp"], T0);
        let url = PushUrl::parse(data["pushurl"].as_str().unwrap());
        assert_eq!(url.domain, "8888.livepush2.myqcloud.com");
        assert_eq!(url.stream_id, "8888_anchor");
        let keys: Vec<&str> = url.query.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["bizid", "record_interval", "record", "txSecret", "txTime"]);
        assert_eq!(url.param("bizid"), "8888");
        assert_eq!(url.param("record_interval"), "10800");
        assert_eq!(url.param("record"), "flv|hls");
        url.assert_signed(app.settings.live.push_key.expose(), T0 + 3 * 3600);
    }
}

backend_test! {
    async fn push_url_follows_configuration(backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.live.bizid = "1234".into();
            s.live.push_key = Secret::new("k-2");
            s.live.push_domain = "push.example.com".into();
            s.live.play_domain = "play.example.com:8080".into();
            s.live.push_url_ttl_secs = 86_400;
            s.live.record = "mp4".into();
            s.live.record_interval = 3600;
        })
        .await;
        let data = app.request_addr("anchor", "g1", "t").await;
        let url = PushUrl::parse(data["pushurl"].as_str().unwrap());
        assert_eq!(url.domain, "push.example.com");
        assert_eq!(url.stream_id, "1234_anchor");
        assert_eq!(url.param("bizid"), "1234");
        assert_eq!(url.param("record_interval"), "3600");
        assert_eq!(url.param("record"), "mp4");
        url.assert_signed("k-2", T0 + 86_400);
        let room = app.room("anchor").await;
        assert_eq!(room["playurl"], "http://play.example.com:8080/live/1234_anchor.flv");
        assert_eq!(room["hls_play_url"], "http://play.example.com:8080/live/1234_anchor.m3u8");
    }
}

backend_test! {
    async fn recording_can_be_switched_off(backend) {
        let app = TestApp::spawn_with(backend, |s| s.live.record = "".into()).await;
        let data = app.request_addr("anchor", "g1", "t").await;
        let pushurl = data["pushurl"].as_str().unwrap();
        assert!(!pushurl.contains("record"), "{pushurl}");
        let url = PushUrl::parse(pushurl);
        let keys: Vec<&str> = url.query.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["bizid", "txSecret", "txTime"]);
        url.assert_signed(app.settings.live.push_key.expose(), T0 + 3 * 3600);
    }
}

backend_test! {
    async fn timestamp_is_the_session_start_as_a_number(backend) {
        let app = TestApp::spawn(backend).await;
        app.clock.advance(1234);
        let data = app.request_addr("anchor", "g1", "t").await;
        assert!(data["timestamp"].is_i64(), "{data}");
        assert_eq!(data["timestamp"], T0 + 1234);
        let url = PushUrl::parse(data["pushurl"].as_str().unwrap());
        url.assert_signed(app.settings.live.push_key.expose(), T0 + 1234 + 3 * 3600);
        // Going online later does not move the session start.
        app.clock.advance(60);
        assert_acked(&app.change_status("anchor", 0).await);
        assert_eq!(app.room("anchor").await["timestamp"], T0 + 1234);
        assert_eq!(app.fetch_list(1, 1, 20).await["pusherlist"][0]["timestamp"], T0 + 1234);
    }
}

backend_test! {
    async fn new_session_resets_counts_and_members_but_keeps_recordings(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("anchor", "g1").await;
        for viewer in ["v1", "v2", "v3"] {
            assert_acked(&app.enter(viewer, "anchor", "g1", 0).await);
        }
        assert_acked(&app.like("anchor", 0).await);
        app.add_recording("anchor", "f1", T0 - 100).await;
        assert_acked(&app.enter("v9", "anchor", "f1", 1).await);
        assert_acked(&app.like_recording("anchor", "f1", 0).await);
        app.clock.advance(600);
        // A new session, with a new title and profile but the same group.
        app.ok(json!({"Action":"RequestLVBAddr","userid":"anchor","groupid":"g1","title":"second",
            "userinfo":{"nickname":"New","headpic":"h2","frontcover":"f2","location":"Beijing"}})).await;
        let room = app.room("anchor").await;
        assert_eq!(room["status"], "0", "a new session starts offline");
        assert_eq!(room["likecount"], 0);
        assert_eq!(room["title"], "second");
        assert_eq!(room["timestamp"], T0 + 600);
        assert_eq!(room["userinfo"], json!({"nickname":"New","headpic":"h2","frontcover":"f2","location":"Beijing"}));
        app.assert_room_viewers("anchor", "g1", 0).await;
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 0);
        // The recording, its members and its likes are kept.
        let recording = app.recording("anchor", "f1").await;
        assert_recording_info(&recording, "anchor", "f1", T0 - 100);
        assert_eq!(recording["likecount"], 1);
        app.assert_recording_viewers("anchor", "f1", 1).await;
        assert_eq!(app.member_ids("anchor", "f1").await, ["v9"]);
        // The same viewers can join the new session, counted afresh.
        assert_acked(&app.enter("v1", "anchor", "g1", 0).await);
        app.assert_room_viewers("anchor", "g1", 1).await;
    }
}

backend_test! {
    async fn new_session_with_another_group_retires_the_old_one(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("anchor", "g1").await;
        assert_acked(&app.enter("v1", "anchor", "g1", 0).await);
        app.go_live("anchor", "g2").await;
        let room = app.room("anchor").await;
        assert_eq!(room["groupid"], "g2");
        assert_eq!(room["viewercount"], 0);
        assert_eq!(app.members("anchor", "g1", 1, 20).await["totalcount"], 0);
        assert_code(&app.enter("v1", "anchor", "g1", 0).await, 2003);
        assert_acked(&app.enter("v1", "anchor", "g2", 0).await);
        app.assert_room_viewers("anchor", "g2", 1).await;
        // One room per anchor, whatever the number of sessions.
        assert_eq!(app.fetch_list(4, 1, 20).await["totalcount"], 1);
    }
}

backend_test! {
    async fn colliding_userids_get_different_stream_ids(backend) {
        let app = TestApp::spawn(backend).await;
        let key = app.settings.live.push_key.expose().to_owned();
        let first = app.request_addr("a-b", "g1", "t").await;
        let second = app.request_addr("a_b", "g2", "t").await;
        let first = PushUrl::parse(first["pushurl"].as_str().unwrap());
        let second = PushUrl::parse(second["pushurl"].as_str().unwrap());
        // The first keeps the original's id, so its existing streams and callbacks work.
        assert_eq!(first.stream_id, "8888_a_b");
        assert_ne!(first.stream_id, second.stream_id);
        assert_url_safe_stream_id(&second.stream_id);
        first.assert_signed(&key, T0 + 3 * 3600);
        second.assert_signed(&key, T0 + 3 * 3600);
        // Play URLs follow the stream ids.
        let a = app.room("a-b").await;
        let b = app.room("a_b").await;
        assert_eq!(a["playurl"], "http://8888.liveplay.myqcloud.com/live/8888_a_b.flv");
        assert_eq!(b["playurl"], format!("http://8888.liveplay.myqcloud.com/live/{}.flv", second.stream_id));
        // Each keeps its stream id across sessions.
        for (userid, url) in [("a-b", &first), ("a_b", &second)] {
            app.clock.advance(10);
            let again = app.request_addr(userid, "g3", "t").await;
            assert_eq!(PushUrl::parse(again["pushurl"].as_str().unwrap()).stream_id, url.stream_id, "{userid}");
        }
        // A third colliding userid: a third stream id.
        let third = app.request_addr("a#b", "g4", "t").await;
        let third = PushUrl::parse(third["pushurl"].as_str().unwrap());
        assert!(third.stream_id != first.stream_id && third.stream_id != second.stream_id);
        assert_url_safe_stream_id(&third.stream_id);
        assert_eq!(app.fetch_list(4, 1, 20).await["totalcount"], 3);
    }
}

backend_test! {
    async fn collision_in_the_other_order(backend) {
        let app = TestApp::spawn(backend).await;
        let first = app.request_addr("@TLS#abc", "g1", "t").await;
        let second = app.request_addr("_TLS_abc", "g2", "t").await;
        let first = PushUrl::parse(first["pushurl"].as_str().unwrap());
        let second = PushUrl::parse(second["pushurl"].as_str().unwrap());
        assert_eq!(first.stream_id, "8888__TLS_abc", "guest ids keep the original's stream id");
        assert_ne!(first.stream_id, second.stream_id);
        assert_url_safe_stream_id(&second.stream_id);
    }
}

backend_test! {
    async fn odd_userids_get_url_safe_stream_ids(backend) {
        let app = TestApp::spawn(backend).await;
        let key = app.settings.live.push_key.expose().to_owned();
        let userids = [
            "名字", "名前", "a b", "a/b", "a?b", "a&b=c", "a%20b", "a.b", "a:b", "a+b", "a\"b",
            "a'b", "a\\b", "😀", "../x", "a\tb", "a\nb",
        ];
        let mut stream_ids = HashSet::new();
        for (i, userid) in userids.iter().enumerate() {
            let data = app.request_addr(userid, &format!("g{i}"), "t").await;
            let pushurl = data["pushurl"].as_str().unwrap();
            assert!(pushurl.is_ascii() && !pushurl.contains(' '), "{pushurl}");
            let url = PushUrl::parse(pushurl);
            assert_eq!(url.domain, "8888.livepush2.myqcloud.com");
            assert!(url.stream_id.starts_with("8888_"), "{}", url.stream_id);
            assert_url_safe_stream_id(&url.stream_id);
            url.assert_signed(&key, T0 + 3 * 3600);
            let room = app.room(userid).await;
            assert_eq!(room["userid"], *userid, "the userid itself is kept");
            assert_eq!(
                room["playurl"],
                format!("http://8888.liveplay.myqcloud.com/live/{}.flv", url.stream_id)
            );
            assert!(stream_ids.insert(url.stream_id.clone()), "{userid}: {} taken", url.stream_id);
        }
    }
}

backend_test! {
    async fn change_status_sets_online_and_offline(backend) {
        let app = TestApp::spawn(backend).await;
        app.request_addr("a1", "g1", "t").await;
        assert_eq!(app.room("a1").await["status"], "0", "offline until the push begins");
        for (status, shown, listed) in [
            (json!(0), "1", 1),
            (json!(1), "0", 0),
            (json!("0"), "1", 1),
            (json!(0), "1", 1),
            (json!("1"), "0", 0),
            (json!(1), "0", 0),
        ] {
            app.ack(json!({"Action":"ChangeStatus","userid":"a1","status":status})).await;
            assert_eq!(app.room("a1").await["status"], shown, "after status {status}");
            assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], listed, "after status {status}");
        }
        for status in [json!(2), json!(-1), json!("2"), json!(100)] {
            let msg = app.fails(json!({"Action":"ChangeStatus","userid":"a1","status":status}), 4002).await;
            assert!(msg.contains("status"), "{msg}");
        }
        assert_eq!(app.room("a1").await["status"], "0", "unchanged by the refused requests");
        let msg = app.fails(json!({"Action":"ChangeStatus","userid":"nobody","status":0}), 2003).await;
        assert!(msg.contains("nobody"), "{msg}");
        assert_eq!(app.fetch_list(4, 1, 20).await["totalcount"], 1, "no room was created");
    }
}

backend_test! {
    async fn likes_go_up_and_down_never_below_zero(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        assert_acked(&app.like("a1", 1).await);
        assert_eq!(app.room("a1").await["likecount"], 0);
        for _ in 0..3 {
            assert_acked(&app.like("a1", 0).await);
        }
        assert_eq!(app.room("a1").await["likecount"], 3);
        assert_acked(&app.like("a1", 1).await);
        assert_eq!(app.room("a1").await["likecount"], 2);
        for _ in 0..5 {
            assert_acked(&app.like("a1", 1).await);
        }
        assert_eq!(app.room("a1").await["likecount"], 0);
        assert_acked(&app.like("a1", 0).await);
        let list = app.fetch_list(1, 1, 20).await;
        assert_eq!(list["pusherlist"][0]["likecount"], 1);
        // Likes of an offline room still count (a late like).
        assert_acked(&app.change_status("a1", 1).await);
        assert_acked(&app.like("a1", 0).await);
        assert_eq!(app.room("a1").await["likecount"], 2);
    }
}

backend_test! {
    async fn concurrent_likes_all_count(backend) {
        let app = std::sync::Arc::new(TestApp::spawn(backend).await);
        app.go_live("a1", "g1").await;
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(async move { app.like("a1", 0).await })
            })
            .collect();
        for task in tasks {
            assert_acked(&task.await.unwrap());
        }
        assert_eq!(app.room("a1").await["likecount"], 40);
        let tasks: Vec<_> = (0..60)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(async move { app.like("a1", 1).await })
            })
            .collect();
        for task in tasks {
            assert_acked(&task.await.unwrap());
        }
        assert_eq!(app.room("a1").await["likecount"], 0, "floored at zero");
    }
}

backend_test! {
    async fn concurrent_like_updates_in_lanes_count_exactly(backend) {
        use minilvb_protocol::Counted;

        // Straight to the store, many updates at once: on a database server
        // each concurrent update of a target writes a slot of its own.
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        app.add_recording("a1", "f1", T0).await;
        let room = Counted::Room { userid: "a1".into() };
        let recording = Counted::Recording { userid: "a1".into(), fileid: "f1".into() };
        let updates: Vec<_> = (0..30)
            .map(|i| {
                let store = app.store.clone();
                let target = if i % 3 == 0 { recording.clone() } else { room.clone() };
                tokio::spawn(async move { store.add_likes(&target, 2).await })
            })
            .collect();
        for update in updates {
            assert!(update.await.unwrap().unwrap());
        }
        assert_eq!(app.room("a1").await["likecount"], 40);
        assert_eq!(app.recording("a1", "f1").await["likecount"], 20);
        // Unlikes are floored at the total of every slot.
        assert!(app.store.add_likes(&room, -39).await.unwrap());
        assert_eq!(app.room("a1").await["likecount"], 1);
        assert!(app.store.add_likes(&room, -5).await.unwrap());
        assert_eq!(app.room("a1").await["likecount"], 0);
        // A new session starts from no likes, whatever slots had them.
        assert!(app.store.add_likes(&room, 3).await.unwrap());
        app.go_live("a1", "g2").await;
        assert_eq!(app.room("a1").await["likecount"], 0);
        assert_eq!(app.recording("a1", "f1").await["likecount"], 20, "recordings keep theirs");
        // A target that is not there takes no likes, slot or no slot.
        let gone = Counted::Recording { userid: "a1".into(), fileid: "nope".into() };
        assert!(!app.store.add_likes(&gone, 1).await.unwrap());
        assert_code(&app.like_recording("a1", "nope", 0).await, 2003);
    }
}

backend_test! {
    async fn likes_on_many_targets_in_one_batch(backend) {
        use minilvb_protocol::Counted;

        // What SQLite's coalescer sends: every target's sum in one
        // transaction, a target gone among them, unlikes floored.
        let app = std::sync::Arc::new(TestApp::spawn(backend).await);
        app.go_live("a1", "g1").await;
        app.go_live("a2", "g2").await;
        app.add_recording("a1", "f1", T0).await;
        let room = |userid: &str| Counted::Room { userid: userid.into() };
        let recording = Counted::Recording { userid: "a1".into(), fileid: "f1".into() };
        let gone = Counted::Room { userid: "nobody".into() };
        let found = app
            .store
            .add_likes_many(&[(room("a1"), 5), (gone.clone(), 2), (recording.clone(), 3), (room("a2"), 1)])
            .await
            .unwrap();
        assert_eq!(found, [true, false, true, true]);
        let found = app
            .store
            .add_likes_many(&[(room("a1"), -7), (room("a2"), 4), (recording.clone(), 0), (gone, 0)])
            .await
            .unwrap();
        assert_eq!(found, [true, true, true, false]);
        assert_eq!(app.room("a1").await["likecount"], 0, "floored at zero");
        assert_eq!(app.room("a2").await["likecount"], 5);
        assert_eq!(app.recording("a1", "f1").await["likecount"], 3);
        // And through the protocol, likes on several rooms at once.
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let app = app.clone();
                tokio::spawn(async move { app.like(if i % 2 == 0 { "a1" } else { "a2" }, 0).await })
            })
            .collect();
        for task in tasks {
            assert_acked(&task.await.unwrap());
        }
        assert_eq!(app.room("a1").await["likecount"], 20);
        assert_eq!(app.room("a2").await["likecount"], 25);
    }
}

backend_test! {
    async fn likes_on_a_recording(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        app.add_recording("a1", "f1", T0).await;
        app.add_recording("a1", "f2", T0).await;
        assert_acked(&app.like_recording("a1", "f1", 0).await);
        assert_acked(&app.like_recording("a1", "f1", 0).await);
        assert_acked(&app.like_recording("a1", "f2", 1).await);
        assert_eq!(app.recording("a1", "f1").await["likecount"], 2);
        assert_eq!(app.recording("a1", "f2").await["likecount"], 0);
        assert_eq!(app.room("a1").await["likecount"], 0, "the room is not the recording");
        assert_acked(&app.like_recording("a1", "f1", 1).await);
        assert_eq!(app.recording("a1", "f1").await["likecount"], 1);
        // flag 1 needs the fileid.
        for body in [
            json!({"Action":"ChangeCount","userid":"a1","type":1,"optype":0,"flag":1}),
            json!({"Action":"ChangeCount","userid":"a1","type":1,"optype":0,"flag":1,"fileid":""}),
            json!({"Action":"ChangeCount","userid":"a1","type":1,"optype":0,"flag":1,"fileid":null}),
        ] {
            let msg = app.fails(body, 1000).await;
            assert!(msg.contains("fileid"), "{msg}");
        }
        // A recording of someone else, or none at all.
        for (userid, fileid) in [("a1", "nope"), ("a2", "f1"), ("nobody", "f1")] {
            let msg = assert_code(&app.like_recording(userid, fileid, 0).await, 2003);
            assert!(msg.contains(fileid), "{msg}");
        }
        assert_eq!(app.recording("a1", "f1").await["likecount"], 1);
    }
}

backend_test! {
    async fn change_count_type_0_is_accepted_and_changes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        app.add_recording("a1", "f1", T0).await;
        assert_acked(&app.enter("v1", "a1", "g1", 0).await);
        assert_acked(&app.enter("v2", "a1", "g1", 0).await);
        assert_acked(&app.enter("v1", "a1", "f1", 1).await);
        for optype in [0, 1, 0, 0, 1, 1, 1] {
            app.ack(json!({"Action":"ChangeCount","userid":"a1","type":0,"optype":optype,"flag":0,"fileid":""})).await;
            app.ack(json!({"Action":"ChangeCount","userid":"a1","type":0,"optype":optype,"flag":1,"fileid":"f1"})).await;
        }
        app.assert_room_viewers("a1", "g1", 2).await;
        app.assert_recording_viewers("a1", "f1", 1).await;
        assert_eq!(app.room("a1").await["likecount"], 0);
        // Still an unknown room or recording is an error.
        app.fails(json!({"Action":"ChangeCount","userid":"nobody","type":0,"optype":0,"flag":0}), 2003).await;
        app.fails(json!({"Action":"ChangeCount","userid":"a1","type":0,"optype":0,"flag":1,"fileid":"nope"}), 2003).await;
    }
}

backend_test! {
    async fn change_count_values_out_of_range_are_4002(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        for (body, field) in [
            (json!({"Action":"ChangeCount","userid":"a1","type":5,"optype":0,"flag":0}), "type"),
            (json!({"Action":"ChangeCount","userid":"a1","type":-1,"optype":0,"flag":0}), "type"),
            (json!({"Action":"ChangeCount","userid":"a1","type":"2","optype":0,"flag":0}), "type"),
            (json!({"Action":"ChangeCount","userid":"a1","type":1,"optype":3,"flag":0}), "optype"),
            (json!({"Action":"ChangeCount","userid":"a1","type":1,"optype":-1,"flag":0}), "optype"),
            (json!({"Action":"ChangeCount","userid":"a1","type":1,"optype":0,"flag":2}), "flag"),
            (json!({"Action":"ChangeCount","userid":"a1","type":1,"optype":0,"flag":-1,"fileid":"f"}), "flag"),
        ] {
            let msg = app.fails(body.clone(), 4002).await;
            assert!(msg.contains(field), "{body}: {msg}");
        }
        assert_eq!(app.room("a1").await["likecount"], 0);
    }
}

backend_test! {
    async fn likes_on_an_unknown_room_are_2003(backend) {
        let app = TestApp::spawn(backend).await;
        let msg = assert_code(&app.like("nobody", 0).await, 2003);
        assert!(msg.contains("nobody"), "{msg}");
        assert_code(&app.like("nobody", 1).await, 2003);
        assert_eq!(app.fetch_list(4, 1, 20).await["totalcount"], 0, "no room was created");
    }
}

backend_test! {
    async fn text_round_trips_exactly(backend) {
        let app = TestApp::spawn(backend).await;
        let title = "直播 😀 \"quoted\" back\\slash\nnew line\ttab 'single' <b>&amp;</b> %s %d";
        let userinfo = json!({"nickname":"小明 🎤","headpic":"http://img.example.com/a b.png?x=1&y=é",
            "frontcover":"https://cdn.example.com/封面.jpg","location":"Zürich, 深圳"});
        app.ok(json!({"Action":"RequestLVBAddr","userid":"anchor","groupid":"@TGS#群","title":title,"userinfo":userinfo})).await;
        let room = app.room("anchor").await;
        assert_eq!(room["title"], title);
        assert_eq!(room["groupid"], "@TGS#群");
        assert_eq!(room["userinfo"], userinfo);
        app.ack(json!({"Action":"EnterGroup","userid":"观众😀","liveuserid":"anchor","groupid":"@TGS#群",
            "nickname":"Ünïcødé 🙂","headpic":"http://x/😀.png","flag":0})).await;
        let members = app.members("anchor", "@TGS#群", 1, 20).await;
        assert_eq!(members["memberlist"], json!([{"userid":"观众😀","nickname":"Ünïcødé 🙂","headpic":"http://x/😀.png"}]));
    }
}

backend_test! {
    async fn ids_are_compared_exactly(backend) {
        let app = TestApp::spawn(backend).await;
        // Case, trailing spaces and accents make different anchors and viewers.
        let anchors = ["anchor", "Anchor", "ANCHOR", "anchor ", "anchör"];
        for (i, anchor) in anchors.iter().enumerate() {
            app.request_addr(anchor, "g", &format!("title {i}")).await;
        }
        assert_eq!(app.fetch_all(4, 20).await.len(), anchors.len());
        for (i, anchor) in anchors.iter().enumerate() {
            let room = app.room(anchor).await;
            assert_eq!(room["userid"], *anchor);
            assert_eq!(room["title"], format!("title {i}"));
        }
        for viewer in ["v", "V", "v "] {
            assert_acked(&app.enter(viewer, "anchor", "g", 0).await);
        }
        app.assert_room_viewers("anchor", "g", 3).await;
        app.assert_room_viewers("Anchor", "g", 0).await;
        // Group ids too: "G" is not the room's "g".
        assert_code(&app.enter("v", "anchor", "G", 0).await, 2003);
        assert_code(&app.enter("v", "anchor", "g ", 0).await, 2003);
        assert_acked(&app.like("Anchor", 0).await);
        assert_eq!(app.room("anchor").await["likecount"], 0);
        assert_eq!(app.room("Anchor").await["likecount"], 1);
    }
}

backend_test! {
    async fn a_stream_id_is_never_shared_even_when_squatted(backend) {
        let app = TestApp::spawn(backend).await;
        // Someone holds the original's id of "a-b", and someone else a userid
        // crafted to have the disambiguated id of "a-b" as its own.
        let holder = app.request_addr("a_b", "g1", "t").await;
        let crafted = minilvb_protocol::cloud::unique_stream_id("8888", "a-b");
        let squatter_id = crafted.strip_prefix("8888_").unwrap().to_owned();
        let squatter = app.request_addr(&squatter_id, "g2", "t").await;
        let taken = [&holder, &squatter].map(|d| PushUrl::parse(d["pushurl"].as_str().unwrap()).stream_id);
        assert_eq!(taken, ["8888_a_b".to_owned(), crafted.clone()]);
        // "a-b" gets a stream id of its own, or a clear refusal; never theirs.
        let reply = app
            .post(json!({"Action":"RequestLVBAddr","userid":"a-b","groupid":"g3","title":"t"}))
            .await;
        if reply["returnValue"] == 0 {
            let url = PushUrl::parse(reply["returnData"]["pushurl"].as_str().unwrap());
            assert!(!taken.contains(&url.stream_id), "{url:?}");
            assert_url_safe_stream_id(&url.stream_id);
        } else {
            assert_code(&reply, 2003);
        }
        // The others keep theirs.
        for (userid, stream_id) in [("a_b", &taken[0]), (squatter_id.as_str(), &taken[1])] {
            let room = app.room(userid).await;
            assert_eq!(room["playurl"], format!("http://8888.liveplay.myqcloud.com/live/{stream_id}.flv"));
        }
    }
}
