//! The protocol's envelope and dispatch, and a full broadcast session.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_test;
use crate::common::*;

backend_test! {
    async fn full_session(backend) {
        let app = TestApp::spawn(backend).await;
        let data = app.request_addr("anchor-1", "@TGS#1", "hello").await;
        let pushurl = data["pushurl"].as_str().unwrap();
        assert!(pushurl.starts_with("rtmp://8888.livepush2.myqcloud.com/live/8888_anchor_1?bizid=8888&"), "{pushurl}");
        assert_eq!(data["timestamp"], T0);
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 0);
        assert_acked(&app.change_status("anchor-1", 0).await);
        for viewer in ["v1", "v2", "v3"] {
            assert_acked(&app.enter(viewer, "anchor-1", "@TGS#1", 0).await);
        }
        assert_acked(&app.enter("v1", "anchor-1", "@TGS#1", 0).await);
        assert_acked(&app.like("anchor-1", 0).await);
        assert_acked(&app.like("anchor-1", 0).await);
        let list = app.fetch_list(1, 1, 20).await;
        assert_eq!(list["totalcount"], 1);
        let room = &list["pusherlist"][0];
        assert_pusherinfo(room);
        assert_eq!(room["userid"], "anchor-1");
        assert_eq!(room["groupid"], "@TGS#1");
        assert_eq!(room["title"], "hello");
        assert_eq!(room["viewercount"], 3);
        assert_eq!(room["likecount"], 2);
        assert_eq!(room["status"], "1");
        let members = app.members("anchor-1", "@TGS#1", 1, 20).await;
        assert_eq!(members["totalcount"], 3);
        assert_acked(&app.quit("v2", "anchor-1", "@TGS#1", 0).await);
        assert_eq!(app.member_ids("anchor-1", "@TGS#1").await, ["v1", "v3"]);
        assert_acked(&app.change_status("anchor-1", 1).await);
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 0);
        let info = app.user_info("anchor-1", 0, "").await;
        assert_eq!(info["returnData"]["viewercount"], 2);
        assert_eq!(info["returnData"]["likecount"], 2);
        assert_eq!(info["returnData"]["status"], "0");
        // The room stays listed under flag 4 (every room), offline.
        let all = app.fetch_list(4, 1, 20).await;
        assert_eq!(all["totalcount"], 1);
        assert_eq!(all["pusherlist"][0]["status"], "0");
        app.stop().await;
    }
}

backend_test! {
    async fn get_answers_4001(backend) {
        let app = TestApp::spawn(backend).await;
        for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
            for path in ["/", "/interface.php"] {
                let response = app
                    .client
                    .request(method.clone(), format!("{}{path}", app.base))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "{method} {path}");
                assert_eq!(
                    response.headers()["content-type"],
                    "application/json; charset=utf-8"
                );
                let reply: Value = response.json().await.unwrap();
                assert_envelope(&reply);
                assert_eq!(reply["returnValue"], 4001, "{method} {path}: {reply}");
                assert_eq!(reply["returnData"], json!([]));
            }
        }
    }
}

