-- A member belongs to a room (kind 0) or a recording (kind 1): the kind is
-- part of its key, so that a room's groupid equal to one of the anchor's
-- recording fileids cannot mix their members.
ALTER TABLE members
    DROP KEY members_member,
    DROP KEY members_by_join,
    DROP KEY members_by_level,
    DROP KEY members_by_kind,
    ADD UNIQUE KEY members_member (anchor, kind, group_key, userid),
    ADD KEY members_by_join (anchor, kind, group_key, id),
    ADD KEY members_by_level (anchor, kind, group_key, level DESC, id);
