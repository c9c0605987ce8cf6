-- MySQL 8 and MariaDB 10.11: InnoDB, utf8mb4, every table with a primary
-- key (Galera needs one). `{{text}}` is the server's binary no-pad
-- collation, filled in at start-up. Keys are VARCHAR(191): three of them
-- fit one index within InnoDB's 3072 bytes; the protocol allows 128.

-- One row per anchor: the current (or last) broadcast session.
CREATE TABLE rooms (
    userid        VARCHAR(191) NOT NULL,
    stream_id     VARCHAR(255) NOT NULL,
    groupid       VARCHAR(191) NOT NULL,
    title         TEXT         NOT NULL,
    nickname      TEXT         NOT NULL,
    headpic       TEXT         NOT NULL,
    frontcover    TEXT         NOT NULL,
    location      TEXT         NOT NULL,
    play_url      TEXT         NOT NULL,
    hls_play_url  TEXT         NOT NULL,
    online        BIGINT       NOT NULL DEFAULT 0,
    viewer_count  BIGINT       NOT NULL DEFAULT 0 CHECK (viewer_count >= 0),
    like_count    BIGINT       NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    started_at    BIGINT       NOT NULL,
    status_at     BIGINT       NOT NULL,
    PRIMARY KEY (userid),
    UNIQUE KEY rooms_stream (stream_id),
    KEY rooms_by_session (online, started_at DESC, userid),
    KEY rooms_by_start (started_at DESC, userid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{text}};

-- Recorded broadcasts, one row per (anchor, file).
CREATE TABLE recordings (
    userid        VARCHAR(191) NOT NULL,
    fileid        VARCHAR(191) NOT NULL,
    title         TEXT         NOT NULL,
    nickname      TEXT         NOT NULL,
    headpic       TEXT         NOT NULL,
    frontcover    TEXT         NOT NULL,
    location      TEXT         NOT NULL,
    play_url      TEXT         NOT NULL,
    hls_play_url  TEXT         NOT NULL,
    viewer_count  BIGINT       NOT NULL DEFAULT 0 CHECK (viewer_count >= 0),
    like_count    BIGINT       NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    start_time    BIGINT       NOT NULL,
    end_time      BIGINT       NOT NULL,
    PRIMARY KEY (userid, fileid),
    KEY recordings_by_end (end_time DESC, userid, fileid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{text}};

-- Viewers of a room (kind 0, filed under its groupid) or of a recording
-- (kind 1, filed under its fileid). `id` gives the join order.
CREATE TABLE members (
    id            BIGINT       NOT NULL AUTO_INCREMENT,
    anchor        VARCHAR(191) NOT NULL,
    group_key     VARCHAR(191) NOT NULL,
    kind          BIGINT       NOT NULL,
    userid        VARCHAR(191) NOT NULL,
    nickname      TEXT         NOT NULL,
    headpic       TEXT         NOT NULL,
    level         BIGINT       NOT NULL DEFAULT 0,
    joined_at     BIGINT       NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY members_member (anchor, group_key, userid),
    KEY members_by_join (anchor, group_key, id),
    KEY members_by_level (anchor, group_key, level DESC, id),
    KEY members_by_kind (anchor, kind)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{text}};
