//! Each action against the fake cloud, which verifies every signature and
//! holds the parameters to their documented names, types and ranges.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use minilvb_cloud::fake::{FakeCloud, StreamKey};
use minilvb_cloud::{CloudApi, CloudConfig, CloudError, tc3};
use serde_json::json;

const SECRET_ID: &str = "AKIDminilvbFakeCloud";
const SECRET_KEY: &str = "fake-cloud-secret-key";
const DOMAIN: &str = "8888.livepush.myqcloud.com";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn fake() -> FakeCloud {
    FakeCloud::start(SECRET_ID, SECRET_KEY)
        .await
        .expect("the fake starts")
}

fn client(fake: &FakeCloud) -> CloudApi {
    CloudApi::new(fake.client_config()).expect("valid config")
}

#[tokio::test]
async fn drop_live_stream_is_signed_and_sends_the_documented_parameters() {
    let fake = fake().await;
    fake.add_online_stream(DOMAIN, "live", "8888_anchor", now() - 60);
    let called = client(&fake)
        .drop_live_stream(DOMAIN, "live", "8888_anchor")
        .await
        .unwrap();

    assert_eq!(called.attempts, 1);
    assert!(
        called.request_id.starts_with("fa4ec10d-"),
        "{}",
        called.request_id
    );
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert!(call.verified);
    assert_eq!(call.outcome, "ok");
    assert_eq!(
        (call.action.as_str(), call.version.as_str()),
        ("DropLiveStream", "2018-08-01")
    );
    assert_eq!(call.host, fake.addr().to_string());
    assert_eq!(call.content_type, "application/json; charset=utf-8");
    assert_eq!(call.region, None);
    assert_eq!(
        call.params,
        json!({"DomainName": DOMAIN, "AppName": "live", "StreamName": "8888_anchor"})
    );
    assert!(fake.online_streams().is_empty());
    assert_eq!(
        fake.dropped_streams(),
        [StreamKey::new(DOMAIN, "live", "8888_anchor")]
    );
}

#[tokio::test]
async fn forbid_live_stream_sends_resume_time_as_utc_and_a_non_ascii_reason() {
    let fake = fake().await;
    let t = 1_704_067_000; // 2023-12-31T23:56:40Z: the scope date is the UTC one.
    fake.set_now(Some(t));
    fake.add_online_stream(DOMAIN, "live", "8888_anchor", t - 600);
    let api = client(&fake).with_clock(move || t);
    let resume_at = t + 3 * 86_400;
    api.forbid_live_stream(
        DOMAIN,
        "live",
        "8888_anchor",
        Some(resume_at),
        Some("违规内容 — operator"),
    )
    .await
    .unwrap();

    let call = &fake.calls_of("ForbidLiveStream")[0];
    assert!(call.verified);
    assert_eq!(call.timestamp, Some(t));
    assert_eq!(
        call.params,
        json!({
            "DomainName": DOMAIN, "AppName": "live", "StreamName": "8888_anchor",
            "ResumeTime": "2024-01-03T23:56:40Z", "Reason": "违规内容 — operator",
        })
    );
    let forbidden = fake
        .forbidden_stream(DOMAIN, "live", "8888_anchor")
        .expect("forbidden");
    assert_eq!(forbidden.resume_at, resume_at);
    assert_eq!(forbidden.reason.as_deref(), Some("违规内容 — operator"));
    assert!(fake.online_streams().is_empty());
}

#[tokio::test]
async fn forbid_without_resume_time_leaves_it_to_the_clouds_seven_day_default() {
    let fake = fake().await;
    let t = now();
    fake.set_now(Some(t));
    client(&fake)
        .with_clock(move || t)
        .forbid_live_stream(DOMAIN, "live", "s1", None, None)
        .await
        .unwrap();

    let call = &fake.calls_of("ForbidLiveStream")[0];
    assert_eq!(
        call.params,
        json!({"DomainName": DOMAIN, "AppName": "live", "StreamName": "s1"})
    );
    assert_eq!(
        fake.forbidden_stream(DOMAIN, "live", "s1")
            .unwrap()
            .resume_at,
        t + 7 * 86_400
    );
}

#[tokio::test]
async fn resume_live_stream_lifts_a_forbid() {
    let fake = fake().await;
    let api = client(&fake);
    api.forbid_live_stream(DOMAIN, "live", "s1", None, Some("spam"))
        .await
        .unwrap();
    assert!(fake.forbidden_stream(DOMAIN, "live", "s1").is_some());
    api.resume_live_stream(DOMAIN, "live", "s1").await.unwrap();

    assert!(fake.forbidden_stream(DOMAIN, "live", "s1").is_none());
    let call = &fake.calls_of("ResumeLiveStream")[0];
    assert!(call.verified);
    assert_eq!(
        call.params,
        json!({"DomainName": DOMAIN, "AppName": "live", "StreamName": "s1"})
    );
}

