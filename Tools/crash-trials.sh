#!/usr/bin/env bash
# Crash trials: `kill -9` the client (`outpost`) or the server (`outpost-server`) at a random
# moment during an import, a bundle apply or a sync, then check that the store opens, that
# `PRAGMA integrity_check` is ok and that nothing acknowledged or committed is lost.
#
#   Tools/crash-trials.sh [N] [--seed S] [--only I] [--release] [--bin-dir DIR]
#                         [--kinds K,K] [--rows N] [--push N] [--pull N] [--recalibrate N] [--keep]
#
# N trials (default 20) cycle through the kinds: import, bundle, sync-client, sync-server.
#
#   import       `outpost import` of --rows incidents (one transaction, through the rollback
#                journal) into a store holding a baseline, killed after a random delay. Afterwards
#                either every row is present or none, the baseline is intact, and if the import
#                exited 0 before the kill, every row is there. A store left with none imports the
#                file again to the end.
#   bundle       `outpost bundle apply` of a bundle of --rows changes, killed likewise: all or
#                none, all when it exited 0; then it is applied again (all, whatever came before).
#   sync-client  `outpost sync` (--push own changes up, --pull of another reporter's down) to a
#                running server, the client killed. The server holds every change it acknowledged
#                (1…server_acked_counter saved in the client's store), the client holds every
#                change up to its saved pull cursor; a second sync exits 0, after which the server
#                holds every change the client made and both hold the same changes and incidents.
#   sync-server  the same sync with the server killed instead; the crashed database passes
#                integrity_check (on a copy, the original left as the crash left it), the server is
#                restarted on it (same port), at once (the client's retries may reach it) or once
#                the client has ended (0, or 10/13 when its retries ran out); the same checks follow.
#
# After every trial each store and database passes integrity_check and a command opens it
# (`outpost status`, `outpost list`, `outpost-server export`). The random delay is uniform in
# [0, 1.15 T], T the operation's time measured at the start (calibration) and again every 10
# trials (--recalibrate N; 0: never), as the machine's load changes, so most kills land during
# the operation and some after it; each line says which.
#
# Binaries: --bin-dir DIR (or $OUTPOST_BIN_DIR) uses DIR/outpost and DIR/outpost-server as they
# are; otherwise .build/debug (.build/release with --release), building any missing product.
# --seed S (printed) makes the kinds, delays and batch sizes repeatable; --only I re-runs trial I
# of that seed (the moment of the kill still depends on the machine). Failing trials' folders are
# kept and printed; everything else is removed, and every process started here is killed on exit.
# Needs python3 (its sqlite3 module) for the checks: Tools/crash-trials/check.py.
# Exit status: 0 when every trial passed, 1 when one failed, 2 on bad usage or a setup failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD
CHECK="$ROOT_DIR/Tools/crash-trials/check.py"
export PATH="/opt/swift/usr/bin:$PATH"

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() {
    echo "crash-trials: $*" >&2
    exit 2
}

TRIALS=20
SEED=""
ONLY=""
CONFIG=debug
BIN_DIR="${OUTPOST_BIN_DIR:-}"
KINDS="import,bundle,sync-client,sync-server"
ROWS=5000
PUSH=4000
PULL=2000
KEEP=0
RECALIBRATE=10
while (($#)); do
    case "$1" in
    --seed) SEED="${2:?--seed needs a number}"; shift 2 ;;
    --only) ONLY="${2:?--only needs a trial number}"; shift 2 ;;
    --release) CONFIG=release; shift ;;
    --bin-dir) BIN_DIR="${2:?--bin-dir needs a folder}"; shift 2 ;;
    --kinds) KINDS="${2:?--kinds needs a list}"; shift 2 ;;
    --rows) ROWS="${2:?}"; shift 2 ;;
    --push) PUSH="${2:?}"; shift 2 ;;
    --pull) PULL="${2:?}"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --recalibrate) RECALIBRATE="${2:?}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    [0-9]*) TRIALS="$1"; shift ;;
    *) die "unknown argument: $1 (see --help)" ;;
    esac
done
for n in "$TRIALS" "$ROWS" "$PUSH" "$PULL" "$RECALIBRATE" ${SEED:+"$SEED"} ${ONLY:+"$ONLY"}; do
    [[ $n =~ ^[0-9]+$ ]] || die "not a number: $n"
