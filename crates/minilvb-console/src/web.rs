//! The router: which page answers which path under the base path, the
//! login layer in front of the pages, and the outer layer that renders error
//! pages and puts the security headers on every answer.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};

use crate::auth::{LoginLimits, Signed, require_login};
use crate::backend::ConsoleBackend;
use crate::config::ConsoleConfig;
use crate::login;
use crate::pages::{lists, live, moderation, operators, room};
use crate::render::{ErrorPage, ErrorTemplate, Layout, PageError};

/// What every handler shares.
pub(crate) struct Console {
    pub backend: Arc<dyn ConsoleBackend>,
    pub config: ConsoleConfig,
    pub limits: LoginLimits,
}

impl Console {
    /// A path under the base path.
    pub fn url(&self, path: &str) -> String {
        self.config.base_path.join(path)
    }

    pub fn layout(&self, signed: Option<&Signed>, section: &'static str, title: &str) -> Layout {
        Layout {
            base: self.config.base_path.as_str().to_owned(),
            title: title.to_owned(),
            section,
            operator: signed.map(|s| s.operator.clone()).unwrap_or_default(),
            role: signed.map(|s| s.role),
            csrf: signed.map(|s| s.csrf.clone()).unwrap_or_default(),
            asset_version: asset_version(),
            notice: signed.and_then(|s| s.notice.clone()),
        }
    }
}

/// The console's routes under `config.base_path`. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`: the sign-in
/// limits and the trusted-proxy rules need the peer's address.
pub fn router(backend: Arc<dyn ConsoleBackend>, config: ConsoleConfig) -> Router {
    let config = config.sanitized();
    let limits = LoginLimits::new(
        config.login_attempts_per_account,
        config.login_attempts_per_address,
    );
    let base = config.base_path.clone();
    let console = Arc::new(Console {
        backend,
        config,
        limits,
    });
    let at = |path: &str| base.join(path);

    let signed_in = Router::new()
        .route(&at("/"), get(live::page))
        .route(&at("/live/rows"), get(live::rows))
        .route(&at("/rooms/{userid}"), get(room::page))
        .route(
            &at("/rooms/{userid}/force-offline"),
            get(moderation::confirm_force_offline).post(moderation::force_offline),
        )
        .route(
            &at("/rooms/{userid}/ban"),
            get(moderation::ban_form).post(moderation::ban),
        )
        .route(&at("/rooms/{userid}/unban"), post(moderation::unban))
        .route(&at("/reports"), get(lists::reports))
        .route(&at("/reports/{id}/resolve"), post(moderation::resolve))
        .route(&at("/recordings"), get(lists::recordings))
        .route(
            &at("/recordings/{userid}/{fileid}/delete"),
            get(moderation::confirm_delete_recording).post(moderation::delete_recording),
        )
        .route(&at("/bans"), get(lists::bans))
        .route(&at("/audit"), get(lists::audit))
        .route(&at("/operators"), get(operators::page).post(operators::add))
        .route(
            &at("/operators/{name}/remove"),
            get(operators::confirm_remove).post(operators::remove),
        )
        .route(
            &at("/operators/{name}/password"),
            get(operators::password_form).post(operators::set_password),
        )
        .route(&at("/logout"), post(login::logout))
        .route_layer(middleware::from_fn_with_state(
            console.clone(),
            require_login,
        ));

    let mut app = signed_in
        .route(&at("/login"), get(login::form).post(login::submit))
        .route(&at("/static/{file}"), get(asset));
    if !base.as_str().is_empty() {
        let home = at("/");
        app = app.route(
            base.as_str(),
            get(move || async move { Redirect::to(&home) }),
        );
    }
    app.fallback(not_found)
        .layer(middleware::from_fn_with_state(console.clone(), finish))
        .with_state(console)
}

async fn not_found() -> PageError {
    PageError::NotFound("There is no page at this address.".into())
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' https: http: data:; frame-ancestors 'none'; form-action 'self'; \
    base-uri 'none'";

/// The headers every answer carries, pages, files and errors alike.
fn security_headers(headers: &mut HeaderMap) {
    let set = |headers: &mut HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
}

/// Renders error answers as pages (the handlers' errors, and the router's
/// own bare or plain-text ones: no route, wrong method, a form that does
/// not parse) and adds the security headers.
async fn finish(State(console): State<Arc<Console>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let page = if let Some(page) = response.extensions().get::<ErrorPage>() {
        Some(page.clone())
    } else if (status.is_client_error() || status.is_server_error()) && plain_error(&response) {
        Some(ErrorPage {
            status,
            heading: status.canonical_reason().unwrap_or("Error"),
            message: String::new(),
        })
    } else {
        None
    };
    let mut response = match page {
        Some(mut page) => {
            let signed = response.extensions().get::<Signed>().cloned();
            let keep = response.headers().clone();
            if page.message.is_empty() {
                page.message = plain_text(response)
                    .await
                    .unwrap_or_else(|| default_message(status));
            }
            let title = page.heading;
            let template = ErrorTemplate {
                layout: console.layout(signed.as_ref(), "", title),
                page: &page,
            };
            let mut rendered = match crate::render::render(&template) {
                Ok(rendered) => rendered,
                Err(_) => (page.status, page.message.clone()).into_response(),
            };
            *rendered.status_mut() = page.status;
            for name in [header::SET_COOKIE, header::ALLOW, header::RETRY_AFTER] {
                for value in keep.get_all(&name) {
                    rendered.headers_mut().append(name.clone(), value.clone());
                }
            }
            rendered
        }
        None => response,
    };
    security_headers(response.headers_mut());
    response
}

/// Whether an error answer has no page of its own: no body type, or plain text.
fn plain_error(response: &Response) -> bool {
    match response.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(value) => value.as_bytes().starts_with(b"text/plain"),
    }
}

async fn plain_text(response: Response) -> Option<String> {
    let bytes = to_bytes(response.into_body(), 4096).await.ok()?;
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "There is no page at this address.".into(),
        StatusCode::METHOD_NOT_ALLOWED => "This address does not take that kind of request.".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "What was sent is too large.".into(),
        _ => format!("The request failed ({status})."),
    }
}

const CSS: &str = include_str!("../static/console.css");
const JS: &str = include_str!("../static/console.js");

/// Changes with the files' contents, so their URLs can be cached for good.
pub(crate) fn asset_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let digest = Sha256::new().chain_update(CSS).chain_update(JS).finalize();
        hex::encode(&digest[..6])
    })
}

async fn asset(Path(file): Path<String>) -> Result<Response, PageError> {
    let (body, kind) = match file.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return Err(PageError::NotFound("There is no such file.".into())),
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response())
}
