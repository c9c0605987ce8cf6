//! The console in a real browser: headless Chromium driven through
//! chromedriver against the console served with the demo data on
//! 127.0.0.1 (see `minilvb_console::browser` for what it needs and when it
//! is skipped). With `MINILVB_CONSOLE_SCREENSHOTS=DIR` the pages it visits
//! are saved in DIR (relative to this crate).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use minilvb_console::browser::{self, Browser};
use minilvb_console::memory::MemoryBackend;
use minilvb_console::{ConsoleConfig, Role, Room, demo, router};
use thirtyfour::prelude::*;

const PASSWORD: &str = "demo-password";

async fn start_console(backend: Arc<MemoryBackend>) -> String {
    let config = ConsoleConfig {
        live_refresh_secs: 2,
        ..ConsoleConfig::default()
    };
    let app = router(backend, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_works_the_console_in_a_browser_and_a_viewer_only_looks() {
    if !browser::available_or_required("the console's browser test") {
        return;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let backend = Arc::new(MemoryBackend::new(now));
    demo::seed(&backend);
    for (name, role) in [
        ("mia", Role::Moderator),
        ("vic", Role::Viewer),
        ("root", Role::Admin),
    ] {
        backend.put_operator(name, role, PASSWORD).unwrap();
    }
    let base = start_console(backend.clone()).await;
    let screenshots = browser::screenshots_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    let browser = Browser::open(screenshots).await;
    run(&browser, &base, &backend).await;
    browser.quit().await;
}

async fn run(browser: &Browser, base: &str, backend: &MemoryBackend) {
    let driver = &browser.driver;
    browser.goto(&format!("{base}/login")).await;
    browser.screenshot("login.png").await;

    // Live now lists the rooms, and picks up a new one by itself.
    browser.sign_in(base, "mia", PASSWORD).await;
    let text = browser.text().await;
    assert!(text.contains("Evening jazz from the rooftop"));
    assert!(text.contains("5 rooms online"));
    browser.full_page_screenshot(1280, "live-now.png").await;
    backend.put_room(Room {
        userid: "newcomer".into(),
        title: "Just went live".into(),
        online: true,
        started_at: backend_now(backend),
        ..backend.room_now("erin_w").unwrap()
    });
    // Refreshed without a reload.
    browser
        .wait_for(By::XPath("//a[normalize-space()='Just went live']"))
        .await;

    // The list refreshes under a scrolled phone-sized page without moving it.
    browser.resize(390, 844).await;
    driver
        .execute("window.scrollTo(0, 400);", Vec::new())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let y = driver
        .execute("return window.scrollY;", Vec::new())
        .await
        .unwrap()
        .convert::<f64>()
        .unwrap();
    assert!((y - 400.0).abs() < 1.0, "scrolled to {y} after a refresh");
    driver
        .execute("window.scrollTo(0, 0);", Vec::new())
        .await
        .unwrap();
    browser.screenshot("live-now-phone.png").await;
    browser.resize(1280, 900).await;

    // A room, forced offline through its confirmation page.
    browser
        .click_text("a", "Evening jazz from the rooftop")
        .await;
    browser.wait_for(By::Id("members")).await;
    browser.full_page_screenshot(1280, "room.png").await;
    browser.resize(390, 844).await;
    browser.full_page_screenshot(390, "room-phone.png").await;
    browser.resize(1280, 900).await;
    browser.click_text("a", "Force offline").await;
    browser
        .wait_for_heading("Force the room of alice_chen offline?")
        .await;
    browser
        .type_into("reason", "test broadcast left running")
        .await;
    browser.screenshot("confirm-force-offline.png").await;
    browser.click_text("button", "Force offline").await;
    assert!(
        browser
            .notice()
            .await
            .contains("room of alice_chen is offline")
    );
    assert!(!backend.room_now("alice_chen").unwrap().online);

    // A ban with a reason and an end.
    browser.goto(&format!("{base}/rooms/bob_runs")).await;
    browser.click_text("a", "Ban").await;
    browser.wait_for_heading("Ban bob_runs?").await;
    browser.type_into("reason", "abusive chat").await;
    browser.set_value("until", "2030-01-01T08:00").await;
    browser.screenshot("ban.png").await;
    browser.click_text("button", "Ban").await;
    assert!(browser.notice().await.contains("bob_runs is banned"));
    let ban = backend
        .bans_now()
        .into_iter()
        .find(|b| b.userid == "bob_runs")
        .unwrap();
    assert_eq!(
        (ban.reason.as_str(), ban.until),
        ("abusive chat", Some(1_893_484_800))
    );

    // A report resolved from the list.
    browser.click_text("a", "Reports").await;
    browser
        .wait_for(By::XPath(
            "//h1[starts-with(normalize-space(), 'Open reports')]",
        ))
        .await;
    browser.full_page_screenshot(1280, "reports.png").await;
    let open = |backend: &MemoryBackend| {
        backend
            .reports_now()
            .iter()
            .filter(|r| r.resolved_at.is_none())
            .count()
    };
    let open_before = open(backend);
    browser.click_text("button", "Resolve").await;
    assert!(browser.notice().await.contains("resolved"));
    assert_eq!(open(backend), open_before - 1);

    browser.click_text("a", "Recordings").await;
    browser
        .wait_for(By::XPath(
            "//h1[starts-with(normalize-space(), 'Recordings')]",
        ))
        .await;
    browser.full_page_screenshot(1280, "recordings.png").await;
    browser.click_text("a", "Audit log").await;
    browser.wait_for(By::Css("table.audit")).await;
    let audit = browser.text().await;
    assert!(audit.contains("console:mia"));
    assert!(audit.contains("test broadcast left running"));
    browser.full_page_screenshot(1280, "audit-log.png").await;
    browser.resize(1280, 900).await;
    browser.sign_out().await;

    // A viewer sees the same pages without a single action button.
    browser.sign_in(base, "vic", PASSWORD).await;
    for path in ["/", "/rooms/dave_cooks", "/reports", "/recordings", "/bans"] {
        browser.goto(&format!("{base}{path}")).await;
        assert_eq!(
            browser.action_controls().await,
            0,
            "a viewer has action buttons on {path}"
        );
    }
    browser.goto(&format!("{base}/rooms/dave_cooks")).await;
    browser.screenshot("room-viewer.png").await;
    browser.sign_out().await;

    // An admin adds an operator.
    browser.sign_in(base, "root", PASSWORD).await;
    browser.click_text("a", "Operators").await;
    browser.wait_for(By::Id("add-title")).await;
    browser.type_into("name", "nina").await;
    browser.type_into("password", "nina-password-1").await;
    browser.click_text("button", "Add operator").await;
    assert!(
        browser
            .notice()
            .await
            .contains("operator nina added as viewer")
    );
    browser.full_page_screenshot(1280, "operators.png").await;
    browser.click_text("a", "Bans").await;
    browser
        .wait_for(By::XPath("//h1[starts-with(normalize-space(), 'Bans')]"))
        .await;
    browser.full_page_screenshot(1280, "bans.png").await;
    browser.resize(1280, 900).await;
    browser.sign_out().await;
}

fn backend_now(backend: &MemoryBackend) -> i64 {
    minilvb_console::ConsoleBackend::now(backend)
}
