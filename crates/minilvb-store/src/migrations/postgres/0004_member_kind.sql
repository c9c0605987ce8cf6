-- A member belongs to a room (kind 0) or a recording (kind 1): the kind is
-- part of its key, so that a room's groupid equal to one of the anchor's
-- recording fileids cannot mix their members.
ALTER TABLE members DROP CONSTRAINT members_anchor_group_key_userid_key;
ALTER TABLE members ADD CONSTRAINT members_member UNIQUE (anchor, kind, group_key, userid);
DROP INDEX members_by_join;
DROP INDEX members_by_level;
DROP INDEX members_by_kind;
CREATE INDEX members_by_join ON members (anchor, kind, group_key, id);
CREATE INDEX members_by_level ON members (anchor, kind, group_key, level DESC, id);