done
((ROWS >= 1000)) || die "--rows must be 1000 or more (smaller imports and bundles do not use the rollback journal)"
((PUSH >= 1 && PULL >= 1)) || die "--push and --pull must be at least 1"
IFS=, read -r -a KIND_LIST <<<"$KINDS"
for k in "${KIND_LIST[@]}"; do
    case "$k" in import | bundle | sync-client | sync-server) ;; *) die "unknown kind: $k" ;; esac
done
[[ -n $SEED ]] || SEED=$(($(date +%s) % 1000000))
if [[ -n $ONLY ]]; then
    ((ONLY >= 1)) || die "--only counts from 1"
    ((TRIALS >= ONLY)) || TRIALS=$ONLY
fi
command -v python3 >/dev/null || die "python3 is needed for the checks"

# --- binaries
if [[ -z $BIN_DIR ]]; then
    BIN_DIR="$ROOT_DIR/.build/$CONFIG"
    for product in outpost outpost-server; do
        if [[ ! -x $BIN_DIR/$product ]]; then
            echo "== building $product ($CONFIG)"
            swift build -c "$CONFIG" --product "$product" 2>&1 | { grep -v -E '^\[[0-9]+/[0-9]+\]' || true; }
            [[ -x $BIN_DIR/$product ]] || die "building $product failed"
        fi
    done
fi
BIN_DIR=$(cd "$BIN_DIR" 2>/dev/null && pwd) || die "no folder $BIN_DIR"
OUTPOST="$BIN_DIR/outpost"
SERVER="$BIN_DIR/outpost-server"
[[ -x $OUTPOST && -x $SERVER ]] || die "$BIN_DIR lacks outpost or outpost-server"

# --- processes and folders
WORK=$(mktemp -d "${TMPDIR:-/tmp}/outpost-crash.XXXXXX")
# Reporter stores are encrypted: their passphrase comes from a file, at a low scrypt cost (tests only).
printf 'trial passphrase 1\n' >"$WORK/passphrase"
export OUTPOST_PASSPHRASE_FILE="$WORK/passphrase" OUTPOST_KDF_LOG2N_FOR_TESTS=10
PIDS=()
FAILED_DIRS=()

