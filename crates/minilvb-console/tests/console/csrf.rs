use axum::http::StatusCode;

use crate::Console;

#[tokio::test]
async fn a_post_without_the_token_is_refused_and_changes_nothing() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let answer = agent
        .post("/rooms/alice/force-offline", &[("reason", "x")])
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(
        answer
            .body
            .contains("The form was out of date or did not come from this console.")
    );
    assert!(console.backend.room_now("alice").unwrap().online);
    assert!(console.backend.audit_now().is_empty());
}

#[tokio::test]
async fn a_post_with_another_token_is_refused() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let mut other = console.signed_in("root").await;
    let foreign_token = other.get("/").await.csrf();
    let own_token = agent.get("/").await.csrf();
    assert_ne!(foreign_token, own_token);
    for token in [foreign_token.as_str(), "", &own_token[..63]] {
        let answer = agent
            .post("/rooms/alice/ban", &[("csrf", token), ("reason", "spam")])
            .await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "token {token:?} let through"
        );
    }
    assert!(console.backend.bans_now().is_empty());
}

#[tokio::test]
async fn a_post_from_another_site_is_refused_even_with_the_token() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let token = agent.get("/").await.csrf();
    agent.origin = Some("https://evil.example".into());
    let answer = agent
        .post("/rooms/alice/force-offline", &[("csrf", &token)])
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.body.contains("came from another site"));
    agent.origin = Some("null".into());
    let answer = agent
        .post("/rooms/alice/force-offline", &[("csrf", &token)])
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(console.backend.room_now("alice").unwrap().online);
}

#[tokio::test]
async fn a_foreign_referer_is_refused_when_no_origin_is_sent() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let token = agent.get("/").await.csrf();
    agent.origin = None;
    let request = axum::http::Request::post("/rooms/alice/force-offline")
        .header(
            "cookie",
            format!("minilvb_console={}", agent.cookies["minilvb_console"]),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .header("referer", "https://evil.example/page")
        .body(axum::body::Body::from(format!("csrf={token}")))
        .unwrap();
    assert_eq!(console.send(request).await.status, StatusCode::FORBIDDEN);
    // Without Origin or Referer the token decides alone.
    let answer = agent
        .post("/rooms/alice/force-offline", &[("csrf", &token)])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert!(!console.backend.room_now("alice").unwrap().online);
}

#[tokio::test]
async fn opening_an_action_by_get_only_asks_for_confirmation() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    for path in [
        "/rooms/alice/force-offline",
        "/rooms/alice/ban",
        "/recordings/alice/file-a1/delete",
    ] {
        let page = agent.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            page.body
                .contains(&format!("method=\"post\" action=\"{path}\"")),
            "{path}"
        );
        assert!(page.body.contains("name=\"csrf\""));
    }
    assert_eq!(
        agent.get("/reports/1/resolve").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert!(console.backend.room_now("alice").unwrap().online);
    assert_eq!(console.backend.recordings_now().len(), 2);
    assert!(console.backend.audit_now().is_empty());
}
