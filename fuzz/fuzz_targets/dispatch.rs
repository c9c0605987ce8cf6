//! Arbitrary bytes to the protocol endpoint and the callbacks, through the
//! real router over an in-memory SQLite store: no panic, and every reply is
//! a valid envelope (the property test in `tests/integration/fuzz.rs` does
//! the same for a fixed number of cases in CI).
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use minilvb::actions::Context;
use minilvb::clock::ManualClock;
use minilvb::config::Settings;
use minilvb::http::{AppState, router};
use serde_json::Value;
use tower::ServiceExt as _;

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let router = runtime.block_on(async {
            let mut settings = Settings::demo();
            settings.database.url = "sqlite::memory:".into();
            settings.rate_limit.enabled = false;
            settings.derive_domains();
            let store = minilvb_store::connect(&settings.database)
                .await
                .expect("an in-memory store");
            let ctx = Context::new(
                store,
                Arc::new(ManualClock::new(1_767_225_600)),
                Arc::new(settings),
            );
            router(AppState::new(ctx).expect("the state"))
        });
        Harness { runtime, router }
    })
}

fn post(path: &str, body: &[u8]) -> Value {
    let harness = harness();
    harness.runtime.block_on(async {
        let request = Request::post(path)
            .body(Body::from(body.to_vec()))
            .expect("a request");
        let response = harness
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        serde_json::from_slice(&bytes).expect("a JSON reply")
    })
}

fuzz_target!(|body: &[u8]| {
    let reply = post("/interface.php", body);
    let code = reply["returnValue"].as_i64().expect("returnValue");
    assert!(reply["returnMsg"].is_string());
    if code == 0 {
        assert!(reply["returnData"].is_object());
    } else {
        assert_eq!(reply["returnData"], Value::Array(Vec::new()));
    }
    let reply = post("/callback", body);
    assert!(reply["code"].is_i64());
});
