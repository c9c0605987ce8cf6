//! The console in a real browser (headless Chromium through chromedriver),
//! against the real server on SQLite: rooms started and reported through
//! the apps' protocol, acted on in the console, the effect checked where
//! the apps see it. Skipped with the reason printed when the browser is
//! missing, unless `MINILVB_TEST_REQUIRE_BROWSER=1`. With
//! `MINILVB_CONSOLE_SCREENSHOTS=docs/console` the main pages are saved
//! there (relative to the repository).

use std::path::Path;

use minilvb_console::browser::{self, Browser};
use serde_json::json;
use thirtyfour::prelude::*;

use super::*;

/// A room as the apps start one: RequestLVBAddr, then ChangeStatus 0.
async fn go_live(app: &TestApp, userid: &str, nickname: &str, title: &str) {
    app.ok(json!({"Action":"RequestLVBAddr","userid":userid,"groupid":format!("@TGS#{userid}"),
        "title":title,"userinfo":{"nickname":nickname,"headpic":"","frontcover":"","location":"Hangzhou"}}))
        .await;
    let reply = app.change_status(userid, 0).await;
    assert_eq!(reply["returnValue"], 0, "{reply}");
}

/// Viewers enter (as the apps do, with a nickname), and like a few times.
async fn audience(app: &TestApp, anchor: &str, viewers: &[(&str, &str)], likes: usize) {
    for (userid, nickname) in viewers {
        let reply = app
            .post(
                json!({"Action":"EnterGroup","userid":userid,"liveuserid":anchor,
                "groupid":format!("@TGS#{anchor}"),"nickname":nickname,"headpic":"","flag":0}),
            )
            .await;
        assert_eq!(reply["returnValue"], 0, "{reply}");
    }
    for _ in 0..likes {
        app.like(anchor, 0).await;
    }
}

