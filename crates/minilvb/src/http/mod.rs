//! The HTTP layer: thin. It turns bytes into a parsed request, applies the
//! operational guards (concurrency limit, timeouts, rate limits, optional
//! caller authentication), runs the action and turns the result into the
//! protocol's envelope; one log line and the metrics per request.

pub mod accept;
pub mod caller_auth;
pub mod rate_limit;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::actions::{self, Context};
use crate::callbacks;
use crate::config::Settings;
use crate::http::accept::ConnectionGauge;
use crate::http::caller_auth::CallerAuth;
use crate::http::rate_limit::{ClientAddr, OverLimit, RateLimits};
use crate::telemetry::metrics::{self as m, ServerGauges};
use minilvb_protocol::{Envelope, ErrorCode, ProtocolError, ReturnData};

/// The router's state: the actions' context and the operational guards,
/// behind one `Arc`. axum clones the state for each extractor of each
/// request: one reference count moved between the cores, where the
/// context's own `Arc`s were six.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub ctx: Context,
    pub ops: Arc<Ops>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What the guards need, built once from the settings.
pub struct Ops {
    clients: ClientAddr,
    rate: Option<RateLimits>,
    auth: Option<CallerAuth>,
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    request_timeout: Duration,
    limits: minilvb_protocol::Limits,
    requests: m::RequestMetrics,
    pub connections: Arc<ConnectionGauge>,
}

impl Ops {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let server = &settings.server;
        Ok(Self {
            clients: ClientAddr::new(settings)?,
            rate: settings
                .rate_limit
                .enabled
                .then(|| RateLimits::new(&settings.rate_limit)),
            auth: CallerAuth::new(&settings.auth)?,
            permits: Arc::new(Semaphore::new(server.max_concurrent_requests)),
            max_concurrent: server.max_concurrent_requests,
            request_timeout: Duration::from_secs(server.request_timeout_secs),
            limits: settings.limits.protocol(),
            requests: m::RequestMetrics::new(),
            connections: Arc::default(),
        })
    }

    pub fn gauges(&self) -> ServerGauges {
        ServerGauges {
            open_connections: self.connections.get(),
            requests_in_flight: (self.max_concurrent - self.permits.available_permits()) as i64,
            max_concurrent_requests: self.max_concurrent as i64,
            rate_limited_clients: self.rate.as_ref().map(RateLimits::tracked),
        }
    }

    /// Forgets idle rate-limit buckets now and then, so memory stays bounded.
    pub async fn forget_idle_clients(self: Arc<Self>) {
        if self.rate.is_none() {
            return;
        }
        let mut ticks = tokio::time::interval(Duration::from_secs(60));
        loop {
            ticks.tick().await;
            if let Some(rate) = &self.rate {
                rate.forget_idle();
            }
        }
    }
}

impl AppState {
    pub fn new(ctx: Context) -> anyhow::Result<Self> {
        let ops = Arc::new(Ops::new(&ctx.settings)?);
        Ok(Self(Arc::new(Shared { ctx, ops })))
    }
}

/// The public port: the protocol, the callbacks, health.
pub fn router(state: AppState) -> Router {
    let guarded = Router::new()
        .route("/", any(interface))
        .route("/interface.php", any(interface))
        .route("/callback/Live_callback.php", post(callback))
        .route("/callback", post(callback));
    with_guards(guarded, state)
}

/// The public port's stack around `guarded` routes: the concurrency limit,
/// health, the fallback and the body limit. [`router`] puts the protocol
/// behind it; the load generator puts a do-nothing handler behind it.
pub fn with_guards(guarded: Router<AppState>, state: AppState) -> Router {
    let max_body = state.ctx.settings.server.max_body_bytes;
    guarded
        .layer(middleware::from_fn_with_state(state.clone(), shed_load))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// Reads a request's body as the protocol's interface does (same deadline,
/// same limits), or the envelope that refuses it.
pub async fn read_request_body(state: &AppState, request: Request) -> Result<Bytes, Response> {
    let deadline = Instant::now() + state.ops.request_timeout;
    read_body(request, deadline, &state.ctx)
        .await
        .map_err(|refusal| envelope_error(refusal.status, &refusal.error))
}

/// The metrics port: `GET /metrics` in the Prometheus text format.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// A JSON reply with the Content-Type both apps accept.
fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    json_bytes(status, serde_json::to_vec(body))
}

