-- Outpost store, schema version 2: the sync server's device tokens.
-- Only the server uses this table; in a reporter's store it stays empty.
--
-- A token is shown once at enrolment and stored only as its SHA-256 hash. `lookup` is the
-- hash's first 8 bytes (indexed); the whole hash is then compared in constant time.
-- A token is bound to the replica id of its first sync (`replica`); revoked tokens keep their
-- row with `revoked_ms` set.
CREATE TABLE server_tokens (
    id           INTEGER PRIMARY KEY,
    reporter     TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('reporter', 'analyst', 'admin')),
    lookup       BLOB NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    created_ms   INTEGER NOT NULL,
    revoked_ms   INTEGER,
    replica      BLOB,
    bound_ms     INTEGER
) STRICT;
CREATE INDEX server_tokens_lookup ON server_tokens(lookup);
CREATE INDEX server_tokens_reporter ON server_tokens(reporter);
CREATE INDEX server_tokens_replica ON server_tokens(replica) WHERE replica IS NOT NULL;
