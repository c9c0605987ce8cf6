//! Signing in and out.
//!
//! The sign-in form is guarded against login CSRF (a foreign page signing
//! the operator's browser into an account of the attacker's) in two ways:
//! the browser's Origin (or Referer) must name this console when it is sent,
//! and the form carries a token that must equal the one in a short-lived
//! `SameSite=Strict` cookie set with the form. A cross-site post carries no
//! such cookie, and the check needs no stored state, so showing the form to
//! anyone writes nothing to the database.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::accounts::MAX_NAME_LEN;
use crate::auth::{
    LOGIN_COOKIE, LimitHit, SESSION_COOKIE, Signed, cookie_value, digest, random_token, set_cookie,
    token_matches,
};
use crate::backend::NewLoginSession;
use crate::client::{Client, from_own_pages};
use crate::config::BasePath;
use crate::password::{dummy_hash, verify_password};
use crate::render::{Layout, PageError, PageResult, render};
use crate::web::Console;

/// How long the sign-in form may stay open before it must be reloaded.
const LOGIN_FORM_SECS: i64 = 15 * 60;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
    info: Option<&'static str>,
}

/// Whether `next` is a path of this console, safe to redirect to: under
/// the base path, not `//host` or `/\host` (which browsers read as another
/// site), no control characters.
pub(crate) fn local_next(base: &BasePath, next: &str) -> bool {
    let home = base.join("/");
    next.starts_with(&home)
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && !next.starts_with(&base.join("/login"))
        && !next.starts_with(&base.join("/logout"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct LoginQuery {
    next: String,
    expired: String,
    signed_out: String,
}

/// The sign-in form, with a fresh token in its cookie.
fn login_page(
    console: &Console,
    client: &Client,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<String>,
    info: Option<&'static str>,
) -> PageResult {
    let token = random_token();
    let next = if local_next(&console.config.base_path, next) {
        next
    } else {
        ""
    };
    let mut response = render(&LoginPage {
        layout: console.layout(None, "login", "Sign in"),
        csrf: token.clone(),
        next: next.to_owned(),
        username: username.to_owned(),
        error,
        info,
    })?;
    *response.status_mut() = status;
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(console, client, LOGIN_COOKIE, &token, Some(LOGIN_FORM_SECS)),
    );
    Ok(response)
}

pub(crate) async fn form(
    State(console): State<Arc<Console>>,
    client: Client,
    Query(query): Query<LoginQuery>,
) -> PageResult {
    let info = if !query.expired.is_empty() {
        Some("Your session ended. Sign in again to go on.")
    } else if !query.signed_out.is_empty() {
        Some("You are signed out.")
    } else {
        None
    };
    login_page(
        &console,
        &client,
        StatusCode::OK,
        &query.next,
        "",
        None,
        info,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: String,
}

pub(crate) async fn submit(
    State(console): State<Arc<Console>>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let name = form.username.trim();
    let again = |status: StatusCode, error: &str| {
        login_page(
            &console,
            &client,
            status,
            &form.next,
            name,
            Some(error.to_owned()),
            None,
        )
    };
    if !from_own_pages(&headers, &client) {
        return again(
            StatusCode::FORBIDDEN,
            "This sign-in came from another site, so it was refused.",
        );
    }
    let expected = cookie_value(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !token_matches(Some(&form.csrf), &expected) {
        return again(
            StatusCode::FORBIDDEN,
            "The sign-in form had expired. Enter your name and password again.",
        );
    }
    if let Err(hit) = console.limits.check(client.ip, name) {
        let error = match hit {
            LimitHit::Address => {
                "Too many sign-in attempts from your address. Wait a minute, then try again."
            }
            LimitHit::Account => {
                "Too many sign-in attempts for this account. Wait a minute, then try again."
            }
        };
        let mut response = again(StatusCode::TOO_MANY_REQUESTS, error)?;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return Ok(response);
    }

    let record = if name.is_empty() || name.len() > MAX_NAME_LEN {
        None
    } else {
        console.backend.find_operator(name).await?
    };
    // An unknown name is checked against a dummy hash, so that it takes
    // as long to refuse as a wrong password.
    let hash = record
        .as_ref()
        .map_or(dummy_hash(), |r| r.password_hash.as_str())
        .to_owned();
    let password = form.password.clone();
    let verified = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| PageError::Internal(format!("the password check stopped: {e}")))?;
    let record = match (record, verified) {
        (Some(record), Ok(true)) => record,
        (Some(record), Err(e)) => {
            tracing::error!(operator = %record.name, error = %e, "operator's password hash is unreadable");
            return again(StatusCode::UNAUTHORIZED, "Wrong name or password.");
        }
        _ => return again(StatusCode::UNAUTHORIZED, "Wrong name or password."),
    };

    // A fresh session id at every sign-in: one planted before it is worthless.
    if let Some(old) = cookie_value(&headers, SESSION_COOKIE) {
        console.backend.delete_session(&digest(&old)).await?;
    }
    let cookie = start_session(&console, &client, &record.name).await?;
    let next = if local_next(&console.config.base_path, &form.next) {
        form.next.clone()
    } else {
        console.url("/")
    };
    let mut response = Redirect::to(&next).into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, cookie);
    headers.append(
        header::SET_COOKIE,
        set_cookie(&console, &client, LOGIN_COOKIE, "", Some(0)),
    );
    tracing::info!(operator = %record.name, client = %client.ip, "operator signed in to the console");
    Ok(response)
}

/// Stores a new login session for the operator; returns its cookie.
pub(crate) async fn start_session(
    console: &Console,
    client: &Client,
    operator: &str,
) -> Result<HeaderValue, PageError> {
    let id = random_token();
    let now = console.backend.now();
    let config = &console.config;
    let expires_at = now
        .saturating_add(config.session_idle_secs as i64)
        .min(now.saturating_add(config.session_max_secs as i64));
    console
        .backend
        .create_session(&NewLoginSession {
            id: digest(&id),
            operator: operator.to_owned(),
            csrf_token: random_token(),
            created_at: now,
            expires_at,
        })
        .await?;
    // No Max-Age: the server ends the session; the browser forgets the
    // cookie when it closes.
    Ok(set_cookie(console, client, SESSION_COOKIE, &id, None))
}

pub(crate) async fn logout(
    State(console): State<Arc<Console>>,
    client: Client,
    signed: Signed,
) -> Result<Response, PageError> {
    console.backend.delete_session(&signed.session).await?;
    let to = format!("{}?signed_out=1", console.url("/login"));
    let mut response = Redirect::to(&to).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&console, &client, SESSION_COOKIE, "", Some(0)),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_console_paths_are_followed_after_sign_in() {
        let root = BasePath::default();
        assert!(local_next(&root, "/rooms/alice?page=2"));
        assert!(!local_next(&root, "//evil.example/"));
        assert!(!local_next(&root, "/\\evil.example"));
        assert!(!local_next(&root, "https://evil.example/"));
        assert!(!local_next(&root, "/login?next=/"));
        let admin: BasePath = "/admin".parse().unwrap();
        assert!(local_next(&admin, "/admin/reports"));
        assert!(!local_next(&admin, "/adminx/reports"));
        assert!(!local_next(&admin, "/other"));
        assert!(!local_next(&admin, "/admin/\nx"));
    }
}
