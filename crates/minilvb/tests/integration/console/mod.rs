//! The web console as the server serves it (`admin.listen`), over the real
//! store on every backend: request by request with a small cookie jar
//! (`requests`), in a real browser (`browser`), and its accounts made
//! with `minilvb operators` (`cli`).

mod browser;
mod cli;
mod requests;

use std::collections::BTreeMap;
use std::sync::Arc;

use minilvb::admin::accounts::Accounts;
use minilvb::admin::moderation::Actor;
use minilvb_console::{Role, hash_password};
use minilvb_store::AuditEntry;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

use crate::common::*;

/// The operators every console test starts with.
pub const OPERATORS: [(&str, Role); 3] = [
    ("root", Role::Admin),
    ("mia", Role::Moderator),
    ("vic", Role::Viewer),
];

pub fn password_of(name: &str) -> String {
    format!("password-of-{name}")
}

/// A server with the console on a port of its own, `configure` applied
/// last, and the operators of [`OPERATORS`].
pub async fn spawn_console(
    backend: Backend,
    configure: impl FnOnce(&mut minilvb::config::Settings),
) -> TestApp {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.admin.listen = "127.0.0.1:0".into();
        configure(settings);
    })
    .await;
    for (name, role) in OPERATORS {
        add_operator(&app, name, role).await;
    }
    app
}

/// Adds an operator as `minilvb operators add` does (an audit row of `cli:...`).
pub async fn add_operator(app: &TestApp, name: &str, role: Role) {
    let hash = hash_password(&password_of(name)).expect("a hash");
    accounts(app)
        .add(&Actor::cli(), name, role, &hash)
        .await
        .expect("the operator added");
}

pub fn accounts(app: &TestApp) -> Accounts {
    Accounts::new(app.store.clone(), Arc::new(app.clock.clone()))
}

/// The newest row of the audit log.
pub async fn last_audit(app: &TestApp) -> AuditEntry {
    let (_, entries) = app.store.audit_log(0, 1).await.expect("the audit log");
    entries.into_iter().next().expect("an audit row")
}

/// How many rows the audit log has.
pub async fn audit_rows(app: &TestApp) -> i64 {
    app.store.audit_log(0, 1).await.expect("the audit log").0
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let Some(at) = self.body.find("name=\"csrf\" value=\"") else {
            return String::new();
        };
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap_or(0)].to_owned()
    }
}

/// A browser, as far as cookies and the Origin header go, speaking HTTP
/// to the console's listener.
pub struct Agent {
    pub base: String,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    /// Sent with every POST.
    pub origin: String,
    /// Extra headers on every request (a reverse proxy's).
    pub headers: Vec<(String, String)>,
}

impl Agent {
    pub fn new(app: &TestApp) -> Self {
        let base = app.console_base.clone().expect("the console is on");
        let origin = base.split('/').take(3).collect::<Vec<_>>().join("/");
        Self {
            base,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            origin,
            headers: Vec::new(),
        }
    }

    /// An agent signed in as `name` (password as [`password_of`]).
    pub async fn signed_in(app: &TestApp, name: &str) -> Self {
        let mut agent = Self::new(app);
        let answer = agent.login(name, &password_of(name)).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        agent
    }

    fn keep_cookies(&mut self, answer: &Answer) {
        for line in answer.set_cookies() {
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if line.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let cookies = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = request.header(header::COOKIE, cookies);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("the console answers");
        let answer = Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.expect("a body"),
        };
        self.keep_cookies(&answer);
        answer
    }

    /// GETs a path under the console's base.
    pub async fn get(&mut self, path: &str) -> Answer {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// POSTs exactly these fields.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, self.origin.clone())
            .body(body);
        self.send(request).await
    }

    /// POSTs the fields with the session's CSRF token (read from Live now).
    pub async fn act(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let token = self.get("/").await.csrf();
        assert!(!token.is_empty(), "no CSRF token on Live now");
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    /// Opens the sign-in form and posts it.
    pub async fn login(&mut self, name: &str, password: &str) -> Answer {
        let form = self.get("/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let token = form.csrf();
        self.post(
            "/login",
            &[("csrf", &token), ("username", name), ("password", password)],
        )
        .await
    }

    /// The notice the last action left, read from the page it led to.
    pub async fn notice_at(&mut self, location: &str) -> String {
        let path = location.strip_prefix(self.base_path()).unwrap_or(location);
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let start = page.body.find("<p class=\"notice\"").expect("a notice");
        let end = page.body[start..].find("</p>").unwrap();
        page.body[start..start + end].to_owned()
    }

    /// The base path (after the host).
    fn base_path(&self) -> &str {
        let after_scheme = self.base.find("://").map_or(0, |i| i + 3);
        self.base[after_scheme..]
            .find('/')
            .map_or("", |i| &self.base[after_scheme + i..])
    }
}
