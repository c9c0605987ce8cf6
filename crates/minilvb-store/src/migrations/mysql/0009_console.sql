-- The web console's operators: name, role (admin, moderator, viewer) and
-- an Argon2id password hash (a PHC string).
CREATE TABLE operators (
    name           VARCHAR(191) NOT NULL,
    role           VARCHAR(32)  NOT NULL,
    password_hash  VARCHAR(400) NOT NULL,
    created_at     BIGINT       NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{text}};

-- Their login sessions: the SHA-256 of the cookie's id (a stored row is no
-- cookie), the CSRF token of the session's forms, and when it ends.
CREATE TABLE console_sessions (
    id          VARCHAR(64)  NOT NULL,
    operator    VARCHAR(191) NOT NULL,
    csrf_token  VARCHAR(128) NOT NULL,
    created_at  BIGINT       NOT NULL,
    expires_at  BIGINT       NOT NULL,
    PRIMARY KEY (id),
    KEY console_sessions_operator (operator)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{text}};
