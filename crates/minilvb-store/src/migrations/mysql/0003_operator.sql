-- Reports of users by viewers (ReportUser), for the operator. A repeated
-- report by the same reporter while one is open counts on that one.
CREATE TABLE reports (
    id           BIGINT       NOT NULL AUTO_INCREMENT,
    reporter     VARCHAR(191) NOT NULL,
    reported     VARCHAR(191) NOT NULL,
    times        BIGINT       NOT NULL DEFAULT 1,
    created_at   BIGINT       NOT NULL,
    last_at      BIGINT       NOT NULL,
    resolved_at  BIGINT       NULL,
    resolution   TEXT         NOT NULL DEFAULT (''),
    PRIMARY KEY (id),
    KEY reports_open (resolved_at, reported, reporter)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{text}};

-- Users the operator banned from broadcasting; their rooms and recordings
-- are not listed.
CREATE TABLE bans (
    userid      VARCHAR(191) NOT NULL,
    reason      TEXT         NOT NULL,
    created_at  BIGINT       NOT NULL,
    PRIMARY KEY (userid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{text}};
