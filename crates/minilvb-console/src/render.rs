//! Turning data into pages: the layout every page shares, the error pages,
//! and the small formatting rules (times, durations, counts, links).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::backend::{BackendError, Role};

/// What every page's frame shows: where the console lives, who is signed
/// in, which section is open, and a notice left by the last action.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    /// The base path (`/admin` or empty).
    pub base: String,
    pub title: String,
    /// The open section: `live`, `reports`, `recordings`, `bans`, `audit`, `operators`.
    pub section: &'static str,
    /// Empty when nobody is signed in.
    pub operator: String,
    pub role: Option<Role>,
    /// The session's CSRF token, for the forms (logout among them).
    pub csrf: String,
    pub asset_version: &'static str,
    pub notice: Option<String>,
}

impl Layout {
    pub fn signed_in(&self) -> bool {
        self.role.is_some()
    }

    /// Whether the moderation buttons are shown.
    pub fn can_act(&self) -> bool {
        self.role.is_some_and(|r| r.allows(Role::Moderator))
    }

    pub fn is_admin(&self) -> bool {
        self.role.is_some_and(|r| r.allows(Role::Admin))
    }

    pub fn role_name(&self) -> &'static str {
        self.role.map_or("", Role::as_str)
    }

    /// `aria-current` for the nav link of `section`.
    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}

/// A page that went wrong, with the status it is answered with. Rendered by
/// the console's outer layer, which knows the base path and the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorPage {
    pub status: StatusCode,
    pub heading: &'static str,
    pub message: String,
}

/// The errors a handler answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PageError {
    NotFound(String),
    Forbidden(String),
    BadRequest(String),
    Backend(BackendError),
    Internal(String),
}

impl From<BackendError> for PageError {
    fn from(error: BackendError) -> Self {
        PageError::Backend(error)
    }
}

impl PageError {
    pub fn page(&self) -> ErrorPage {
        let (status, heading, message) = match self {
            PageError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m.clone()),
            PageError::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m.clone()),
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Cannot do that", m.clone()),
            PageError::Backend(BackendError::NotFound(m)) => {
                (StatusCode::NOT_FOUND, "Not found", m.clone())
            }
            PageError::Backend(BackendError::Failed(m)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Something failed",
                m.clone(),
            ),
            PageError::Internal(m) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something failed",
                m.clone(),
            ),
        };
        ErrorPage {
            status,
            heading,
            message,
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = self.page();
        let mut response = page.status.into_response();
        response.extensions_mut().insert(page);
        response
    }
}

pub(crate) type PageResult = Result<Response, PageError>;

/// A template as an HTML answer.
pub(crate) fn render(template: &impl Template) -> PageResult {
    template
        .render()
        .map(|html| Html(html).into_response())
        .map_err(|e| PageError::Internal(format!("the page could not be rendered: {e}")))
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorTemplate<'a> {
    pub layout: Layout,
    pub page: &'a ErrorPage,
}

/// Characters escaped in a path segment: everything but unreserved ones.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']')
    .add(b'\'')
    .add(b'&')
    .add(b'+')
    .add(b';')
    .add(b'=')
    .add(b':')
    .add(b'@')
    .add(b'$')
    .add(b',');

/// A userid, fileid or name as one path segment.
pub(crate) fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// A query string from pairs, empty values left out.
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.append_pair(key, value);
    }
    let text = out.finish();
    if text.is_empty() {
        text
    } else {
        format!("?{text}")
    }
}

/// Unix seconds as `2026-05-01 14:03 UTC`.
pub(crate) fn utc(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("{unix} (unix)"))
}

/// Seconds as `2 h 05 min`, `12 min`, `40 s`.
pub(crate) fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {:02} min", s / 3600, s / 60 % 60),
        _ => format!("{} d {} h", s / 86_400, s / 3600 % 24),
    }
}

/// A count with thousands separated: `12,345`.
pub(crate) fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A `datetime-local` (or `date`) input's value, taken as UTC; empty: none.
pub(crate) fn parse_utc_input(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let day = format_description!("[year]-[month]-[day]");
    time::PrimitiveDateTime::parse(text, minutes)
        .or_else(|_| time::PrimitiveDateTime::parse(text, seconds))
        .or_else(|_| time::Date::parse(text, day).map(|d| d.midnight()))
        .map(|t| Some(t.assume_utc().unix_timestamp()))
        .map_err(|_| format!("{text:?} is not a date and time like 2026-05-01T18:30"))
}

/// Which page of how many, with links to the neighbours.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pager {
    pub number: u32,
    pub pages: u32,
    pub total: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `link(n)` is the URL of page n.
    pub fn new(number: u32, size: u32, total: u64, link: impl Fn(u32) -> String) -> Self {
        let pages = u32::try_from(total.div_ceil(u64::from(size.max(1))))
            .unwrap_or(u32::MAX)
            .max(1);
        Pager {
            number,
            pages,
            total,
            prev: (number > 1).then(|| link(number - 1)),
            next: (number < pages).then(|| link(number + 1)),
        }
    }

    pub fn needed(&self) -> bool {
        self.pages > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_read_plainly() {
        assert_eq!(utc(1_767_225_600), "2026-01-01 00:00 UTC");
        assert_eq!(duration(42), "42 s");
        assert_eq!(duration(125), "2 min");
        assert_eq!(duration(3 * 3600 + 5 * 60), "3 h 05 min");
        assert_eq!(duration(2 * 86_400 + 3 * 3600), "2 d 3 h");
        assert_eq!(duration(-5), "0 s");
    }

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(12_345), "12,345");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(-1000), "-1,000");
    }

    #[test]
    fn dates_from_the_form_are_read_as_utc() {
        assert_eq!(parse_utc_input(""), Ok(None));
        assert_eq!(parse_utc_input("2026-01-01T00:00"), Ok(Some(1_767_225_600)));
        assert_eq!(
            parse_utc_input("2026-01-01T00:00:30"),
            Ok(Some(1_767_225_630))
        );
        assert_eq!(parse_utc_input("2026-01-01"), Ok(Some(1_767_225_600)));
        assert!(parse_utc_input("tomorrow").is_err());
    }

    #[test]
    fn path_segments_and_queries_are_escaped() {
        assert_eq!(segment("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(segment("user_1-x.y~z"), "user_1-x.y~z");
        assert_eq!(query(&[("q", "a&b"), ("sort", "")]), "?q=a%26b");
        assert_eq!(query(&[("q", "")]), "");
    }

    #[test]
    fn pagers_link_only_to_pages_that_exist() {
        let p = Pager::new(1, 10, 25, |n| format!("?page={n}"));
        assert_eq!(
            (p.pages, p.prev.as_deref(), p.next.as_deref()),
            (3, None, Some("?page=2"))
        );
        let last = Pager::new(3, 10, 25, |n| format!("?page={n}"));
        assert_eq!(last.next, None);
        assert!(!Pager::new(1, 10, 0, |n| n.to_string()).needed());
    }
}
