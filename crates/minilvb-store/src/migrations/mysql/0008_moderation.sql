-- A ban may end (`users ban --until`): the server lifts it once it has.
ALTER TABLE bans ADD COLUMN ends_at BIGINT NULL;

-- Every operator action, from the command line or the console: who, what,
-- on whom, when, why, and what happened (the cloud's answer included).
CREATE TABLE audit_log (
    id       BIGINT       NOT NULL AUTO_INCREMENT,
    at       BIGINT       NOT NULL,
    actor    VARCHAR(191) NOT NULL,
    action   VARCHAR(64)  NOT NULL,
    target   VARCHAR(400) NOT NULL,
    reason   TEXT         NOT NULL,
    outcome  TEXT         NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{text}};

-- Which node runs a deployment-wide duty (the stream-status sweep), until
-- when (Unix milliseconds); another node takes it over once it has expired.
CREATE TABLE leases (
    name        VARCHAR(191) NOT NULL,
    holder      VARCHAR(191) NOT NULL,
    expires_ms  BIGINT       NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{text}};