/// userids of FetchList 1 (the rooms online).
async fn live_userids(app: &TestApp) -> Vec<String> {
    app.fetch_all(1, 20)
        .await
        .iter()
        .map(|room| room["userid"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn report(app: &TestApp, reporter: &str, reported: &str) {
    app.ok(json!({"Action":"ReportUser","userid":reporter,"hostuserid":reported}))
        .await;
}

/// Four rooms with viewers and likes, a recording, reports; the clock
/// moves between them so the pages show times apart.
async fn seed(app: &TestApp) {
    app.add_recording("alice_chen", "alice-sunday", app.clock_now() - 86_400)
        .await;
    go_live(
        app,
        "alice_chen",
        "Alice Chen",
        "Evening jazz from the rooftop",
    )
    .await;
    app.clock.advance(25 * 60);
    go_live(app, "bob_runs", "Bob", "Marathon training, km 30").await;
    app.clock.advance(6 * 60);
    report(app, "mei_l", "bob_runs").await;
    app.clock.advance(6 * 60);
    go_live(app, "dave_cooks", "Dave", "Dumplings from scratch").await;
    app.clock.advance(4 * 60);
    report(app, "tom_k", "bob_runs").await;
    app.clock.advance(3 * 60);
    go_live(app, "erin_w", "Erin", "Sketching the harbour").await;
    report(app, "tom_k", "bob_runs").await;
    app.clock.advance(2 * 60);
    report(app, "", "dave_cooks").await;
    app.clock.advance(60);
    let fans = [
        ("mei_l", "Mei"),
        ("tom_k", "Tom"),
        ("jun88", "Jun"),
        ("sara_v", "Sara"),
        ("li_wei", "Li Wei"),
        ("noah_p", "Noah"),
    ];
    audience(app, "alice_chen", &fans, 12).await;
    audience(app, "bob_runs", &fans[..3], 4).await;
    audience(app, "dave_cooks", &fans[3..5], 1).await;
    app.add_recording("erin_w", "erin-morning", app.clock_now() - 3 * 3600)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_work_the_real_server_in_a_browser_and_a_viewer_only_looks() {
    if !browser::available_or_required("the server's console browser test") {
        return;
    }
    let app = spawn_console(Backend::Sqlite, |settings| {
        settings.admin.live_refresh_secs = 2;
    })
    .await;
    seed(&app).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let browser = Browser::open(browser::screenshots_dir(&root)).await;
    let base = app.console_base.clone().unwrap();
    moderate(&browser, &app, &base).await;
    only_look(&browser, &app, &base).await;
    browser.quit().await;
    app.stop().await;
}

/// A moderator: Live now, a room forced offline, a ban, a report resolved,
/// the audit log.
async fn moderate(browser: &Browser, app: &TestApp, base: &str) {
    browser.sign_in(base, "mia", &password_of("mia")).await;
    let text = browser.text().await;
    assert!(text.contains("Evening jazz from the rooftop"), "{text}");
    assert!(text.contains("4 rooms online"), "{text}");

    // A room started through the apps' protocol shows up by itself.
    go_live(app, "newcomer", "Nova", "Just went live").await;
    browser
        .wait_for(By::XPath("//a[normalize-space()='Just went live']"))
        .await;
    browser.full_page_screenshot(1280, "live-now.png").await;
    browser.resize(1280, 900).await;

    // Force offline: gone from FetchList 1 and from Live now.
    browser
        .click_text("a", "Evening jazz from the rooftop")
        .await;
    browser.wait_for(By::Id("members")).await;
    assert!(browser.text().await.contains("li_wei"));
    browser.full_page_screenshot(1280, "room.png").await;
    browser.resize(1280, 900).await;
    browser.click_text("a", "Force offline").await;
    browser
        .wait_for_heading("Force the room of alice_chen offline?")
        .await;
    browser
        .type_into("reason", "test broadcast left running")
        .await;
    browser.click_text("button", "Force offline").await;
    let notice = browser.notice().await;
    assert!(notice.contains("room of alice_chen is offline"), "{notice}");
    assert!(!live_userids(app).await.contains(&"alice_chen".to_owned()));
    app.clock.advance(2 * 60);
    browser.goto(&format!("{base}/")).await;
    browser
        .wait_gone(By::XPath(
            "//a[normalize-space()='Evening jazz from the rooftop']",
        ))
        .await;

    // A ban: RequestLVBAddr answers 4004.
    browser.goto(&format!("{base}/rooms/bob_runs")).await;
    browser.click_text("a", "Ban").await;
    browser.wait_for_heading("Ban bob_runs?").await;
    browser.type_into("reason", "abusive chat").await;
    browser.set_value("until", "2026-01-08T00:00").await;
    browser.click_text("button", "Ban").await;
    let notice = browser.notice().await;
    assert!(notice.contains("bob_runs is banned"), "{notice}");
    app.fails(
        json!({"Action":"RequestLVBAddr","userid":"bob_runs","groupid":"@TGS#again","title":"back"}),
        4004,
    )
    .await;
    assert!(!live_userids(app).await.contains(&"bob_runs".to_owned()));
    app.clock.advance(60);

    // A report resolved.
    browser.click_text("a", "Reports").await;
    browser
        .wait_for(By::XPath(
            "//h1[starts-with(normalize-space(), 'Open reports')]",
        ))
        .await;
    browser.full_page_screenshot(1280, "reports.png").await;
    browser.resize(1280, 900).await;
    let open_before = app.store.reports(false).await.unwrap().len();
    browser.click_text("button", "Resolve").await;
    assert!(browser.notice().await.contains("resolved"));
    assert_eq!(
        app.store.reports(false).await.unwrap().len(),
        open_before - 1
    );

    // Every action, by whom, in the audit log.
    browser.click_text("a", "Audit log").await;
    browser.wait_for(By::Css("table.audit")).await;
    let audit = browser.text().await;
    for expected in [
        "console:mia",
        "Force offline",
        "test broadcast left running",
        "Ban",
        "abusive chat",
        "Resolve report",
        "Add operator",
        "cli:",
    ] {
        assert!(audit.contains(expected), "{expected} not in the audit log");
    }
    browser.full_page_screenshot(1280, "audit-log.png").await;
    browser.resize(1280, 900).await;
    browser.sign_out().await;
}

/// A viewer: the same pages without a single action button, and a post
/// made anyway is refused.
async fn only_look(browser: &Browser, app: &TestApp, base: &str) {
    browser.sign_in(base, "vic", &password_of("vic")).await;
    for path in ["/", "/rooms/dave_cooks", "/reports", "/recordings", "/bans"] {
        browser.goto(&format!("{base}{path}")).await;
        browser.wait_for(By::Tag("h1")).await;
        assert_eq!(
            browser.action_controls().await,
            0,
            "a viewer has action buttons on {path}"
        );
    }
    // The form a moderator's page would have, posted with the viewer's
    // own session token.
    browser.goto(&format!("{base}/rooms/dave_cooks")).await;
    browser
        .driver
        .execute(
            "const token = document.querySelector('input[name=csrf]').value;\
             const form = document.createElement('form');\
             form.method = 'post';\
             form.action = arguments[0];\
             for (const [name, value] of [['csrf', token], ['reason', 'just looking']]) {\
               const input = document.createElement('input');\
               input.type = 'hidden'; input.name = name; input.value = value;\
               form.appendChild(input);\
             }\
             document.body.appendChild(form);\
             form.submit();",
            vec![json!(format!("{base}/rooms/dave_cooks/force-offline"))],
        )
        .await
        .expect("the form posted");
    let error = browser.problem().await;
    assert!(error.contains("needs the moderator role"), "{error}");
    assert!(live_userids(app).await.contains(&"dave_cooks".to_owned()));
    browser.goto(&format!("{base}/")).await;
    browser.sign_out().await;
}
