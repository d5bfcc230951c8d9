#!/usr/bin/env python3
"""Checks behind Tools/crash-trials.sh: SQLite integrity and what a store or server database holds.

Every subcommand prints one line and exits 0 when the check passes; on a failed check it prints
"FAIL: <what>" and exits 1. Only the standard library (sqlite3) is used, so it runs wherever
python3 does. It reads Outpost's tables directly (`records`, `changes`, `replicas`, `meta`), the
schema in Schema/0001_initial.sql.
"""

import json
import random
import shutil
import sqlite3
import sys
import uuid
from pathlib import Path


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def connect(path):
    if not Path(path).is_file():
        fail(f"no database file at {path}")
    try:
        db = sqlite3.connect(path, timeout=30)
        db.execute("PRAGMA busy_timeout = 30000")
        return db
    except sqlite3.Error as error:
        fail(f"{path}: cannot open: {error}")


def integrity(db, path):
    try:
        rows = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.Error as error:
        fail(f"{path}: integrity_check failed to run: {error}")
    if rows != ["ok"]:
        fail(f"{path}: integrity_check: " + "; ".join(str(r) for r in rows[:5]))


def replica_index(db, replica_hex):
    row = db.execute("SELECT idx FROM replicas WHERE id = ?", (bytes.fromhex(replica_hex),)).fetchone()
    return None if row is None else row[0]


def own_counters(db, replica_hex):
    """The counters of `replica_hex`'s changes held in `db` (applied or held back)."""
    idx = replica_index(db, replica_hex)
    if idx is None:
        return set()
    return {r[0] for r in db.execute("SELECT counter FROM changes WHERE replica = ?", (idx,))}


def dots(db):
    """Every change as (replica hex, counter)."""
    return {
        (r[0].hex(), r[1])
        for r in db.execute("SELECT r.id, c.counter FROM changes c JOIN replicas r ON r.idx = c.replica")
    }


def records(db):
    """Every incident record: id → deleted flag."""
    return {r[0]: r[1] for r in db.execute("SELECT id, deleted FROM records WHERE collection = 'incidents'")}


def export_lines(path):
    """An NDJSON export (`outpost export`, `outpost-server export`): id → incident object."""
    incidents = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                value = json.loads(line)
                incidents[value["id"]] = value
    return incidents


def setting(db, key):
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def cmd_gen_ndjson(out, count, seed, prefix):
    """Writes `count` valid NDJSON incidents with ids, and the ids (one a line) to OUT.ids."""
    rng = random.Random(int(seed))
    types = ["battle", "protest", "riot", "displacement", "other", "violence_against_civilians"]
    with open(out, "w") as rows, open(out + ".ids", "w") as ids:
        for n in range(int(count)):
            ident = f"{prefix}-{uuid.UUID(int=rng.getrandbits(128), version=4)}"
            row = {
                "id": ident,
                "title": f"{prefix} incident {n}",
                "event_type": rng.choice(types),
                "occurred_at": f"2026-0{rng.randint(1, 9)}-{rng.randint(10, 28)}",
                "lat": round(rng.uniform(-30, 30), 4),
                "lon": round(rng.uniform(-20, 40), 4),
                "killed": rng.randint(0, 40),
                "place_name": f"place {rng.randint(1, 500)}",
                "narrative": "x" * rng.randint(0, 400),
            }
            rows.write(json.dumps(row) + "\n")
            ids.write(ident + "\n")
    print(f"wrote {count} rows to {out}")


def cmd_integrity(path):
    """integrity_check on the database as it is (recovering a hot journal or WAL like any opener)."""
    db = connect(path)
    integrity(db, path)
    mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    db.close()
    print(f"integrity ok ({mode})")


def cmd_snapshot_integrity(store_db, scratch):
    """integrity_check on a copy of the database and its journal files, leaving the original untouched."""
    source = Path(store_db)
    target = Path(scratch)
    target.mkdir(parents=True, exist_ok=True)
    copy = target / source.name
    for suffix in ["", "-wal", "-shm", "-journal"]:
        part = Path(str(source) + suffix)
        if part.exists():
            shutil.copyfile(part, str(copy) + suffix)
    db = connect(str(copy))
    integrity(db, str(copy))
    db.close()
    shutil.rmtree(target)
    print("snapshot integrity ok")


def cmd_wal(path):
    """The store is back in WAL mode (every open sets it; a bulk transaction returns to it)."""
    db = connect(path)
    mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    db.close()
    if mode != "wal":
        fail(f"{path}: journal_mode is {mode}, not wal")
    print("wal")


def cmd_all_or_none(path, ids_file, baseline_ids_file, must_be_all):
    """Either every id of IDS_FILE is a record or none is; every baseline id is still there."""
    wanted = Path(ids_file).read_text().split()
    baseline = Path(baseline_ids_file).read_text().split() if baseline_ids_file != "-" else []
    db = connect(path)
    present = set(records(db))
    db.close()
    missing_baseline = [i for i in baseline if i not in present]
    if missing_baseline:
        fail(f"{len(missing_baseline)} of {len(baseline)} incidents stored before the kill are gone")
    held = sum(1 for i in wanted if i in present)
    extra = len(present) - held - len(baseline)
    if extra != 0:
        fail(f"{extra} records that are neither the baseline nor the imported ones")
    if held not in (0, len(wanted)):
        fail(f"partial: {held} of {len(wanted)} rows present")
    if must_be_all == "1" and held != len(wanted):
        fail(f"the command succeeded but only {held} of {len(wanted)} rows are present")
    print("all" if held == len(wanted) else "none")


