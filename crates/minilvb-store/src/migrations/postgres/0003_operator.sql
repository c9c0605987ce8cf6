-- Reports of users by viewers (ReportUser), for the operator. A repeated
-- report by the same reporter while one is open counts on that one.
CREATE TABLE reports (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reporter     TEXT COLLATE "C" NOT NULL,
    reported     TEXT COLLATE "C" NOT NULL,
    times        BIGINT  NOT NULL DEFAULT 1,
    created_at   BIGINT  NOT NULL,
    last_at      BIGINT  NOT NULL,
    resolved_at  BIGINT,
    resolution   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX reports_open ON reports (resolved_at, reported, reporter);

-- Users the operator banned from broadcasting; their rooms and recordings
-- are not listed.
CREATE TABLE bans (
    userid      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    reason      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
