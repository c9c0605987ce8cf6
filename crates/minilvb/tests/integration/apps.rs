//! The apps' exact request bodies (tencent-cloud.md section 2): Android's key
//! order, iOS sending every key (possibly ""), Android omitting null keys, the
//! H5 page's `type` as a string, numeric strings for integers, numbers for
//! strings. Bodies are raw text so that key order is exactly the apps'.

use serde_json::{Value, json};

use crate::backend_test;
use crate::common::*;

/// POSTs a raw body; returns the envelope (checked).
async fn raw(app: &TestApp, body: &str) -> Value {
    let (status, reply) = app.post_raw("/interface.php", body.to_owned()).await;
    assert_eq!(status, 200, "{body}: {reply}");
    reply
}

/// POSTs a raw body that must succeed; returns `returnData`.
async fn raw_ok(app: &TestApp, body: &str) -> Value {
    let reply = raw(app, body).await;
    assert_eq!(reply["returnValue"], 0, "{body}: {reply}");
    assert_eq!(reply["returnMsg"], "return successfully!");
    reply["returnData"].clone()
}

backend_test! {
    async fn android_session_with_exact_bodies(backend) {
        let app = TestApp::spawn(backend).await;
        let addr = raw_ok(&app, r#"{"Action":"RequestLVBAddr","userid":"user_1","groupid":"@TGS#2ABC","title":"My live","userinfo":{"nickname":"Nick","headpic":"http://img/h.jpg","frontcover":"http://img/f.jpg","location":"Shenzhen"}}"#).await;
        assert!(addr["pushurl"].as_str().unwrap().starts_with("rtmp://"), "{addr}");
        assert!(addr["timestamp"].is_i64(), "{addr}");
        assert_eq!(addr.as_object().unwrap().len(), 2, "{addr}");
        assert_eq!(raw_ok(&app, r#"{"Action":"ChangeStatus","userid":"user_1","status":0}"#).await, json!({"result":0}));
        for viewer in ["v1", "v2"] {
            let body = format!(r#"{{"Action":"EnterGroup","userid":"{viewer}","liveuserid":"user_1","groupid":"@TGS#2ABC","nickname":"N {viewer}","headpic":"http://img/{viewer}.jpg","flag":0}}"#);
            assert_eq!(raw_ok(&app, &body).await, json!({"result":0}));
        }
        for _ in 0..3 {
            raw_ok(&app, r#"{"Action":"ChangeCount","userid":"user_1","type":1,"optype":0,"flag":0,"fileid":""}"#).await;
        }
        let list = raw_ok(&app, r#"{"flag":1,"pageno":1,"pagesize":20,"Action":"FetchList"}"#).await;
        assert_eq!(list["totalcount"], 1);
        let room = &list["pusherlist"][0];
        assert_pusherinfo(room);
        assert_eq!(room["userid"], "user_1");
        assert_eq!(room["groupid"], "@TGS#2ABC");
        assert_eq!(room["title"], "My live");
        assert_eq!(room["type"], 0);
        assert_eq!(room["status"], "1");
        assert_eq!(room["viewercount"], 2);
        assert_eq!(room["likecount"], 3);
        assert_eq!(room["fileid"], "");
        assert_eq!(room["timestamp"], addr["timestamp"]);
        assert_eq!(room["userinfo"], json!({"nickname":"Nick","headpic":"http://img/h.jpg","frontcover":"http://img/f.jpg","location":"Shenzhen"}));
        assert_eq!(room["playurl"], "http://8888.liveplay.myqcloud.com/live/8888_user_1.flv");
        assert_eq!(room["hls_play_url"], "http://8888.liveplay.myqcloud.com/live/8888_user_1.m3u8");
        let members = raw_ok(&app, r#"{"Action":"FetchGroupMemberList","liveuserid":"user_1","groupid":"@TGS#2ABC","pageno":1,"pagesize":20}"#).await;
        assert_eq!(members, json!({"totalcount":2,"memberlist":[
            {"userid":"v1","nickname":"N v1","headpic":"http://img/v1.jpg"},
            {"userid":"v2","nickname":"N v2","headpic":"http://img/v2.jpg"}]}));
        raw_ok(&app, r#"{"Action":"QuitGroup","userid":"v1","flag":0,"liveuserid":"user_1","groupid":"@TGS#2ABC"}"#).await;
        let sign = raw_ok(&app, r#"{"Action":"GetCOSSign"}"#).await;
        assert!(sign["sign"].is_string());
        let info = raw_ok(&app, r#"{"Action":"GetUserInfo","userid":"user_1","type":0,"fileid":""}"#).await;
        assert_pusherinfo(&info);
        assert_eq!(info["viewercount"], 1);
        raw_ok(&app, r#"{"Action":"ChangeStatus","userid":"user_1","status":1}"#).await;
        let list = raw_ok(&app, r#"{"flag":1,"pageno":1,"pagesize":20,"Action":"FetchList"}"#).await;
        assert_eq!(list, json!({"totalcount":0,"pusherlist":[]}));
    }
}

backend_test! {
    async fn android_recording_flow_with_exact_bodies(backend) {
        let app = TestApp::spawn(backend).await;
        app.add_recording("user_1", "5285890781", T0 - 3600).await;
        let list = raw_ok(&app, r#"{"flag":2,"pageno":1,"pagesize":20,"Action":"FetchList"}"#).await;
        assert_eq!(list["totalcount"], 1);
        assert_recording_info(&list["pusherlist"][0], "user_1", "5285890781", T0 - 3600);
        // The app enters a recording by its fileid, sent as groupid.
        raw_ok(&app, r#"{"Action":"EnterGroup","userid":"v1","liveuserid":"user_1","groupid":"5285890781","nickname":"N","headpic":"","flag":1}"#).await;
        raw_ok(&app, r#"{"Action":"ChangeCount","userid":"user_1","type":1,"optype":0,"flag":1,"fileid":"5285890781"}"#).await;
        let members = raw_ok(&app, r#"{"Action":"FetchGroupMemberList","liveuserid":"user_1","groupid":"5285890781","pageno":1,"pagesize":20}"#).await;
        assert_eq!(members["totalcount"], 1);
        let info = raw_ok(&app, r#"{"Action":"GetUserInfo","userid":"user_1","type":1,"fileid":"5285890781"}"#).await;
        assert_eq!((info["viewercount"].as_i64(), info["likecount"].as_i64()), (Some(1), Some(1)), "{info}");
        raw_ok(&app, r#"{"Action":"QuitGroup","userid":"v1","flag":1,"liveuserid":"user_1","groupid":"5285890781"}"#).await;
        app.assert_recording_viewers("user_1", "5285890781", 0).await;
    }
}

backend_test! {
    async fn android_omits_null_keys(backend) {
        let app = TestApp::spawn(backend).await;
        // No title, no userinfo.
        raw_ok(&app, r#"{"Action":"RequestLVBAddr","userid":"a1","groupid":"g1"}"#).await;
        // userinfo with only some keys.
        raw_ok(&app, r#"{"Action":"RequestLVBAddr","userid":"a2","groupid":"g2","title":"t2","userinfo":{"nickname":"Two"}}"#).await;
        let a1 = app.room("a1").await;
        assert_eq!(a1["title"], "");
        assert_eq!(a1["userinfo"], json!({"nickname":"","headpic":"","frontcover":"","location":""}));
        let a2 = app.room("a2").await;
        assert_eq!(a2["userinfo"], json!({"nickname":"Two","headpic":"","frontcover":"","location":""}));
        // EnterGroup without nickname, headpic or flag.
        raw_ok(&app, r#"{"Action":"EnterGroup","userid":"v1","liveuserid":"a1","groupid":"g1"}"#).await;
        let members = app.members("a1", "g1", 1, 20).await;
        assert_eq!(members["memberlist"], json!([{"userid":"v1","nickname":"","headpic":""}]));
        // ChangeCount without flag or fileid; GetUserInfo without type or fileid.
        raw_ok(&app, r#"{"Action":"ChangeCount","userid":"a1","type":1,"optype":0}"#).await;
        let info = raw_ok(&app, r#"{"Action":"GetUserInfo","userid":"a1"}"#).await;
        assert_eq!((info["likecount"].as_i64(), info["viewercount"].as_i64()), (Some(1), Some(1)), "{info}");
        // QuitGroup without flag; FetchList and FetchGroupMemberList without paging.
        raw_ok(&app, r#"{"Action":"QuitGroup","userid":"v1","liveuserid":"a1","groupid":"g1"}"#).await;
        raw_ok(&app, r#"{"Action":"ChangeStatus","userid":"a1","status":0}"#).await;
        let list = raw_ok(&app, r#"{"flag":1,"Action":"FetchList"}"#).await;
        assert_eq!(list["totalcount"], 1);
        let members = raw_ok(&app, r#"{"Action":"FetchGroupMemberList","liveuserid":"a1","groupid":"g1"}"#).await;
        assert_eq!(members, json!({"totalcount":0,"memberlist":[]}));
        // JSON null is the same as an omitted key.
        raw_ok(&app, r#"{"Action":"RequestLVBAddr","userid":"a3","groupid":"g3","title":null,"userinfo":null}"#).await;
        raw_ok(&app, r#"{"Action":"EnterGroup","userid":"v1","liveuserid":"a3","groupid":"g3","nickname":null,"headpic":null,"flag":null}"#).await;
        assert_eq!(app.room("a3").await["userinfo"]["nickname"], "");
        app.assert_room_viewers("a3", "g3", 1).await;
    }
}

backend_test! {
    async fn ios_sends_every_key_possibly_empty(backend) {
        let app = TestApp::spawn(backend).await;
        raw_ok(&app, r#"{"Action":"RequestLVBAddr","userid":"a1","groupid":"g1","title":"","userinfo":{"nickname":"","headpic":"","frontcover":"","location":""}}"#).await;
        let room = app.room("a1").await;
        assert_eq!(room["title"], "");
        assert_eq!(room["userinfo"], json!({"nickname":"","headpic":"","frontcover":"","location":""}));
        // iOS may send an empty dictionary as an empty array.
        raw_ok(&app, r#"{"Action":"RequestLVBAddr","userid":"a2","groupid":"g2","title":"","userinfo":[]}"#).await;
        assert_eq!(app.room("a2").await["userinfo"]["location"], "");
        raw_ok(&app, r#"{"Action":"EnterGroup","userid":"v1","liveuserid":"a1","groupid":"g1","nickname":"","headpic":"","flag":0}"#).await;
        raw_ok(&app, r#"{"Action":"ChangeCount","userid":"a1","type":1,"optype":0,"flag":0,"fileid":""}"#).await;
        let info = raw_ok(&app, r#"{"Action":"GetUserInfo","userid":"a1","type":0,"fileid":""}"#).await;
        assert_eq!((info["likecount"].as_i64(), info["viewercount"].as_i64()), (Some(1), Some(1)), "{info}");
        // A required key sent as "" is missing, and the message names it.
        for (body, field) in [
            (r#"{"Action":"RequestLVBAddr","userid":"","groupid":"g1","title":"","userinfo":{}}"#, "userid"),
            (r#"{"Action":"RequestLVBAddr","userid":"a1","groupid":"","title":"","userinfo":{}}"#, "groupid"),
            (r#"{"Action":"EnterGroup","userid":"v1","liveuserid":"","groupid":"g1","nickname":"","headpic":"","flag":0}"#, "liveuserid"),
            (r#"{"Action":"GetUserInfo","userid":"a1","type":1,"fileid":""}"#, "fileid"),
            (r#"{"Action":"ChangeCount","userid":"a1","type":1,"optype":0,"flag":1,"fileid":""}"#, "fileid"),
            (r#"{"Action":"ChangeStatus","userid":"a1","status":""}"#, "status"),
        ] {
            let reply = raw(&app, body).await;
            assert_eq!(
                assert_code(&reply, 1000),
                format!("invalid param in json from client! | {field} is null or empty!"),
                "{body}"
            );
        }
    }
}

backend_test! {
    async fn h5_share_page_sends_type_as_a_string(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        app.add_recording("a1", "f1", T0).await;
        let room = raw_ok(&app, r#"{"Action":"GetUserInfo","userid":"a1","type":"0","fileid":""}"#).await;
        assert_pusherinfo(&room);
        assert_eq!((room["type"].as_i64(), room["status"].as_str()), (Some(0), Some("1")));
        let recording = raw_ok(&app, r#"{"Action":"GetUserInfo","userid":"a1","type":"1","fileid":"f1"}"#).await;
        assert_recording_info(&recording, "a1", "f1", T0);
    }
}

backend_test! {
    async fn integers_as_numeric_strings_and_integral_floats(backend) {
        let app = TestApp::spawn(backend).await;
        app.request_addr("a1", "g1", "t").await;
        app.ack(json!({"Action":"ChangeStatus","userid":"a1","status":"0"})).await;
        app.ack(json!({"Action":"EnterGroup","userid":"v1","liveuserid":"a1","groupid":"g1","flag":"0"})).await;
        app.ack(json!({"Action":"EnterGroup","userid":"v2","liveuserid":"a1","groupid":"g1","flag":0.0})).await;
        app.ack(json!({"Action":"ChangeCount","userid":"a1","type":"1","optype":"0","flag":"0","fileid":""})).await;
        app.ack(json!({"Action":"ChangeCount","userid":"a1","type":1.0,"optype":0.0,"flag":0.0})).await;
        app.ack(json!({"Action":"ChangeCount","userid":"a1","type":" 1 ","optype":"1"})).await;
        let list = app.ok(json!({"Action":"FetchList","flag":"1","pageno":"1","pagesize":"20"})).await;
        assert_eq!(list["totalcount"], 1);
        let room = &list["pusherlist"][0];
        assert_eq!((room["likecount"].as_i64(), room["viewercount"].as_i64()), (Some(1), Some(2)), "{room}");
        let list = app.ok(json!({"Action":"FetchList","flag":1.0,"pageno":1.0,"pagesize":1e1})).await;
        assert_eq!(list["totalcount"], 1);
        let members = app.ok(json!({"Action":"FetchGroupMemberList","liveuserid":"a1","groupid":"g1","pageno":"2","pagesize":"1"})).await;
        assert_eq!(members["memberlist"][0]["userid"], "v2");
        app.ack(json!({"Action":"QuitGroup","userid":"v2","flag":"0","liveuserid":"a1","groupid":"g1"})).await;
        app.assert_room_viewers("a1", "g1", 1).await;
        app.ack(json!({"Action":"ChangeStatus","userid":"a1","status":"1"})).await;
        assert_eq!(app.room("a1").await["status"], "0");
    }
}

backend_test! {
    async fn strings_as_numbers(backend) {
        let app = TestApp::spawn(backend).await;
        app.ok(json!({"Action":"RequestLVBAddr","userid":10001,"groupid":123,"title":2024,
            "userinfo":{"nickname":7,"headpic":"","frontcover":"","location":0}})).await;
        app.ack(json!({"Action":"ChangeStatus","userid":10001,"status":0})).await;
        let room = app.room("10001").await;
        assert_eq!(room["userid"], "10001");
        assert_eq!(room["groupid"], "123");
        assert_eq!(room["title"], "2024");
        assert_eq!(room["userinfo"]["nickname"], "7");
        assert_eq!(room["userinfo"]["location"], "0");
        app.ack(json!({"Action":"EnterGroup","userid":42,"liveuserid":10001,"groupid":123,"nickname":1,"headpic":2,"flag":0})).await;
        let members = app.members("10001", "123", 1, 20).await;
        assert_eq!(members["memberlist"], json!([{"userid":"42","nickname":"1","headpic":"2"}]));
        app.ack(json!({"Action":"ChangeCount","userid":10001,"type":1,"optype":0,"flag":0,"fileid":""})).await;
        app.add_recording("10001", "99", T0).await;
        app.ack(json!({"Action":"ChangeCount","userid":10001,"type":1,"optype":0,"flag":1,"fileid":99})).await;
        let info = app.ok(json!({"Action":"GetUserInfo","userid":10001,"type":1,"fileid":99})).await;
        assert_eq!(info["likecount"], 1);
        let members = app.ok(json!({"Action":"FetchGroupMemberList","liveuserid":10001,"groupid":123})).await;
        assert_eq!(members["totalcount"], 1);
        app.ack(json!({"Action":"QuitGroup","userid":42,"flag":0,"liveuserid":10001,"groupid":123})).await;
        app.assert_room_viewers("10001", "123", 0).await;
    }
}

backend_test! {
    async fn every_1000_names_the_field(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        // (body, field named, whether missing or of a wrong type)
        let cases = [
            (json!({"Action":"RequestLVBAddr","groupid":"g"}), "userid", true),
            (json!({"Action":"RequestLVBAddr","userid":"u"}), "groupid", true),
            (json!({"Action":"RequestLVBAddr","userid":true,"groupid":"g"}), "userid", false),
            (json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","title":{"a":1}}), "title", false),
            (json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","userinfo":"x"}), "userinfo", false),
            (json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","userinfo":{"nickname":false}}), "userinfo.nickname", false),
            (json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","userinfo":{"headpic":[]}}), "userinfo.headpic", false),
            (json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","userinfo":{"frontcover":{}}}), "userinfo.frontcover", false),
            (json!({"Action":"ChangeStatus","status":0}), "userid", true),
            (json!({"Action":"ChangeStatus","userid":"a1"}), "status", true),
            (json!({"Action":"ChangeStatus","userid":"a1","status":"online"}), "status", false),
            (json!({"Action":"ChangeStatus","userid":"a1","status":true}), "status", false),
            (json!({"Action":"ChangeStatus","userid":"a1","status":0.5}), "status", false),
            (json!({"Action":"ChangeCount","type":1,"optype":0}), "userid", true),
            (json!({"Action":"ChangeCount","userid":"a1","optype":0}), "type", true),
            (json!({"Action":"ChangeCount","userid":"a1","type":1}), "optype", true),
            (json!({"Action":"ChangeCount","userid":"a1","type":"like","optype":0}), "type", false),
            (json!({"Action":"ChangeCount","userid":"a1","type":1,"optype":[0]}), "optype", false),
            (json!({"Action":"ChangeCount","userid":"a1","type":1,"optype":0,"flag":"x"}), "flag", false),
            (json!({"Action":"ChangeCount","userid":"a1","type":1,"optype":0,"flag":1}), "fileid", true),
            (json!({"Action":"ChangeCount","userid":"a1","type":1,"optype":0,"flag":1,"fileid":{}}), "fileid", false),
            (json!({"Action":"FetchList","flag":"x"}), "flag", false),
            (json!({"Action":"FetchList","flag":1,"pageno":"first"}), "pageno", false),
            (json!({"Action":"FetchList","flag":1,"pagesize":[]}), "pagesize", false),
            (json!({"Action":"EnterGroup","liveuserid":"a1","groupid":"g1"}), "userid", true),
            (json!({"Action":"EnterGroup","userid":"v","groupid":"g1"}), "liveuserid", true),
            (json!({"Action":"EnterGroup","userid":"v","liveuserid":"a1"}), "groupid", true),
            (json!({"Action":"EnterGroup","userid":"v","liveuserid":"a1","groupid":"g1","flag":"room"}), "flag", false),
            (json!({"Action":"EnterGroup","userid":"v","liveuserid":"a1","groupid":"g1","nickname":{}}), "nickname", false),
            (json!({"Action":"EnterGroup","userid":"v","liveuserid":"a1","groupid":"g1","headpic":true}), "headpic", false),
            (json!({"Action":"EnterGroup","userid":"v","liveuserid":"a1","groupid":"g1","level":"x"}), "level", false),
            (json!({"Action":"QuitGroup","liveuserid":"a1","groupid":"g1"}), "userid", true),
            (json!({"Action":"QuitGroup","userid":"v","groupid":"g1"}), "liveuserid", true),
            (json!({"Action":"QuitGroup","userid":"v","liveuserid":"a1"}), "groupid", true),
            (json!({"Action":"QuitGroup","userid":"v","liveuserid":"a1","groupid":"g1","flag":[]}), "flag", false),
            (json!({"Action":"FetchGroupMemberList","groupid":"g1"}), "liveuserid", true),
            (json!({"Action":"FetchGroupMemberList","liveuserid":"a1"}), "groupid", true),
            (json!({"Action":"FetchGroupMemberList","liveuserid":"a1","groupid":"g1","pageno":"x"}), "pageno", false),
            (json!({"Action":"FetchGroupMemberList","liveuserid":"a1","groupid":"g1","pagesize":false}), "pagesize", false),
            (json!({"Action":"GetUserInfo","type":0}), "userid", true),
            (json!({"Action":"GetUserInfo","userid":"a1","type":"room"}), "type", false),
            (json!({"Action":"GetUserInfo","userid":"a1","type":1}), "fileid", true),
        ];
        for (body, field, missing) in cases {
            let msg = app.fails(body.clone(), 1000).await;
            if missing {
                assert_eq!(msg, format!("invalid param in json from client! | {field} is null or empty!"), "{body}");
            } else {
                let prefix = format!("invalid param in json from client! | {field}:");
                assert!(msg.starts_with(&prefix), "{body}: {msg}");
            }
        }
        // Nothing above changed the room.
        let room = app.room("a1").await;
        assert_eq!((room["viewercount"].as_i64(), room["likecount"].as_i64()), (Some(0), Some(0)), "{room}");
        assert_eq!(app.fetch_list(4, 1, 20).await["totalcount"], 1);
    }
}

backend_test! {
    async fn length_limits_name_the_field(backend) {
        let app = TestApp::spawn(backend).await;
        let id_ok = "u".repeat(128);
        let data = app.request_addr(&id_ok, &"g".repeat(128), &"t".repeat(256)).await;
        assert!(data["pushurl"].is_string());
        for (body, field) in [
            (json!({"Action":"RequestLVBAddr","userid":"u".repeat(129),"groupid":"g"}), "userid"),
            (json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g".repeat(129)}), "groupid"),
            (json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","title":"t".repeat(257)}), "title"),
            // 86 three-byte characters: 258 bytes.
            (json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","title":"直".repeat(86)}), "title"),
            (json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","userinfo":{"headpic":"h".repeat(1025)}}), "userinfo.headpic"),
            (json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","userinfo":{"nickname":"n".repeat(257)}}), "userinfo.nickname"),
            (json!({"Action":"EnterGroup","userid":"v","liveuserid":id_ok,"groupid":"g","nickname":"n".repeat(257)}), "nickname"),
            (json!({"Action":"GetUserInfo","userid":"u","type":1,"fileid":"f".repeat(129)}), "fileid"),
        ] {
            let msg = app.fails(body.clone(), 1000).await;
            assert!(msg.starts_with(&format!("invalid param in json from client! | {field} is longer than")), "{msg}");
            assert!(msg.len() < 200, "the message does not echo the value: {msg}");
        }
        assert_eq!(app.fetch_list(4, 1, 20).await["totalcount"], 1, "nothing was written");
    }
}

backend_test! {
    async fn nul_bytes_are_refused(backend) {
        let app = TestApp::spawn(backend).await;
        let msg = app.fails(json!({"Action":"RequestLVBAddr","userid":"a\u{0}b","groupid":"g"}), 1000).await;
        assert!(msg.contains("userid"), "{msg}");
        let msg = app.fails(json!({"Action":"RequestLVBAddr","userid":"ab","groupid":"g","title":"x\u{0}"}), 1000).await;
        assert!(msg.contains("title"), "{msg}");
        assert_eq!(app.fetch_list(4, 1, 20).await["totalcount"], 0);
    }
}

backend_test! {
    async fn huge_and_fractional_numbers_are_not_ints(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("a1", "g1").await;
        for status in ["1.5", "99999999999999999999", "-99999999999999999999", "1e300", "9223372036854775808"] {
            let body = format!(r#"{{"Action":"ChangeStatus","userid":"a1","status":{status}}}"#);
            let msg = assert_code(&raw(&app, &body).await, 1000);
            assert!(msg.contains("status:") && msg.contains("is not int"), "{body}: {msg}");
        }
        // A huge integer in range of i64 is an int, and out of range of status.
        let reply = raw(&app, r#"{"Action":"ChangeStatus","userid":"a1","status":9223372036854775807}"#).await;
        assert_code(&reply, 4002);
        assert_eq!(app.room("a1").await["status"], "1");
    }
}