# Whether process $1 is still running (a zombie not yet waited for has ended).
is_running() {
    local state
    state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

# Whether process $1 is running and a child of this script (a pid already waited for may have
# been reused by someone else's process, which must be left alone).
is_ours() {
    is_running "$1" || return 1
    [[ $(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2) == "$$" ]]
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        if is_ours "$pid"; then kill -9 "$pid" 2>/dev/null; fi
    done
    wait 2>/dev/null
    if ((KEEP == 0 && ${#FAILED_DIRS[@]} == 0)); then
        rm -rf "$WORK"
    else
        echo "kept: $WORK" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
py() { python3 "$CHECK" "$@"; }

# Waits up to $2 s for process $1 to end; reaps it and sets WAIT_RC (124 when it did not end).
wait_exit() {
    local pid=$1 deadline=$(($(now_ms) + $2 * 1000))
    while is_running "$pid"; do
        if (($(now_ms) > deadline)); then
            WAIT_RC=124
            return
        fi
        sleep 0.02
    done
    wait "$pid" 2>/dev/null
    WAIT_RC=$?
}

# Starts `outpost-server serve` on database $1, port $2 (0: any), logging to $3 (replaced); sets
# SERVER_PID and SERVER_PORT. Tries 10 times over a few seconds (a restart on the port just freed
# by a killed server may find it busy).
start_server() {
    local db=$1 port=$2 log=$3 attempt deadline
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        "$SERVER" serve --db "$db" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
        SERVER_PID=$!
        PIDS+=("$SERVER_PID")
        deadline=$(($(now_ms) + 60000))
        while is_running "$SERVER_PID" && (($(now_ms) < deadline)); do
            SERVER_PORT=$(sed -n 's|^outpost-server listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$log")
            [[ -n $SERVER_PORT ]] && return 0
            sleep 0.02
        done
        if is_running "$SERVER_PID"; then
            kill -9 "$SERVER_PID"
            wait "$SERVER_PID" 2>/dev/null
            return 1
        fi
        wait "$SERVER_PID" 2>/dev/null
        # Most likely the port, just freed by a killed server; the log says otherwise.
        cp "$log" "$log.attempt-$attempt"
        sleep 0.3
    done
    return 1
}

# Stops the server with SIGTERM (a clean stop); false when it does not end within 30 s.
stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait_exit "$SERVER_PID" 30
    if ((WAIT_RC == 124)); then
        kill -9 "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        return 1
    fi
    return 0
}

# --- one trial's bookkeeping
# T: the trial's folder; T_FAIL: its first failure (empty: passed); T_OUTCOME: what it found;
# LANDED: during or after the operation (none in calibration).
trial_fail() { [[ -n $T_FAIL ]] || T_FAIL="$*"; }

# Runs a check.py check; on failure records its FAIL line. CHK_OUT holds its output.
chk() {
    local rc
    CHK_OUT=$(py "$@" 2>&1)
    rc=$?
    if ((rc != 0)); then
        trial_fail "$(printf '%s\n' "$CHK_OUT" | grep -m1 '^FAIL' || printf '%s\n' "$CHK_OUT" | tail -1) (check $1)"
        return 1
    fi
}

# Runs a command that must exit 0, its output in $T/LABEL.out; on failure records its exit code
# and last error line.
run_ok() {
    local label=$1 rc
    shift
    "$@" >"$T/$label.out" 2>"$T/$label.err"
    rc=$?
    if ((rc != 0)); then
        trial_fail "\`$label\` exited $rc: $(tail -1 "$T/$label.err")"
        return 1
    fi
}

# Runs "$@" in the background and, DELAY ms later (none when DELAY < 0), kills it with SIGKILL.
# Sets OP_RC (137: killed while running), OP_MS and LANDED.
run_killed() {
    local delay=$1 start pid
    shift
    start=$(now_ms)
    "$@" >"$T/op.out" 2>"$T/op.err" &
    pid=$!
    PIDS+=("$pid")
    if ((delay >= 0)); then
        sleep_ms "$delay"
        kill -9 "$pid" 2>/dev/null
    fi
    wait_exit "$pid" 600
    OP_MS=$(($(now_ms) - start))
    OP_RC=$WAIT_RC
    if ((OP_RC == 124)); then
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        trial_fail "still running after 600 s"
    fi
    if ((delay < 0)); then
        LANDED=none
    elif ((OP_RC == 137)); then
        LANDED=during
    else
        LANDED=after
    fi
    if ((OP_RC != 137 && OP_RC != 0)); then trial_fail "exited $OP_RC by itself: $(tail -1 "$T/op.err")"; fi
}

# A store folder after a kill: its database (a copy, as the kill left it) passes integrity_check;
# `outpost status` opens it (rolling back a hot journal, recovering the WAL); it is in WAL mode
# again and passes integrity_check. Leaves `status --json` in $T/status.out.
check_store() {
    local db="$1/outpost.db"
    # A rollback journal left behind: the kill landed inside a bulk transaction.
    if [[ -s $db-journal ]]; then IN_JOURNAL=" (hot journal)"; else IN_JOURNAL=""; fi
    chk snapshot-integrity "$db" "$T/snapshot" || return 1
    run_ok status "$OUTPOST" --store "$1" status --json || return 1
    chk wal "$db" || return 1
    chk integrity "$db"
}

# --- the trials; each runs in $T with DELAY (ms; < 0: no kill) and BATCH
trial_import() {
    cp -a "$TPL/base" "$T/store"
    run_killed "$DELAY" "$OUTPOST" --store "$T/store" import "$TPL/import.ndjson"
    check_store "$T/store" || return
    chk all-or-none "$T/store/outpost.db" "$TPL/import.ndjson.ids" "$TPL/baseline.ids" $((OP_RC == 0)) || return
    local found=$CHK_OUT
    T_OUTCOME="rows: $found$IN_JOURNAL"
    T_CLASS="rows $found$IN_JOURNAL"
    if [[ $found == none ]]; then
        # The store takes the import after the crash.
        run_ok import-again "$OUTPOST" --store "$T/store" import "$TPL/import.ndjson" || return
        chk all-or-none "$T/store/outpost.db" "$TPL/import.ndjson.ids" "$TPL/baseline.ids" 1 || return
    fi
    run_ok list "$OUTPOST" --store "$T/store" list --json || return
    chk count-json-array "$T/list.out" || return
    ((CHK_OUT == BASELINE + ROWS)) || trial_fail "outpost list shows $CHK_OUT incidents, not $((BASELINE + ROWS))"
}

trial_bundle() {
    cp -a "$TPL/base" "$T/store"
    run_killed "$DELAY" "$OUTPOST" --store "$T/store" bundle apply "$TPL/carol.bundle"
    check_store "$T/store" || return
    chk bundle-all-or-none "$T/store/outpost.db" "$CAROL" "$ROWS" "$BASELINE" $((OP_RC == 0)) || return
    T_OUTCOME="changes: $CHK_OUT$IN_JOURNAL"
    T_CLASS="changes $CHK_OUT$IN_JOURNAL"
    # Applying it (again) brings every change, and a second time changes nothing.
    run_ok apply-again "$OUTPOST" --store "$T/store" bundle apply "$TPL/carol.bundle" || return
    chk bundle-all-or-none "$T/store/outpost.db" "$CAROL" "$ROWS" "$BASELINE" 1 || return
    run_ok list "$OUTPOST" --store "$T/store" list --json || return
    chk count-json-array "$T/list.out" || return
    ((CHK_OUT == BASELINE + ROWS)) || trial_fail "outpost list shows $CHK_OUT incidents, not $((BASELINE + ROWS))"
}

# Copies the server database and alice's store, starts the server and points alice at it.
sync_setup() {
    cp -a "$TPL/server" "$T/server"
    cp -a "$TPL/alice" "$T/alice"
    start_server "$T/server/server.db" 0 "$T/server-1.log" || {
        trial_fail "the server did not start: $(tail -1 "$T/server-1.log")"
        return 1
    }
    run_ok config "$OUTPOST" --store "$T/alice" config --server "http://127.0.0.1:$SERVER_PORT"
}

# After a sync ended (OP_RC) with the server running: what was acknowledged and pulled is kept,
# a second sync brings everything and both sides converge.
sync_checks() {
    local replica acked cursor own
    check_store "$T/alice" || return
    chk status-field "$T/status.out" own_changes || return
    own=$CHK_OUT
    chk sync-state "$T/alice/outpost.db" || return
    read -r replica acked cursor <<<"$CHK_OUT"
    T_OUTCOME="acked $acked/$own, cursor $cursor"
    if ((acked == 0)); then T_CLASS="acked none"; elif ((acked < own)); then T_CLASS="acked some"; else T_CLASS="acked all"; fi
    chk integrity "$T/server/server.db" || return
    chk server-holds "$T/server/server.db" "$replica" "$acked" || return
    if ((OP_RC == 0)); then
        ((acked == own)) || trial_fail "sync exited 0 but only $acked of $own changes were acknowledged"
        chk server-holds "$T/server/server.db" "$replica" "$own" || return
    fi
    chk client-pulled "$T/alice/outpost.db" "$T/server/server.db" "$replica" "$cursor" || return
    run_ok sync-again "$OUTPOST" --store "$T/alice" sync || return
    chk server-holds "$T/server/server.db" "$replica" "$own" || return
    run_ok status-after "$OUTPOST" --store "$T/alice" status --json || return
    chk status-field "$T/status-after.out" unsynced_changes || return
    ((CHK_OUT == 0)) || trial_fail "$CHK_OUT changes still unsynced after a successful sync"
    stop_server || trial_fail "the server did not stop on SIGTERM"
    chk integrity "$T/server/server.db" || return
    run_ok server-export "$SERVER" export --db "$T/server/server.db" || return
    run_ok client-export "$OUTPOST" --store "$T/alice" export --format ndjson || return
    chk converged "$T/alice/outpost.db" "$T/server/server.db" "$T/client-export.out" "$T/server-export.out" || return
    [[ $(wc -l <"$T/server-export.out") -eq $VISIBLE_TOTAL ]] ||
        trial_fail "outpost-server export shows $(wc -l <"$T/server-export.out") incidents, not $VISIBLE_TOTAL"
}

trial_sync_client() {
    sync_setup || return
    run_killed "$DELAY" "$OUTPOST" --store "$T/alice" sync --batch-size "$BATCH"
    [[ -z $T_FAIL ]] || return
    sync_checks
}

trial_sync_server() {
    sync_setup || return
    local start client port
    start=$(now_ms)
    "$OUTPOST" --store "$T/alice" sync --batch-size "$BATCH" >"$T/op.out" 2>"$T/op.err" &
    client=$!
    PIDS+=("$client")
    LANDED=none
    if ((DELAY >= 0)); then
        sleep_ms "$DELAY"
        if is_running "$client"; then LANDED=during; else LANDED=after; fi
        port=$SERVER_PORT
        kill -9 "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null
        # The database as the kill left it (a copy), then the server restarted on the original:
        # at once (the client's retries may reach it) or once the client has given up.
        chk snapshot-integrity "$T/server/server.db" "$T/snapshot"
        if ((RESTART_LATE)); then
            wait_exit "$client" 600
            OP_RC=$WAIT_RC
        fi
        start_server "$T/server/server.db" "$port" "$T/server-2.log" || {
            trial_fail "the server did not restart on the killed server's database: $(tail -1 "$T/server-2.log")"
            return
        }
    fi
    if ! ((RESTART_LATE && DELAY >= 0)); then
        wait_exit "$client" 600
        OP_RC=$WAIT_RC
    fi
    OP_MS=$(($(now_ms) - start))
    case "$OP_RC" in
    0) ;;
    10 | 13) [[ $LANDED == during ]] || trial_fail "sync exited $OP_RC: $(tail -1 "$T/op.err")" ;;
    124) trial_fail "sync still running after 600 s" ;;
    *) trial_fail "sync exited $OP_RC: $(tail -1 "$T/op.err")" ;;
    esac
    [[ -z $T_FAIL ]] || return
    sync_checks
    local when="restart at once"
    ((RESTART_LATE == 0)) || when="restart after the client ended"
    T_OUTCOME="$when, client exit $OP_RC, $T_OUTCOME"
    T_CLASS="$when, client exit $OP_RC, $T_CLASS"
}

# --- templates: every trial starts from copies of these
TPL="$WORK/templates"
mkdir -p "$TPL"
BASELINE=50
# Alice's store holds PUSH imported incidents, 3 edits and 1 delete: the server shows this many.
VISIBLE_TOTAL=$((PUSH - 1 + PULL))

setup() {
    if ! "$@" >>"$TPL/setup.log" 2>&1; then
        echo "crash-trials: setup failed: $*" >&2
        tail -5 "$TPL/setup.log" >&2
        exit 2
    fi
}

uses() { [[ " ${KIND_LIST[*]} " == *" $1 "* ]]; }

echo "== crash trials: $TRIALS (seed $SEED), binaries $BIN_DIR"
echo "== preparing stores: import and bundle of $ROWS, sync of $PUSH changes up and $PULL down"
# The store imports and bundles go into: a baseline of its own.
setup py gen-ndjson "$TPL/baseline.ndjson" "$BASELINE" "$SEED" base
mv "$TPL/baseline.ndjson.ids" "$TPL/baseline.ids"
setup "$OUTPOST" --store "$TPL/base" init --reporter base
setup "$OUTPOST" --store "$TPL/base" import "$TPL/baseline.ndjson"
if uses import; then
    setup py gen-ndjson "$TPL/import.ndjson" "$ROWS" "$((SEED + 1))" imp
fi
if uses bundle; then
    # The bundle: every change of carol's store.
    setup py gen-ndjson "$TPL/bundle.ndjson" "$ROWS" "$((SEED + 2))" carol
    setup "$OUTPOST" --store "$TPL/carol" init --reporter carol
    setup "$OUTPOST" --store "$TPL/carol" import "$TPL/bundle.ndjson"
    setup "$OUTPOST" --store "$TPL/carol" bundle create --out "$TPL/carol.bundle"
    CAROL=$(py sync-state "$TPL/carol/outpost.db" | cut -d' ' -f1)
fi
if uses sync-client || uses sync-server; then
    setup py gen-ndjson "$TPL/push.ndjson" "$PUSH" "$((SEED + 3))" alice
    setup py gen-ndjson "$TPL/pull.ndjson" "$PULL" "$((SEED + 4))" bob
    # The server: alice and bob enrolled, bob's PULL incidents synced to it.
    mkdir -p "$TPL/server"
    TOKEN_ALICE=$("$SERVER" enroll --db "$TPL/server/server.db" --reporter alice 2>>"$TPL/setup.log") ||
        die "enroll failed: $(tail -1 "$TPL/setup.log")"
    TOKEN_BOB=$("$SERVER" enroll --db "$TPL/server/server.db" --reporter bob 2>>"$TPL/setup.log") ||
        die "enroll failed: $(tail -1 "$TPL/setup.log")"
    setup "$OUTPOST" --store "$TPL/bob" init --reporter bob --server http://127.0.0.1:9 --token "$TOKEN_BOB"
    setup "$OUTPOST" --store "$TPL/bob" import "$TPL/pull.ndjson"
    start_server "$TPL/server/server.db" 0 "$TPL/server.log" || die "the server did not start: $(tail -1 "$TPL/server.log")"
    setup "$OUTPOST" --store "$TPL/bob" config --server "http://127.0.0.1:$SERVER_PORT"
    setup "$OUTPOST" --store "$TPL/bob" sync
    stop_server || die "the server did not stop"
    # Alice: PUSH incidents, then edits and a delete, none synced yet (the server address is set per trial).
    setup "$OUTPOST" --store "$TPL/alice" init --reporter alice --server http://127.0.0.1:9 --token "$TOKEN_ALICE"
    setup "$OUTPOST" --store "$TPL/alice" import "$TPL/push.ndjson"
    mapfile -t ALICE_IDS < <(head -3 "$TPL/push.ndjson.ids")
    setup "$OUTPOST" --store "$TPL/alice" edit "${ALICE_IDS[0]}" --killed 7 --injured 2
    setup "$OUTPOST" --store "$TPL/alice" edit "${ALICE_IDS[1]}" --title "Edited after import"
    setup "$OUTPOST" --store "$TPL/alice" edit "${ALICE_IDS[0]}" --clear place-name
    setup "$OUTPOST" --store "$TPL/alice" delete "${ALICE_IDS[2]}"
fi

# --- calibration: each operation once, whole (no kill), through the same checks: T per kind.
declare -A OP_TIME
run_trial() { # KIND: runs it in $T with DELAY and BATCH, sets T_FAIL, T_OUTCOME, LANDED
    T_FAIL=""
    T_OUTCOME=""
    T_CLASS=""
    LANDED=none
    OP_RC=0
    OP_MS=0
    SERVER_PID=""
    case "$1" in
    import) trial_import ;;
    bundle) trial_bundle ;;
    sync-client) trial_sync_client ;;
    sync-server) trial_sync_server ;;
    esac
    # Nothing of this trial outlives it.
    local pid
    for pid in "${PIDS[@]}"; do
        if is_ours "$pid"; then kill -9 "$pid" 2>/dev/null; fi
        wait "$pid" 2>/dev/null
    done
    PIDS=()
}

