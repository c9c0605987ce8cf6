//! Login sessions: the cookies, the layer that admits signed-in operators
//! (with sliding and absolute expiry) and refuses forged form posts, and the
//! limits on sign-in attempts.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::backend::{Actor, Role};
use crate::client::{Client, from_own_pages};
use crate::render::{PageError, query};
use crate::web::Console;

pub(crate) const SESSION_COOKIE: &str = "minilvb_console";
/// The sign-in form's token (see [`crate::login`]).
pub(crate) const LOGIN_COOKIE: &str = "minilvb_console_login";
/// The outcome of the last action, shown once on the page it led back to.
pub(crate) const NOTICE_COOKIE: &str = "minilvb_console_notice";

/// The largest form body read: every form here is a few short fields.
pub(crate) const FORM_LIMIT: usize = 16 * 1024;

/// The operator a request is signed in as, put there by [`require_login`].
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    pub operator: String,
    pub role: Role,
    pub csrf: String,
    /// The stored session id (the digest of the cookie's).
    pub session: String,
    pub notice: Option<String>,
}

impl Signed {
    pub fn actor(&self) -> Actor {
        Actor::console(&self.operator)
    }

    /// Refuses the request unless the operator's role allows `needed`.
    pub fn require(&self, needed: Role) -> Result<(), PageError> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(PageError::Forbidden(format!(
                "This needs the {needed} role; you are signed in as {} ({}).",
                self.operator, self.role
            )))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Signed {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Signed>().cloned().ok_or_else(|| {
            PageError::Internal("this page is served outside the login layer".into())
        })
    }
}

impl FromRequestParts<Arc<Console>> for Client {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(client) = parts.extensions.get::<Client>() {
            return Ok(client.clone());
        }
        Client::of(
            parts.extensions.get::<ConnectInfo<SocketAddr>>(),
            &parts.headers,
            &console.config,
        )
        .map_err(|e| PageError::Internal(e.to_string()))
    }
}

/// 256 random bits, hex.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the backend stores for a cookie's session id.
pub(crate) fn digest(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Whether a submitted token equals the expected one, in constant time.
pub(crate) fn token_matches(submitted: Option<&str>, expected: &str) -> bool {
    match submitted {
        Some(token) if !expected.is_empty() => {
            bool::from(token.as_bytes().ct_eq(expected.as_bytes()))
        }
        _ => false,
    }
}

pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, under the base path;
/// `max_age` seconds (`None`: until the browser closes; `Some(0)`: removed).
pub(crate) fn set_cookie(
    console: &Console,
    client: &Client,
    name: &str,
    value: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut cookie = Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path(console.config.base_path.join("/"))
        .secure(client.secure_cookies)
        .build();
    if let Some(seconds) = max_age {
        cookie.set_max_age(cookie::time::Duration::seconds(seconds));
    }
    // Cookie names and values here are ASCII tokens, hex and base64.
    HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// A redirect after an action, carrying its outcome to the next page.
pub(crate) fn redirect_with_notice(
    console: &Console,
    client: &Client,
    to: &str,
    notice: &str,
) -> Response {
    let mut text = notice;
    if text.len() > 1000 {
        let mut end = 1000;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text = &text[..end];
    }
    let value = URL_SAFE_NO_PAD.encode(text);
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(console, client, NOTICE_COOKIE, &value, Some(60)),
    );
    response
}

fn notice_of(headers: &HeaderMap) -> Option<String> {
    let value = cookie_value(headers, NOTICE_COOKIE)?;
    let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
    String::from_utf8(bytes).ok()
}

/// Where an unsigned request is sent: the login page, coming back here
/// after (for a page; the live list's fragment comes back to its page).
fn to_login(console: &Console, client: &Client, parts: &Parts, expired: bool) -> Response {
    let base = &console.config.base_path;
    let mut next = String::new();
    if parts.method == Method::GET {
        let here = parts.uri.path_and_query().map_or("", |pq| pq.as_str());
        if parts.uri.path() == base.join("/live/rows") {
            next = base.join("/");
        } else if crate::login::local_next(base, here) {
            next = here.to_owned();
        }
    }
    let flag = if expired { "1" } else { "" };
    let to = format!(
        "{}{}",
        base.join("/login"),
        query(&[("next", &next), ("expired", flag)])
    );
    let mut response = Redirect::to(&to).into_response();
    if cookie_value(&parts.headers, SESSION_COOKIE).is_some() {
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(console, client, SESSION_COOKIE, "", Some(0)),
        );
    }
    response
}

