-- Outpost store, schema version 7: the analysts' web sessions (issue 15).
-- Only the server uses this table; in a reporter's store it stays empty.
--
-- An analyst signs in with their token once and gets a random session id in a cookie; only the
-- id's SHA-256 is stored. A session lives until `expires_ms`, until sign-out deletes it, or until
-- its token is revoked (every lookup joins `server_tokens` and requires `revoked_ms IS NULL`).
CREATE TABLE web_sessions (
    id_hash     BLOB PRIMARY KEY,
    token_id    INTEGER NOT NULL REFERENCES server_tokens(id) ON DELETE CASCADE,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX web_sessions_token ON web_sessions(token_id);
CREATE INDEX web_sessions_expiry ON web_sessions(expires_ms);