# Runs each kind's operation once, whole, in $WORK/calibrate-KIND (kept for the controls) and sets
# OP_TIME: the measured time, or the mean with the previous one when recalibrating.
calibrate() {
    local kind line=""
    for kind in import bundle sync-client; do
        uses "$kind" || { [[ $kind == sync-client ]] && uses sync-server; } || continue
        T="$WORK/calibrate-$kind"
        rm -rf "$T"
        mkdir -p "$T"
        DELAY=-1
        BATCH=1000
        RESTART_LATE=0
        run_trial "$kind" 2>>"$T/shell.err"
        if [[ -n $T_FAIL ]]; then
            FAILED_DIRS+=("$T")
            die "calibration of $kind failed (the checks do not hold without a kill): $T_FAIL; see $T"
        fi
        if [[ -n ${OP_TIME[$kind]:-} ]]; then OP_TIME[$kind]=$(((OP_TIME[$kind] + OP_MS) / 2)); else OP_TIME[$kind]=$OP_MS; fi
        line+="  $kind ${OP_TIME[$kind]} ms"
        [[ $1 == again ]] || echo "   $kind: $OP_MS ms ($T_OUTCOME)"
    done
    OP_TIME[sync-server]=${OP_TIME[sync-client]:-0}
    [[ $1 != again ]] || echo "   recalibrated (T, the mean with the last):$line"
}