/// Admits requests of a live login session; refuses state-changing ones
/// that lack the session's CSRF token or come from another site.
pub(crate) async fn require_login(
    State(console): State<Arc<Console>>,
    request: Request,
    next: Next,
) -> Result<Response, PageError> {
    let (mut parts, body) = request.into_parts();
    let client = Client::of(
        parts.extensions.get::<ConnectInfo<SocketAddr>>(),
        &parts.headers,
        &console.config,
    )
    .map_err(|e| PageError::Internal(e.to_string()))?;
    let Some(cookie) = cookie_value(&parts.headers, SESSION_COOKIE) else {
        return Ok(to_login(&console, &client, &parts, false));
    };
    let id = digest(&cookie);
    let backend = &console.backend;
    let Some(session) = backend.session(&id).await? else {
        return Ok(to_login(&console, &client, &parts, false));
    };
    let now = backend.now();
    let hard_end = session
        .created_at
        .saturating_add(console.config.session_max_secs as i64);
    if now >= session.expires_at || now >= hard_end {
        backend.delete_session(&id).await?;
        return Ok(to_login(&console, &client, &parts, true));
    }
    let wanted = now
        .saturating_add(console.config.session_idle_secs as i64)
        .min(hard_end);
    // Moved at most once a minute: the live list polls every few seconds.
    if wanted - session.expires_at >= 60 {
        backend.touch_session(&id, wanted).await?;
    }

    let body = if matches!(parts.method, Method::GET | Method::HEAD) {
        body
    } else {
        if !from_own_pages(&parts.headers, &client) {
            return Err(PageError::Forbidden(
                "This request came from another site, so it was refused. \
                 Use the console's own pages."
                    .into(),
            ));
        }
        let bytes = to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|_| PageError::BadRequest("The form sent is too large.".into()))?;
        let token = form_urlencoded::parse(&bytes)
            .find(|(key, _)| key == "csrf")
            .map(|(_, value)| value.into_owned());
        if !token_matches(token.as_deref(), &session.csrf_token) {
            return Err(PageError::Forbidden(
                "The form was out of date or did not come from this console. \
                 Reload the page and try again."
                    .into(),
            ));
        }
        Body::from(bytes)
    };

    let notice = notice_of(&parts.headers);
    let signed = Signed {
        operator: session.operator,
        role: session.role,
        csrf: session.csrf_token,
        session: id,
        notice: notice.clone(),
    };
    parts.extensions.insert(signed.clone());
    parts.extensions.insert(client.clone());
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if notice.is_some() && response.status().is_success() {
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&console, &client, NOTICE_COOKIE, "", Some(0)),
        );
    }
    response.extensions_mut().insert(signed);
    Ok(response)
}

/// Sign-in attempts allowed per account name and per client address.
pub(crate) struct LoginLimits {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
}

/// Which limit a sign-in attempt ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitHit {
    Account,
    Address,
}

/// Keys kept before the limiters forget the ones whose quota refilled.
const LIMITER_KEYS: usize = 10_000;

impl LoginLimits {
    pub fn new(per_account: u32, per_address: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            per_account: RateLimiter::keyed(quota(per_account)),
            per_address: RateLimiter::keyed(quota(per_address)),
        }
    }

    /// Counts an attempt, or says which limit refuses it.
    pub fn check(&self, ip: IpAddr, account: &str) -> Result<(), LimitHit> {
        for limiter_len in [self.per_account.len(), self.per_address.len()] {
            if limiter_len > LIMITER_KEYS {
                self.per_account.retain_recent();
                self.per_address.retain_recent();
            }
        }
        if self.per_address.check_key(&address_key(ip)).is_err() {
            return Err(LimitHit::Address);
        }
        let account: String = account.trim().to_lowercase().chars().take(64).collect();
        if self.per_account.check_key(&account).is_err() {
            return Err(LimitHit::Account);
        }
        Ok(())
    }
}

/// IPv6 clients are counted by /64: one host usually holds a whole one.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn a_token_matches_only_itself_and_never_an_empty_one() {
        assert!(token_matches(Some("abc"), "abc"));
        assert!(!token_matches(Some("abd"), "abc"));
        assert!(!token_matches(Some("ab"), "abc"));
        assert!(!token_matches(None, "abc"));
        assert!(!token_matches(Some(""), ""));
    }

    #[test]
    fn the_limits_count_names_without_case_and_v6_by_prefix() {
        let limits = LoginLimits::new(2, 100);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limits.check(ip, "Alice").is_ok());
        assert!(limits.check(ip, "alice ").is_ok());
        assert_eq!(limits.check(ip, "ALICE"), Err(LimitHit::Account));
        assert!(limits.check(ip, "bob").is_ok());

        let limits = LoginLimits::new(100, 1);
        assert!(limits.check("2001:db8::1".parse().unwrap(), "a").is_ok());
        assert_eq!(
            limits.check("2001:db8::ffff".parse().unwrap(), "b"),
            Err(LimitHit::Address)
        );
    }
}
