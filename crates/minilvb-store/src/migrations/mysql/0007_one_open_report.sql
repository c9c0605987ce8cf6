-- At most one open report per reporter and reported user, whichever node
-- records it: two nodes that receive the same first report at once both
-- find none open and insert; the unique key makes the second insert fail
-- (on a Galera cluster, its certification), and its transaction is re-run
-- and counts on the first. MySQL has no partial index: `open_pair` is 1
-- for an open report and NULL otherwise, and a unique key allows any
-- number of NULLs.
-- Pairs opened twice before: the older reports are closed as duplicates.
UPDATE reports AS older
  JOIN (SELECT reporter, reported, MAX(id) AS newest FROM reports
         WHERE resolved_at IS NULL GROUP BY reporter, reported) AS newest
    ON newest.reporter = older.reporter AND newest.reported = older.reported
   SET older.resolved_at = older.last_at,
       older.resolution = 'duplicate of a newer open report'
 WHERE older.resolved_at IS NULL AND older.id < newest.newest;
ALTER TABLE reports
  ADD COLUMN open_pair TINYINT AS (CASE WHEN resolved_at IS NULL THEN 1 END) STORED,
  ADD UNIQUE KEY reports_one_open (reporter, reported, open_pair);

-- The row the readiness check writes while writes have been failing, to
-- learn whether they work again.
CREATE TABLE write_probe (
    id          BIGINT NOT NULL PRIMARY KEY,
    written_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{text}};
INSERT INTO write_probe (id, written_at) VALUES (1, 0);
