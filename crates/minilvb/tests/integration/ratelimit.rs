//! Rate limits per client address: a general budget, tighter ones for likes
//! and RequestLVBAddr; over budget is 4003 `frequency control` (HTTP 200).
//! Behind a reverse proxy the client comes from its header, only when the
//! peer is a configured proxy.

use serde_json::{Value, json};

use crate::backend_test;
use crate::common::*;

fn tight(s: &mut minilvb::config::Settings) {
    let rate = &mut s.rate_limit;
    rate.enabled = true;
    // Practically no refill during a test.
    rate.requests_per_sec = 0.001;
    rate.requests_burst = 10;
    rate.likes_per_sec = 0.001;
    rate.likes_burst = 3;
    rate.request_addr_per_sec = 0.001;
    rate.request_addr_burst = 2;
}

async fn post_from(app: &TestApp, forwarded_for: Option<&str>, body: Value) -> Value {
    let headers: Vec<(&str, &str)> = forwarded_for
        .map(|client| ("X-Forwarded-For", client))
        .into_iter()
        .collect();
    app.post_with_headers(&headers, body).await
}

fn assert_frequency_control(reply: &Value) {
    assert_eq!(reply["returnValue"], 4003, "{reply}");
    let msg = reply["returnMsg"].as_str().unwrap();
    assert!(msg.starts_with("frequency control"), "{reply}");
}

backend_test! {
    async fn general_budget(backend) {
        let app = TestApp::spawn_with(backend, tight).await;
        for _ in 0..10 {
            app.fetch_list(1, 1, 10).await;
        }
        let reply = app.post(json!({"Action":"FetchList","flag":1})).await;
        assert_frequency_control(&reply);
        // Garbage counts too.
        assert_frequency_control(&app.post(json!({"no":"action"})).await);
    }
}

backend_test! {
    async fn likes_and_request_addr_have_tighter_budgets(backend) {
        let app = TestApp::spawn_with(backend, tight).await;
        app.request_addr("vj-1", "g1", "t").await;
        app.request_addr("vj-2", "g2", "t").await;
        let reply = app.post(json!({"Action":"RequestLVBAddr","userid":"vj-3","groupid":"g3"})).await;
        assert_frequency_control(&reply);
        for _ in 0..3 {
            assert_eq!(app.like("vj-1", 0).await["returnValue"], 0);
        }
        assert_frequency_control(&app.like("vj-1", 0).await);
        // Nothing over budget was applied.
        assert_eq!(app.user_info("vj-1", 0, "").await["returnData"]["likecount"], 3);
        assert_eq!(app.user_info("vj-3", 0, "").await["returnValue"], 2003);
        // Other actions still have the general budget.
        app.fetch_list(4, 1, 10).await;
    }
}

backend_test! {
    async fn off_switch(backend) {
        let app = TestApp::spawn_with(backend, |s| {
            tight(s);
            s.rate_limit.enabled = false;
        }).await;
        for _ in 0..20 {
            app.fetch_list(1, 1, 10).await;
        }
    }
}

backend_test! {
    async fn the_proxy_header_counts_only_from_trusted_proxies(backend) {
        // Not trusted: the header is ignored, every request is the peer's.
        let app = TestApp::spawn_with(backend, tight).await;
        for n in 0..10 {
            let client = format!("203.0.113.{n}");
            assert_eq!(post_from(&app, Some(&client), json!({"Action":"FetchList","flag":1})).await["returnValue"], 0);
        }
        assert_frequency_control(&post_from(&app, Some("198.51.100.1"), json!({"Action":"FetchList","flag":1})).await);

        // Trusted: each forwarded client has its own budget.
        let app = TestApp::spawn_with(backend, |s| {
            tight(s);
            s.server.trusted_proxies = vec!["127.0.0.0/8".into()];
        }).await;
        for _ in 0..10 {
            post_from(&app, Some("203.0.113.1"), json!({"Action":"FetchList","flag":1})).await;
        }
        assert_frequency_control(&post_from(&app, Some("203.0.113.1"), json!({"Action":"FetchList","flag":1})).await);
        // A client cannot escape by prepending addresses: the proxy's entry is the rightmost.
        assert_frequency_control(
            &post_from(&app, Some("192.0.2.77, 203.0.113.1"), json!({"Action":"FetchList","flag":1})).await,
        );
        assert_eq!(post_from(&app, Some("203.0.113.2"), json!({"Action":"FetchList","flag":1})).await["returnValue"], 0);
    }
}
