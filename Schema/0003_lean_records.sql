-- Outpost store, schema version 3: fewer pages written per change.
--
-- A change used to touch three random places besides its record's row: the changes_by_record
-- index, the records_updated index (unused by any query) and the record's visible-values copy.
-- Applying a batch of edits to scattered records rewrote three times the pages it needed to.
-- Now a record keeps its own list of applied changes (`log`: "replicaIdx.counter" entries,
-- space-separated, in the order they were applied), its visible values are read from `state`,
-- and the two indexes are gone. Held-back changes are still found by changes_held_back.

ALTER TABLE records ADD COLUMN log TEXT NOT NULL DEFAULT '';

UPDATE records SET log = coalesce((
    SELECT group_concat(replica || '.' || counter, ' ')
    FROM (SELECT replica, counter FROM changes c
          WHERE c.collection = records.collection AND c.record = records.id AND c.applied = 1
          ORDER BY c.seq)), '');

DROP INDEX changes_by_record;
DROP INDEX records_updated;
ALTER TABLE records DROP COLUMN visible;
