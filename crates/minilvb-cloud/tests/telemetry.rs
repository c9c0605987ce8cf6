//! Metrics of cloud API calls, counted per attempt; the client's Debug.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use minilvb_cloud::CloudApi;
use minilvb_cloud::fake::{FakeCloud, Fault};

const SECRET_KEY: &str = "telemetry-secret-key-7f3a";
const DOMAIN: &str = "8888.livepush.myqcloud.com";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn each_attempt_is_counted_with_its_outcome_and_timed() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        runtime().block_on(async {
            let fake = FakeCloud::start("AKIDtelemetry", SECRET_KEY).await.unwrap();
            fake.fail_next(1, Fault::request_limit_exceeded());
            let api = CloudApi::new(fake.client_config()).unwrap();
            api.drop_live_stream(DOMAIN, "live", "s").await.unwrap();
        })
    });

    let mut counters = Vec::new();
    let mut samples = 0;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let labels: Vec<_> = key
            .key()
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        match (key.key().name(), value) {
            ("minilvb_cloud_api_calls_total", DebugValue::Counter(n)) => {
                counters.push((labels.join(","), n))
            }
            ("minilvb_cloud_api_duration_seconds", DebugValue::Histogram(values)) => {
                assert_eq!(labels, ["action=DropLiveStream"]);
                samples += values.len();
            }
            (name, _) => panic!("unexpected metric {name}"),
        }
    }
    counters.sort();
    assert_eq!(
        counters,
        [
            ("action=DropLiveStream,outcome=ok".to_owned(), 1),
            ("action=DropLiveStream,outcome=refused".to_owned(), 1),
        ]
    );
    assert_eq!(samples, 2);
}

#[test]
fn debug_of_the_client_hides_the_secret() {
    let config = minilvb_cloud::CloudConfig::new("AKIDshown", SECRET_KEY);
    let api = CloudApi::new(config).unwrap();
    let shown = format!("{api:?}");
    assert!(
        shown.contains("AKIDshown") && !shown.contains(SECRET_KEY),
        "{shown}"
    );
}
