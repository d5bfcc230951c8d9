-- Outpost store, schema version 4: a record made by one change stores no separate state.
--
-- A record whose only applied change is the one that created it (most reports, until someone
-- edits them) used to store its state beside that change: the same values twice, a third of
-- every import's and every pull's bytes. Such a record now stores an empty `state`; its state
-- is its creating change, the change at `updated_seq`, read back and applied to an empty
-- record. Its first edit stores the full state again. Older builds would read these empty
-- states as records with no fields, so this version number keeps them from opening the store.
-- Rows written by schema 3 keep their states as they are.
SELECT 1;
