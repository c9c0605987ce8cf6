//! The baseline: the server's own HTTP stack (accept loop, guards, body
//! reading) answering the fixed success envelope with no work behind it.
//! A scenario's throughput is reported as a fraction of this one's, measured
//! in the same run, so that the machine's speed cancels out.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use minilvb::http::{self, AppState};
use minilvb_protocol::{Envelope, WriteAck};

/// The public port with the protocol replaced by [`answer`]: no parsing,
/// no action, no per-request log line or metrics.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/", any(answer))
        .route("/interface.php", any(answer));
    http::with_guards(routes, state)
}

/// Admits the request as the protocol's interface does (its body, then a
/// place among the requests handled at once), then answers
/// `{"returnValue":0,...,"returnData":{"result":0}}`.
async fn answer(State(state): State<AppState>, request: Request) -> Response {
    let _admitted = match http::admit_request(&state, request).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    match serde_json::to_vec(&Envelope::ok(WriteAck::OK)) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
