-- The recording notices of each anchor, counted. A notice increments its
-- anchor's row first: that write serializes the notices of one anchor
-- (several formats of one broadcast arriving at several nodes at once),
-- so that they merge into one recording. A write, not SELECT ... FOR
-- UPDATE: on a Galera cluster a row lock holds on its own node only, while
-- two writes of one row conflict cluster-wide. A row of its own, not the
-- room's, which membership and status changes write all the time.
CREATE TABLE recording_notices (
    userid   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    notices  BIGINT NOT NULL DEFAULT 0
);

-- Likes beyond the row's like_count, in slots: each node adds its likes to
-- a slot of its own (1..64, drawn at start-up), so that likes from several
-- nodes on one room do not contend for one row (nor, on a Galera cluster,
-- fail certification against each other), and never contend with the
-- membership and status changes that write the room's row. Slot 0 takes
-- the unlikes, one after the other, floored so that the total (like_count
-- plus the slots) never goes below 0; it alone may be negative. target is
-- '' for a room (kind 0), the fileid for a recording (kind 1).
CREATE TABLE like_slots (
    anchor  TEXT COLLATE "C" NOT NULL,
    kind    BIGINT NOT NULL,
    target  TEXT COLLATE "C" NOT NULL,
    slot    BIGINT NOT NULL,
    likes   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (anchor, kind, target, slot)
);
