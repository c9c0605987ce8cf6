use std::time::{Duration, Instant};

use axum::http::StatusCode;
use minilvb_console::{ConsoleBackend, ConsoleConfig};

use crate::{Console, password_of};

#[tokio::test]
async fn a_right_password_signs_in_and_lands_on_live_now() {
    let console = Console::seeded();
    let mut agent = console.agent();
    let answer = agent.login("mia", &password_of("mia")).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/");
    assert!(agent.cookies.contains_key("minilvb_console"));
    assert!(
        !agent.cookies.contains_key("minilvb_console_login"),
        "the form's cookie is dropped"
    );
    let page = agent.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Live now</h1>"));
    assert!(
        page.body
            .contains("mia <span class=\"role\">moderator</span>")
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_name_are_refused_alike() {
    let console = Console::seeded();
    let mut agent = console.agent();
    let wrong = agent.login("mia", "not-her-password").await;
    let unknown = agent.login("nobody", "whatever-password").await;
    for answer in [&wrong, &unknown] {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert!(answer.body.contains("Wrong name or password."));
        assert!(answer.set_cookie("minilvb_console").is_none());
    }
    assert!(
        wrong.body.contains("value=\"mia\""),
        "the name is kept in the form"
    );
    assert_eq!(console.backend.session_count(), 0);
}

/// Signs in with a `next` field; returns where the answer leads.
async fn sign_in_with_next(console: &Console, next: &str) -> String {
    let mut agent = console.agent();
    let token = agent.get("/login").await.csrf();
    let password = password_of("mia");
    let answer = agent
        .post(
            "/login",
            &[
                ("csrf", &token),
                ("username", "mia"),
                ("password", &password),
                ("next", next),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    answer.location().to_owned()
}

#[tokio::test]
async fn sign_in_returns_to_a_local_next_but_never_to_another_site() {
    let console = Console::seeded();
    let form = console.agent().get("/login?next=/rooms/alice").await;
    assert!(form.body.contains("name=\"next\" value=\"/rooms/alice\""));
    assert_eq!(
        sign_in_with_next(&console, "/rooms/alice").await,
        "/rooms/alice"
    );
    for foreign in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/login",
    ] {
        assert_eq!(
            sign_in_with_next(&console, foreign).await,
            "/",
            "{foreign} followed"
        );
    }
}

#[tokio::test]
async fn an_unsigned_request_goes_to_the_login_page_with_its_path_as_next() {
    let console = Console::seeded();
    let mut agent = console.agent();
    let answer = agent.get("/rooms/alice?page=2").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/login?next=%2Frooms%2Falice%3Fpage%3D2");
    let fragment = agent.get("/live/rows?sort=start").await;
    assert_eq!(
        fragment.location(),
        "/login?next=%2F",
        "the fragment leads back to its page"
    );
    let post = agent.post("/rooms/alice/force-offline", &[]).await;
    assert_eq!(post.location(), "/login");
    assert!(console.backend.room_now("alice").unwrap().online);
}

#[tokio::test]
async fn log_out_ends_the_session_and_its_cookie() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let stolen = agent.cookies.clone();
    let token = agent.get("/").await.csrf();
    let answer = agent.post("/logout", &[("csrf", &token)]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/login?signed_out=1");
    assert!(
        answer
            .set_cookie("minilvb_console")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(console.backend.session_count(), 0);
    let page = agent.get("/login?signed_out=1").await;
    assert!(page.body.contains("You are signed out."));

    let mut replay = console.agent();
    replay.cookies = stolen;
    assert_eq!(replay.get("/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_idle_session_expires_and_sends_the_operator_to_sign_in_again() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    console.backend.advance(1800);
    let answer = agent.get("/reports").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/login?next=%2Freports&expired=1");
    assert_eq!(console.backend.session_count(), 0);
    let page = agent.get(answer.location()).await;
    assert!(page.body.contains("Your session ended."));
}

#[tokio::test]
async fn activity_moves_the_idle_expiry_forward() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    for _ in 0..4 {
        console.backend.advance(1500);
        assert_eq!(agent.get("/").await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn the_absolute_lifetime_ends_even_a_busy_session() {
    let console = Console::with(ConsoleConfig {
        session_idle_secs: 1800,
        session_max_secs: 3600,
        ..ConsoleConfig::default()
    });
    let mut agent = console.signed_in("mia").await;
    for _ in 0..3 {
        console.backend.advance(1000);
        assert_eq!(agent.get("/").await.status, StatusCode::OK);
    }
    console.backend.advance(700);
    let answer = agent.get("/").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert!(answer.location().contains("expired=1"));
}

#[tokio::test]
async fn sign_in_attempts_for_one_account_are_limited() {
    let console = Console::seeded();
    let mut agent = console.agent();
    for _ in 0..5 {
        assert_eq!(
            agent.login("mia", "guess-guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = agent.login("mia", &password_of("mia")).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited
            .body
            .contains("Too many sign-in attempts for this account")
    );
    assert_eq!(limited.headers["retry-after"], "60");
    assert!(limited.set_cookie("minilvb_console").is_none());
    // Another account from the same address is still let in.
    assert_eq!(
        agent.login("vic", &password_of("vic")).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn sign_in_attempts_from_one_address_are_limited() {
    let console = Console::with(ConsoleConfig {
        login_attempts_per_address: 3,
        ..ConsoleConfig::default()
    });
    let mut agent = console.agent();
    for name in ["a1", "a2", "a3"] {
        assert_eq!(
            agent.login(name, "guess-guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = agent.login("mia", &password_of("mia")).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited
            .body
            .contains("Too many sign-in attempts from your address")
    );
}

#[tokio::test]
async fn a_sign_in_without_the_forms_token_is_refused() {
    let console = Console::seeded();
    let mut agent = console.agent();
    let answer = agent
        .post(
            "/login",
            &[("username", "mia"), ("password", &password_of("mia"))],
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.body.contains("The sign-in form had expired"));
    assert!(answer.set_cookie("minilvb_console").is_none());
    // The page answered carries a fresh form that works.
    let token = answer.csrf();
    let again = agent
        .post(
            "/login",
            &[
                ("csrf", &token),
                ("username", "mia"),
                ("password", &password_of("mia")),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused() {
    let console = Console::seeded();
    let mut agent = console.agent();
    let token = agent.get("/login").await.csrf();
    agent.origin = Some("https://evil.example".into());
    let answer = agent
        .post(
            "/login",
            &[
                ("csrf", &token),
                ("username", "mia"),
                ("password", &password_of("mia")),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.body.contains("came from another site"));
}

#[tokio::test]
async fn a_new_sign_in_replaces_the_session_the_browser_had() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let before = agent.cookies["minilvb_console"].clone();
    agent.login("vic", &password_of("vic")).await;
    assert_ne!(agent.cookies["minilvb_console"], before);
    assert_eq!(console.backend.session_count(), 1);
}

#[tokio::test]
async fn sessions_are_stored_by_digest_not_by_the_cookies_id() {
    let console = Console::seeded();
    let agent = console.signed_in("mia").await;
    let id = &agent.cookies["minilvb_console"];
    assert_eq!(id.len(), 64);
    assert!(console.backend.session(id).await.unwrap().is_none());
}

#[tokio::test]
async fn an_unknown_name_takes_as_long_to_refuse_as_a_wrong_password() {
    let console = Console::with(ConsoleConfig {
        login_attempts_per_account: 100,
        login_attempts_per_address: 100,
        ..ConsoleConfig::default()
    });
    let mut agent = console.agent();
    let (mut wrong, mut unknown) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        let started = Instant::now();
        agent.login("mia", "not-her-password").await;
        wrong = wrong.min(started.elapsed());
        let started = Instant::now();
        agent.login("nobody-at-all", "not-her-password").await;
        unknown = unknown.min(started.elapsed());
    }
    // Without the dummy hash an unknown name is refused in well under a
    // millisecond, against tens of milliseconds for a wrong password.
    assert!(
        unknown * 3 >= wrong,
        "unknown name refused in {unknown:?}, wrong password in {wrong:?}"
    );
}
