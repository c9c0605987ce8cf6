//! Limits: body size, field lengths, JSON depth and pathological input,
//! request and header timeouts, the concurrency limit. Each answers with a
//! protocol envelope, never a dropped connection.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::backend_test;
use crate::common::*;
use crate::raw;

backend_test! {
    async fn body_size_limit(backend) {
        let app = TestApp::spawn_with(backend, |s| s.server.max_body_bytes = 1024).await;
        let pad = "x".repeat(2000);
        let (status, reply) = app
            .post_raw("/interface.php", json!({"Action":"FetchList","pad":pad}).to_string())
            .await;
        assert_eq!(status, 413);
        assert_eq!(reply["returnValue"], 4001);
        assert!(reply["returnMsg"].as_str().unwrap().contains("larger than 1024 bytes"), "{reply}");
        // Just under the limit is fine.
        let pad = "x".repeat(900);
        let (status, reply) = app
            .post_raw("/interface.php", json!({"Action":"FetchList","flag":1,"pad":pad}).to_string())
            .await;
        assert_eq!((status.as_u16(), reply["returnValue"].as_i64()), (200, Some(0)), "{reply}");
    }
}

backend_test! {
    async fn field_limits_default_and_configured(backend) {
        let app = TestApp::spawn(backend).await;
        let long_id = "u".repeat(129);
        let msg = app.fails(json!({"Action":"ChangeStatus","userid":long_id,"status":0}), 1000).await;
        assert!(msg.contains("userid is longer than 128 bytes"), "{msg}");
        let msg = app.fails(json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g",
            "title":"t".repeat(257)}), 1000).await;
        assert!(msg.contains("title is longer than 256 bytes"), "{msg}");
        let msg = app.fails(json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g",
            "userinfo":{"headpic":"h".repeat(1025)}}), 1000).await;
        assert!(msg.contains("userinfo.headpic is longer than 1024 bytes"), "{msg}");
        app.request_addr(&"u".repeat(128), "g", &"t".repeat(256)).await;

        let app = TestApp::spawn_with(backend, |s| {
            s.limits.id_bytes = 8;
            s.limits.name_bytes = 10;
        }).await;
        let msg = app.fails(json!({"Action":"EnterGroup","userid":"viewer-123","liveuserid":"vj",
            "groupid":"g"}), 1000).await;
        assert!(msg.contains("userid is longer than 8 bytes"), "{msg}");
        let msg = app.fails(json!({"Action":"RequestLVBAddr","userid":"vj","groupid":"g",
            "title":"eleven char"}), 1000).await;
        assert!(msg.contains("title is longer than 10 bytes"), "{msg}");
    }
}

