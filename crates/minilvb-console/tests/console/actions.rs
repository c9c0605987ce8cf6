use axum::http::StatusCode;
use minilvb_console::{AuditEntry, ConsoleBackend, Role, verify_password};

use crate::{Agent, Console, START};

fn last_audit(console: &Console) -> AuditEntry {
    console.backend.audit_now().pop().expect("an audit row")
}

/// Follows a redirect and returns the page's notice text.
async fn notice_after(agent: &mut Agent<'_>, location: &str) -> String {
    let page = agent.get(location).await;
    assert_eq!(page.status, StatusCode::OK);
    let start = page.body.find("<p class=\"notice\"").expect("a notice");
    let end = page.body[start..].find("</p>").unwrap();
    page.body[start..start + end].to_owned()
}

#[tokio::test]
async fn force_offline_takes_the_room_offline_and_logs_who_did_it() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let answer = agent
        .act(
            "/rooms/alice/force-offline",
            &[("reason", "nudity"), ("back", "/rooms/alice")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/rooms/alice");
    assert!(!console.backend.room_now("alice").unwrap().online);
    let entry = last_audit(&console);
    assert_eq!(
        (
            entry.actor.as_str(),
            entry.action.as_str(),
            entry.target.as_str(),
            entry.reason.as_str()
        ),
        ("console:mia", "force_offline", "alice", "nudity")
    );
    assert_eq!(entry.outcome, "room of alice is offline");
    let notice = notice_after(&mut agent, "/rooms/alice").await;
    assert!(notice.contains("Force offline: room of alice is offline"));
    // Shown once.
    assert!(
        !agent
            .get("/rooms/alice")
            .await
            .body
            .contains("class=\"notice\"")
    );
}

#[tokio::test]
async fn an_action_on_a_missing_room_is_a_404_page_and_logs_nothing() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let answer = agent.act("/rooms/nobody/force-offline", &[]).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(
        answer.body.contains("not found: no room of userid nobody")
            || answer.body.contains("no room of userid nobody")
    );
    assert!(console.backend.audit_now().is_empty());
    assert_eq!(
        agent.get("/rooms/nobody").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_ban_needs_a_reason() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let answer = agent.act("/rooms/alice/ban", &[("reason", "   ")]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.body.contains("Give a reason for the ban."));
    assert!(console.backend.bans_now().is_empty());
}

#[tokio::test]
async fn a_ban_with_an_end_bars_the_vj_until_then_and_takes_the_room_offline() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let answer = agent
        .act(
            "/rooms/alice/ban",
            &[("reason", "spam links"), ("until", "2026-01-08T12:30")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let ban = &console.backend.bans_now()[0];
    assert_eq!(ban.userid, "alice");
    assert_eq!(ban.reason, "spam links");
    assert_eq!(ban.until, Some(START + 7 * 86_400 + 12 * 3600 + 1800));
    assert!(!console.backend.room_now("alice").unwrap().online);
    let entry = last_audit(&console);
    assert_eq!(
        (entry.action.as_str(), entry.reason.as_str()),
        ("ban", "spam links")
    );
    let room = agent.get("/rooms/alice").await.body;
    assert!(room.contains("Banned 2026-01-08 12:30 UTC"));
    assert!(room.contains(">Unban<"));
    let bans = agent.get("/bans").await.body;
    assert!(bans.contains("spam links"));
}

#[tokio::test]
async fn a_ban_without_an_end_lasts_until_lifted_and_a_past_end_is_refused() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let past = agent
        .act(
            "/rooms/bob/ban",
            &[("reason", "r"), ("until", "2025-12-31T23:00")],
        )
        .await;
    assert_eq!(past.status, StatusCode::BAD_REQUEST);
    assert!(
        past.body
            .contains("The end of the ban must be in the future.")
    );
    let bad = agent
        .act("/rooms/bob/ban", &[("reason", "r"), ("until", "soon")])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("is not a date and time"));
    assert!(console.backend.bans_now().is_empty());
    agent.act("/rooms/bob/ban", &[("reason", "r")]).await;
    assert_eq!(console.backend.bans_now()[0].until, None);
    assert!(agent.get("/bans").await.body.contains("until lifted"));
}

#[tokio::test]
async fn unban_lifts_the_ban_and_logs_it() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    agent.act("/rooms/bob/ban", &[("reason", "r")]).await;
    let answer = agent.act("/rooms/bob/unban", &[("back", "/bans")]).await;
    assert_eq!(answer.location(), "/bans");
    assert!(console.backend.bans_now().is_empty());
    assert_eq!(last_audit(&console).action, "unban");
    let again = agent.act("/rooms/bob/unban", &[]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(again.body.contains("bob is not banned"));
}

