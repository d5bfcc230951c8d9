-- Outpost store, schema version 5: signed changes, the roster, and who delivered what.
--
-- Every change now carries its author's Ed25519 signature (`sig` inside `body`). The store
-- verifies it against the roster entry of the author replica and records the outcome:
-- `verified` = 1 (signature checked against a known key), NULL (author not in the roster yet:
-- kept, relayed and shown as unverified until a roster names it), 0 (a change made before
-- signatures, kept as legacy).
ALTER TABLE changes ADD COLUMN verified INTEGER;
UPDATE changes SET verified = 0;
CREATE INDEX changes_unverified ON changes(replica) WHERE verified IS NULL;

-- On the server: the token (server_tokens.id) whose sync delivered the change; NULL elsewhere.
ALTER TABLE changes ADD COLUMN delivered_by INTEGER;

-- The roster: replica → public key → reporter, as the server signed it (`sig`, by the server's
-- roster key, over RosterEntry.signedBytes). `version` only grows; a replica keeps the entry with
-- the highest version it verified. `sig` is NULL for entries the store trusts without a server
-- (its own key, the server's own roster, scenario replicas).
CREATE TABLE roster (
    replica  BLOB PRIMARY KEY,
    key      BLOB NOT NULL,
    reporter TEXT NOT NULL,
    status   TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    version  INTEGER NOT NULL,
    sig      BLOB
) STRICT, WITHOUT ROWID;

-- On the server: events the operator must see (a refused signature, with the delivering token).
CREATE TABLE security_events (
    id     INTEGER PRIMARY KEY,
    ms     INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    token  INTEGER,
    detail TEXT NOT NULL
) STRICT;