echo "== calibrating (each operation once, not killed, through every check)"
calibrate first

# --- controls: each check fails on a store that lost what it must keep
control() { # DESCRIPTION CHECK ARGS…: the check must fail
    local description=$1
    shift
    if py "$@" >/dev/null 2>&1; then die "control failed: check $1 passes on $description"; fi
}
echo "== controls (every check must catch a damaged copy)"
C="$WORK/controls"
mkdir -p "$C"
if [[ -d $WORK/calibrate-import ]]; then
    cp -a "$WORK/calibrate-import/store" "$C/partial"
    setup py tamper "$C/partial/outpost.db" "DELETE FROM records WHERE id = (SELECT id FROM records WHERE id LIKE 'imp-%' LIMIT 1)"
    control "an import missing one row" all-or-none "$C/partial/outpost.db" "$TPL/import.ndjson.ids" "$TPL/baseline.ids" 0
    cp -a "$WORK/calibrate-import/store" "$C/baseline"
    setup py tamper "$C/baseline/outpost.db" "DELETE FROM records WHERE id = (SELECT id FROM records WHERE id LIKE 'base-%' LIMIT 1)"
    control "a store missing a baseline row" all-or-none "$C/baseline/outpost.db" "$TPL/import.ndjson.ids" "$TPL/baseline.ids" 0
    cp -a "$TPL/base" "$C/none"
    control "an import that exited 0 with no row" all-or-none "$C/none/outpost.db" "$TPL/import.ndjson.ids" "$TPL/baseline.ids" 1
    cp -a "$WORK/calibrate-import/store" "$C/corrupt"
    setup py corrupt "$C/corrupt/outpost.db"
    control "a database with an overwritten page" integrity "$C/corrupt/outpost.db"
