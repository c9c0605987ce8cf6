-- Stream event callbacks: the last status event applied to a room (by the
-- cloud's event_time, then sequence; ChangeStatus counts as an event "now"),
-- so that late and repeated notices cannot flip it the wrong way.
-- The latest screenshot of the session; the cover when the anchor gave none.
ALTER TABLE rooms
    ADD COLUMN last_event_time BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN last_event_seq VARCHAR(191) NOT NULL DEFAULT '',
    ADD COLUMN snapshot_url TEXT NOT NULL DEFAULT (''),
    ADD COLUMN snapshot_at BIGINT NOT NULL DEFAULT 0;

-- One row per recording notice (one file in one format), keyed by what
-- identifies the notice (video_id, else file_id, else the URL; hashed when
-- long), so that a repeated notice changes nothing. Files of one broadcast
-- in several formats belong to one recording.
CREATE TABLE recording_files (
    notice_key  VARCHAR(191) NOT NULL,
    userid      VARCHAR(191) NOT NULL,
    fileid      VARCHAR(191) NOT NULL,
    format      VARCHAR(16)  NOT NULL,
    url         TEXT         NOT NULL,
    start_time  BIGINT       NOT NULL,
    end_time    BIGINT       NOT NULL,
    PRIMARY KEY (notice_key),
    KEY recording_files_by_recording (userid, fileid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{text}};
CREATE INDEX recordings_by_anchor ON recordings (userid, end_time);
