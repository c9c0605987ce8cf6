//! A fake Tencent Cloud API server for tests (cargo feature `fake`).
//!
//! Invariants:
//! - Every request's TC3 signature is recomputed from the configured secret,
//!   the request's own Host and Content-Type headers, `X-TC-Timestamp` and
//!   body, and the credential scope must name the action's service (`live`
//!   or `vod`). A timestamp more than 5 minutes from the fake's clock is
//!   refused with `AuthFailure.SignatureExpire`, as the real API does.
//! - Answers use the documented envelope, HTTP 200, with a fresh RequestId.
//! - Every request is logged ([`CallRecord`]), verified or not, before any
//!   fault or action applies, so tests can count attempts.
//! - An injected [`Fault`] replaces the answer of a verified request; the
//!   action then has no effect (a [`Fault::Delay`] delays, then answers
//!   normally).
//! - One base URL serves both products: the action picks the service.

mod state;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

use state::{CloudState, Refusal, service_of};
pub use state::{Forbidden, StreamKey};

use crate::{CloudConfig, tc3};

/// How far `X-TC-Timestamp` may be from the server's clock.
const SIGNATURE_WINDOW_SECONDS: i64 = 300;

/// A way for the fake to misbehave on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this error code and message.
    Refuse { code: String, message: String },
    /// Wait this long before answering (past a client's timeout).
    Delay(Duration),
    /// HTTP 200 with a body that is not the envelope.
    MalformedBody,
    /// HTTP 500 with a plain-text body.
    Http500,
}

impl Fault {
    pub fn refuse(code: &str, message: &str) -> Self {
        Self::Refuse {
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }

    pub fn signature_failure() -> Self {
        Self::refuse(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        )
    }

    pub fn request_limit_exceeded() -> Self {
        Self::refuse(
            "RequestLimitExceeded",
            "Your current request times equals to `max_requests`.",
        )
    }

    pub fn internal_error() -> Self {
        Self::refuse(
            "InternalError",
            "An internal error has occurred. Retry your request.",
        )
    }
}

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub action: String,
    pub version: String,
    pub region: Option<String>,
    /// The Host header, which the signature must cover.
    pub host: String,
    pub content_type: String,
    pub timestamp: Option<i64>,
    /// The body as JSON, or null when it is not JSON.
    pub params: Value,
    /// Whether the signature and timestamp checked out.
    pub verified: bool,
    /// `ok`, the error code answered, `malformed`, `http_500`, or
    /// `unanswered` while (or if never) answered.
    pub outcome: String,
}

struct QueuedFault {
    action: Option<String>,
    fault: Fault,
    remaining: u32,
}

#[derive(Default)]
struct Inner {
    state: CloudState,
    now: Option<i64>,
    faults: Vec<QueuedFault>,
    calls: Vec<CallRecord>,
}

struct Shared {
    secret_id: String,
    secret_key: String,
    inner: Mutex<Inner>,
    requests: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock must not hide its own
        // failure behind a poison error elsewhere.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now(&self) -> i64 {
        self.lock().now.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        })
    }

    fn next_request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        format!("fa4ec10d-0000-4000-8000-{n:012x}")
    }
}

