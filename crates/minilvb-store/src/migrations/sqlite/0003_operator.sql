-- Reports of users by viewers (ReportUser), for the operator. A repeated
-- report by the same reporter while one is open counts on that one.
CREATE TABLE reports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    reporter     TEXT    NOT NULL,
    reported     TEXT    NOT NULL,
    times        INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    last_at      INTEGER NOT NULL,
    resolved_at  INTEGER,
    resolution   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX reports_open ON reports (resolved_at, reported, reporter);

-- Users the operator banned from broadcasting; their rooms and recordings
-- are not listed.
CREATE TABLE bans (
    userid      TEXT    NOT NULL PRIMARY KEY,
    reason      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
