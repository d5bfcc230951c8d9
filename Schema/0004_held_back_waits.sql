-- Outpost store, schema version 4: held-back changes indexed by the dependencies they wait for.
--
-- A held-back change (applied = 0) waits until its record's version vector covers its deps.
-- Every dependency not yet covered when it was held back is a row of held_waits: the record,
-- and the replica and counter the record's vector must reach. Applying a change (r, n) to a
-- record looks up only that record's waits on r up to n; `changes.waiting` counts the waits a
-- held change still has open, and at 0 it is applied. So releasing held changes reads and
-- parses each of them once, and no change rescans the other held changes of its record (a
-- reversed chain of 1,000 changes in one batch took 27 s when every pass did).
-- A held change whose own dot is covered before its deps are (only a faulty author makes one)
-- is never applied: it stays held with no waits.
-- changes_held_by_author gives what one author keeps held, which the store bounds.

ALTER TABLE changes ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;

CREATE TABLE held_waits (
    collection TEXT NOT NULL,
    record     TEXT NOT NULL,
    replica    BLOB NOT NULL,
    counter    INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (collection, record, replica, counter, seq)
) STRICT, WITHOUT ROWID;

CREATE INDEX changes_held_by_author ON changes(replica, waiting) WHERE applied = 0;

-- Changes an older Outpost held back have no waits yet. Which of their deps are missing depends
-- on the records' states (binary, not readable here), so the store indexes them when it next
-- opens (`Store.indexHeldBackOfOlderSchema`), and until then they are marked waiting = -1.
UPDATE changes SET waiting = -1 WHERE applied = 0;
INSERT INTO meta (key, value) SELECT 'held_back_unindexed', 1 WHERE EXISTS (SELECT 1 FROM changes WHERE applied = 0);
