#!/usr/bin/env bash
# What SQLite alone costs for Outpost's rows: builds Tools/sqlite-floor/floor.c against the
# system libsqlite3 and runs it with the project's own schema (Schema/*.sql) in a scratch folder.
# Compare its figures with `outpost-bench import` and `outpost-bench apply`.
#   Tools/sqlite-floor/run.sh [N]      (N incidents / edits, default 100000)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
n="${1:-100000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat "$root"/Schema/[0-9]*.sql > "$work/schema.sql"
cc -O2 -o "$work/floor" "$root/Tools/sqlite-floor/floor.c" $(pkg-config --cflags --libs sqlite3)
cd "$work"
# Row sizes as `outpost import` stores a ~750-byte NDJSON incident: change body and record state,
# through the WAL and through the rollback journal `outpost import` uses when alone with the store.
for journal in wal delete; do ./floor schema.sql import "$n" 950 620 "$journal"; done
# As `outpost-bench apply`: small records, one-field edits, in batches as a sync session commits
# them, and all in one transaction as `outpost bundle apply` commits a bundle.
for batch in 1000 5000 "$n"; do ./floor schema.sql apply "$n" "$batch"; done
