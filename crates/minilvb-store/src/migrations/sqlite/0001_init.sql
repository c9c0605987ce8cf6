-- One row per anchor: the current (or last) broadcast session.
CREATE TABLE rooms (
    userid        TEXT    NOT NULL PRIMARY KEY,
    stream_id     TEXT    NOT NULL UNIQUE,
    groupid       TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    nickname      TEXT    NOT NULL,
    headpic       TEXT    NOT NULL,
    frontcover    TEXT    NOT NULL,
    location      TEXT    NOT NULL,
    play_url      TEXT    NOT NULL,
    hls_play_url  TEXT    NOT NULL,
    online        INTEGER NOT NULL DEFAULT 0,
    viewer_count  INTEGER NOT NULL DEFAULT 0 CHECK (viewer_count >= 0),
    like_count    INTEGER NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    started_at    INTEGER NOT NULL,
    status_at     INTEGER NOT NULL
);
CREATE INDEX rooms_by_session ON rooms (online, started_at DESC, userid);
CREATE INDEX rooms_by_start ON rooms (started_at DESC, userid);

-- Recorded broadcasts, one row per (anchor, file).
CREATE TABLE recordings (
    userid        TEXT    NOT NULL,
    fileid        TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    nickname      TEXT    NOT NULL,
    headpic       TEXT    NOT NULL,
    frontcover    TEXT    NOT NULL,
    location      TEXT    NOT NULL,
    play_url      TEXT    NOT NULL,
    hls_play_url  TEXT    NOT NULL,
    viewer_count  INTEGER NOT NULL DEFAULT 0 CHECK (viewer_count >= 0),
    like_count    INTEGER NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    start_time    INTEGER NOT NULL,
    end_time      INTEGER NOT NULL,
    PRIMARY KEY (userid, fileid)
);
CREATE INDEX recordings_by_end ON recordings (end_time DESC, userid, fileid);

-- Viewers of a room (kind 0, filed under its groupid) or of a recording
-- (kind 1, filed under its fileid). `id` gives the join order.
CREATE TABLE members (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    anchor        TEXT    NOT NULL,
    group_key     TEXT    NOT NULL,
    kind          INTEGER NOT NULL,
    userid        TEXT    NOT NULL,
    nickname      TEXT    NOT NULL,
    headpic       TEXT    NOT NULL,
    level         INTEGER NOT NULL DEFAULT 0,
    joined_at     INTEGER NOT NULL,
    UNIQUE (anchor, group_key, userid)
);
CREATE INDEX members_by_join ON members (anchor, group_key, id);
CREATE INDEX members_by_level ON members (anchor, group_key, level DESC, id);
CREATE INDEX members_by_kind ON members (anchor, kind);
