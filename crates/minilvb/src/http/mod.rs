//! The HTTP layer: thin. It turns bytes into a parsed request, applies the
//! operational guards (body deadline, rate limits, concurrency limit,
//! timeouts, optional caller authentication), runs the action and turns the
//! result into the protocol's envelope; one log line and the metrics per
//! request.
//!
//! A request's body is read before it takes a place among the requests
//! handled at once: a client slow to send holds a connection (capped per
//! address, see `connection_limits`) for at most
//! `server.body_read_timeout_secs`, never a place meant for work.

pub mod accept;
pub mod caller_auth;
pub mod connection_limits;
pub mod rate_limit;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::actions::{self, Context};
use crate::callbacks;
use crate::config::Settings;
use crate::http::accept::ConnectionGauge;
use crate::http::caller_auth::CallerAuth;
use crate::http::connection_limits::ConnectionLimits;
use crate::http::rate_limit::{ClientAddr, OverLimit, RateLimits};
use crate::telemetry::metrics::{self as m, ServerGauges};
use minilvb_protocol::{Envelope, ErrorCode, ProtocolError, ReturnData};
use minilvb_store::repeated_log::{self, RepeatedLog};

/// The router's state: the actions' context and the operational guards,
/// behind one `Arc`. axum clones the state for each extractor of each
/// request: one reference count moved between the cores, where the
/// context's own `Arc`s were six.
#[derive(Clone)]
pub struct AppState(Arc<ServerState>);

pub struct ServerState {
    pub ctx: Context,
    pub guards: Arc<Guards>,
}

impl std::ops::Deref for AppState {
    type Target = ServerState;

    fn deref(&self) -> &ServerState {
        &self.0
    }
}

/// What the guards need, built once from the settings.
pub struct Guards {
    clients: ClientAddr,
    rate: Option<RateLimits>,
    auth: Option<CallerAuth>,
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    request_timeout: Duration,
    body_read_timeout: Duration,
    limits: minilvb_protocol::Limits,
    requests: m::RequestMetrics,
    callbacks: callbacks::CallbackRules,
    /// Open connections of the public port.
    pub connections: Arc<ConnectionGauge>,
    /// The connection caps every listener shares.
    pub connection_limits: Arc<ConnectionLimits>,
}