backend_test! {
    async fn both_paths_serve_the_protocol(backend) {
        let app = TestApp::spawn(backend).await;
        for path in ["/", "/interface.php", "/interface.php?Action=GetCOSSign&x=1"] {
            let (status, reply) = app
                .post_raw(path, r#"{"Action":"FetchList","flag":1,"pageno":1,"pagesize":20}"#)
                .await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(reply["returnValue"], 0, "{path}: {reply}");
            assert_eq!(reply["returnMsg"], "return successfully!");
            assert_eq!(reply["returnData"], json!({"totalcount": 0, "pusherlist": []}));
        }
    }
}

backend_test! {
    async fn any_request_content_type_is_accepted(backend) {
        let app = TestApp::spawn(backend).await;
        let body = r#"{"Action":"GetCOSSign"}"#;
        for content_type in [
            None,
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("text/plain"),
            Some("text/plain;charset=UTF-8"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=xyz"),
            Some("application/octet-stream"),
            Some("nonsense"),
        ] {
            for path in ["/", "/interface.php"] {
                let (status, reply) = app.post_with(path, content_type, body).await;
                assert_eq!(status, StatusCode::OK, "{content_type:?}");
                assert_eq!(reply["returnValue"], 0, "{content_type:?} {path}: {reply}");
                assert!(reply["returnData"]["sign"].is_string(), "{reply}");
            }
        }
    }
}

backend_test! {
    async fn ios_accept_encoding_gets_plain_json(backend) {
        let app = TestApp::spawn(backend).await;
        let response = app
            .client
            .post(format!("{}/interface.php", app.base))
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Accept-Encoding", "gzip")
            .body(r#"{"Action":"GetCOSSign"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "application/json; charset=utf-8");
        // Either plain or properly labelled; this client does not decode gzip.
        assert!(headers.get("content-encoding").is_none(), "{headers:?}");
        let reply: Value = response.json().await.unwrap();
        assert_envelope(&reply);
        assert_eq!(reply["returnValue"], 0);
    }
}

backend_test! {
    async fn empty_and_falsy_bodies_answer_4001(backend) {
        let app = TestApp::spawn(backend).await;
        for body in ["{}", "[]", "\"\"", "0", "null", "false", "", " ", "\n", "0.0", "{ }"] {
            let (status, reply) = app.post_raw("/interface.php", body).await;
            assert_eq!(status, StatusCode::OK, "{body:?}");
            assert_eq!(reply["returnValue"], 4001, "{body:?}: {reply}");
        }
    }
}

backend_test! {
    async fn non_json_and_non_object_bodies_answer_4001(backend) {
        let app = TestApp::spawn(backend).await;
        for body in [
            "abc",
            "{",
            r#"{"Action":"GetCOSSign""#,
            r#"{"Action":"GetCOSSign"} trailing"#,
            r#"{"Action":"GetCOSSign"}{"Action":"GetCOSSign"}"#,
            "Action=GetCOSSign",
            r#"{'Action':'GetCOSSign'}"#,
            "1",
            "true",
            "\"GetCOSSign\"",
            "[1]",
            r#"[{"Action":"GetCOSSign"}]"#,
        ] {
            let (status, reply) = app.post_raw("/", body).await;
            assert_eq!(status, StatusCode::OK, "{body:?}");
            assert_eq!(reply["returnValue"], 4001, "{body:?}: {reply}");
        }
    }
}

backend_test! {
    async fn invalid_utf8_answers_4001(backend) {
        let app = TestApp::spawn(backend).await;
        let mut bodies: Vec<Vec<u8>> = vec![vec![0xff, 0xfe, 0xfd], vec![0xc3]];
        let mut inside = br#"{"Action":"RequestLVBAddr","userid":""#.to_vec();
        inside.extend_from_slice(&[0xff, 0x80]);
        inside.extend_from_slice(br#"","groupid":"g"}"#);
        bodies.push(inside);
        for body in bodies {
            let (status, reply) = app.post_raw("/interface.php", body.clone()).await;
            assert_eq!(status, StatusCode::OK, "{body:?}");
            assert_eq!(reply["returnValue"], 4001, "{body:?}: {reply}");
        }
        // Nothing was written.
        assert_eq!(app.fetch_list(4, 1, 20).await["totalcount"], 0);
    }
}

backend_test! {
    async fn deep_nesting_answers_4001(backend) {
        let app = TestApp::spawn(backend).await;
        let depth = 5000;
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        let under_unknown_key = format!(r#"{{"Action":"GetCOSSign","x":{arrays}}}"#);
        let under_userinfo = format!(
            r#"{{"Action":"RequestLVBAddr","userid":"u","groupid":"g","userinfo":{objects}}}"#
        );
        for body in [arrays, objects, under_unknown_key, under_userinfo] {
            let (status, reply) = app.post_raw("/interface.php", body).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(reply["returnValue"], 4001, "{reply}");
        }
        // Moderate nesting under an unknown key is just ignored.
        let fine = format!(r#"{{"Action":"GetCOSSign","x":{}{}}}"#, "[".repeat(20), "]".repeat(20));
        let (_, reply) = app.post_raw("/interface.php", fine).await;
        assert_eq!(reply["returnValue"], 0, "{reply}");
        assert_eq!(app.fetch_list(4, 1, 20).await["totalcount"], 0);
    }
}

backend_test! {
    async fn missing_action_is_1000_naming_it(backend) {
        let app = TestApp::spawn(backend).await;
        for body in [
            json!({"userid": "u1"}),
            json!({"Action": null, "userid": "u1"}),
            json!({"Action": ""}),
            json!({"action": "GetCOSSign"}),
        ] {
            let msg = app.fails(body.clone(), 1000).await;
            assert!(msg.contains("Action"), "{body}: {msg}");
        }
        for body in [json!({"Action": true}), json!({"Action": {}}), json!({"Action": ["GetCOSSign"]})] {
            let msg = app.fails(body.clone(), 1000).await;
            assert!(msg.contains("Action"), "{body}: {msg}");
        }
    }
}

backend_test! {
    async fn unknown_action_is_1000_invalid_interface_name(backend) {
        let app = TestApp::spawn(backend).await;
        for (action, expected) in [
            (json!("Nope"), "invalid interface name:Nope"),
            (json!("fetchlist"), "invalid interface name:fetchlist"),
            (json!("FetchList "), "invalid interface name:FetchList "),
            (json!("RequestLVBAddr2"), "invalid interface name:RequestLVBAddr2"),
            (json!(42), "invalid interface name:42"),
        ] {
            let msg = app.fails(json!({"Action": action, "userid": "u"}), 1000).await;
            assert_eq!(msg, expected);
        }
        // A long unknown name is echoed bounded, never whole.
        let long = "X".repeat(200);
        let msg = app.fails(json!({"Action": long}), 1000).await;
        assert!(msg.starts_with("invalid interface name:XXXX"), "{msg}");
        assert!(msg.len() < 120, "{msg}");
    }
}

backend_test! {
    async fn unknown_keys_are_ignored(backend) {
        let app = TestApp::spawn(backend).await;
        let data = app
            .ok(json!({"Action":"RequestLVBAddr","userid":"u1","groupid":"g1","title":"t",
                "userinfo":{"nickname":"n","headpic":"","frontcover":"","location":"","desc":"hi","x":[1,{}]},
                "extra":{"deep":[1,2,3]},"sdkappid":1400000000,"token":null,"Action2":"ChangeStatus"}))
            .await;
        assert!(data["pushurl"].is_string());
        app.ack(json!({"Action":"ChangeStatus","userid":"u1","status":0,"unknown":true})).await;
        let list = app.ok(json!({"Action":"FetchList","flag":1,"pageno":1,"pagesize":20,"version":"3.0","os":"android"})).await;
        assert_eq!(list["totalcount"], 1);
        assert_eq!(list["pusherlist"][0]["userinfo"]["nickname"], "n");
        assert!(app.ok(json!({"Action":"GetCOSSign","userid":"u1","bucket":"other"})).await["sign"].is_string());
    }
}

backend_test! {
    async fn oversized_body_is_a_4001_envelope_with_413(backend) {
        let app = TestApp::spawn(backend).await;
        let limit = app.settings.server.max_body_bytes;
        assert_eq!(limit, 64 * 1024, "the default");
        // Exactly at the limit: served.
        let at_limit = padded_cos_sign(limit);
        assert_eq!(at_limit.len(), limit);
        let (status, reply) = app.post_raw("/interface.php", at_limit).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(reply["returnValue"], 0, "{reply}");
        // One byte over, and far over: refused, with the envelope.
        for size in [limit + 1, 4 * limit] {
            let (status, reply) = app.post_raw("/interface.php", padded_cos_sign(size)).await;
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(reply["returnValue"], 4001, "{reply}");
            assert!(reply["returnMsg"].as_str().unwrap().contains(&limit.to_string()), "{reply}");
        }
        // The server still serves afterwards.
        assert!(app.ok(json!({"Action":"GetCOSSign"})).await["sign"].is_string());
    }
}

backend_test! {
    async fn body_limit_is_configurable(backend) {
        let app = TestApp::spawn_with(backend, |s| s.server.max_body_bytes = 1000).await;
        let (status, reply) = app.post_raw("/", padded_cos_sign(1000)).await;
        assert_eq!((status, reply["returnValue"].as_i64()), (StatusCode::OK, Some(0)), "{reply}");
        let (status, reply) = app.post_raw("/", padded_cos_sign(1001)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(reply["returnValue"], 4001, "{reply}");
    }
}

backend_test! {
    async fn bad_input_writes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        // A valid userid but a bad nested field: no room is created.
        let msg = app
            .fails(json!({"Action":"RequestLVBAddr","userid":"u1","groupid":"g1","title":"t",
                "userinfo":{"nickname":"n","headpic":"h","frontcover":"f","location":["x"]}}), 1000)
            .await;
        assert!(msg.contains("userinfo.location"), "{msg}");
        app.fails(json!({"Action":"GetUserInfo","userid":"u1","type":0}), 2003).await;
        // A bad optional field on EnterGroup: no member is added.
        app.go_live("u1", "g1").await;
        let msg = app
            .fails(json!({"Action":"EnterGroup","userid":"v1","liveuserid":"u1","groupid":"g1",
                "nickname":"n","headpic":"h","flag":0,"level":"high"}), 1000)
            .await;
        assert!(msg.contains("level"), "{msg}");
        app.assert_room_viewers("u1", "g1", 0).await;
    }
}

/// `{"Action":"GetCOSSign","pad":"xxx…"}` of exactly `size` bytes.
fn padded_cos_sign(size: usize) -> String {
    let empty = r#"{"Action":"GetCOSSign","pad":""}"#;
    format!(
        r#"{{"Action":"GetCOSSign","pad":"{}"}}"#,
        "x".repeat(size - empty.len())
    )
}

backend_test! {
    async fn other_paths_are_404_not_5xx(backend) {
        let app = TestApp::spawn(backend).await;
        for path in ["/interface", "/index.php", "/callback/nope", "/interface.php/x"] {
            let (status, reply) = app.post_raw(path, r#"{"Action":"GetCOSSign"}"#).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {reply}");
            assert_ne!(reply["returnValue"], 0, "{path}: {reply}");
        }
    }
}