#[tokio::test]
async fn resolve_closes_the_report_and_logs_the_note() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let answer = agent
        .act(
            "/reports/1/resolve",
            &[("reason", "warned the VJ"), ("back", "/reports?order=most")],
        )
        .await;
    assert_eq!(answer.location(), "/reports?order=most");
    let report = console
        .backend
        .reports_now()
        .into_iter()
        .find(|r| r.id == 1)
        .unwrap();
    assert!(report.resolved_at.is_some());
    let entry = last_audit(&console);
    assert_eq!(
        (entry.action.as_str(), entry.reason.as_str()),
        ("resolve_report", "warned the VJ")
    );
    assert!(entry.target.contains("report 1"));
    assert_eq!(
        agent.act("/reports/1/resolve", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        agent.act("/reports/x/resolve", &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn delete_removes_the_recording_and_logs_it() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let confirm = agent
        .get("/recordings/alice/file-a1/delete?back=/recordings%3Fvj%3Dalice")
        .await;
    assert!(confirm.body.contains("Delete recording file-a1 of alice?"));
    assert!(
        confirm
            .body
            .contains("name=\"back\" value=\"/recordings?vj=alice\"")
    );
    let answer = agent
        .act(
            "/recordings/alice/file-a1/delete",
            &[("reason", "copyright"), ("back", "/recordings?vj=alice")],
        )
        .await;
    assert_eq!(answer.location(), "/recordings?vj=alice");
    assert!(
        console
            .backend
            .recordings_now()
            .iter()
            .all(|r| r.fileid != "file-a1")
    );
    let entry = last_audit(&console);
    assert_eq!(
        (entry.action.as_str(), entry.target.as_str()),
        ("delete_recording", "alice/file-a1")
    );
    assert_eq!(
        agent
            .act("/recordings/alice/file-a1/delete", &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_overlong_reason_is_refused() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let long = "x".repeat(501);
    let answer = agent
        .act("/rooms/alice/force-offline", &[("reason", &long)])
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(console.backend.room_now("alice").unwrap().online);
}

#[tokio::test]
async fn a_failing_backend_is_shown_as_a_plain_message_with_a_503() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let token = agent.get("/").await.csrf();
    console
        .backend
        .fail_with(Some("the database is unavailable: connection refused"));
    for answer in [
        agent.get("/reports").await,
        agent
            .post("/rooms/alice/force-offline", &[("csrf", &token)])
            .await,
    ] {
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            answer
                .body
                .contains("the database is unavailable: connection refused")
        );
        assert!(
            answer
                .body
                .contains("<h1 id=\"problem-title\">Something failed</h1>")
        );
        assert!(!answer.body.contains("panicked") && !answer.body.contains("src/"));
    }
}

#[tokio::test]
async fn an_admin_adds_changes_and_removes_an_operator_and_each_is_logged() {
    let console = Console::seeded();
    let mut admin = console.signed_in("root").await;
    let added = admin
        .act(
            "/operators",
            &[
                ("name", "eve"),
                ("role", "moderator"),
                ("password", "eve-password-1"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let eve = console.backend.find_operator("eve").await.unwrap().unwrap();
    assert_eq!(eve.role, Role::Moderator);
    assert!(verify_password("eve-password-1", &eve.password_hash).unwrap());
    assert_eq!(last_audit(&console).action, "add_operator");

    let mut eve_agent = console.signed_in_with("eve", "eve-password-1").await;
    let changed = admin
        .act(
            "/operators/eve/password",
            &[
                ("password", "eve-password-2"),
                ("confirm", "eve-password-2"),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER);
    assert_eq!(last_audit(&console).action, "set_password");
    assert_eq!(
        eve_agent.get("/").await.status,
        StatusCode::SEE_OTHER,
        "eve's session ended"
    );
    let eve = console.backend.find_operator("eve").await.unwrap().unwrap();
    assert!(verify_password("eve-password-2", &eve.password_hash).unwrap());

    let confirm = admin.get("/operators/eve/remove").await;
    assert!(confirm.body.contains(">Remove operator<"));
    let removed = admin.act("/operators/eve/remove", &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert!(
        console
            .backend
            .find_operator("eve")
            .await
            .unwrap()
            .is_none()
    );
    let entry = last_audit(&console);
    assert_eq!(
        (
            entry.actor.as_str(),
            entry.action.as_str(),
            entry.target.as_str()
        ),
        ("console:root", "remove_operator", "eve")
    );
}

#[tokio::test]
async fn an_admin_changing_their_own_password_stays_signed_in() {
    let console = Console::seeded();
    let mut admin = console.signed_in("root").await;
    let answer = admin
        .act(
            "/operators/root/password",
            &[
                ("password", "new-root-password"),
                ("confirm", "new-root-password"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(admin.get("/operators").await.status, StatusCode::OK);
    assert_eq!(console.backend.session_count(), 1);
}

#[tokio::test]
async fn bad_operator_forms_are_refused_with_the_reason() {
    let console = Console::seeded();
    let mut admin = console.signed_in("root").await;
    for (fields, message) in [
        (
            vec![
                ("name", "eve"),
                ("role", "moderator"),
                ("password", "short"),
            ],
            "at least 10 characters",
        ),
        (
            vec![
                ("name", "e v e"),
                ("role", "moderator"),
                ("password", "long-enough-pw"),
            ],
            "A name is",
        ),
        (
            vec![
                ("name", "eve"),
                ("role", "boss"),
                ("password", "long-enough-pw"),
            ],
            "unknown role",
        ),
    ] {
        let answer = admin.act("/operators", &fields).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert!(answer.body.contains(message), "{message}");
    }
    let taken = admin
        .act(
            "/operators",
            &[
                ("name", "mia"),
                ("role", "viewer"),
                ("password", "long-enough-pw"),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    assert!(taken.body.contains("An operator named mia exists already."));
    let differ = admin
        .act(
            "/operators/mia/password",
            &[("password", "long-enough-pw"), ("confirm", "other-long-pw")],
        )
        .await;
    assert!(differ.body.contains("The two passwords differ."));
    let own = admin.act("/operators/root/remove", &[]).await;
    assert_eq!(own.status, StatusCode::BAD_REQUEST);
    assert!(
        console
            .backend
            .find_operator("root")
            .await
            .unwrap()
            .is_some()
    );
}
