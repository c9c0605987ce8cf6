-- A ban may end (`users ban --until`): the server lifts it once it has.
ALTER TABLE bans ADD COLUMN ends_at INTEGER;

-- Every operator action, from the command line or the console: who, what,
-- on whom, when, why, and what happened (the cloud's answer included).
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    target   TEXT    NOT NULL,
    reason   TEXT    NOT NULL DEFAULT '',
    outcome  TEXT    NOT NULL
);

-- Which node runs a deployment-wide duty (the stream-status sweep), until
-- when (Unix milliseconds); another node takes it over once it has expired.
CREATE TABLE leases (
    name        TEXT    NOT NULL PRIMARY KEY,
    holder      TEXT    NOT NULL,
    expires_ms  INTEGER NOT NULL
);