/// The fake server; it stops when dropped.
pub struct FakeCloud {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCloud {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeCloud {
    /// Listens on 127.0.0.1, on a port the system picks, and accepts
    /// requests signed with this key pair.
    pub async fn start(secret_id: &str, secret_key: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            secret_id: secret_id.to_owned(),
            secret_key: secret_key.to_owned(),
            inner: Mutex::new(Inner::default()),
            requests: AtomicU64::new(0),
        });
        let router = Router::new()
            .route("/", post(handle))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(error = %err, "the fake cloud API stopped");
            }
        });
        Ok(Self { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, usable as both the live and the VOD endpoint.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client configuration for this fake: its key pair, both endpoints
    /// here, and quick retries.
    pub fn client_config(&self) -> CloudConfig {
        let mut config = CloudConfig::new(
            self.shared.secret_id.clone(),
            self.shared.secret_key.as_str(),
        )
        .with_endpoint(&self.base_url());
        config.retry_base_delay = Duration::from_millis(10);
        config.retry_max_delay = Duration::from_millis(50);
        config
    }

    /// Pins the fake's clock (Unix seconds); `None` follows the system clock.
    pub fn set_now(&self, now: Option<i64>) {
        self.shared.lock().now = now;
    }

    /// Marks a stream as being pushed since `published_at`.
    pub fn add_online_stream(&self, domain: &str, app: &str, stream: &str, published_at: i64) {
        let key = StreamKey::new(domain, app, stream);
        self.shared.lock().state.online.insert(key, published_at);
    }

    /// The streams being pushed, in the order the online list pages them.
    pub fn online_streams(&self) -> Vec<StreamKey> {
        self.shared.lock().state.online.keys().cloned().collect()
    }

    /// Every stream DropLiveStream was called for, in order.
    pub fn dropped_streams(&self) -> Vec<StreamKey> {
        self.shared.lock().state.dropped.clone()
    }

    pub fn forbidden_stream(&self, domain: &str, app: &str, stream: &str) -> Option<Forbidden> {
        let key = StreamKey::new(domain, app, stream);
        self.shared.lock().state.forbidden.get(&key).cloned()
    }

    /// Adds a media file, in a VOD application or the default one (`None`).
    pub fn add_media(&self, file_id: &str, sub_app_id: Option<u64>) {
        self.shared
            .lock()
            .state
            .media
            .insert(file_id.to_owned(), sub_app_id);
    }

    pub fn has_media(&self, file_id: &str) -> bool {
        self.shared.lock().state.media.contains_key(file_id)
    }

    /// Misbehaves on the next `times` verified requests, whatever the action.
    pub fn fail_next(&self, times: u32, fault: Fault) {
        self.queue(None, times, fault);
    }

    /// Misbehaves on the next `times` verified requests of `action`.
    pub fn fail_next_of(&self, action: &str, times: u32, fault: Fault) {
        self.queue(Some(action.to_owned()), times, fault);
    }

    fn queue(&self, action: Option<String>, times: u32, fault: Fault) {
        if times > 0 {
            self.shared.lock().faults.push(QueuedFault {
                action,
                fault,
                remaining: times,
            });
        }
    }

    /// Every request received so far, in order.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.shared.lock().calls.clone()
    }

    /// The requests of one action.
    pub fn calls_of(&self, action: &str) -> Vec<CallRecord> {
        self.calls()
            .into_iter()
            .filter(|c| c.action == action)
            .collect()
    }
}

/// The headers that matter, read leniently: a missing header is checked later.
struct Received<'a> {
    action: &'a str,
    version: &'a str,
    region: Option<&'a str>,
    host: &'a str,
    content_type: &'a str,
    timestamp: Option<&'a str>,
    authorization: Option<&'a str>,
}

impl<'a> Received<'a> {
    fn read(headers: &'a HeaderMap) -> Self {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        Self {
            action: get("x-tc-action").unwrap_or(""),
            version: get("x-tc-version").unwrap_or(""),
            region: get("x-tc-region"),
            host: get("host").unwrap_or(""),
            content_type: get("content-type").unwrap_or(""),
            timestamp: get("x-tc-timestamp"),
            authorization: get("authorization"),
        }
    }
}