#[tokio::test]
async fn delete_media_signs_for_vod_and_sends_the_sub_application() {
    let fake = fake().await;
    fake.add_media("5285890784246869930", Some(1_500_000_001));
    client(&fake)
        .delete_media("5285890784246869930", Some(1_500_000_001))
        .await
        .unwrap();

    assert!(!fake.has_media("5285890784246869930"));
    let call = &fake.calls_of("DeleteMedia")[0];
    assert!(call.verified);
    assert_eq!(call.version, "2018-07-17");
    assert_eq!(
        call.params,
        json!({"FileId": "5285890784246869930", "SubAppId": 1_500_000_001u64})
    );
}

#[tokio::test]
async fn deleting_unknown_media_is_a_final_not_found_refusal() {
    let fake = fake().await;
    fake.add_media("in-default-app", None);
    let api = client(&fake);
    for (file_id, sub_app) in [("missing", None), ("in-default-app", Some(7))] {
        let err = api.delete_media(file_id, sub_app).await.unwrap_err();
        assert_eq!(err.code(), Some("ResourceNotFound.FileNotExist"), "{err}");
        assert!(err.is_not_found() && !err.retryable());
        assert!(
            err.to_string()
                .starts_with("the cloud refused DeleteMedia: ResourceNotFound.FileNotExist: ")
        );
        assert!(err.to_string().contains("(RequestId fa4ec10d-"), "{err}");
    }
    assert_eq!(fake.calls().len(), 2, "a final refusal is not retried");
    assert!(fake.has_media("in-default-app"));
}

#[tokio::test]
async fn the_online_list_is_gathered_over_every_page() {
    let fake = fake().await;
    let t = 1_700_000_000;
    for i in 0..25 {
        fake.add_online_stream(DOMAIN, "live", &format!("s{i:02}"), t + i);
    }
    fake.add_online_stream(DOMAIN, "other-app", "elsewhere", t);
    let mut config = fake.client_config();
    config.online_list_page_size = 10;
    let list = CloudApi::new(config)
        .unwrap()
        .describe_live_stream_online_list(DOMAIN, "live")
        .await
        .unwrap();

    let names: Vec<_> = list.streams.iter().map(|s| s.stream.clone()).collect();
    let expected: Vec<_> = (0..25).map(|i| format!("s{i:02}")).collect();
    assert_eq!(names, expected);
    assert!(
        list.streams
            .iter()
            .all(|s| s.domain == DOMAIN && s.app == "live")
    );
    assert_eq!(list.streams[3].last_published_at(), Some(t + 3));
    assert_eq!((list.request_ids.len(), list.attempts), (3, 3));
    let pages: Vec<_> = fake
        .calls()
        .iter()
        .map(|c| (c.params["PageNum"].clone(), c.params["PageSize"].clone()))
        .collect();
    assert_eq!(
        pages,
        [
            (json!(1), json!(10)),
            (json!(2), json!(10)),
            (json!(3), json!(10))
        ]
    );
    assert!(fake.calls().iter().all(|c| c.verified));
}

#[tokio::test]
async fn an_empty_online_list_takes_one_call() {
    let fake = fake().await;
    let list = client(&fake)
        .describe_live_stream_online_list(DOMAIN, "live")
        .await
        .unwrap();
    assert!(list.streams.is_empty());
    assert_eq!(fake.calls().len(), 1);
    assert_eq!(fake.calls()[0].params["PageSize"], json!(100));
}

#[tokio::test]
async fn the_region_is_sent_only_when_configured() {
    let fake = fake().await;
    let config = CloudConfig {
        region: Some("ap-guangzhou".into()),
        ..fake.client_config()
    };
    CloudApi::new(config)
        .unwrap()
        .drop_live_stream(DOMAIN, "live", "s")
        .await
        .unwrap();
    assert_eq!(fake.calls()[0].region.as_deref(), Some("ap-guangzhou"));
}

#[tokio::test]
async fn each_endpoint_is_signed_with_its_own_host_and_port() {
    let fake = fake().await;
    let port = fake.addr().port();
    let config = CloudConfig {
        vod_endpoint: format!("http://localhost:{port}"),
        ..fake.client_config()
    };
    let api = CloudApi::new(config).unwrap();
    fake.add_media("f1", None);
    api.delete_media("f1", None).await.unwrap();
    api.drop_live_stream(DOMAIN, "live", "s").await.unwrap();

    let hosts: Vec<_> = fake
        .calls()
        .iter()
        .map(|c| (c.host.clone(), c.verified))
        .collect();
    assert_eq!(
        hosts,
        [
            (format!("localhost:{port}"), true),
            (format!("127.0.0.1:{port}"), true)
        ]
    );
}

