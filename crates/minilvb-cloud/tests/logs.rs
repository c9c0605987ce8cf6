//! Logs of cloud API calls: action, outcome, code and RequestId, never the
//! secret key. Alone in its test binary: tracing caches whether a callsite is
//! enabled process-wide, and another test thread hitting the same callsites
//! without a subscriber could make this one miss events.

use std::io::Write;
use std::sync::{Arc, Mutex};

use minilvb_cloud::CloudApi;
use minilvb_cloud::fake::{FakeCloud, Fault};

const SECRET_KEY: &str = "logs-secret-key-9c1e";
const DOMAIN: &str = "8888.livepush.myqcloud.com";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn logs_name_the_action_outcome_and_request_id_but_never_the_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let request_id = tracing::subscriber::with_default(subscriber, || {
        runtime().block_on(async {
            let fake = FakeCloud::start("AKIDlogs", SECRET_KEY).await.unwrap();
            fake.fail_next(1, Fault::signature_failure());
            let api = CloudApi::new(fake.client_config()).unwrap();
            let err = api
                .forbid_live_stream(DOMAIN, "live", "s", None, Some("spam"))
                .await
                .unwrap_err();
            assert_eq!(err.code(), Some("AuthFailure.SignatureFailure"));
            api.forbid_live_stream(DOMAIN, "live", "s", None, Some("spam"))
                .await
                .unwrap()
                .request_id
        })
    });

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("cloud API call failed"), "{logs}");
    assert!(
        logs.contains("code=\"AuthFailure.SignatureFailure\""),
        "{logs}"
    );
    assert!(logs.contains("cloud API call succeeded"), "{logs}");
    assert!(logs.contains(&format!("request_id={request_id}")), "{logs}");
    assert!(
        logs.contains("action=\"ForbidLiveStream\"") && logs.contains("attempt=1"),
        "{logs}"
    );
    assert!(!logs.contains(SECRET_KEY), "{logs}");
    assert!(!logs.contains("Signature="), "{logs}");
}
