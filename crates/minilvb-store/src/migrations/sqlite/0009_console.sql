-- The web console's operators: name, role (admin, moderator, viewer) and
-- an Argon2id password hash (a PHC string).
CREATE TABLE operators (
    name           TEXT    NOT NULL PRIMARY KEY,
    role           TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,
    created_at     INTEGER NOT NULL
);

-- Their login sessions: the SHA-256 of the cookie's id (a stored row is no
-- cookie), the CSRF token of the session's forms, and when it ends.
CREATE TABLE console_sessions (
    id          TEXT    NOT NULL PRIMARY KEY,
    operator    TEXT    NOT NULL,
    csrf_token  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX console_sessions_operator ON console_sessions (operator);