def cmd_bundle_all_or_none(path, replica_hex, count, baseline_count, must_be_all):
    """Either every change of the bundle's author is held, or none; the baseline is untouched."""
    count = int(count)
    db = connect(path)
    held = own_counters(db, replica_hex)
    total = len(records(db))
    db.close()
    if len(held) not in (0, count):
        fail(f"partial: {len(held)} of {count} bundle changes present")
    if held and held != set(range(1, count + 1)):
        fail("the bundle's changes held are not counters 1…N")
    expected = int(baseline_count) + (count if held else 0)
    if total != expected:
        fail(f"{total} records, expected {expected}")
    if must_be_all == "1" and not held:
        fail("the apply succeeded but none of the bundle's changes are present")
    print("all" if held else "none")


def cmd_sync_state(store_db):
    """Prints the client's replica, acknowledged counter and pull cursor."""
    db = connect(store_db)
    replica = setting(db, "replica")
    acked = setting(db, "server_acked_counter") or 0
    cursor = setting(db, "server_pull_cursor") or 0
    db.close()
    if not isinstance(replica, bytes):
        fail("the store has no replica id")
    print(f"{replica.hex()} {int(acked)} {int(cursor)}")


def cmd_server_holds(server_db, replica_hex, through):
    """The server holds every change 1…THROUGH of the replica (what it acknowledged)."""
    through = int(through)
    db = connect(server_db)
    held = own_counters(db, replica_hex)
    db.close()
    missing = [c for c in range(1, through + 1) if c not in held]
    if missing:
        fail(f"the server lacks {len(missing)} of changes 1…{through} (first {missing[0]}) of {replica_hex}")
    print(f"server holds 1…{through} ({len(held)} held)")


def cmd_client_pulled(store_db, server_db, replica_hex, cursor):
    """Every server change at log position ≤ CURSOR from another replica is in the client's store."""
    cursor = int(cursor)
    server = connect(server_db)
    wanted = {
        (r[0].hex(), r[1])
        for r in server.execute(
            "SELECT r.id, c.counter FROM changes c JOIN replicas r ON r.idx = c.replica WHERE c.seq <= ?", (cursor,)
        )
        if r[0].hex() != replica_hex
    }
    server.close()
    client = connect(store_db)
    have = dots(client)
    client.close()
    missing = wanted - have
    if missing:
        fail(f"the client's cursor is {cursor} but it lacks {len(missing)} changes the server logged up to it")
    print(f"client holds the {len(wanted)} changes up to cursor {cursor}")


def cmd_converged(store_db, server_db, client_export, server_export):
    """Client and server hold the same changes and records, and export the same incidents."""
    client = connect(store_db)
    server = connect(server_db)
    client_dots, server_dots = dots(client), dots(server)
    client_records, server_records = records(client), records(server)
    client.close()
    server.close()
    if client_dots != server_dots:
        fail(
            f"change logs differ: {len(client_dots - server_dots)} only on the client, "
            f"{len(server_dots - client_dots)} only on the server"
        )
    if client_records != server_records:
        differ = [k for k in set(client_records) | set(server_records) if client_records.get(k) != server_records.get(k)]
        fail(f"{len(differ)} records differ between client and server (e.g. {sorted(differ)[0]})")
    shown_client, shown_server = export_lines(client_export), export_lines(server_export)
    if set(shown_client) != set(shown_server):
        fail(f"the exports list different incidents ({len(shown_client)} on the client, {len(shown_server)} on the server)")
    for ident, incident in shown_client.items():
        other = shown_server[ident]
        for key in set(incident) & set(other):
            if incident[key] != other[key]:
                fail(f"incident {ident} differs in {key}: client {incident[key]!r}, server {other[key]!r}")
    print(f"converged: {len(client_dots)} changes, {len(client_records)} records, {len(shown_client)} shown")


def cmd_count_json_array(path):
    """Prints the length of the JSON array in PATH (`outpost list --json`)."""
    with open(path) as f:
        value = json.load(f)
    if not isinstance(value, list):
        fail("not a JSON array")
    print(len(value))


def cmd_status_field(path, key):
    """Prints one key of a JSON object in PATH (`outpost status --json`)."""
    with open(path) as f:
        print(json.load(f)[key])


def cmd_tamper(path, sql):
    """Runs SQL on a copy made for a control (a store that lost something)."""
    db = connect(path)
    db.execute(sql)
    db.commit()
    if db.total_changes == 0:
        fail(f"the control's SQL changed nothing: {sql}")
    db.close()
    print("tampered")


def cmd_corrupt(path):
    """Overwrites a page in the middle of a copy's database file (after a checkpoint) with noise."""
    db = connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.close()
    if pages < 3:
        fail("too few pages to corrupt")
    noise = random.Random(pages).randbytes(page_size)
    with open(path, "r+b") as f:
        f.seek(page_size * (pages // 2))
        f.write(noise)
    print(f"overwrote page {pages // 2 + 1} of {pages}")


COMMANDS = {
    "gen-ndjson": cmd_gen_ndjson,
    "integrity": cmd_integrity,
    "snapshot-integrity": cmd_snapshot_integrity,
    "wal": cmd_wal,
    "all-or-none": cmd_all_or_none,
    "bundle-all-or-none": cmd_bundle_all_or_none,
    "sync-state": cmd_sync_state,
    "server-holds": cmd_server_holds,
    "client-pulled": cmd_client_pulled,
    "converged": cmd_converged,
    "count-json-array": cmd_count_json_array,
    "status-field": cmd_status_field,
    "tamper": cmd_tamper,
    "corrupt": cmd_corrupt,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print("usage: check.py " + "|".join(COMMANDS) + " ARGS…", file=sys.stderr)
        sys.exit(2)
    try:
        COMMANDS[sys.argv[1]](*sys.argv[2:])
    except sqlite3.Error as error:
        fail(f"sqlite: {error}")
