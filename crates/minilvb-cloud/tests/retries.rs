//! The retry policy against injected faults: only retryable failures are
//! retried, at most `max_attempts` times, each attempt signed afresh.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use minilvb_cloud::fake::{FakeCloud, Fault};
use minilvb_cloud::{CloudApi, CloudConfig, CloudError};

const DOMAIN: &str = "8888.livepush.myqcloud.com";

async fn fake() -> FakeCloud {
    FakeCloud::start("AKIDminilvbRetries", "retries-secret-key")
        .await
        .expect("the fake starts")
}

fn client_with(fake: &FakeCloud, adjust: impl FnOnce(&mut CloudConfig)) -> CloudApi {
    let mut config = fake.client_config();
    adjust(&mut config);
    CloudApi::new(config).expect("valid config")
}

fn client(fake: &FakeCloud) -> CloudApi {
    client_with(fake, |_| {})
}

#[tokio::test]
async fn request_limit_exceeded_then_success_succeeds_on_the_second_attempt() {
    let fake = fake().await;
    fake.fail_next(1, Fault::request_limit_exceeded());
    let called = client(&fake)
        .drop_live_stream(DOMAIN, "live", "s")
        .await
        .unwrap();

    assert_eq!(called.attempts, 2);
    let outcomes: Vec<_> = fake.calls().into_iter().map(|c| c.outcome).collect();
    assert_eq!(outcomes, ["RequestLimitExceeded", "ok"]);
    assert_eq!(
        fake.dropped_streams().len(),
        1,
        "the refused attempt had no effect"
    );
}

#[tokio::test]
async fn internal_error_on_every_attempt_fails_after_max_attempts() {
    let fake = fake().await;
    fake.fail_next(3, Fault::internal_error());
    let err = client(&fake)
        .drop_live_stream(DOMAIN, "live", "s")
        .await
        .unwrap_err();

    assert_eq!(err.code(), Some("InternalError"));
    assert!(
        err.to_string()
            .starts_with("the cloud refused DropLiveStream: InternalError: "),
        "{err}"
    );
    assert_eq!(fake.calls().len(), 3);
    assert!(
        fake.calls()
            .iter()
            .all(|c| c.verified && c.outcome == "InternalError")
    );
}

#[tokio::test]
async fn max_attempts_bounds_the_retries() {
    let fake = fake().await;
    fake.fail_next(10, Fault::internal_error());
    let err = client_with(&fake, |c| c.max_attempts = 5)
        .resume_live_stream(DOMAIN, "live", "s")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InternalError"));
    assert_eq!(fake.calls().len(), 5);
}

#[tokio::test]
async fn an_auth_failure_is_not_retried() {
    let fake = fake().await;
    fake.fail_next(3, Fault::signature_failure());
    let err = client(&fake)
        .drop_live_stream(DOMAIN, "live", "s")
        .await
        .unwrap_err();

    assert_eq!(err.code(), Some("AuthFailure.SignatureFailure"));
    assert!(!err.retryable());
    assert_eq!(fake.calls().len(), 1, "exactly one call reaches the cloud");
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let fake = fake().await;
    fake.fail_next(1, Fault::Delay(Duration::from_secs(10)));
    let api = client_with(&fake, |c| c.timeout = Duration::from_secs(1));
    let called = api.drop_live_stream(DOMAIN, "live", "s").await.unwrap();

    assert_eq!(called.attempts, 2);
    assert_eq!(fake.calls().len(), 2);
}

#[tokio::test]
async fn timeouts_on_every_attempt_end_in_a_timeout_error() {
    let fake = fake().await;
    fake.fail_next(2, Fault::Delay(Duration::from_secs(10)));
    let api = client_with(&fake, |c| {
        c.timeout = Duration::from_secs(1);
        c.max_attempts = 2;
    });
    let err = api.delete_media("f", None).await.unwrap_err();

    assert!(
        matches!(
            err,
            CloudError::Timeout {
                action: "DeleteMedia",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the cloud did not answer DeleteMedia within 1 s"
    );
    assert_eq!(fake.calls().len(), 2);
}

#[tokio::test]
async fn a_malformed_body_is_a_clear_error_and_is_not_retried() {
    let fake = fake().await;
    fake.fail_next(1, Fault::MalformedBody);
    let err = client(&fake)
        .drop_live_stream(DOMAIN, "live", "s")
        .await
        .unwrap_err();

    assert!(matches!(err, CloudError::Malformed { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "the cloud's answer to DropLiveStream is not the documented envelope: not JSON"
        ),
        "{text}"
    );
    assert!(text.contains("<html>upstream hiccup</html>"), "{text}");
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn http_500_is_retried_and_reported_by_status_when_it_persists() {
    let fake = fake().await;
    fake.fail_next(1, Fault::Http500);
    let called = client(&fake)
        .drop_live_stream(DOMAIN, "live", "s")
        .await
        .unwrap();
    assert_eq!(called.attempts, 2);

    fake.fail_next(3, Fault::Http500);
    let err = client(&fake)
        .drop_live_stream(DOMAIN, "live", "s")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        CloudError::Http {
            action: "DropLiveStream",
            status: 500
        }
    );
    assert_eq!(fake.calls().len(), 5);
}

#[tokio::test]
async fn a_fault_aimed_at_one_action_leaves_the_others_alone() {
    let fake = fake().await;
    fake.fail_next_of("DeleteMedia", 1, Fault::internal_error());
    let api = client(&fake);
    assert_eq!(
        api.drop_live_stream(DOMAIN, "live", "s")
            .await
            .unwrap()
            .attempts,
        1
    );
    fake.add_media("f", None);
    assert_eq!(api.delete_media("f", None).await.unwrap().attempts, 2);
}

#[tokio::test]
async fn a_throttled_page_is_retried_and_paging_goes_on() {
    let fake = fake().await;
    for i in 0..15 {
        fake.add_online_stream(DOMAIN, "live", &format!("s{i:02}"), 1_700_000_000);
    }
    fake.fail_next(1, Fault::request_limit_exceeded());
    let list = client_with(&fake, |c| c.online_list_page_size = 10)
        .describe_live_stream_online_list(DOMAIN, "live")
        .await
        .unwrap();
    assert_eq!(list.streams.len(), 15);
    assert_eq!((list.request_ids.len(), list.attempts), (2, 3));
}

#[tokio::test]
async fn every_attempt_is_signed_with_a_fresh_timestamp() {
    let fake = fake().await;
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let clock = Arc::new(AtomicI64::new(start));
    let ticking = clock.clone();
    fake.fail_next(2, Fault::internal_error());
    let api = client(&fake).with_clock(move || ticking.fetch_add(7, Ordering::SeqCst));
    api.drop_live_stream(DOMAIN, "live", "s").await.unwrap();

    let stamps: Vec<_> = fake
        .calls()
        .iter()
        .map(|c| (c.timestamp, c.verified))
        .collect();
    assert_eq!(
        stamps,
        [
            (Some(start), true),
            (Some(start + 7), true),
            (Some(start + 14), true)
        ]
    );
}