fi
if [[ -d $WORK/calibrate-bundle ]]; then
    cp -a "$WORK/calibrate-bundle/store" "$C/bundle"
    setup py tamper "$C/bundle/outpost.db" "DELETE FROM changes WHERE seq = (SELECT max(seq) FROM changes)"
    control "a bundle missing one change" bundle-all-or-none "$C/bundle/outpost.db" "$CAROL" "$ROWS" "$BASELINE" 0
fi
if [[ -d $WORK/calibrate-sync-client ]]; then
    read -r ALICE _ _ < <(py sync-state "$WORK/calibrate-sync-client/alice/outpost.db")
    cp -a "$WORK/calibrate-sync-client/server" "$C/server"
    setup py tamper "$C/server/server.db" \
        "DELETE FROM changes WHERE counter = 2 AND replica = (SELECT idx FROM replicas WHERE id = X'$ALICE')"
    control "a server missing an acknowledged change" server-holds "$C/server/server.db" "$ALICE" 3
    control "a server missing a change" converged "$WORK/calibrate-sync-client/alice/outpost.db" "$C/server/server.db" \
        "$WORK/calibrate-sync-client/client-export.out" "$WORK/calibrate-sync-client/server-export.out"
    sed '1s/"title":"[^"]*"/"title":"Changed"/' "$WORK/calibrate-sync-client/server-export.out" >"$C/server-export.out"
    grep -q '"title":"Changed"' "$C/server-export.out" || die "control: the export has no title to change"
    control "a server showing another title" converged "$WORK/calibrate-sync-client/alice/outpost.db" \
        "$WORK/calibrate-sync-client/server/server.db" "$WORK/calibrate-sync-client/client-export.out" "$C/server-export.out"
    cp -a "$WORK/calibrate-sync-client/alice" "$C/alice"
    setup py tamper "$C/alice/outpost.db" "DELETE FROM changes WHERE seq = (SELECT max(seq) FROM changes)"
    control "a client missing a pulled change" client-pulled "$C/alice/outpost.db" \
        "$WORK/calibrate-sync-client/server/server.db" "$ALICE" 1000000000
