use sqlx::Executor;

/// The build settings of `.cargo/config.toml` (`LIBSQLITE3_FLAGS`) are
/// in the SQLite this binary runs: no shared page cache behind a global
/// mutex, no global mutex around each allocation for its statistics.
#[test]
fn sqlite_is_built_without_its_global_mutexes() {
    let conn = Connection::open_in_memory().unwrap();
    let mut statement = conn.prepare("PRAGMA compile_options").unwrap();
    let options: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "{options:?}"
    );
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "{options:?}"
    );
}

use super::*;
use crate::settings::MemberOrder;

/// The writer keeps its savepoints' undo pages in memory: a group
/// commit of many transactions would otherwise create, write and
/// delete a temporary file each time.
#[tokio::test]
async fn the_writer_keeps_undo_pages_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let settings = DatabaseSettings {
        url: format!("sqlite:{}", dir.path().join("t.db").display()),
        ..DatabaseSettings::default()
    };
    let pools = Sqlite::open(&settings).await.unwrap();
    let state = pools.writer.conn.lock().await;
    let temp_store: i64 = state
        .conn
        .query_row("PRAGMA temp_store", [], |row| row.get(0))
        .unwrap();
    assert_eq!(temp_store, 2, "2 is MEMORY");
}

/// A new file gets small pages (see `NEW_PAGE_BYTES`); a file made with
/// SQLite's default keeps it, and its WAL backstop stays 128 MiB.
#[tokio::test]
async fn new_files_get_small_pages_and_old_files_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let page_size = |path: &std::path::Path| -> i64 {
        let conn = Connection::open(path).unwrap();
        conn.query_row("PRAGMA page_size", [], |row| row.get(0))
            .unwrap()
    };
    let url = |path: &std::path::Path| DatabaseSettings {
        url: format!("sqlite:{}", path.display()),
        ..DatabaseSettings::default()
    };
    let new = dir.path().join("new.db");
    let pools = Sqlite::open(&url(&new)).await.unwrap();
    Sqlite::close(&pools).await;
    assert_eq!(page_size(&new), i64::from(NEW_PAGE_BYTES));

    let old = dir.path().join("old.db");
    let conn = Connection::open(&old).unwrap();
    conn.execute_batch("PRAGMA page_size = 4096; CREATE TABLE t (x); PRAGMA journal_mode = WAL")
        .unwrap();
    drop(conn);
    let pools = Sqlite::open(&url(&old)).await.unwrap();
    let backstop: i64 = pools
        .writer
        .conn
        .lock()
        .await
        .conn
        .query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))
        .unwrap();
    Sqlite::close(&pools).await;
    assert_eq!(page_size(&old), 4096);
    assert_eq!(backstop, WAL_BACKSTOP_BYTES / 4096);
}

use crate::NewMember;
use minilvb_protocol::{Group, Page};