/// The checks the real API makes before it looks at the parameters.
fn verify(shared: &Shared, r: &Received<'_>, body: &[u8], now: i64) -> Result<(), Refusal> {
    if r.action.is_empty() {
        return Err(Refusal::new(
            "MissingParameter",
            "The request is missing X-TC-Action.",
        ));
    }
    let Some((service, version)) = service_of(r.action) else {
        return Err(Refusal::new(
            "InvalidAction",
            format!("The action `{}` does not exist.", r.action),
        ));
    };
    if r.version != version {
        return Err(Refusal::new(
            "NoSuchVersion",
            format!(
                "The API version `{}` does not exist for {}.",
                r.version, r.action
            ),
        ));
    }
    let timestamp = r
        .timestamp
        .ok_or_else(|| Refusal::new("MissingParameter", "The request is missing X-TC-Timestamp."))?
        .parse::<i64>()
        .map_err(|_| {
            Refusal::new(
                "InvalidParameterValue",
                "X-TC-Timestamp is not Unix seconds.",
            )
        })?;
    if (now - timestamp).abs() > SIGNATURE_WINDOW_SECONDS {
        return Err(Refusal::new(
            "AuthFailure.SignatureExpire",
            "Signature expired. Timestamp and server time cannot differ by more than five minutes.",
        ));
    }
    let auth = r
        .authorization
        .and_then(tc3::parse_authorization)
        .ok_or_else(|| {
            Refusal::new(
                "AuthFailure.InvalidAuthorization",
                "Authorization in the request header is invalid.",
            )
        })?;
    if auth.secret_id != shared.secret_id {
        return Err(Refusal::new(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found.",
        ));
    }
    let failure = |why: String| Refusal::new("AuthFailure.SignatureFailure", why);
    if auth.signed_headers != tc3::SIGNED_HEADERS {
        return Err(failure(format!(
            "SignedHeaders `{}` is not content-type;host.",
            auth.signed_headers
        )));
    }
    if auth.service != service || auth.date != tc3::utc_date(timestamp) {
        return Err(failure(format!(
            "The credential scope {}/{} does not match {}/{service}.",
            auth.date,
            auth.service,
            tc3::utc_date(timestamp)
        )));
    }
    let input = tc3::SigningInput {
        secret_id: &shared.secret_id,
        secret_key: &shared.secret_key,
        service,
        host: r.host,
        content_type: r.content_type,
        timestamp,
        payload: body,
    };
    if !tc3::verify(&input, auth.signature) {
        return Err(failure(
            "The provided credentials could not be validated. Please check your signature is correct.".into(),
        ));
    }
    Ok(())
}

fn envelope(request_id: &str, answer: Result<Map<String, Value>, Refusal>) -> Response {
    let response = match answer {
        Ok(mut fields) => {
            fields.insert("RequestId".into(), json!(request_id));
            Value::Object(fields)
        }
        Err(refusal) => json!({
            "Error": {"Code": refusal.code, "Message": refusal.message},
            "RequestId": request_id,
        }),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "Response": response }).to_string(),
    )
        .into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let now = shared.now();
    let received = Received::read(&headers);
    let checked = verify(&shared, &received, &body, now);
    let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (index, fault) = {
        let mut inner = shared.lock();
        let fault = if checked.is_ok() {
            take_fault(&mut inner.faults, received.action)
        } else {
            None
        };
        inner.calls.push(CallRecord {
            action: received.action.to_owned(),
            version: received.version.to_owned(),
            region: received.region.map(str::to_owned),
            host: received.host.to_owned(),
            content_type: received.content_type.to_owned(),
            timestamp: received.timestamp.and_then(|t| t.parse().ok()),
            params: params.clone(),
            verified: checked.is_ok(),
            outcome: "unanswered".into(),
        });
        (inner.calls.len() - 1, fault)
    };
    let action = received.action.to_owned();
    let request_id = shared.next_request_id();
    let set_outcome = |outcome: &str| shared.lock().calls[index].outcome = outcome.to_owned();

    let answer = match (checked, fault) {
        (Err(refusal), _) => Err(refusal),
        (Ok(()), Some(Fault::Refuse { code, message })) => Err(Refusal { code, message }),
        (Ok(()), Some(Fault::MalformedBody)) => {
            set_outcome("malformed");
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<html>upstream hiccup</html>",
            )
                .into_response();
        }
        (Ok(()), Some(Fault::Http500)) => {
            set_outcome("http_500");
            return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
        }
        (Ok(()), fault) => {
            if let Some(Fault::Delay(delay)) = fault {
                tokio::time::sleep(delay).await;
            }
            match params {
                Value::Object(map) => shared.lock().state.apply(&action, &map, now),
                _ => Err(Refusal::new(
                    "InvalidParameter",
                    "The request body is not a JSON object.",
                )),
            }
        }
    };
    set_outcome(match &answer {
        Ok(_) => "ok",
        Err(refusal) => &refusal.code,
    });
    envelope(&request_id, answer)
}

fn take_fault(faults: &mut Vec<QueuedFault>, action: &str) -> Option<Fault> {
    let index = faults
        .iter()
        .position(|q| q.action.as_deref().is_none_or(|a| a == action))?;
    let queued = &mut faults[index];
    queued.remaining -= 1;
    let fault = queued.fault.clone();
    if queued.remaining == 0 {
        faults.remove(index);
    }
    Some(fault)
}