/// [`json`], serialized already.
fn json_bytes(status: StatusCode, serialized: serde_json::Result<Vec<u8>>) -> Response {
    match serialized {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            bytes,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot serialize a reply");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn envelope_error(status: StatusCode, error: &ProtocolError) -> Response {
    json(status, &Envelope::error(error))
}

fn busy() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::FrequencyControl,
        "frequency control! | server busy, retry later",
    )
}

/// At most `server.max_concurrent_requests` protocol and callback requests
/// run at once; more are answered at once with HTTP 503 rather than queued.
async fn shed_load(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.ops.permits.clone().try_acquire_owned() {
        Ok(permit) => {
            let response = next.run(request).await;
            drop(permit);
            response
        }
        Err(_) => {
            metrics::counter!(m::SHED).increment(1);
            metrics::counter!(m::REQUESTS, "action" => "-", "return_value" => "4003").increment(1);
            tracing::warn!(path = %request.uri().path(), "request shed: at the concurrency limit");
            envelope_error(StatusCode::SERVICE_UNAVAILABLE, &busy())
        }
    }
}

/// A request that ends before its action: its HTTP status and envelope.
struct Refusal {
    status: StatusCode,
    error: ProtocolError,
}

impl From<ProtocolError> for Refusal {
    fn from(error: ProtocolError) -> Self {
        Self {
            status: StatusCode::OK,
            error,
        }
    }
}

/// What the request line in the log says about a request.
struct Seen {
    action: &'static str,
    userid: Option<String>,
}

fn peer_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

fn over_limit(over: OverLimit) -> Refusal {
    metrics::counter!(m::RATE_LIMITED, "budget" => over.budget.name()).increment(1);
    let secs = over.retry_after.as_secs_f64().ceil().max(1.0) as u64;
    ProtocolError::new(
        ErrorCode::FrequencyControl,
        format!("frequency control! | too many requests, retry in {secs} s"),
    )
    .into()
}

/// Reads the body within the deadline: HTTP 408 when it does not arrive in
/// time, 413 when it is larger than `server.max_body_bytes`.
///
/// An oversized body is still read (and dropped) up to a bound before the
/// 413 goes out: closing a socket with unread data makes the kernel reset
/// the connection, and a client still sending would then never see the
/// envelope.
async fn read_body(request: Request, deadline: Instant, ctx: &Context) -> Result<Bytes, Refusal> {
    use http_body_util::BodyExt;

    let server = &ctx.settings.server;
    let limit = server.max_body_bytes;
    let drain_limit = limit.saturating_mul(16).max(1 << 20);
    let mut body = request.into_body();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    let read = async {
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            seen = seen.saturating_add(data.len());
            if seen <= limit {
                kept.extend_from_slice(&data);
            } else if seen > drain_limit {
                break;
            }
        }
        Ok::<_, axum::Error>(())
    };
    match tokio::time::timeout_at(deadline, read).await {
        Ok(Ok(())) if seen <= limit => Ok(Bytes::from(kept)),
        Ok(Ok(())) => {
            tracing::info!(status = %StatusCode::PAYLOAD_TOO_LARGE, "request body rejected");
            Err(Refusal {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                error: ProtocolError::new(
                    ErrorCode::InvalidJson,
                    format!("request body larger than {limit} bytes"),
                ),
            })
        }
        Ok(Err(error)) => {
            tracing::info!(%error, "request body could not be read");
            Err(Refusal {
                status: StatusCode::BAD_REQUEST,
                error: ProtocolError::invalid_json("request body could not be read"),
            })
        }
        Err(_) => {
            metrics::counter!(m::TIMEOUTS, "stage" => "body").increment(1);
            Err(Refusal {
                status: StatusCode::REQUEST_TIMEOUT,
                error: ProtocolError::invalid_json(&format!(
                    "request body not received within {} s",
                    server.request_timeout_secs
                )),
            })
        }
    }
}

fn action_timeout(ctx: &Context) -> Refusal {
    metrics::counter!(m::TIMEOUTS, "stage" => "action").increment(1);
    Refusal {
        status: StatusCode::GATEWAY_TIMEOUT,
        error: ProtocolError::new(
            ErrorCode::Database,
            format!(
                "timeout! | not done within {} s, please retry later",
                ctx.settings.server.request_timeout_secs
            ),
        ),
    }
}