/// A database made before members were keyed by group (migrations 1-5,
/// one id sequence for all groups) keeps every member and its order,
/// and new members go after the old ones.
#[tokio::test]
async fn members_keyed_by_group_keep_their_order_across_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let mut conn = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    let before = migrations::Embedded(&migrations::SQLITE.0[..5]);
    migrations::migrator(before, str::to_owned)
        .await
        .unwrap()
        .run_direct(&mut conn)
        .await
        .unwrap();
    for anchor in ["a", "b"] {
        conn.execute(&*format!(
            "INSERT INTO rooms (userid, stream_id, groupid, title, nickname, headpic, \
             frontcover, location, play_url, hls_play_url, online, viewer_count, \
             started_at, status_at) VALUES ('{anchor}', 's-{anchor}', 'g', '', '', '', \
             '', '', '', '', 1, 3, 1, 1)"
        ))
        .await
        .unwrap();
    }
    // Interleaved, as the one sequence numbered them.
    for (anchor, userid) in [("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2")]
        .into_iter()
        .chain([("a", "a3"), ("b", "b3")])
    {
        conn.execute(&*format!(
            "INSERT INTO members (anchor, kind, group_key, userid, nickname, headpic, \
             level, joined_at) VALUES ('{anchor}', 0, 'g', '{userid}', 'n', 'h', 0, 1)"
        ))
        .await
        .unwrap();
    }
    conn.execute("DELETE FROM members WHERE userid = 'a3'")
        .await
        .unwrap();
    conn.execute("UPDATE rooms SET viewer_count = 2 WHERE userid = 'a'")
        .await
        .unwrap();
    conn.close().await.unwrap();

    let settings = DatabaseSettings {
        url: format!("sqlite:{}", path.display()),
        list_snapshot_ms: 0,
        ..DatabaseSettings::default()
    };
    let store = crate::connect(&settings, None).await.unwrap();
    let room = |anchor: &str| Group::Room {
        anchor: anchor.into(),
        groupid: "g".into(),
    };
    let page = Page {
        number: 1,
        size: 10,
    };
    let userids = |members: Vec<minilvb_protocol::MemberInfo>| {
        members.into_iter().map(|m| m.userid).collect::<Vec<_>>()
    };
    let (total, members) = store
        .members(&room("a"), MemberOrder::Join, page)
        .await
        .unwrap();
    assert_eq!(
        (total, userids(members)),
        (2, vec!["a1".into(), "a2".into()])
    );
    let newcomer = NewMember {
        userid: "a4".into(),
        nickname: "n".into(),
        headpic: "h".into(),
        level: None,
        joined_at: 2,
    };
    assert!(store.enter(&room("a"), &newcomer).await.unwrap());
    for (order, expected) in [
        (MemberOrder::Join, ["a1", "a2", "a4"]),
        (MemberOrder::Latest, ["a4", "a2", "a1"]),
    ] {
        let (total, members) = store.members(&room("a"), order, page).await.unwrap();
        assert_eq!(
            (total, userids(members)),
            (3, expected.map(String::from).to_vec())
        );
    }
    let (_, members) = store
        .members(&room("b"), MemberOrder::Join, page)
        .await
        .unwrap();
    assert_eq!(userids(members), ["b1", "b2", "b3"]);
    store.close().await;
}

/// The level index exists while the server's order is `level`, and
/// only then; a tool (no order) leaves it as it is. Members list in
/// every order with or without it.
#[tokio::test]
async fn the_level_index_follows_the_member_order() {
    let dir = tempfile::tempdir().unwrap();
    let settings = DatabaseSettings {
        url: format!("sqlite:{}", dir.path().join("m.db").display()),
        list_snapshot_ms: 0,
        ..DatabaseSettings::default()
    };
    let has_index = || {
        let conn = Connection::open(dir.path().join("m.db")).unwrap();
        conn.prepare("SELECT 1 FROM sqlite_master WHERE name = 'members_by_level'")
            .unwrap()
            .exists([])
            .unwrap()
    };
    let room = Group::Room {
        anchor: "a".into(),
        groupid: "g".into(),
    };
    let page = Page {
        number: 1,
        size: 10,
    };
    let mut entered: Vec<(i64, usize, String)> = Vec::new();
    for (step, (order, indexed)) in [
        (Some(MemberOrder::Join), false),
        (None, false),
        (Some(MemberOrder::Level), true),
        (None, true),
        (Some(MemberOrder::Latest), false),
    ]
    .into_iter()
    .enumerate()
    {
        let store = crate::connect(&settings, order).await.unwrap();
        assert_eq!(has_index(), indexed, "{order:?}");
        if step == 0 {
            let session = crate::NewSession {
                userid: "a".into(),
                stream_id: "s".into(),
                groupid: "g".into(),
                title: "t".into(),
                userinfo: Default::default(),
                play_url: String::new(),
                hls_play_url: String::new(),
                started_at: 1,
            };
            store.start_session(&session).await.unwrap();
        }
        let level = step as i64 % 2;
        let member = NewMember {
            userid: format!("u{step}"),
            nickname: "n".into(),
            headpic: "h".into(),
            level: Some(level),
            joined_at: step as i64,
        };
        assert!(store.enter(&room, &member).await.unwrap());
        entered.push((-level, step, member.userid));
        entered.sort();
        let (_, members) = store
            .members(&room, MemberOrder::Level, page)
            .await
            .unwrap();
        let listed: Vec<_> = members.into_iter().map(|m| m.userid).collect();
        let expected: Vec<_> = entered.iter().map(|e| e.2.clone()).collect();
        assert_eq!(listed, expected, "{order:?}");
        store.close().await;
    }
}
