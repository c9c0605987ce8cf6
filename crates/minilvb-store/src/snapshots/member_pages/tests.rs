//! The member pages' race rule, epochs and bounds. What the patches make
//! of a page is tested against the database itself, in the integration
//! tests (`member_pages_kept_equal_the_database`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::*;
use crate::NewMember;

const HOUR: Duration = Duration::from_secs(3600);

/// Epochs as after a check that found the database's mark: reads now are
/// in epoch 1, kept while nobody else writes.
fn telling() -> Arc<Epochs> {
    let epochs = Epochs::new(HOUR);
    epochs.current.store(1, Ordering::SeqCst);
    let since_base = Instant::now().duration_since(epochs.base).as_nanos();
    epochs
        .verified
        .store(u64::try_from(since_base).unwrap(), Ordering::SeqCst);
    Arc::new(epochs)
}

fn room(anchor: &str) -> Group {
    Group::Room {
        anchor: anchor.into(),
        groupid: "g".into(),
    }
}

fn member(userid: &str) -> MemberInfo {
    MemberInfo {
        userid: userid.into(),
        nickname: String::new(),
        headpic: String::new(),
    }
}

/// The room of `anchor` with members `m0..m{n}`, as read.
fn read(anchor: &str, n: usize) -> NamedPage {
    let members = (0..n).map(|i| member(&format!("m{i}"))).collect();
    (room(anchor), n as i64, SharedMembers::new(members))
}

fn enter(anchor: &str, userid: &str) -> MemberChange {
    MemberChange::Enter {
        group: room(anchor),
        member: NewMember {
            userid: userid.into(),
            nickname: String::new(),
            headpic: String::new(),
            level: None,
            joined_at: 0,
        },
    }
}

const JOIN: MemberOrder = MemberOrder::Join;

/// Page 1 of 10 of `anchor`'s room, if kept.
fn kept(pages: &MemberPages, anchor: &str) -> Option<NamedPage> {
    pages.get(anchor, "g", JOIN, 10, Instant::now()).ok()
}

/// Reads page 1 of 10 of `anchor`'s room (n members) and keeps it.
fn keep(pages: &MemberPages, anchor: &str, n: usize) {
    let ticket = pages
        .get(anchor, "g", JOIN, 10, Instant::now())
        .expect_err("not kept yet")
        .expect("epochs tell");
    pages.install(ticket, anchor, "g", JOIN, 10, &read(anchor, n));
}

#[test]
fn a_page_is_kept_and_an_enter_through_this_node_patches_it() {
    let pages = MemberPages::new(telling(), MAX_MEMBER_ROWS);
    keep(&pages, "a", 3);
    assert_eq!(kept(&pages, "a"), Some(read("a", 3)));
    let change = enter("a", "m3");
    let writing = pages.begin_write("a");
    pages.end_write(writing, Some((&change, 1)));
    assert_eq!(kept(&pages, "a"), Some(read("a", 4)));
    // Smaller pages are cut from it; other orders and names are not it.
    let (_, total, members) = pages.get("a", "g", JOIN, 2, Instant::now()).unwrap();
    assert_eq!((total, members), (4, read("a", 2).2));
    // The same page twice is the same rendering, until the rows change.
    let shown = |size| pages.get("a", "g", JOIN, size, Instant::now()).unwrap().2;
    assert!(Arc::ptr_eq(&shown(2), &shown(2)));
    let change = enter("a", "m4");
    let before = shown(10);
    let writing = pages.begin_write("a");
    pages.end_write(writing, Some((&change, 1)));
    let after = shown(10);
    assert!(!Arc::ptr_eq(&before, &after));
    assert_eq!(after, read("a", 5).2);
    assert!(
        pages
            .get("a", "g", MemberOrder::Latest, 10, Instant::now())
            .is_err()
    );
    assert!(pages.get("a", "other", JOIN, 10, Instant::now()).is_err());
}

