//! The console over the in-memory backend, driven request by request
//! through the router (no listener), with a small cookie jar.

mod actions;
mod csrf;
mod login;
mod pages;
mod roles;
mod security;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use minilvb_console::memory::MemoryBackend;
use minilvb_console::{ConsoleConfig, Member, Recording, Role, Room, router};
use tower::ServiceExt;

/// 2026-01-01 00:00 UTC.
pub const START: i64 = 1_767_225_600;
pub const HOST: &str = "console.test";

pub fn password_of(name: &str) -> String {
    format!("password-of-{name}")
}

pub struct Console {
    pub app: Router,
    pub backend: Arc<MemoryBackend>,
    pub base: String,
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

    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        hidden(&self.body, "csrf").unwrap_or_default()
    }
}

/// The value of the first `name="..."` input's `value`.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

pub fn room(userid: &str, title: &str, viewers_from: i64, likes: i64, online: bool) -> Room {
    Room {
        userid: userid.into(),
        groupid: format!("@TGS#{userid}"),
        title: title.into(),
        nickname: format!("Nick {userid}"),
        headpic: String::new(),
        cover: format!("https://img.example/{userid}.jpg"),
        location: "Hangzhou".into(),
        viewers: viewers_from,
        likes,
        online,
        started_at: START - 3 * 3600 - 300,
        play_url: format!("https://play.example/live/{userid}.flv"),
        hls_play_url: format!("https://play.example/live/{userid}.m3u8"),
    }
}

pub fn recording(userid: &str, fileid: &str, ended_at: i64) -> Recording {
    Recording {
        userid: userid.into(),
        fileid: fileid.into(),
        title: format!("Replay {fileid}"),
        nickname: format!("Nick {userid}"),
        cover: String::new(),
        viewers: 10,
        likes: 20,
        ended_at,
        play_url: format!("https://vod.example/{fileid}.flv"),
        hls_play_url: format!("https://vod.example/{fileid}.m3u8"),
    }
}

impl Console {
    /// The console with the default settings and the data below.
    pub fn seeded() -> Self {
        Self::with(ConsoleConfig::default())
    }

    /// Operators root (admin), mia (moderator), vic (viewer); rooms alice
    /// (online, 3 members), bob (online), carol (offline); recordings;
    /// reports against bob.
    pub fn with(config: ConsoleConfig) -> Self {
        let backend = Arc::new(MemoryBackend::new(START));
        for (name, role) in [
            ("root", Role::Admin),
            ("mia", Role::Moderator),
            ("vic", Role::Viewer),
        ] {
            backend
                .put_operator(name, role, &password_of(name))
                .unwrap();
        }
        backend.put_room(room("alice", "Jazz on the roof", 0, 1500, true));
        for n in 0..3 {
            backend.add_member(
                "alice",
                Member {
                    userid: format!("fan{n}"),
                    nickname: format!("Fan {n}"),
                    headpic: String::new(),
                },
            );
        }
        let mut bob = room("bob", "Speedrun night", 12_345, 20, true);
        bob.started_at = START - 60;
        backend.put_room(bob);
        backend.put_room(room("carol", "Yoga", 0, 7, false));
        backend.put_recording(recording("alice", "file-a1", START - 86_400));
        backend.put_recording(recording("carol", "file-c1", START - 3600));
        backend.add_report("fan1", "bob");
        backend.advance(60);
        backend.add_report("fan2", "bob");
        backend.add_report("fan2", "bob");
        backend.add_report("", "alice");
        let base = config.base_path.as_str().to_owned();
        Console {
            app: router(backend.clone(), config),
            backend,
            base,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request from 127.0.0.1 with `Host: console.test`, unless it
    /// names its own peer or host.
    pub async fn send(&self, mut request: Request<Body>) -> Answer {
        if request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_none()
        {
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
        }
        if !request.headers().contains_key(header::HOST) {
            request
                .headers_mut()
                .insert(header::HOST, HOST.parse().unwrap());
        }
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub fn agent(&self) -> Agent<'_> {
        Agent {
            console: self,
            cookies: BTreeMap::new(),
            origin: Some(format!("http://{HOST}")),
        }
    }

    /// An agent signed in as `name` (password as [`password_of`]).
    pub async fn signed_in(&self, name: &str) -> Agent<'_> {
        self.signed_in_with(name, &password_of(name)).await
    }

    pub async fn signed_in_with(&self, name: &str, password: &str) -> Agent<'_> {
        let mut agent = self.agent();
        let answer = agent.login(name, password).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        agent
    }
}

/// A browser, as far as cookies and the Origin header go.
pub struct Agent<'a> {
    pub console: &'a Console,
    pub cookies: BTreeMap<String, String>,
    /// Sent with every POST; `None`: no Origin header.
    pub origin: Option<String>,
}

impl Agent<'_> {
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

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let request = Request::get(path)
            .header(header::COOKIE, self.cookie_header())
            .body(Body::empty())
            .unwrap();
        let answer = self.console.send(request).await;
        self.keep_cookies(&answer);
        answer
    }

    /// Posts exactly these fields.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request = Request::post(path)
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(origin) = &self.origin {
            request = request.header(header::ORIGIN, origin);
        }
        let answer = self
            .console
            .send(request.body(Body::from(body)).unwrap())
            .await;
        self.keep_cookies(&answer);
        answer
    }

    /// Posts the fields with the session's CSRF token (read from Live now).
    pub async fn act(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let token = self.get(&self.console.url("/")).await.csrf();
        assert!(!token.is_empty(), "no CSRF token on Live now");
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    /// Opens the sign-in form and posts it.
    pub async fn login(&mut self, name: &str, password: &str) -> Answer {
        let form = self.get(&self.console.url("/login")).await;
        assert_eq!(form.status, StatusCode::OK);
        let token = form.csrf();
        self.post(
            &self.console.url("/login"),
            &[("csrf", &token), ("username", name), ("password", password)],
        )
        .await
    }
}
