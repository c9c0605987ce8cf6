-- At most one open report per reporter and reported user, whichever node
-- records it: two nodes that receive the same first report at once both
-- find none open and insert; the unique index makes the second insert
-- fail, and its transaction is re-run and counts on the first.
-- Pairs opened twice before: the older reports are closed as duplicates.
UPDATE reports SET resolved_at = last_at, resolution = 'duplicate of a newer open report'
 WHERE resolved_at IS NULL
   AND EXISTS (SELECT 1 FROM reports AS newer
                WHERE newer.resolved_at IS NULL AND newer.reporter = reports.reporter
                  AND newer.reported = reports.reported AND newer.id > reports.id);
CREATE UNIQUE INDEX reports_one_open ON reports (reporter, reported) WHERE resolved_at IS NULL;

-- The row the readiness check writes while writes have been failing, to
-- learn whether they work again.
CREATE TABLE write_probe (
    id          INTEGER PRIMARY KEY,
    written_at  INTEGER NOT NULL
);
INSERT INTO write_probe (id, written_at) VALUES (1, 0);