backend_test! {
    async fn json_depth_and_pathological_input(backend) {
        let app = TestApp::spawn(backend).await;
        // Nested within the default depth (32): fine; beyond: 4001.
        let nested = |levels: usize| format!(
            r#"{{"Action":"FetchList","flag":1,"x":{}1{}}}"#, "[".repeat(levels), "]".repeat(levels));
        let (_, reply) = app.post_raw("/interface.php", nested(30)).await;
        assert_eq!(reply["returnValue"], 0, "{reply}");
        let (status, reply) = app.post_raw("/interface.php", nested(40)).await;
        assert_eq!((status.as_u16(), reply["returnValue"].as_i64()), (200, Some(4001)), "{reply}");
        assert!(reply["returnMsg"].as_str().unwrap().contains("nested too deep"), "{reply}");
        // Far deeper than any parser's recursion limit.
        let (_, reply) = app.post_raw("/interface.php", nested(30_000)).await;
        assert_eq!(reply["returnValue"], 4001, "{reply}");

        let cases: Vec<(Vec<u8>, i64, &str)> = vec![
            (br#"{"Action":"ChangeStatus","userid":"a","userid":"b","status":0}"#.to_vec(), 4001, "duplicate key \"userid\""),
            (b"{\"Action\":\"FetchList\",\"x\":\"\xff\xfe\"}".to_vec(), 4001, "not JSON"),
            (b"{\"Action\":\"FetchList\"}\0".to_vec(), 4001, "not JSON"),
            (b"\0\0\0\0".to_vec(), 4001, "not JSON"),
            (br#"{"Action":"FetchList","x":"\ud800"}"#.to_vec(), 4001, "not JSON"),
            (br#"{"Action":"FetchList","pageno":1e400}"#.to_vec(), 4001, "not JSON"),
            (br#"{"Action":"FetchList","flag":1,"pageno":1e300}"#.to_vec(), 1000, "pageno"),
            (br#"{"Action":"ChangeStatus","userid":"a","status":123456789012345678901234567890}"#.to_vec(), 1000, "status"),
            (br#"{"Action":"ChangeStatus","userid":"a\u0000b","status":0}"#.to_vec(), 1000, "userid"),
            (br#"{"Action":"Fetch\u0000List"}"#.to_vec(), 1000, "Action"),
            (br#"{"Action":["FetchList"]}"#.to_vec(), 1000, "Action"),
        ];
        for (body, code, needle) in cases {
            let (status, reply) = app.post_raw("/interface.php", body.clone()).await;
            assert_eq!(status, 200, "{reply}");
            assert_eq!(reply["returnValue"], code, "{:?}: {reply}", String::from_utf8_lossy(&body));
            assert!(reply["returnMsg"].as_str().unwrap().contains(needle), "{reply}");
        }
    }
}

backend_test! {
    async fn slow_body_gets_408(backend) {
        let app = TestApp::spawn_with(backend, |s| s.server.request_timeout_secs = 1).await;
        let mut stream = raw::connect(&app.base).await;
        raw::send(&mut stream, raw::post_head(40).as_bytes()).await;
        raw::send(&mut stream, br#"{"Action":"FetchList""#).await;
        let started = Instant::now();
        let reply = raw::read_reply(&mut stream, Duration::from_secs(5)).await;
        assert_eq!(reply.status, 408, "{reply:?}");
        assert_envelope(&reply.body);
        assert_eq!(reply.body["returnValue"], 4001);
        assert!(reply.body["returnMsg"].as_str().unwrap().contains("not received within 1 s"), "{reply:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        // The server is fine afterwards.
        app.fetch_list(1, 1, 10).await;
    }
}

backend_test! {
    async fn slow_action_gets_504(backend) {
        let app = TestApp::spawn_with(backend, |s| s.server.request_timeout_secs = 1).await;
        app.request_addr("u", "g", "t").await;
        // Another process holds the lock the write needs (SQLite's write
        // lock, the room's row lock on a server): the write waits for it,
        // longer than the request may take.
        let locker = minilvb_test_databases::RoomLock::hold(backend, &app.settings.database.url, "u").await;
        let started = Instant::now();
        let (status, reply) = app
            .post_raw("/interface.php", json!({"Action":"ChangeStatus","userid":"u","status":0}).to_string())
            .await;
        assert_eq!(status, 504, "{reply}");
        assert_eq!(reply["returnValue"], 2003, "{reply}");
        assert!(reply["returnMsg"].as_str().unwrap().contains("timeout"), "{reply}");
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        locker.release().await;
        // Once the lock is gone (and the abandoned query has given up), all is well.
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(app.fetch_list(4, 1, 10).await["totalcount"], 1);
        app.request_addr("u", "g", "t").await;
    }
}

backend_test! {
    async fn slow_headers_get_408_and_idle_connections_close(backend) {
        let app = TestApp::spawn_with(backend, |s| s.server.header_read_timeout_secs = 1).await;
        let mut stream = raw::connect(&app.base).await;
        raw::send(&mut stream, b"POST /interface.php HTTP/1.1\r\nHost: minilvb\r\n").await;
        let started = Instant::now();
        let reply = raw::read_reply(&mut stream, Duration::from_secs(5)).await;
        assert_eq!(reply.status, 408, "{reply:?}");
        assert_envelope(&reply.body);
        assert!(reply.body["returnMsg"].as_str().unwrap().contains("headers not received"), "{reply:?}");
        assert!(reply.head.to_ascii_lowercase().contains("connection: close"), "{reply:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        raw::read_to_close(&mut stream, Duration::from_secs(2)).await;

        // A keep-alive connection that served a request and then idles is closed, quietly.
        let mut stream = raw::connect(&app.base).await;
        let body = br#"{"Action":"FetchList","flag":1}"#;
        raw::send(&mut stream, raw::post_head(body.len()).as_bytes()).await;
        raw::send(&mut stream, body).await;
        let reply = raw::read_reply(&mut stream, Duration::from_secs(5)).await;
        assert_eq!(reply.body["returnValue"], 0, "{reply:?}");
        let extra = raw::read_to_close(&mut stream, Duration::from_secs(4)).await;
        assert!(extra.is_empty(), "{:?}", String::from_utf8_lossy(&extra));
    }
}

backend_test! {
    async fn load_is_shed_with_503(backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.server.max_concurrent_requests = 1;
            s.server.body_read_timeout_secs = 20;
            s.metrics.listen = "127.0.0.1:0".into();
        }).await;
        app.request_addr("u", "g", "t").await;
        // A body still coming holds no place: requests go on meanwhile.
        let body = br#"{"Action":"FetchList","flag":1}"#;
        let mut slow = raw::connect(&app.base).await;
        raw::send(&mut slow, raw::post_head(body.len()).as_bytes()).await;
        raw::send(&mut slow, &body[..10]).await;
        // Nor does a callback's.
        let mut slow_callback = raw::connect(&app.base).await;
        let head = raw::post_head(100).replace("/interface.php", "/callback");
        raw::send(&mut slow_callback, head.as_bytes()).await;
        raw::send(&mut slow_callback, b"{").await;
        app.fetch_list(1, 1, 10).await;
        // One request in progress: its write waits for a lock another
        // process holds.
        let locker = minilvb_test_databases::RoomLock::hold(backend, &app.settings.database.url, "u").await;
        let (client, base) = (app.client.clone(), app.base.clone());
        let busy = tokio::spawn(async move {
            client.post(format!("{base}/interface.php"))
                .body(json!({"Action":"ChangeStatus","userid":"u","status":0}).to_string())
                .send().await.unwrap().status()
        });
        // Wait until it holds the one place.
        let metrics = format!("{}/metrics", app.metrics_base.as_ref().unwrap());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = app.client.get(&metrics).send().await.unwrap().text().await.unwrap();
            if text.lines().any(|l| l == "minilvb_requests_in_flight 1") {
                break;
            }
            assert!(Instant::now() < deadline, "the slow request never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (status, reply) = app.post_raw("/interface.php", json!({"Action":"FetchList","flag":1}).to_string()).await;
        assert_eq!(status, 503, "{reply}");
        assert_eq!(reply["returnValue"], 4003, "{reply}");
        assert!(reply["returnMsg"].as_str().unwrap().contains("server busy"), "{reply}");
        // Health stays reachable while the server is saturated.
        let health = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
        assert_eq!(health.status(), 200);
        // The request in progress completes, and then there is room again.
        locker.release().await;
        assert_eq!(busy.await.unwrap(), 200);
        app.fetch_list(1, 1, 10).await;
        // The slow body, completed, is answered too.
        raw::send(&mut slow, &body[10..]).await;
        let reply = raw::read_reply(&mut slow, Duration::from_secs(5)).await;
        assert_eq!((reply.status, reply.body["returnValue"].as_i64()), (200, Some(0)), "{reply:?}");
    }
}