#[test]
fn a_page_read_before_a_write_ended_is_not_kept() {
    let pages = MemberPages::new(telling(), MAX_MEMBER_ROWS);
    let now = Instant::now();
    let before = pages.get("a", "g", JOIN, 10, now).unwrap_err().unwrap();
    let change = enter("a", "m3");
    let writing = pages.begin_write("a");
    // Read before the write began, kept while it is in flight: refused.
    pages.install(before, "a", "g", JOIN, 10, &read("a", 3));
    assert_eq!(kept(&pages, "a"), None);
    // Read while it was in flight, kept after it ended: refused.
    let during = pages.get("a", "g", JOIN, 10, now).unwrap_err().unwrap();
    pages.end_write(writing, Some((&change, 1)));
    pages.install(during, "a", "g", JOIN, 10, &read("a", 3));
    assert_eq!(kept(&pages, "a"), None);
    // Read after: kept.
    keep(&pages, "a", 4);
    assert_eq!(kept(&pages, "a"), Some(read("a", 4)));
}

#[test]
fn a_write_that_failed_or_changed_a_name_drops_the_anchor_s_pages() {
    let pages = MemberPages::new(telling(), MAX_MEMBER_ROWS);
    for anchor in ["a", "b"] {
        keep(&pages, anchor, 3);
    }
    // Failed (or cancelled): dropped without an end.
    drop(pages.begin_write("a"));
    assert_eq!(kept(&pages, "a"), None);
    assert_eq!(kept(&pages, "b"), Some(read("b", 3)), "another anchor's");
    keep(&pages, "a", 3);
    // Applied, how not known.
    let writing = pages.begin_write("a");
    pages.end_write(writing, None);
    assert_eq!(kept(&pages, "a"), None);
    // A new session, a recording arriving.
    keep(&pages, "a", 3);
    let before = pages
        .get("b", "h", JOIN, 10, Instant::now())
        .unwrap_err()
        .unwrap();
    pages.invalidate("b");
    assert_eq!(kept(&pages, "b"), None);
    pages.install(before, "b", "h", JOIN, 10, &read("b", 3));
    let now = Instant::now();
    assert!(
        pages.get("b", "h", JOIN, 10, now).is_err(),
        "read before the write"
    );
    assert_eq!(kept(&pages, "a"), Some(read("a", 3)));
    pages.invalidate_all();
    assert_eq!(kept(&pages, "a"), None);
    assert_eq!(pages.rows(), 0);
}

#[test]
fn nothing_is_kept_where_the_database_cannot_tell_of_other_writers() {
    let pages = MemberPages::new(Arc::new(Epochs::new(HOUR)), MAX_MEMBER_ROWS);
    assert!(matches!(
        pages.get("a", "g", JOIN, 10, Instant::now()),
        Err(None)
    ));
}

#[test]
fn a_page_goes_once_another_process_wrote() {
    let epochs = telling();
    let pages = MemberPages::new(Arc::clone(&epochs), MAX_MEMBER_ROWS);
    keep(&pages, "a", 3);
    // A check found the database's mark moved.
    epochs.current.fetch_add(1, Ordering::SeqCst);
    assert_eq!(kept(&pages, "a"), None);
    // Or no check has found it unchanged for an interval.
    let epochs = telling();
    let pages = MemberPages::new(Arc::clone(&epochs), MAX_MEMBER_ROWS);
    keep(&pages, "a", 3);
    let later = Instant::now() + HOUR;
    assert!(pages.get("a", "g", JOIN, 10, later).is_err());
}

#[test]
fn pages_hold_at_most_their_rows_and_the_anchors_used_longest_ago_go() {
    let max = SHARDS * 40;
    let pages = MemberPages::new(telling(), max);
    for i in 0..2_000 {
        keep(&pages, &format!("a{i}"), 9);
        assert!(pages.rows() <= max, "{} rows after {i}", pages.rows());
    }
    // The last kept are still there; the first went.
    assert_eq!(kept(&pages, "a1999"), Some(read("a1999", 9)));
    assert_eq!(kept(&pages, "a0"), None);
}
