//! The moderators' web console of minilvb.
//!
//! Server-rendered pages over a [`ConsoleBackend`]: who is live now (a
//! list that refreshes itself), a room with its members, recordings and
//! reports, the open reports, recordings, bans, the audit log, and the
//! operators' accounts. Moderators force rooms offline, ban and unban
//! VJs, resolve reports and delete recordings; viewers only look; admins
//! also manage the operators.
//!
//! minilvb serves [`router`] on its own listener (`admin.listen`, off by
//! default), never on the apps' port, with
//! `into_make_service_with_connect_info::<SocketAddr>()`: the sign-in limits
//! and the trusted-proxy rules read the peer's address through
//! [`axum::extract::ConnectInfo`]. Everything it serves is inside the
//! binary: templates compiled in, one stylesheet and one script embedded.
//!
//! Templates are [askama]'s: they are checked and compiled with the crate,
//! so a misspelt field or a template that does not parse fails the build
//! rather than a page at run time; they escape HTML by default; and they
//! need no template files beside the binary.
//!
//! Security: the session cookie is `HttpOnly`, `SameSite=Strict`, scoped to
//! the base path and `Secure` over HTTPS (see [`SecureCookies`]); its id is
//! 256 random bits, stored by the backend as a SHA-256 digest, and expires
//! after [`ConsoleConfig::session_idle_secs`] idle and
//! [`ConsoleConfig::session_max_secs`] in all. Every POST carries the
//! session's CSRF token (compared in constant time) and, when the browser
//! sends an Origin or Referer, must come from the console's own host; GET
//! changes nothing. Sign-in attempts are limited per account and per
//! address, and an unknown name costs as long as a wrong password. Every
//! answer carries a strict Content-Security-Policy (no inline script or
//! style anywhere), `X-Frame-Options: DENY`, `Referrer-Policy`,
//! `X-Content-Type-Options` and, on pages, `Cache-Control: no-store`.
//! Roles are enforced on the server: a viewer's POST is refused with 403.

pub mod accounts;
mod auth;
pub mod backend;
#[cfg(feature = "browser")]
pub mod browser;
mod client;
pub mod config;
#[cfg(feature = "memory")]
pub mod demo;
mod login;
#[cfg(any(test, feature = "memory"))]
pub mod memory;
mod pages;
mod password;
mod render;
mod web;

pub use accounts::{MAX_NAME_LEN, MIN_PASSWORD_CHARS, check_operator_name, check_password};
pub use backend::{
    ActionResult, Actor, AuditEntry, BackendError, BackendResult, Ban, ConsoleBackend,
    LoginSession, Member, NewLoginSession, Operator, OperatorRecord, Outcome, PageRequest, Paged,
    Recording, Report, ReportOrder, Role, Room, RoomDetails, UnknownRole,
};
pub use config::{BadBasePath, BasePath, ConsoleConfig, SecureCookies};
pub use password::{MAX_PASSWORD_LEN, PasswordError, hash_password, verify_password};
pub use web::router;
