use axum::http::StatusCode;

use crate::Console;

const BUTTONS: [&str; 7] = [
    ">Force offline<",
    ">Ban<",
    ">Unban<",
    ">Resolve<",
    ">Delete<",
    ">Remove operator<",
    ">Add operator<",
];

#[tokio::test]
async fn a_viewer_sees_no_action_buttons_anywhere() {
    let console = Console::seeded();
    console.backend.put_ban(minilvb_console::Ban {
        userid: "carol".into(),
        reason: "r".into(),
        since: crate::START,
        until: None,
    });
    let mut viewer = console.signed_in("vic").await;
    for path in [
        "/",
        "/live/rows",
        "/rooms/alice",
        "/rooms/carol",
        "/reports",
        "/recordings",
        "/bans",
        "/audit",
    ] {
        let page = viewer.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        for button in BUTTONS {
            assert!(
                !page.body.contains(button),
                "{button} on {path} for a viewer"
            );
        }
        assert!(
            !page.body.contains("/operators\""),
            "Operators link on {path}"
        );
    }
    // The same pages show a moderator the buttons.
    let mut moderator = console.signed_in("mia").await;
    let room = moderator.get("/rooms/alice").await.body;
    for button in [">Force offline<", ">Ban<", ">Resolve<", ">Delete<"] {
        assert!(room.contains(button), "{button} missing for a moderator");
    }
    assert!(moderator.get("/rooms/carol").await.body.contains(">Unban<"));
}

#[tokio::test]
async fn a_viewer_posting_an_action_is_refused_and_nothing_changes() {
    let console = Console::seeded();
    let mut viewer = console.signed_in("vic").await;
    for (path, fields) in [
        ("/rooms/alice/force-offline", vec![]),
        ("/rooms/alice/ban", vec![("reason", "spam")]),
        ("/rooms/alice/unban", vec![]),
        ("/reports/1/resolve", vec![]),
        ("/recordings/alice/file-a1/delete", vec![]),
        (
            "/operators",
            vec![
                ("name", "eve"),
                ("role", "admin"),
                ("password", "long-enough-pw"),
            ],
        ),
        ("/operators/mia/remove", vec![]),
        (
            "/operators/vic/password",
            vec![("password", "0123456789"), ("confirm", "0123456789")],
        ),
    ] {
        let answer = viewer.act(path, &fields).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        assert!(answer.body.contains("This needs the"), "{path}");
    }
    assert!(console.backend.room_now("alice").unwrap().online);
    assert!(console.backend.bans_now().is_empty());
    assert_eq!(console.backend.recordings_now().len(), 2);
    assert!(console.backend.audit_now().is_empty());
}

#[tokio::test]
async fn a_viewer_cannot_open_the_confirmation_pages() {
    let console = Console::seeded();
    let mut viewer = console.signed_in("vic").await;
    for path in [
        "/rooms/alice/force-offline",
        "/rooms/alice/ban",
        "/recordings/alice/file-a1/delete",
    ] {
        let page = viewer.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            page.body
                .contains("<h1 id=\"problem-title\">Not allowed</h1>")
        );
        assert!(
            page.body
                .contains("This needs the moderator role; you are signed in as vic (viewer).")
        );
    }
}

#[tokio::test]
async fn only_an_admin_manages_operators() {
    let console = Console::seeded();
    let mut moderator = console.signed_in("mia").await;
    assert!(!moderator.get("/").await.body.contains(">Operators<"));
    assert_eq!(
        moderator.get("/operators").await.status,
        StatusCode::FORBIDDEN
    );
    let answer = moderator
        .act(
            "/operators",
            &[
                ("name", "eve"),
                ("role", "admin"),
                ("password", "long-enough-pw"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let mut admin = console.signed_in("root").await;
    assert!(admin.get("/").await.body.contains(">Operators<"));
    assert_eq!(admin.get("/operators").await.status, StatusCode::OK);
}
