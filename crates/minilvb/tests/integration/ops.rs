//! Operations: the metrics endpoint on its own port, health endpoints.

use serde_json::json;

use crate::backend_test;
use crate::common::*;

/// The value of the sample `name` (with its labels exactly as rendered).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let base = app.metrics_base.as_ref().expect("metrics are on");
    let response = app
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

backend_test! {
    async fn metrics_on_their_own_port(backend) {
        let app = TestApp::spawn_with(backend, |s| s.metrics.listen = "127.0.0.1:0".into()).await;
        assert_ne!(app.metrics_base.as_deref(), Some(app.base.as_str()));
        app.go_live("vj-1", "g1").await;
        app.enter("v1", "vj-1", "g1", 0).await;
        app.enter("v2", "vj-1", "g1", 0).await;
        app.fetch_list(1, 1, 20).await;
        app.fails(json!({"Action":"ChangeStatus","userid":"vj-1","status":7}), 4002).await;
        let sign = minilvb_protocol::cloud::callback_sign("minilvb-demo-key-not-for-production", &T0.to_string());
        let (status, _) = app
            .post_raw("/callback", json!({"t":T0,"sign":sign,"event_type":1,"stream_id":"8888_nobody"}).to_string())
            .await;
        assert_eq!(status, 200);
        let text = scrape(&app).await;
        // The counters are process-wide (tests share one recorder): at least ours.
        for (name, at_least) in [
            ("minilvb_requests_total{action=\"FetchList\",return_value=\"0\"}", 1.0),
            ("minilvb_requests_total{action=\"ChangeStatus\",return_value=\"4002\"}", 1.0),
            ("minilvb_requests_total{action=\"EnterGroup\",return_value=\"0\"}", 2.0),
            ("minilvb_request_duration_seconds_bucket{action=\"FetchList\",le=\"+Inf\"}", 1.0),
            ("minilvb_request_duration_seconds_count{action=\"FetchList\"}", 1.0),
            ("minilvb_callbacks_total{event_type=\"push_began\",outcome=\"ignored\"}", 1.0),
        ] {
            let value = sample(&text, name).unwrap_or_else(|| panic!("{name} missing in\n{text}"));
            assert!(value >= at_least, "{name} = {value}");
        }
        // The gauges are this server's.
        assert_eq!(sample(&text, "minilvb_rooms_online"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "minilvb_members"), Some(2.0), "{text}");
        assert_eq!(sample(&text, "minilvb_database_up"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "minilvb_requests_in_flight"), Some(0.0), "{text}");
        assert!(sample(&text, "minilvb_http_connections").unwrap() >= 1.0, "{text}");
        // SQLite has a writer and a reader pool; the servers one shared pool.
        let pools: &[&str] = if backend == Backend::Sqlite {
            &[
                "minilvb_db_pool_connections{pool=\"write\",state=\"idle\"}",
                "minilvb_db_pool_connections{pool=\"read\",state=\"in_use\"}",
                "minilvb_db_pool_max_connections{pool=\"read\"}",
            ]
        } else {
            &[
                "minilvb_db_pool_connections{pool=\"shared\",state=\"idle\"}",
                "minilvb_db_pool_connections{pool=\"shared\",state=\"in_use\"}",
                "minilvb_db_pool_max_connections{pool=\"shared\"}",
            ]
        };
        for name in pools.iter().copied().chain(["minilvb_max_concurrent_requests"]) {
            assert!(sample(&text, name).is_some(), "{name} missing in\n{text}");
        }
        if cfg!(target_os = "linux") {
            for name in ["process_cpu_seconds_total", "process_resident_memory_bytes",
                "process_open_fds", "process_max_fds", "process_start_time_seconds"] {
                assert!(sample(&text, name).is_some(), "{name} missing in\n{text}");
            }
        }
        assert!(text.contains("# TYPE minilvb_request_duration_seconds histogram"), "{text}");
        assert!(text.contains("# TYPE minilvb_requests_total counter"), "{text}");
        // Not on the public port.
        let response = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 404);
        app.stop().await;
    }
}

backend_test! {
    async fn metrics_are_off_unless_configured(backend) {
        let app = TestApp::spawn(backend).await;
        assert!(app.metrics_base.is_none());
    }
}

backend_test! {
    async fn health_and_readiness(backend) {
        let app = TestApp::spawn(backend).await;
        for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
            let response = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["status"], status);
        }
        // The database goes away: ready no more, but still alive.
        app.store.close().await;
        let response = app.client.get(format!("{}/readyz", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 503);
        let response = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        // And requests get the 2003 envelope, not a dropped connection.
        app.fails(json!({"Action":"FetchList","flag":1}), 2003).await;
    }
}
