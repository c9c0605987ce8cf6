//! Property test (runs in CI): arbitrary bytes, arbitrary JSON and
//! request-shaped JSON thrown at the real router (parsing, dispatch, every
//! action over an in-memory SQLite store, the callbacks). No panic, and
//! every reply is a valid envelope.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use minilvb::actions::Context;
use minilvb::clock::ManualClock;
use minilvb::config::Settings;
use minilvb::http::{AppState, router};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

use crate::common::{T0, assert_envelope};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter),
        Just(String::new()),
        Just("u1".to_owned()),
        Just("g1".to_owned()),
        Just("f1".to_owned()),
        Just("@TGS#1".to_owned()),
        Just("0".to_owned()),
        Just("1".to_owned()),
        Just("-1".to_owned()),
        (0usize..300).prop_map(|n| "x".repeat(n)),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-3i64..5).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(text(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const KEYS: [&str; 16] = [
    "userid",
    "groupid",
    "title",
    "userinfo",
    "status",
    "type",
    "optype",
    "flag",
    "fileid",
    "pageno",
    "pagesize",
    "liveuserid",
    "nickname",
    "headpic",
    "level",
    "Action",
];

/// An object with a known (or nearly known) Action and some of the fields
/// the actions read, with values of any type.
fn request_like() -> impl Strategy<Value = Value> {
    let action = prop_oneof![
        proptest::sample::select(minilvb_protocol::ACTIONS.to_vec()).prop_map(str::to_owned),
        text(),
    ];
    let field = (proptest::sample::select(KEYS.to_vec()), json_value());
    (action, proptest::collection::vec(field, 0..10)).prop_map(|(action, fields)| {
        let mut object = Map::new();
        object.insert("Action".into(), Value::String(action));
        for (key, value) in fields {
            if key != "Action" {
                object.insert(key.to_owned(), value);
            }
        }
        Value::Object(object)
    })
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

impl Harness {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let router = runtime.block_on(async {
            let mut settings = Settings::demo();
            settings.database.url = "sqlite::memory:".into();
            settings.rate_limit.enabled = false;
            settings.derive_domains();
            let store = minilvb_store::connect(&settings.database, None)
                .await
                .unwrap();
            let ctx = Context::new(store, Arc::new(ManualClock::new(T0)), Arc::new(settings));
            router(AppState::new(ctx).unwrap())
        });
        Self { runtime, router }
    }

    /// POSTs `body` to `path`; returns the status and the JSON reply.
    fn post(&self, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        self.runtime.block_on(async {
            let request = Request::post(path).body(Body::from(body)).unwrap();
            let response = self.router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            assert_eq!(content_type, "application/json; charset=utf-8");
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            let reply: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "reply is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            });
            (status, reply)
        })
    }

    fn check_protocol(&self, body: Vec<u8>) {
        let (status, reply) = self.post("/interface.php", body);
        assert!(
            status == StatusCode::OK || status == StatusCode::PAYLOAD_TOO_LARGE,
            "{status}: {reply}"
        );
        assert_envelope(&reply);
    }

    fn check_callback(&self, body: Vec<u8>) {
        let (status, reply) = self.post("/callback", body);
        assert!(status == StatusCode::OK, "{status}: {reply}");
        assert!(reply["code"].is_i64(), "{reply}");
    }
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn arbitrary_bytes() {
    let harness = Harness::new();
    runner()
        .run(&proptest::collection::vec(any::<u8>(), 0..600), |body| {
            harness.check_protocol(body.clone());
            harness.check_callback(body);
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_json() {
    let harness = Harness::new();
    runner()
        .run(&json_value(), |value| {
            let body = serde_json::to_vec(&value).unwrap();
            harness.check_protocol(body.clone());
            harness.check_callback(body);
            Ok(())
        })
        .unwrap();
}

#[test]
fn request_shaped_json() {
    let harness = Harness::new();
    // Something to find, so that the actions get past "not found".
    harness.check_protocol(
        json!({"Action":"RequestLVBAddr","userid":"u1","groupid":"g1","title":"t"})
            .to_string()
            .into_bytes(),
    );
    runner()
        .run(&request_like(), |value| {
            harness.check_protocol(serde_json::to_vec(&value).unwrap());
            Ok(())
        })
        .unwrap();
}

#[test]
fn callback_shaped_json() {
    let harness = Harness::new();
    let sign = minilvb_protocol::cloud::callback_sign(
        "minilvb-demo-key-not-for-production",
        &T0.to_string(),
    );
    let keys = [
        "event_type",
        "stream_id",
        "channel_id",
        "event_time",
        "sequence",
        "video_url",
        "file_format",
        "start_time",
        "end_time",
        "duration",
        "file_id",
        "video_id",
        "pic_url",
        "pic_full_url",
        "create_time",
    ];
    let strategy = proptest::collection::vec(
        (proptest::sample::select(keys.to_vec()), json_value()),
        0..10,
    );
    runner()
        .run(&strategy, |fields| {
            let mut object = Map::new();
            object.insert("t".into(), json!(T0));
            object.insert("sign".into(), json!(sign));
            for (key, value) in fields {
                object.insert(key.to_owned(), value);
            }
            harness.check_callback(serde_json::to_vec(&Value::Object(object)).unwrap());
            Ok(())
        })
        .unwrap();
}
