-- A member belongs to a room (kind 0) or a recording (kind 1): the kind is
-- part of its key, so that a room's groupid equal to one of the anchor's
-- recording fileids cannot mix their members.
CREATE TABLE members_v2 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    anchor        TEXT    NOT NULL,
    kind          INTEGER NOT NULL,
    group_key     TEXT    NOT NULL,
    userid        TEXT    NOT NULL,
    nickname      TEXT    NOT NULL,
    headpic       TEXT    NOT NULL,
    level         INTEGER NOT NULL DEFAULT 0,
    joined_at     INTEGER NOT NULL,
    UNIQUE (anchor, kind, group_key, userid)
);
INSERT INTO members_v2 (id, anchor, kind, group_key, userid, nickname, headpic, level, joined_at)
    SELECT id, anchor, kind, group_key, userid, nickname, headpic, level, joined_at FROM members;
DROP TABLE members;
ALTER TABLE members_v2 RENAME TO members;
CREATE INDEX members_by_join ON members (anchor, kind, group_key, id);
CREATE INDEX members_by_level ON members (anchor, kind, group_key, level DESC, id);
