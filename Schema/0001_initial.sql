-- Outpost store, schema version 1. Applied once, in a transaction, and recorded in schema_migrations.

-- Store-wide settings: replica id, reporter, change counter, hybrid clock, server link.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value ANY
) STRICT;

-- Every replica this store has heard of. `contiguous` is the highest n such that changes
-- 1…n of that replica are all in `changes` (the sync summary is built from it).
CREATE TABLE replicas (
    idx        INTEGER PRIMARY KEY,
    id         BLOB NOT NULL UNIQUE,
    reporter   TEXT,
    contiguous INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The change log: every change this store made or received, in the order it was applied
-- (seq). A change whose deps are not yet met is kept with applied = 0 (held back) and moved
-- to the end of the log when it is applied. `body` is the change's wire-format JSON.
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY,
    replica     INTEGER NOT NULL REFERENCES replicas(idx),
    counter     INTEGER NOT NULL,
    collection  TEXT NOT NULL,
    record      TEXT NOT NULL,
    ms          INTEGER NOT NULL,
    body        BLOB NOT NULL,
    applied     INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    UNIQUE (replica, counter)
) STRICT;
CREATE INDEX changes_by_record ON changes(collection, record);
CREATE INDEX changes_held_back ON changes(collection, record) WHERE applied = 0;

-- Record state under the sync spec (version vector + per-field sibling sets, as JSON), with
-- the visible values and flags kept beside it for queries.
CREATE TABLE records (
    collection  TEXT NOT NULL,
    id          TEXT NOT NULL,
    state       BLOB NOT NULL,
    visible     TEXT NOT NULL,
    deleted     INTEGER NOT NULL,
    conflict    INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    updated_seq INTEGER NOT NULL,
    PRIMARY KEY (collection, id)
) STRICT;
CREATE INDEX records_updated ON records(updated_seq);
