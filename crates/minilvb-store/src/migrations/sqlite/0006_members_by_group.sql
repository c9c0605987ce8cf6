-- Members stored in their group's order: the table is keyed by (group, id)
-- instead of by a global rowid, so that a page of a group is one range of
-- the table rather than an index range plus a lookup per member, and a
-- member written is one b-tree fewer (the rowid table, and AUTOINCREMENT's
-- counter). ids stay increasing within a group: a new member takes the
-- group's largest id plus one (the single writer makes that race-free).
CREATE TABLE members_v3 (
    anchor        TEXT    NOT NULL,
    kind          INTEGER NOT NULL,
    group_key     TEXT    NOT NULL,
    id            INTEGER NOT NULL,
    userid        TEXT    NOT NULL,
    nickname      TEXT    NOT NULL,
    headpic       TEXT    NOT NULL,
    level         INTEGER NOT NULL DEFAULT 0,
    joined_at     INTEGER NOT NULL,
    PRIMARY KEY (anchor, kind, group_key, id),
    UNIQUE (anchor, kind, group_key, userid)
) WITHOUT ROWID;
INSERT INTO members_v3 (anchor, kind, group_key, id, userid, nickname, headpic, level, joined_at)
    SELECT anchor, kind, group_key, id, userid, nickname, headpic, level, joined_at FROM members;
DROP TABLE members;
ALTER TABLE members_v3 RENAME TO members;
CREATE INDEX members_by_level ON members (anchor, kind, group_key, level DESC, id);