impl Guards {
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
            body_read_timeout: Duration::from_secs(server.body_read_timeout_secs),
            limits: settings.limits.protocol(),
            requests: m::RequestMetrics::new(),
            callbacks: callbacks::CallbackRules::new(settings)?,
            connections: Arc::default(),
            connection_limits: Arc::new(ConnectionLimits::for_settings(settings)?),
        })
    }

    /// When a request whose headers came at `started` must have its body.
    fn body_deadline(&self, started: Instant) -> Instant {
        started + self.body_read_timeout.min(self.request_timeout)
    }

    /// A place among the requests handled at once, or HTTP 503 at once.
    fn permit(&self) -> Result<OwnedSemaphorePermit, ErrorReply> {
        self.permits.clone().try_acquire_owned().map_err(|_| {
            metrics::counter!(m::SHED).increment(1);
            if shed_requests().first("at the concurrency limit") {
                tracing::warn!(
                    limit = self.max_concurrent,
                    "request shed: at the concurrency limit (server.max_concurrent_requests)"
                );
            }
            ErrorReply {
                status: StatusCode::SERVICE_UNAVAILABLE,
                error: busy(),
            }
        })
    }

    pub fn gauges(&self) -> ServerGauges {
        ServerGauges {
            open_connections: self.connections.get(),
            requests_in_flight: (self.max_concurrent - self.permits.available_permits()) as i64,
            max_concurrent_requests: self.max_concurrent as i64,
            max_connections: self.connection_limits.total() as i64,
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
        let guards = Arc::new(Guards::new(&ctx.settings)?);
        Ok(Self(Arc::new(ServerState { ctx, guards })))
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

/// The public port's stack around `guarded` routes: health, the fallback
/// and the body limit. [`router`] puts the protocol behind it; the load
/// generator puts a do-nothing handler behind it. The handlers admit
/// their requests themselves ([`admit_request`]): body first, then a place.
pub fn with_guards(guarded: Router<AppState>, state: AppState) -> Router {
    let max_body = state.ctx.settings.server.max_body_bytes;
    guarded
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// A request admitted to the work: its body, read, and its place among the
/// requests handled at once, held while this value lives.
pub struct Admitted {
    pub body: Bytes,
    _permit: OwnedSemaphorePermit,
}

/// Admits a request as the protocol's interface does: its body within
/// `server.body_read_timeout_secs` (same limits), then a place among the
/// requests handled at once; or the envelope that refuses it.
pub async fn admit_request(state: &AppState, request: Request) -> Result<Admitted, Response> {
    let guards = &state.guards;
    let admitted = async {
        let body = read_body(request, guards.body_deadline(Instant::now()), &state.ctx).await?;
        Ok::<_, ErrorReply>(Admitted {
            body,
            _permit: guards.permit()?,
        })
    };
    admitted
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

fn shed_requests() -> &'static Arc<RepeatedLog> {
    static LOG: OnceLock<Arc<RepeatedLog>> = OnceLock::new();
    LOG.get_or_init(|| {
        RepeatedLog::new(repeated_log::INTERVAL, |_, times, interval| {
            tracing::warn!(
                "request shed: at the concurrency limit{}",
                repeated_log::repeated(times, interval)
            );
        })
    })
}

/// A request that ends before its action: its HTTP status and envelope.
struct ErrorReply {
    status: StatusCode,
    error: ProtocolError,
}

impl From<ProtocolError> for ErrorReply {
    fn from(error: ProtocolError) -> Self {
        Self {
            status: StatusCode::OK,
            error,
        }
    }
}

/// What the request line in the log says about a request.
struct LoggedRequest {
    action: &'static str,
    userid: Option<String>,
}

fn peer_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

fn over_limit(over: OverLimit) -> ErrorReply {
    metrics::counter!(m::RATE_LIMITED, "budget" => over.budget.name()).increment(1);
    let secs = over.retry_after.as_secs_f64().ceil().max(1.0) as u64;
    ProtocolError::new(
        ErrorCode::FrequencyControl,
        format!("frequency control! | too many requests, retry in {secs} s"),
    )
    .into()
}

/// Reads the body within the deadline: HTTP 408 when it does not arrive in
/// time, 413 when it is larger than `server.max_body_bytes`. No place among
/// the requests handled at once is held meanwhile.
///
/// An oversized body is still read (and dropped) up to a bound before the
/// 413 goes out: closing a socket with unread data makes the kernel reset
/// the connection, and a client still sending would then never see the
/// envelope.
async fn read_body(
    request: Request,
    deadline: Instant,
    ctx: &Context,
) -> Result<Bytes, ErrorReply> {
    use http_body_util::BodyExt;

    let limit = ctx.settings.server.max_body_bytes;
    let allowed = deadline.saturating_duration_since(Instant::now());
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
            Err(ErrorReply {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                error: ProtocolError::new(
                    ErrorCode::InvalidJson,
                    format!("request body larger than {limit} bytes"),
                ),
            })
        }
        Ok(Err(error)) => {
            tracing::info!(%error, "request body could not be read");
            Err(ErrorReply {
                status: StatusCode::BAD_REQUEST,
                error: ProtocolError::invalid_json("request body could not be read"),
            })
        }
        Err(_) => {
            metrics::counter!(m::TIMEOUTS, "stage" => "body").increment(1);
            Err(ErrorReply {
                status: StatusCode::REQUEST_TIMEOUT,
                error: ProtocolError::invalid_json(&format!(
                    "request body not received within {} s",
                    allowed.as_secs_f64().round()
                )),
            })
        }
    }
}

fn action_timeout(ctx: &Context) -> ErrorReply {
    metrics::counter!(m::TIMEOUTS, "stage" => "action").increment(1);
    ErrorReply {
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
        .guards
        .clients
        .resolve(peer_ip(&request), request.headers());
    let mut seen = LoggedRequest {
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
        .guards
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
    seen: &mut LoggedRequest,
    started: Instant,
) -> Result<ReturnData, ErrorReply> {
    let (ctx, guards) = (&state.ctx, &state.guards);
    if request.method() != Method::POST {
        return Err(ProtocolError::invalid_json("send a POST with a JSON body").into());
    }
    let deadline = started + guards.request_timeout;
    let headers: HeaderMap = match &guards.auth {
        Some(_) => request.headers().clone(),
        None => HeaderMap::new(),
    };
    let body = read_body(request, guards.body_deadline(started), ctx).await?;
    if let Some(rate) = &guards.rate {
        rate.check_request(client).map_err(over_limit)?;
    }
    let _permit = guards.permit()?;
    let object = minilvb_protocol::read_object(&body, &guards.limits)?;
    seen.action = minilvb_protocol::action_label(&object);
    let parsed = minilvb_protocol::request_from_object(&object, &guards.limits)?;
    seen.action = parsed.action();
    seen.userid = parsed.userid().map(str::to_owned);
    if let Some(rate) = &guards.rate {
        rate.check_action(client, &parsed).map_err(over_limit)?;
    }
    if let Some(auth) = &guards.auth {
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
    let (ctx, guards) = (&state.ctx, &state.guards);
    let client = guards.clients.resolve(peer_ip(&request), request.headers());
    let (status, reply) = match admit_callback(&state, client, request, started).await {
        Ok((body, _permit)) => {
            let deadline = started + guards.request_timeout;
            let handled = callbacks::handle(ctx, &guards.callbacks, &body);
            match tokio::time::timeout_at(deadline, handled).await {
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
            }
        }
        Err((status, reply)) => (status, reply),
    };
    metrics::counter!(m::CALLBACKS, "event_type" => reply.event, "outcome" => reply.outcome())
        .increment(1);
    json(status, &reply)
}

/// A callback from an allowed source, its body, and a place among the
/// requests handled at once; or the reply that refuses it.
async fn admit_callback(
    state: &AppState,
    client: IpAddr,
    request: Request,
    started: Instant,
) -> Result<(Bytes, OwnedSemaphorePermit), (StatusCode, callbacks::CallbackReply)> {
    let guards = &state.guards;
    if let Err(reply) = guards.callbacks.check_source(client) {
        return Err((StatusCode::FORBIDDEN, reply));
    }
    let refused = |refusal: ErrorReply| {
        let mut reply =
            callbacks::CallbackReply::rejected(refusal.error.code.value(), refusal.error.msg);
        // Busy: the cloud is to deliver it again.
        reply.retry = refusal.status == StatusCode::SERVICE_UNAVAILABLE;
        (refusal.status, reply)
    };
    let body = read_body(request, guards.body_deadline(started), &state.ctx)
        .await
        .map_err(refused)?;
    let permit = guards.permit().map_err(refused)?;
    Ok((body, permit))
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// The process is up.
async fn healthz() -> Response {
    json(StatusCode::OK, &Health { status: "ok" })
}

#[derive(Serialize)]
struct NotReady {
    status: &'static str,
    reason: String,
}

/// The database answers, and takes writes. After a write failed (a full
/// disk, a database turned read-only: reads still work), each check tries
/// a write of its own until one succeeds, so that a node its load balancer
/// took out of service, which gets no writes, learns when they work again.
async fn readyz(State(state): State<AppState>) -> Response {
    let store = &state.ctx.store;
    if let Err(error) = store.ping().await {
        if readiness_failures().first(&error.to_string()) {
            tracing::warn!(%error, "readiness check failed: the database does not answer");
        }
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            &Health {
                status: "database unavailable",
            },
        );
    }
    if store.write_failure().is_some() {
        if let Err(error) = store.probe_write(state.ctx.clock.now()).await {
            let reason = error.to_string();
            if readiness_failures().first(&reason) {
                tracing::warn!(error = %reason, "readiness check failed: writes fail");
            }
            return json(
                StatusCode::SERVICE_UNAVAILABLE,
                &NotReady {
                    status: "database writes failing",
                    reason: reason.chars().take(300).collect(),
                },
            );
        }
        tracing::info!("database writes work again");
    }
    json(StatusCode::OK, &Health { status: "ready" })
}

fn readiness_failures() -> &'static Arc<RepeatedLog> {
    static LOG: OnceLock<Arc<RepeatedLog>> = OnceLock::new();
    LOG.get_or_init(|| {
        RepeatedLog::new(repeated_log::INTERVAL, |error, times, interval| {
            tracing::warn!(%error, "readiness check failed{}", repeated_log::repeated(times, interval));
        })
    })
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = m::render(state.ctx.store.as_ref(), state.guards.gauges()).await;
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
