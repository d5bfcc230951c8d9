-- Outpost store, schema version 8: the analysts' server-held replicas (issue 15, review).
-- Only the server uses this table; in a reporter's store it stays empty.
--
-- An analyst's review in the web workspace is a change like any device's, signed by a replica
-- of its own: the server makes its Ed25519 key on the analyst's first review, enrolls it in the
-- signed roster under the analyst's name, and keeps here the private key (a 32-byte seed), the
-- change counter and the hybrid clock, so a dot is never reused and the clock never runs back.
CREATE TABLE analyst_replicas (
    reporter     TEXT PRIMARY KEY,
    replica      BLOB NOT NULL UNIQUE,
    private_key  BLOB NOT NULL,
    counter      INTEGER NOT NULL DEFAULT 0,
    clock_ms     INTEGER NOT NULL DEFAULT 0,
    clock_seq    INTEGER NOT NULL DEFAULT 0
) STRICT;
