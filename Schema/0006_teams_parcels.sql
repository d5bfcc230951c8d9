-- Outpost store, schema version 6: teams, who may read which record, and sealed parcels.
--
-- Every reporter belongs to one team; a record belongs to the team of the replica that created
-- it (its roster entry says the team), until an analyst moves it. A reporter's device holds only
-- records of its team, and a `sensitivity: restricted` record only on its author's devices.
-- Work that must pass through a device that may not read it travels as a sealed parcel (HPKE to
-- the server's parcel key) that only the server opens.

-- The roster entry's team (signed with the entry, `RosterEntry.signedBytes` version 2). NULL in
-- an entry signed before teams: such a replica belongs to the team "default". Sealed on an
-- encrypted device, like the reporter's name.
ALTER TABLE roster ADD COLUMN team TEXT;

-- On the server: a reporter token's team ("default" when enrolled without --team); NULL for an
-- analyst or admin token, whose teams are in `token_teams` (none there: every team).
ALTER TABLE server_tokens ADD COLUMN team TEXT;
CREATE TABLE token_teams (
    token INTEGER NOT NULL REFERENCES server_tokens(id),
    team  TEXT NOT NULL,
    PRIMARY KEY (token, team)
) STRICT, WITHOUT ROWID;

-- Who may read a record. On the server: one row per record, kept as changes are applied
-- (`team` from the creator's roster entry, `author` the creator's reporter, `restricted` from
-- the record's current `sensitivity`) and by analysts' moves. `pos` grows with every change of
-- a row's access (a move, restricted set or cleared), so a device asks for the access changes
-- after the last position it saw. On a device: the rows the server sent it (a move makes the
-- team differ from the creator's), `team` sealed on an encrypted store.
CREATE TABLE record_access (
    collection TEXT NOT NULL,
    record     TEXT NOT NULL,
    team       TEXT NOT NULL,
    author     TEXT,
    restricted INTEGER NOT NULL DEFAULT 0,
    moved      INTEGER NOT NULL DEFAULT 0,
    pos        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (collection, record)
) STRICT, WITHOUT ROWID;
CREATE INDEX record_access_pos ON record_access(pos) WHERE pos > 0;

-- On a device: sealed parcels it carries for the server, as opaque bytes (already HPKE-sealed:
-- the device cannot open them). Keyed by SHA-256 of the bytes, so holding one twice keeps one.
CREATE TABLE parcels (
    hash        BLOB PRIMARY KEY,
    bytes       BLOB NOT NULL,
    received_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- On the server: parcels already opened and applied (a parcel forwarded twice is applied once).
CREATE TABLE parcels_opened (
    hash      BLOB PRIMARY KEY,
    opened_ms INTEGER NOT NULL,
    token     INTEGER,
    changes   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