fi
[[ $KEEP == 1 ]] || rm -rf "$C"
echo "   every check failed on its damaged copy"

# --- the trials
# The command that repeats a trial (with --only I): the same seed, kinds, sizes and binaries.
RERUN="$TRIALS --seed $SEED --kinds $KINDS --rows $ROWS --push $PUSH --pull $PULL --bin-dir $BIN_DIR"
declare -A COUNT DURING AFTER FAILS OUTCOMES
STARTED=$(now_ms)
echo "== trials (delay: a random fraction of T, the operation's calibrated time)"
for ((i = 1; i <= TRIALS; i++)); do
    [[ -z $ONLY || $i == "$ONLY" ]] || continue
    # The machine's load changes: measure the operations again every RECALIBRATE trials.
    if ((RECALIBRATE > 0 && i > 1 && (i - 1) % RECALIBRATE == 0)) && [[ -z $ONLY ]]; then calibrate again; fi
    # Everything random about trial i comes from (SEED, i).
    RANDOM=$(((SEED * 100003 + i) % 2147483647))
    KIND=${KIND_LIST[$(((i - 1) % ${#KIND_LIST[@]}))]}
    FRAC=$(((RANDOM * 32768 + RANDOM) % 1151))
    BATCH=$((RANDOM % 2 ? 250 : 1000))
    RESTART_LATE=$((RANDOM % 2))
    DELAY=$((OP_TIME[$KIND] * FRAC / 1000))
    T="$WORK/trial-$i"
    mkdir -p "$T"
    # The shell's own notes ("Killed") go to the trial's folder.
    run_trial "$KIND" 2>>"$T/shell.err"
    COUNT[$KIND]=$((${COUNT[$KIND]:-0} + 1))
    if [[ $LANDED == during ]]; then DURING[$KIND]=$((${DURING[$KIND]:-0} + 1)); else AFTER[$KIND]=$((${AFTER[$KIND]:-0} + 1)); fi
    batch_text=""
    [[ $KIND != sync-* ]] || batch_text=" batch $BATCH"
    if [[ -z $T_FAIL ]]; then
        result="ok"
        key="$KIND: $T_CLASS"
        OUTCOMES[$key]=$((${OUTCOMES[$key]:-0} + 1))
        [[ $KEEP == 1 ]] || rm -rf "$T"
    else
        result="FAILED: $T_FAIL (kept $T; re-run: Tools/crash-trials.sh $RERUN --only $i)"
        FAILS[$KIND]=$((${FAILS[$KIND]:-0} + 1))
        FAILED_DIRS+=("$T")
    fi
    printf '%4d/%d %-11s delay %5d ms (%d.%03d T)%s  killed %-6s  %s  %s\n' "$i" "$TRIALS" "$KIND" "$DELAY" \
        $((FRAC / 1000)) $((FRAC % 1000)) "$batch_text" "$LANDED" "$T_OUTCOME" "$result"
done
ELAPSED=$((($(now_ms) - STARTED) / 1000))
[[ $KEEP == 1 ]] || rm -rf "$WORK"/calibrate-*

echo "== summary: seed $SEED, $BIN_DIR, $ELAPSED s for the trials"
printf '   %-12s %6s %7s %6s %9s\n' kind trials during after failures
total=0
total_failed=0
for kind in "${KIND_LIST[@]}"; do
    [[ -n ${COUNT[$kind]:-} ]] || continue
    printf '   %-12s %6d %7d %6d %9d\n' "$kind" "${COUNT[$kind]}" "${DURING[$kind]:-0}" "${AFTER[$kind]:-0}" "${FAILS[$kind]:-0}"
    total=$((total + COUNT[$kind]))
    total_failed=$((total_failed + ${FAILS[$kind]:-0}))
done
for key in $(printf '%s\n' "${!OUTCOMES[@]}" | sed 's/ /\x1f/g' | sort); do
    key=${key//$'\x1f'/ }
    echo "   $key × ${OUTCOMES[$key]}"
done
echo "   $total trials, $total_failed failed"
if ((total_failed > 0)); then
    printf '   kept: %s\n' "${FAILED_DIRS[@]}"
    exit 1
fi
exit 0