/// POST `/` and `/interface.php`: the protocol. Any other method answers the
/// 4001 envelope, as the original did to a GET (deployment check).
async fn interface(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let client = state
        .ops
        .clients
        .resolve(peer_ip(&request), request.headers());
    let mut seen = Seen {
        action: "-",
        userid: None,
    };
    let result = run_protocol(&state, client, request, &mut seen, started).await;
    let (status, return_value) = match &result {
        Ok(_) => (StatusCode::OK, 0),
        Err(refusal) => (refusal.status, refusal.error.code.value()),
    };
    let elapsed = started.elapsed();
    tracing::info!(
        action = seen.action,
        userid = seen.userid.as_deref().unwrap_or(""),
        return_value,
        status = status.as_u16(),
        client = %client,
        latency_us = elapsed.as_micros() as u64,
        "request"
    );
    state
        .ops
        .requests
        .record(seen.action, i64::from(return_value), elapsed);
    match result {
        Ok(data) => json_bytes(StatusCode::OK, Envelope::ok(data).to_json()),
        Err(refusal) => envelope_error(refusal.status, &refusal.error),
    }
}

async fn run_protocol(
    state: &AppState,
    client: IpAddr,
    request: Request,
    seen: &mut Seen,
    started: Instant,
) -> Result<ReturnData, Refusal> {
    let (ctx, ops) = (&state.ctx, &state.ops);
    if request.method() != Method::POST {
        return Err(ProtocolError::invalid_json("send a POST with a JSON body").into());
    }
    let deadline = started + ops.request_timeout;
    let headers: HeaderMap = match &ops.auth {
        Some(_) => request.headers().clone(),
        None => HeaderMap::new(),
    };
    let body = read_body(request, deadline, ctx).await?;
    if let Some(rate) = &ops.rate {
        rate.check_request(client).map_err(over_limit)?;
    }
    let object = minilvb_protocol::read_object(&body, &ops.limits)?;
    seen.action = minilvb_protocol::action_label(&object);
    let parsed = minilvb_protocol::request_from_object(&object, &ops.limits)?;
    seen.action = parsed.action();
    seen.userid = parsed.userid().map(str::to_owned);
    if let Some(rate) = &ops.rate {
        rate.check_action(client, &parsed).map_err(over_limit)?;
    }
    if let Some(auth) = &ops.auth {
        auth.check(&parsed, &headers, ctx.clock.now()).inspect_err(|error| {
            metrics::counter!(m::AUTH_FAILURES).increment(1);
            tracing::info!(action = seen.action, reason = %error.msg, "caller not authenticated");
        })?;
    }
    match tokio::time::timeout_at(deadline, actions::handle(ctx, parsed)).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(action_timeout(ctx)),
    }
}

/// The cloud's stream event callbacks.
async fn callback(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let deadline = started + state.ops.request_timeout;
    let ctx = &state.ctx;
    let (status, reply) = match read_body(request, deadline, ctx).await {
        Ok(body) => match tokio::time::timeout_at(deadline, callbacks::handle(ctx, &body)).await {
            Ok(reply) if reply.retry => (StatusCode::INTERNAL_SERVER_ERROR, reply),
            Ok(reply) => (StatusCode::OK, reply),
            Err(_) => {
                let refusal = action_timeout(ctx);
                let mut reply = callbacks::CallbackReply::rejected(
                    refusal.error.code.value(),
                    refusal.error.msg,
                );
                reply.retry = true;
                (refusal.status, reply)
            }
        },
        Err(refusal) => (
            refusal.status,
            callbacks::CallbackReply::rejected(refusal.error.code.value(), refusal.error.msg),
        ),
    };
    metrics::counter!(m::CALLBACKS, "event_type" => reply.event, "outcome" => reply.outcome())
        .increment(1);
    json(status, &reply)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// The process is up.
async fn healthz() -> Response {
    json(StatusCode::OK, &Health { status: "ok" })
}

/// The database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.ctx.store.ping().await {
        Ok(()) => json(StatusCode::OK, &Health { status: "ready" }),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                &Health {
                    status: "database unavailable",
                },
            )
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = m::render(state.ctx.store.as_ref(), state.ops.gauges()).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn not_found() -> Response {
    envelope_error(
        StatusCode::NOT_FOUND,
        &ProtocolError::invalid_json("no such path; the protocol is served on /interface.php"),
    )
}
