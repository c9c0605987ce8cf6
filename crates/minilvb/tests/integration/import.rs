//! `minilvb import-legacy`: an original server's `live_demo` database on
//! MariaDB (its layout: `live_data`, `tape_data`, `group_info`, times as
//! TIMESTAMP with zero dates, NULLs, counters that drifted from the
//! members), imported into each backend, checked over HTTP, imported again.

use serde_json::json;
use sqlx::{Connection, Executor, MySqlConnection};

use crate::backend_test;
use crate::common::*;

/// The original's tables, as its PHP server created them (utf8mb4, MySQL 5).
const ORIGINAL_SCHEMA: &str = r#"
SET SESSION sql_mode = '';
SET SESSION time_zone = '+00:00';
CREATE TABLE live_data (
    userid varchar(128) NOT NULL,
    stream_id varchar(128) DEFAULT NULL,
    groupid varchar(128) DEFAULT NULL,
    title varchar(128) NOT NULL,
    nickname varchar(128) DEFAULT NULL,
    headpic varchar(255) DEFAULT NULL,
    frontcover varchar(255) DEFAULT NULL,
    location varchar(128) DEFAULT NULL,
    push_url varchar(255) NOT NULL DEFAULT '',
    status int(4) DEFAULT '0',
    like_count int(11) DEFAULT '0',
    viewer_count int(11) DEFAULT '0',
    `desc` varchar(255) DEFAULT NULL,
    create_time timestamp NULL DEFAULT '0000-00-00 00:00:00',
    play_url varchar(255) DEFAULT NULL,
    hls_play_url varchar(255) DEFAULT NULL,
    PRIMARY KEY (userid),
    KEY stream_id (stream_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE tape_data (
    userid varchar(50) NOT NULL,
    file_id varchar(150) NOT NULL,
    title varchar(128) DEFAULT NULL,
    nickname varchar(128) DEFAULT NULL,
    headpic varchar(255) DEFAULT NULL,
    frontcover varchar(255) DEFAULT NULL,
    location varchar(128) DEFAULT NULL,
    play_url varchar(255) DEFAULT NULL,
    like_count int(11) NOT NULL DEFAULT '0',
    viewer_count int(11) NOT NULL DEFAULT '0',
    `desc` varchar(255) DEFAULT NULL,
    create_time timestamp NOT NULL DEFAULT '0000-00-00 00:00:00',
    hls_play_url varchar(255) DEFAULT NULL,
    start_time timestamp NOT NULL DEFAULT '0000-00-00 00:00:00',
    PRIMARY KEY (userid, file_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE group_info (
    groupid varchar(128) NOT NULL DEFAULT '',
    userid varchar(50) NOT NULL,
    liveuserid varchar(50) NOT NULL,
    nickname varchar(128) DEFAULT NULL,
    headpic varchar(255) DEFAULT NULL,
    PRIMARY KEY (groupid, userid, liveuserid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
"#;

/// 2025-12-31T12:00:00Z, and the recordings' times around it.
const ROOM_START: i64 = T0 - 12 * 3600;
const REC_END: i64 = T0 - 3600;
/// More members than one page of the importer's reads.
const CROWD: usize = 1500;

fn at(unix: i64) -> String {
    format!("FROM_UNIXTIME({unix})")
}

fn original_data() -> String {
    let mut sql = format!(
        "SET SESSION sql_mode = ''; SET SESSION time_zone = '+00:00';
        INSERT INTO live_data (userid, stream_id, groupid, title, nickname, headpic, frontcover,
            location, push_url, status, like_count, viewer_count, create_time, play_url, hls_play_url) VALUES
        ('anchor-a', '8888_anchor_a', '@TGS#a', '第一场 🎉', 'A 😀', 'http://img/a.png', 'http://img/fa.png',
            'Shenzhen', 'rtmp://x', 1, 7, 5, {room}, 'http://8888.liveplay.myqcloud.com/live/8888_anchor_a.flv', NULL),
        ('anchor-b', NULL, '@TGS#b', 'offline', NULL, NULL, NULL, NULL, '', 0, 0, 3,
            '0000-00-00 00:00:00', NULL, NULL),
        ('anchor-c', '8888_anchor_a', NULL, 'same stream id', 'C', '', '', '', '', 0, 2, 0, {room}, NULL, NULL);
        INSERT INTO tape_data (userid, file_id, title, nickname, headpic, frontcover, location, play_url,
            like_count, viewer_count, create_time, hls_play_url, start_time) VALUES
        ('anchor-a', 'file-1', '第一场 🎉', 'A 😀', 'http://img/a.png', '', 'Shenzhen',
            'http://vod.example.com/file-1.flv', 4, 9, {rec_end}, 'http://vod.example.com/file-1.m3u8', {rec_start}),
        ('anchor-b', 'file-2', 'old', NULL, NULL, NULL, NULL, 'http://vod.example.com/file-2.flv',
            1, 0, '2016-05-01 10:00:00', NULL, '0000-00-00 00:00:00');
        INSERT INTO group_info (groupid, userid, liveuserid, nickname, headpic) VALUES
        ('@TGS#a', 'v1', 'anchor-a', 'V1 😀', 'http://img/v1.png'),
        ('@TGS#a', 'v2', 'anchor-a', NULL, NULL),
        ('file-1', 'v3', 'anchor-a', 'v3', ''),
        ('@TGS#gone', 'v4', 'anchor-a', 'v4', ''),
        ('@TGS#b-old', 'v5', 'anchor-b', 'v5', '');
        INSERT INTO group_info (groupid, userid, liveuserid, nickname, headpic) VALUES ",
        room = at(ROOM_START),
        rec_end = at(REC_END),
        rec_start = at(REC_END - 1800),
    );
    let crowd: Vec<String> = (0..CROWD)
        .map(|i| format!("('@TGS#a', 'crowd-{i:04}', 'anchor-a', 'c{i}', '')"))
        .collect();
    sql.push_str(&crowd.join(", "));
    sql.push(';');
    sql
}

fn import(cli: &Cli, target: &str, source: &str) -> String {
    let (ok, stdout, stderr) = cli.run(
        &["--database-url", target, "import-legacy", "--from", source],
        &[],
    );
    assert!(ok, "import failed: {stderr}");
    stdout
}

async fn check(app: &TestApp) {
    let a = app.room("anchor-a").await;
    assert_eq!(
        a["viewercount"],
        CROWD as i64 + 2,
        "counts are the membership: {a}"
    );
    assert_eq!(a["likecount"], 7);
    assert_eq!(a["status"], "1");
    assert_eq!(a["timestamp"], ROOM_START);
    assert_eq!(a["title"], "第一场 🎉");
    assert_eq!(a["userinfo"]["nickname"], "A 😀");
    assert_eq!(
        a["playurl"],
        "http://8888.liveplay.myqcloud.com/live/8888_anchor_a.flv"
    );
    assert_eq!(
        a["hls_play_url"],
        "http://8888.liveplay.myqcloud.com/live/8888_anchor_a.m3u8"
    );
    app.assert_room_viewers("anchor-a", "@TGS#a", CROWD as i64 + 2)
        .await;
    let b = app.room("anchor-b").await;
    assert_eq!(
        (
            b["viewercount"].clone(),
            b["likecount"].clone(),
            b["status"].clone()
        ),
        (json!(0), json!(0), json!("0"))
    );
    assert_eq!(
        b["playurl"], "http://8888.liveplay.myqcloud.com/live/8888_anchor_b.flv",
        "{b}"
    );
    assert_eq!(b["userinfo"]["nickname"], "");
    let c = app.room("anchor-c").await;
    let c_url = c["playurl"].as_str().unwrap();
    assert!(
        c_url.contains("8888_anchor_c_"),
        "a clashing stream id gets the unique form: {c}"
    );
    let recording = app.recording("anchor-a", "file-1").await;
    assert_eq!(recording["viewercount"], 1);
    assert_eq!(recording["likecount"], 4);
    assert_eq!(recording["timestamp"], REC_END);
    app.assert_recording_viewers("anchor-a", "file-1", 1).await;
    let old = app.recording("anchor-b", "file-2").await;
    assert_eq!(old["likecount"], 1);
    // Flag 2 lists the recordings of the last 7 days only.
    let listed = app.fetch_all(2, 20).await;
    assert_eq!(
        keys(&listed),
        vec![("anchor-a".to_owned(), 1, "file-1".to_owned())]
    );
    let members = app.members("anchor-a", "@TGS#a", 1, 2).await;
    let first = &members["memberlist"];
    assert_eq!(first.as_array().unwrap().len(), 2);
}

backend_test! {
    async fn the_original_database_is_imported(backend) {
        if !Backend::Mysql.available().await {
            return;
        }
        let source = TestDatabase::create(Backend::Mysql).await;
        let mut conn = MySqlConnection::connect(&source.url).await.expect("source database");
        conn.execute(ORIGINAL_SCHEMA).await.expect("original schema");
        conn.execute(original_data().as_str()).await.expect("original data");
        conn.close().await.expect("closed");

        // The imports come from another process: read straight from the
        // database, not from the node's list snapshots (kept up to
        // database.list_snapshot_ms; see lists.rs for that rule).
        let app = TestApp::spawn_with(backend, |s| s.database.list_snapshot_ms = 0).await;
        let cli = Cli::new();
        let summary = import(&cli, &app.settings.database.url, &source.url);
        let expected = format!(
            "imported 3 rooms, 2 recordings, {} members; 2 members of unknown groups skipped, \
             1 rooms got a new stream id\n",
            CROWD + 3
        );
        assert_eq!(summary, expected);
        check(&app).await;

        // The imported rooms work as rooms: a viewer enters.
        assert_acked(&app.enter("v9", "anchor-a", "@TGS#a", 0).await);
        assert_eq!(app.room("anchor-a").await["viewercount"], CROWD as i64 + 3);
        // Importing again replaces with the original's state: nothing doubles.
        assert_eq!(import(&cli, &app.settings.database.url, &source.url), expected);
        check(&app).await;
        app.stop().await;
    }
}
