-- Keys sort and compare byte for byte (COLLATE "C"), as on SQLite.

-- One row per anchor: the current (or last) broadcast session.
CREATE TABLE rooms (
    userid        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    stream_id     TEXT COLLATE "C" NOT NULL UNIQUE,
    groupid       TEXT COLLATE "C" NOT NULL,
    title         TEXT    NOT NULL,
    nickname      TEXT    NOT NULL,
    headpic       TEXT    NOT NULL,
    frontcover    TEXT    NOT NULL,
    location      TEXT    NOT NULL,
    play_url      TEXT    NOT NULL,
    hls_play_url  TEXT    NOT NULL,
    online        BIGINT  NOT NULL DEFAULT 0,
    viewer_count  BIGINT  NOT NULL DEFAULT 0 CHECK (viewer_count >= 0),
    like_count    BIGINT  NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    started_at    BIGINT  NOT NULL,
    status_at     BIGINT  NOT NULL
);
CREATE INDEX rooms_by_session ON rooms (online, started_at DESC, userid);
CREATE INDEX rooms_by_start ON rooms (started_at DESC, userid);

-- Recorded broadcasts, one row per (anchor, file).
CREATE TABLE recordings (
    userid        TEXT COLLATE "C" NOT NULL,
    fileid        TEXT COLLATE "C" NOT NULL,
    title         TEXT    NOT NULL,
    nickname      TEXT    NOT NULL,
    headpic       TEXT    NOT NULL,
    frontcover    TEXT    NOT NULL,
    location      TEXT    NOT NULL,
    play_url      TEXT    NOT NULL,
    hls_play_url  TEXT    NOT NULL,
    viewer_count  BIGINT  NOT NULL DEFAULT 0 CHECK (viewer_count >= 0),
    like_count    BIGINT  NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    start_time    BIGINT  NOT NULL,
    end_time      BIGINT  NOT NULL,
    PRIMARY KEY (userid, fileid)
);
CREATE INDEX recordings_by_end ON recordings (end_time DESC, userid, fileid);

-- Viewers of a room (kind 0, filed under its groupid) or of a recording
-- (kind 1, filed under its fileid). `id` gives the join order.
CREATE TABLE members (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    anchor        TEXT COLLATE "C" NOT NULL,
    group_key     TEXT COLLATE "C" NOT NULL,
    kind          BIGINT  NOT NULL,
    userid        TEXT COLLATE "C" NOT NULL,
    nickname      TEXT    NOT NULL,
    headpic       TEXT    NOT NULL,
    level         BIGINT  NOT NULL DEFAULT 0,
    joined_at     BIGINT  NOT NULL,
    UNIQUE (anchor, group_key, userid)
);
CREATE INDEX members_by_join ON members (anchor, group_key, id);
CREATE INDEX members_by_level ON members (anchor, group_key, level DESC, id);
CREATE INDEX members_by_kind ON members (anchor, kind);
