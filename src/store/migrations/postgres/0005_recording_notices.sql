-- Recording notices applied to the room's stream. Each notice increments
-- it first: that write locks the room's row, so that the notices of one
-- anchor (several formats of one broadcast, arriving at several nodes at
-- once) are applied one after the other and merge into one recording.
-- A write, not SELECT ... FOR UPDATE: on a Galera cluster a row lock holds
-- only on its own node, while two writes of one row conflict cluster-wide.
ALTER TABLE rooms ADD COLUMN recording_notices BIGINT NOT NULL DEFAULT 0;
