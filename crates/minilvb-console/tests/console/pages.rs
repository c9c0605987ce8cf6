use axum::http::StatusCode;
use minilvb_console::Member;

use crate::{Console, recording, room};

/// Where each of these appears in the text, in order.
fn order_of(body: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| body.find(n).unwrap_or_else(|| panic!("{n} missing")))
        .collect()
}

#[tokio::test]
async fn live_now_lists_each_online_room_with_cover_title_vj_counts_and_duration() {
    let console = Console::seeded();
    let mut agent = console.signed_in("vic").await;
    let page = agent.get("/").await.body;
    assert!(page.contains("<strong>2</strong> rooms online"));
    assert!(page.contains("src=\"https://img.example/alice.jpg\""));
    assert!(page.contains("href=\"/rooms/alice\">Jazz on the roof</a>"));
    assert!(page.contains("Nick alice · alice"));
    assert!(page.contains("data-label=\"Viewers\" class=\"num\">3<"));
    assert!(page.contains("data-label=\"Likes\" class=\"num\">1,500<"));
    assert!(page.contains("3 h 06 min"), "alice is live for 3 h 06 min");
    assert!(page.contains("12,345"));
    assert!(!page.contains("Yoga"), "carol is offline");
}

#[tokio::test]
async fn live_now_sorts_by_viewers_or_start_and_filters_by_userid_or_title() {
    let console = Console::seeded();
    let mut agent = console.signed_in("vic").await;
    let by_viewers = agent.get("/").await.body;
    let at = order_of(&by_viewers, &["/rooms/bob\"", "/rooms/alice\""]);
    assert!(at[0] < at[1], "bob has more viewers");
    let by_start = agent.get("/?sort=start").await.body;
    let at = order_of(&by_start, &["/rooms/bob\"", "/rooms/alice\""]);
    assert!(at[0] < at[1], "bob started last");
    assert!(by_start.contains("<option value=\"start\" selected>"));
    let filtered = agent.get("/?q=JAZZ").await.body;
    assert!(filtered.contains("/rooms/alice\"") && !filtered.contains("/rooms/bob\""));
    assert!(filtered.contains("1 matching &ldquo;JAZZ&rdquo;"));
    let by_userid = agent.get("/?q=bob").await.body;
    assert!(by_userid.contains("/rooms/bob\"") && !by_userid.contains("/rooms/alice\""));
    let none = agent.get("/?q=zzz").await.body;
    assert!(none.contains("No room online matches"));
}

#[tokio::test]
async fn the_live_list_refreshes_from_a_fragment_that_keeps_sort_and_filter() {
    let console = Console::seeded();
    let mut agent = console.signed_in("vic").await;
    let page = agent.get("/?sort=start&q=o").await.body;
    assert!(
        page.contains("data-refresh-url=\"/live/rows?sort=start&#38;q=o\""),
        "{page}"
    );
    assert!(page.contains("data-refresh-ms=\"5000\""));
    assert!(page.contains("<a href=\"/?sort=start&#38;q=o\">Refresh now</a>"));
    let fragment = agent.get("/live/rows?sort=start&q=o").await;
    assert_eq!(fragment.status, StatusCode::OK);
    assert!(!fragment.body.contains("<html"));
    assert!(fragment.body.contains("/rooms/alice\"") && fragment.body.contains("/rooms/bob\""));
    assert_eq!(fragment.headers["cache-control"], "no-store");
    console
        .backend
        .put_room(room("dora", "Cooking", 1, 1, true));
    assert!(agent.get("/live/rows").await.body.contains("/rooms/dora\""));
}

#[tokio::test]
async fn a_room_shows_its_details_members_recordings_and_reports() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    let page = agent.get("/rooms/bob").await.body;
    for text in [
        "<h1>Speedrun night</h1>",
        "Nick bob · bob · Hangzhou",
        "Online",
        "<code>@TGS#bob</code>",
        "href=\"https://play.example/live/bob.m3u8\"",
        "Open reports against bob <span class=\"count\">2</span>",
        "fan2",
        "12,345",
    ] {
        assert!(page.contains(text), "{text} missing");
    }
    let alice = agent.get("/rooms/alice").await.body;
    assert!(alice.contains("Members now <span class=\"count\">3</span>"));
    assert!(alice.contains("Fan 0") && alice.contains("Fan 2"));
    assert!(alice.contains("Replay file-a1"));
    assert!(alice.contains("(anonymous)"));
    let carol = agent.get("/rooms/carol").await.body;
    assert!(carol.contains("Offline") && !carol.contains(">Force offline<"));
}

#[tokio::test]
async fn members_are_shown_a_page_at_a_time() {
    let console = Console::with(minilvb_console::ConsoleConfig {
        page_size: 5,
        ..Default::default()
    });
    for n in 3..12 {
        console.backend.add_member(
            "alice",
            Member {
                userid: format!("fan{n}"),
                nickname: format!("Fan {n}"),
                headpic: String::new(),
            },
        );
    }
    let mut agent = console.signed_in("vic").await;
    let first = agent.get("/rooms/alice").await.body;
    assert!(first.contains("Page 1 of 3 (12 in all)"));
    assert!(first.contains("Fan 4<") && !first.contains("Fan 5<"));
    assert!(first.contains("href=\"/rooms/alice?page=2#members\" rel=\"next\""));
    let third = agent.get("/rooms/alice?page=3").await.body;
    assert!(third.contains("Fan 11<") && !third.contains("Fan 9<"));
    let nonsense = agent.get("/rooms/alice?page=-4").await.body;
    assert!(nonsense.contains("Page 1 of 3"));
}

