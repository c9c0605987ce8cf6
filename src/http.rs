//! The HTTP layer: thin. It turns bytes into a parsed request, runs the
//! action and turns the result into the protocol's envelope.

use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Serialize;

use crate::actions::{self, Context};
use crate::callbacks;
use crate::protocol::{self, Envelope, ErrorCode, ProtocolError};

pub fn router(ctx: Context) -> Router {
    let max_body = ctx.settings.server.max_body_bytes;
    Router::new()
        .route("/", any(interface))
        .route("/interface.php", any(interface))
        .route("/callback/Live_callback.php", post(callback))
        .route("/callback", post(callback))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(ctx)
}

/// A JSON reply with the Content-Type both apps accept.
fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
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

/// POST `/` and `/interface.php`: the protocol. Any other method answers the
/// 4001 envelope, as the original did to a GET (deployment check).
async fn interface(
    State(ctx): State<Context>,
    method: axum::http::Method,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if method != axum::http::Method::POST {
        return envelope_error(
            StatusCode::OK,
            &ProtocolError::invalid_json("send a POST with a JSON body"),
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            tracing::info!(%status, "request body rejected");
            let why = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "request body larger than {} bytes",
                    ctx.settings.server.max_body_bytes
                )
            } else {
                "request body could not be read".to_owned()
            };
            return envelope_error(status, &ProtocolError::new(ErrorCode::InvalidJson, why));
        }
    };
    let started = Instant::now();
    let (action, userid, result) = match protocol::parse_request(&body) {
        Ok(request) => {
            let action = request.action();
            let userid = request.userid().map(str::to_owned);
            (action, userid, actions::handle(&ctx, request).await)
        }
        Err(error) => ("-", None, Err(error)),
    };
    let return_value = result.as_ref().map_or_else(|e| e.code.value(), |_| 0);
    tracing::info!(
        action,
        userid = userid.as_deref().unwrap_or(""),
        return_value,
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    match result {
        Ok(data) => json(StatusCode::OK, &Envelope::ok(data)),
        Err(error) => envelope_error(StatusCode::OK, &error),
    }
}

/// The cloud's stream event callbacks.
async fn callback(State(ctx): State<Context>, body: Result<Bytes, BytesRejection>) -> Response {
    let reply = match body {
        Ok(body) => callbacks::handle(&ctx, &body).await,
        Err(rejection) => callbacks::CallbackReply {
            code: ErrorCode::InvalidJson.value(),
            msg: format!("request body rejected: {}", rejection.status()),
            retry: false,
        },
    };
    let status = if reply.retry {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
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
async fn readyz(State(ctx): State<Context>) -> Response {
    match ctx.store.ping().await {
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

async fn not_found() -> Response {
    envelope_error(
        StatusCode::NOT_FOUND,
        &ProtocolError::invalid_json("no such path; the protocol is served on /interface.php"),
    )
}
