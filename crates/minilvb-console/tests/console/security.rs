use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use minilvb_console::{ConsoleConfig, SecureCookies};

use crate::{Answer, Console, password_of};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' https: http: data:; frame-ancestors 'none'; form-action 'self'; \
    base-uri 'none'";

fn assert_secure_headers(answer: &Answer, what: &str) {
    let h = &answer.headers;
    assert_eq!(h["content-security-policy"], CSP, "{what}");
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    assert_eq!(h["referrer-policy"], "same-origin", "{what}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert!(h.contains_key("cache-control"), "{what}");
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let console = Console::seeded();
    let mut anonymous = console.agent();
    let mut viewer = console.signed_in("vic").await;
    let mut answers = vec![
        ("login page", anonymous.get("/login").await),
        ("redirect to login", anonymous.get("/reports").await),
        ("static css", anonymous.get("/static/console.css").await),
        ("static js", anonymous.get("/static/console.js").await),
        ("missing static", anonymous.get("/static/nothing.css").await),
        ("404", anonymous.get("/nowhere").await),
        ("wrong login", anonymous.post("/login", &[]).await),
        ("live now", viewer.get("/").await),
        ("fragment", viewer.get("/live/rows").await),
        ("403", viewer.get("/rooms/alice/ban").await),
        (
            "403 post",
            viewer.act("/rooms/alice/ban", &[("reason", "x")]).await,
        ),
        ("405", viewer.get("/logout").await),
    ];
    console
        .backend
        .fail_with(Some("the database is unavailable: test"));
    answers.push(("503", viewer.get("/").await));
    for (what, answer) in &answers {
        assert_secure_headers(answer, what);
    }
    let pages = answers.iter().filter(|(w, _)| !w.starts_with("static"));
    for (what, answer) in pages {
        assert_eq!(answer.headers["cache-control"], "no-store", "{what}");
    }
    assert_eq!(answers[11].1.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        answers[11]
            .1
            .body
            .contains("does not take that kind of request")
    );
}

#[tokio::test]
async fn static_files_have_their_types_and_are_cached_for_good() {
    let console = Console::seeded();
    let mut agent = console.agent();
    let css = agent.get("/static/console.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert!(
        css.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let js = agent.get("/static/console.js").await;
    assert_eq!(js.headers["content-type"], "text/javascript; charset=utf-8");
    assert!(js.body.contains("data-refresh-url"));
    let login = agent.get("/login").await.body;
    assert!(login.contains("href=\"/static/console.css?v="));
    assert!(login.contains("<script src=\"/static/console.js?v="));
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_scoped_to_the_console() {
    let console = Console::seeded();
    let mut agent = console.agent();
    let form = agent.get("/login").await;
    let login_cookie = form.set_cookie("minilvb_console_login").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=900"] {
        assert!(login_cookie.contains(flag), "{flag} in {login_cookie}");
    }
    let answer = agent.login("mia", &password_of("mia")).await;
    let cookie = answer.set_cookie("minilvb_console").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP from a client: no Secure"
    );
    assert!(
        !cookie.contains("Max-Age"),
        "ends with the browser or the server's expiry"
    );
    let id = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    assert_eq!(id.len(), 64);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
}

/// Signs in from `peer` with these extra headers; returns the session's Set-Cookie.
async fn session_cookie_via(
    console: &Console,
    peer: [u8; 4],
    headers: &[(&'static str, &str)],
) -> String {
    let with = |mut request: Request<Body>| {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((peer, 5000))));
        for (name, value) in headers {
            request.headers_mut().insert(*name, value.parse().unwrap());
        }
        request
    };
    let form = console
        .send(with(Request::get("/login").body(Body::empty()).unwrap()))
        .await;
    let login_cookie = form.set_cookie("minilvb_console_login").unwrap();
    let pair = login_cookie.split(';').next().unwrap().to_owned();
    let body = format!(
        "csrf={}&username=mia&password={}",
        form.csrf(),
        password_of("mia")
    );
    let request = Request::post("/login")
        .header("cookie", pair)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let answer = console.send(with(request)).await;
    answer.set_cookie("minilvb_console").expect("signed in")
}

#[tokio::test]
async fn cookies_are_secure_when_a_trusted_proxy_says_https() {
    let console = Console::with(ConsoleConfig {
        trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
        ..ConsoleConfig::default()
    });
    let https = [("x-forwarded-proto", "https")];
    assert!(
        session_cookie_via(&console, [10, 0, 0, 1], &https)
            .await
            .contains("; Secure")
    );
    assert!(
        !session_cookie_via(&console, [192, 0, 2, 1], &https)
            .await
            .contains("Secure")
    );
    assert!(
        !session_cookie_via(&console, [10, 0, 0, 1], &[])
            .await
            .contains("Secure")
    );
}

#[tokio::test]
async fn secure_cookies_always_marks_every_cookie_secure() {
    let console = Console::with(ConsoleConfig {
        secure_cookies: SecureCookies::Always,
        ..ConsoleConfig::default()
    });
    let form = console.agent().get("/login").await;
    assert!(
        form.set_cookie("minilvb_console_login")
            .unwrap()
            .contains("; Secure")
    );
    assert!(
        session_cookie_via(&console, [127, 0, 0, 1], &[])
            .await
            .contains("; Secure")
    );
}

#[tokio::test]
async fn no_page_has_inline_script_style_or_handlers() {
    let console = Console::seeded();
    let mut admin = console.signed_in("root").await;
    for path in [
        "/",
        "/live/rows",
        "/rooms/alice",
        "/rooms/alice/force-offline",
        "/rooms/alice/ban",
        "/reports",
        "/recordings",
        "/recordings/alice/file-a1/delete",
        "/bans",
        "/audit",
        "/operators",
        "/operators/mia/remove",
        "/operators/mia/password",
        "/nowhere",
    ] {
        let body = admin.get(path).await.body;
        let lower = body.to_lowercase();
        assert!(!lower.contains("style="), "{path} has a style attribute");
        assert!(!lower.contains("<style"), "{path} has a style element");
        for (at, _) in lower.match_indices("<script") {
            let tag = &lower[at..at + lower[at..].find('>').unwrap()];
            assert!(tag.contains(" src="), "{path} has an inline script");
        }
        for handler in [
            " onclick=",
            " onload=",
            " onerror=",
            " onsubmit=",
            "javascript:",
        ] {
            assert!(!lower.contains(handler), "{path} has {handler}");
        }
    }
}

#[tokio::test]
async fn a_base_path_prefixes_every_link_form_redirect_static_url_and_cookie() {
    let console = Console::with(ConsoleConfig {
        base_path: "/admin".parse().unwrap(),
        ..ConsoleConfig::default()
    });
    let mut agent = console.agent();
    assert_eq!(agent.get("/admin").await.location(), "/admin/");
    assert_eq!(
        agent.get("/admin/").await.location(),
        "/admin/login?next=%2Fadmin%2F"
    );
    assert_eq!(agent.get("/").await.status, StatusCode::NOT_FOUND);
    assert_eq!(agent.get("/login").await.status, StatusCode::NOT_FOUND);
    let form = agent.get("/admin/login").await;
    assert!(form.body.contains("action=\"/admin/login\""));
    assert!(
        form.set_cookie("minilvb_console_login")
            .unwrap()
            .contains("Path=/admin/")
    );
    let answer = agent.login("root", &password_of("root")).await;
    assert_eq!(answer.location(), "/admin/");
    assert!(
        answer
            .set_cookie("minilvb_console")
            .unwrap()
            .contains("Path=/admin/")
    );

    for path in [
        "/admin/",
        "/admin/rooms/alice",
        "/admin/reports",
        "/admin/recordings",
        "/admin/bans",
        "/admin/audit",
        "/admin/operators",
    ] {
        let page = agent.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        for attr in ["href=\"", "action=\"", "src=\"", "data-refresh-url=\""] {
            for (at, _) in page.body.match_indices(attr) {
                let value = &page.body[at + attr.len()..];
                let value = &value[..value.find('"').unwrap()];
                let external = value.starts_with("https://")
                    || value.starts_with("data:")
                    || value.starts_with('#');
                assert!(
                    external || value.starts_with("/admin/"),
                    "{path}: {attr}{value} is outside the base path"
                );
            }
        }
    }
    let token = agent.get("/admin/").await.csrf();
    let done = agent
        .post("/admin/rooms/alice/force-offline", &[("csrf", &token)])
        .await;
    assert_eq!(done.location(), "/admin/rooms/alice");
    let out = agent.post("/admin/logout", &[("csrf", &token)]).await;
    assert_eq!(out.location(), "/admin/login?signed_out=1");
}