#[tokio::test]
async fn a_clock_more_than_five_minutes_off_is_refused_as_expired_and_not_retried() {
    let fake = fake().await;
    let skewed = now() - 400;
    let err = client(&fake)
        .with_clock(move || skewed)
        .drop_live_stream(DOMAIN, "live", "s")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AuthFailure.SignatureExpire"));
    assert_eq!(fake.calls().len(), 1);
    assert!(!fake.calls()[0].verified);
}

#[tokio::test]
async fn a_wrong_secret_key_is_refused_as_a_signature_failure() {
    let fake = fake().await;
    let config = CloudConfig {
        secret_key: "not-the-key".into(),
        ..fake.client_config()
    };
    let err = CloudApi::new(config)
        .unwrap()
        .drop_live_stream(DOMAIN, "live", "s")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AuthFailure.SignatureFailure"));
    assert!(
        err.to_string()
            .starts_with("the cloud refused DropLiveStream: AuthFailure.SignatureFailure: ")
    );
    assert_eq!(fake.calls().len(), 1);
    assert!(!fake.calls()[0].verified);
    assert_eq!(fake.dropped_streams(), []);
}

#[tokio::test]
async fn an_unknown_secret_id_is_refused() {
    let fake = fake().await;
    let config = CloudConfig {
        secret_id: "AKIDsomeoneelse".into(),
        ..fake.client_config()
    };
    let err = CloudApi::new(config)
        .unwrap()
        .resume_live_stream(DOMAIN, "live", "s")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AuthFailure.SecretIdNotFound"));
}

#[tokio::test]
async fn arguments_that_cannot_make_a_valid_request_are_refused_before_sending() {
    let fake = fake().await;
    let t = now();
    let api = client(&fake).with_clock(move || t);
    let long_reason = "x".repeat(2049);
    let errors = [
        api.drop_live_stream(DOMAIN, "live", " ").await.unwrap_err(),
        api.resume_live_stream("", "live", "s").await.unwrap_err(),
        api.forbid_live_stream(DOMAIN, "live", "s", Some(t), None)
            .await
            .unwrap_err(),
        api.forbid_live_stream(DOMAIN, "live", "s", Some(t + 91 * 86_400), None)
            .await
            .unwrap_err(),
        api.forbid_live_stream(DOMAIN, "live", "s", None, Some(&long_reason))
            .await
            .unwrap_err(),
        api.delete_media("", None).await.unwrap_err(),
        api.describe_live_stream_online_list(DOMAIN, "")
            .await
            .unwrap_err(),
    ];
    for err in &errors {
        assert!(matches!(err, CloudError::InvalidArgument { .. }), "{err}");
        assert!(err.to_string().starts_with("cannot call "), "{err}");
    }
    assert!(errors[3].to_string().contains("90 days"));
    assert!(errors[4].to_string().contains("2049 bytes"));
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_network_error_naming_the_action() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut config =
        CloudConfig::new(SECRET_ID, SECRET_KEY).with_endpoint(&format!("http://{addr}"));
    config.max_attempts = 2;
    config.retry_base_delay = Duration::from_millis(1);
    let err = CloudApi::new(config)
        .unwrap()
        .drop_live_stream(DOMAIN, "live", "s")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CloudError::Network {
                action: "DropLiveStream",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.retryable());
    assert!(
        err.to_string()
            .starts_with("could not reach the cloud for DropLiveStream: "),
        "{err}"
    );
}

#[test]
fn the_signature_rule_used_by_the_client_is_the_one_the_fake_checks() {
    // A request signed by hand with tc3 for the fake's host verifies, one for another port does not.
    let input = tc3::SigningInput {
        secret_id: SECRET_ID,
        secret_key: SECRET_KEY,
        service: "live",
        host: "127.0.0.1:18080",
        content_type: tc3::CONTENT_TYPE_JSON,
        timestamp: 1_700_000_000,
        payload: br#"{"DomainName":"d"}"#,
    };
    let signed = tc3::sign(&input);
    assert!(tc3::verify(&input, &signed.signature));
    assert!(!tc3::verify(
        &tc3::SigningInput {
            host: "127.0.0.1:18081",
            ..input
        },
        &signed.signature
    ));
}
