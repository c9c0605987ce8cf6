-- Stream event callbacks: the last status event applied to a room (by the
-- cloud's event_time, then sequence; ChangeStatus counts as an event "now"),
-- so that late and repeated notices cannot flip it the wrong way.
ALTER TABLE rooms ADD COLUMN last_event_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN last_event_seq TEXT NOT NULL DEFAULT '';
-- The latest screenshot of the session; the cover when the anchor gave none.
ALTER TABLE rooms ADD COLUMN snapshot_url TEXT NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN snapshot_at INTEGER NOT NULL DEFAULT 0;

-- One row per recording notice (one file in one format), keyed by what
-- identifies the notice (video_id, else file_id, else the URL), so that a
-- repeated notice changes nothing. Files of one broadcast in several
-- formats belong to one recording.
CREATE TABLE recording_files (
    notice_key  TEXT    NOT NULL PRIMARY KEY,
    userid      TEXT    NOT NULL,
    fileid      TEXT    NOT NULL,
    format      TEXT    NOT NULL,
    url         TEXT    NOT NULL,
    start_time  INTEGER NOT NULL,
    end_time    INTEGER NOT NULL
);
CREATE INDEX recording_files_by_recording ON recording_files (userid, fileid);
CREATE INDEX recordings_by_anchor ON recordings (userid, end_time);