#[tokio::test]
async fn reports_come_newest_or_most_reported_first_with_a_link_to_the_room() {
    let console = Console::seeded();
    console.backend.advance(60);
    console.backend.add_report("fan9", "carol");
    let mut agent = console.signed_in("mia").await;
    let newest = agent.get("/reports").await.body;
    assert!(newest.contains("Open reports <span class=\"count\">4</span>"));
    let at = order_of(&newest, &["href=\"/rooms/carol\"", "href=\"/rooms/bob\""]);
    assert!(at[0] < at[1]);
    let most = agent.get("/reports?order=most").await.body;
    let at = order_of(&most, &["#2<", "href=\"/rooms/carol\""]);
    assert!(at[0] < at[1], "fan2's report of bob (2 times) first");
    assert!(most.contains("name=\"back\" value=\"/reports?order=most\""));
}

#[tokio::test]
async fn recordings_filter_by_vj_and_link_to_their_streams() {
    let console = Console::seeded();
    console
        .backend
        .put_recording(recording("alice", "file-a2", crate::START - 10));
    let mut agent = console.signed_in("mia").await;
    let all = agent.get("/recordings").await.body;
    assert!(all.contains("Recordings <span class=\"count\">3</span>"));
    let alice = agent.get("/recordings?vj=alice").await.body;
    assert!(alice.contains("Recordings <span class=\"count\">2</span>"));
    assert!(
        alice
            .contains("href=\"https://vod.example/file-a2.m3u8\" rel=\"noopener noreferrer\">HLS<")
    );
    assert!(
        alice.contains("href=\"https://vod.example/file-a2.flv\" rel=\"noopener noreferrer\">FLV<")
    );
    assert!(alice.contains(
        "href=\"/recordings/alice/file-a2/delete?back=%2Frecordings%3Fvj%3Dalice%26page%3D1\""
    ));
    assert!(!alice.contains("file-c1"));
}

#[tokio::test]
async fn the_audit_log_shows_who_did_what_to_whom_newest_first() {
    let console = Console::seeded();
    let mut agent = console.signed_in("mia").await;
    agent
        .act("/rooms/alice/force-offline", &[("reason", "first")])
        .await;
    console.backend.advance(120);
    agent.act("/rooms/bob/ban", &[("reason", "second")]).await;
    let page = agent.get("/audit").await.body;
    let at = order_of(&page, &["second", "first"]);
    assert!(at[0] < at[1]);
    for text in [
        "console:mia",
        ">Ban<",
        ">Force offline<",
        "bob is banned; its room is offline",
        "2026-01-01 00:03 UTC",
    ] {
        assert!(page.contains(text), "{text} missing");
    }
}

#[tokio::test]
async fn what_users_wrote_is_escaped_and_only_web_links_are_linked() {
    let console = Console::seeded();
    let mut evil = room("mallory", "<script>alert(1)</script>", 1, 1, true);
    evil.nickname = "\"><img src=x onerror=alert(1)>".into();
    evil.cover = "javascript:alert(1)".into();
    evil.play_url = "javascript:alert(2)".into();
    console.backend.put_room(evil);
    let mut agent = console.signed_in("mia").await;
    for path in ["/", "/rooms/mallory"] {
        let page = agent.get(path).await.body;
        assert!(!page.contains("<script>alert"), "{path}");
        assert!(
            page.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
                || page.contains("&lt;script&gt;"),
            "{path}"
        );
        assert!(!page.contains("<img src=x"), "{path}");
        assert!(!page.contains("javascript:"), "{path}");
    }
}

#[tokio::test]
async fn odd_userids_are_escaped_in_links_and_found_again() {
    let console = Console::seeded();
    console.backend.put_room(room("a b/c?d", "Odd", 1, 1, true));
    let mut agent = console.signed_in("mia").await;
    let page = agent.get("/").await.body;
    assert!(page.contains("href=\"/rooms/a%20b%2Fc%3Fd\""));
    let room_page = agent.get("/rooms/a%20b%2Fc%3Fd").await;
    assert_eq!(room_page.status, StatusCode::OK);
    assert!(room_page.body.contains("<h1>Odd</h1>"));
}

#[tokio::test]
async fn unknown_pages_get_the_consoles_own_404_page() {
    let console = Console::seeded();
    let mut agent = console.signed_in("vic").await;
    let page = agent.get("/no/such/page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.body
            .contains("<h1 id=\"problem-title\">Not found</h1>")
    );
    assert!(page.body.contains("There is no page at this address."));
    let room = agent.get("/rooms/nobody").await;
    assert_eq!(room.status, StatusCode::NOT_FOUND);
    assert!(room.body.contains("There is no room of userid nobody."));
    assert!(
        room.body.contains(">Log out<"),
        "a signed-in operator keeps the nav"
    );
    let signed_out = console.agent().get("/nothing").await;
    assert_eq!(signed_out.status, StatusCode::NOT_FOUND);
    assert!(signed_out.body.contains("Not found"));
}
