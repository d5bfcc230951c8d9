#!/usr/bin/env bash
# Checks that Schema/openapi.yaml states exactly what the server does: starts outpost-server on
# 127.0.0.1 (a free port, a temporary database), enrolls tokens, seeds incidents through the sync
# API with the outpost CLI, and runs schemathesis (examples, coverage, fuzzing and stateful
# phases, every check) once with a reporter token and once with an analyst token.
#
#   Tools/api-check.sh [--max-examples N] [--seed N] [--build] [--keep]
#
#   --max-examples N  test cases per operation and phase (default 200; CI passes a smaller N)
#   --seed N          schemathesis's random seed (default: a new one, printed in its output)
#   --build           run `swift build` first even when the binaries exist
#   --keep            keep the temporary folder (database, server log, schemathesis output)
#
# Binaries come from .build/debug (built when missing). schemathesis is installed into a venv,
# $OUTPOST_API_VENV or .build-venv/ (gitignored), on first use. Exits 0 when neither run reports a
# failure, 1 when one does, 2 on a setup problem. The server is stopped on every exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCHEMATHESIS_VERSION="4.32.5"
MAX_EXAMPLES=200
SEED=""
BUILD=0
KEEP=0

die() {
    echo "api-check: $*" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --max-examples)
        [ $# -ge 2 ] || die "--max-examples needs a number"
        MAX_EXAMPLES="$2"
        shift 2
        ;;
    --seed)
        [ $# -ge 2 ] || die "--seed needs a number"
        SEED="$2"
        shift 2
        ;;
    --build)
        BUILD=1
        shift
        ;;
    --keep)
        KEEP=1
        shift
        ;;
    -h | --help)
        sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ "$MAX_EXAMPLES" =~ ^[1-9][0-9]*$ ]] || die "--max-examples must be a whole number ≥ 1, not $MAX_EXAMPLES"
[[ -z "$SEED" || "$SEED" =~ ^[0-9]+$ ]] || die "--seed must be a whole number, not $SEED"

BIN="$ROOT/.build/debug"
if [ "$BUILD" = 1 ] || [ ! -x "$BIN/outpost-server" ] || [ ! -x "$BIN/outpost" ]; then
    echo "api-check: building outpost-server and outpost (debug; a first build takes minutes)..."
    (cd "$ROOT" && swift build --product outpost-server && swift build --product outpost) || die "swift build failed"
fi

VENV="${OUTPOST_API_VENV:-$ROOT/.build-venv}"
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
    echo "api-check: installing schemathesis $SCHEMATHESIS_VERSION into $VENV..."
    python3 -m venv "$VENV" || die "python3 -m venv failed (install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" ||
        die "pip install schemathesis failed"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/outpost-api-check.XXXXXX")"
# Reporter stores are encrypted: their passphrase comes from a file, at a low scrypt cost (tests only).
printf 'trial passphrase 1\n' >"$WORK/passphrase"
export OUTPOST_PASSPHRASE_FILE="$WORK/passphrase" OUTPOST_KDF_LOG2N_FOR_TESTS=10
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "$KEEP" = 1 ]; then echo "api-check: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DB="$WORK/server.db"
enroll() { "$BIN/outpost-server" enroll --db "$DB" --reporter "$1" --role "$2" | tail -n 1; }
ALICE_TOKEN="$(enroll alice reporter)"
BOB_TOKEN="$(enroll bob reporter)"
# The fuzzing reporter is a device enrolled by its key (a seed only this script and the hooks
# know): its token is bound to the replica of that key, and the hooks sign its changes with it.
FUZZ_SEED="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
read -r FUZZ_REPLICA FUZZ_KEY < <("$VENV/bin/python" - "$ROOT/Tools/api-check-hooks.py" "$FUZZ_SEED" <<'PY'
import hashlib, importlib.util, sys
spec = importlib.util.spec_from_file_location("hooks", sys.argv[1])
hooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hooks)
public = hooks.ed25519_public_key(bytes.fromhex(sys.argv[2]))
print(hashlib.sha256(public).hexdigest()[:32], hooks._b64u(public))
PY
) || die "could not make the fuzzing device's key"
FUZZ_TOKEN="$("$BIN/outpost-server" enroll --db "$DB" --reporter fuzz --role reporter --replica "$FUZZ_REPLICA" \
    --key "$FUZZ_KEY" | head -n 1)"
ANALYST_TOKEN="$(enroll desk analyst)"

# Generous abuse limits when the server has them: schemathesis sends many requests, with bad
# tokens on purpose, from one address and one token.
SERVE_HELP="$("$BIN/outpost-server" serve --help 2>&1 || true)"
LIMIT_FLAGS=()
add_flag() { if grep -q -- "$1" <<<"$SERVE_HELP"; then LIMIT_FLAGS+=("$1" "$2"); fi; }
add_flag --auth-failure-burst 1000000
add_flag --auth-failures-per-minute 1000000
add_flag --token-burst 1000000
add_flag --token-requests-per-second 1000000

"$BIN/outpost-server" serve --db "$DB" --host 127.0.0.1 --port 0 ${LIMIT_FLAGS[@]+"${LIMIT_FLAGS[@]}"} \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
    URL="$(grep -o 'listening on http://[^ ]*' "$WORK/server.log" 2>/dev/null | head -n 1 | sed 's/^listening on //')" || true
    [ -n "$URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "the server did not start"; }
    sleep 0.2
done
[ -n "$URL" ] || die "the server did not say where it listens within 60 s"
echo "api-check: server at $URL (limits: ${LIMIT_FLAGS[*]:-none to set})"

# Seed: alice and bob report, edit one incident concurrently (a conflict), delete one (history,
# include_deleted), all through POST /v1/sync.
outpost() { "$BIN/outpost" "$@"; }
A="$WORK/alice"
B="$WORK/bob"
outpost --store "$A" init --reporter alice --server "$URL" --token "$ALICE_TOKEN" >/dev/null
outpost --store "$B" init --reporter bob --server "$URL" --token "$BOB_TOKEN" >/dev/null
CLASH="$(outpost --store "$A" new --title "Clash at the market" --event-type battle --occurred-at 2024-03-01 \
    --lat 12.65 --lon -8.0 --place-name Bamako --killed 2 --status submitted --confidence medium)"
outpost --store "$A" new --title "Protest in Gao" --event-type protest --occurred-at 2024-03-02T10:30:00Z \
    --lat 16.27 --lon -0.04 --place-name Gao --status verified >/dev/null
FLOOD="$(outpost --store "$A" new --title "Flooding near Mopti" --event-type displacement --displaced 1200 \
    --lat 14.49 --lon -4.18 --narrative "Families moved to the school.")"
outpost --store "$A" sync >/dev/null
outpost --store "$B" sync >/dev/null
outpost --store "$A" edit "$CLASH" --killed 3 >/dev/null
outpost --store "$B" edit "$CLASH" --killed 5 --perpetrator "unknown armed group" >/dev/null
outpost --store "$B" new --title "Roadblock on the RN16" --event-type strategic_development --lat 15.0 --lon 170.5 \
    --sensitivity sensitive >/dev/null
outpost --store "$B" delete "$FLOOD" >/dev/null
outpost --store "$A" sync >/dev/null
outpost --store "$B" sync >/dev/null
outpost --store "$A" sync >/dev/null
echo "api-check: seeded 4 incidents (one in conflict, one deleted) through the sync API"

# The hooks send every sync request as the fuzzing device, its changes signed by its key (see
# Tools/api-check-hooks.py).
export OUTPOST_API_REPLICA="$FUZZ_REPLICA"
export OUTPOST_API_SEED="$FUZZ_SEED"
export OUTPOST_API_TOKEN="$FUZZ_TOKEN"
export SCHEMATHESIS_HOOKS="$ROOT/Tools/api-check-hooks.py"
FAILED=()
run_schemathesis() {
    local label="$1" token="$2"
    local out="$WORK/schemathesis-$label.txt"
    echo
    echo "api-check: schemathesis with the $label token (--max-examples $MAX_EXAMPLES)"
    local status=0
    # From the temporary folder, so schemathesis's files stay out of the repository.
    (cd "$WORK" && "$VENV/bin/schemathesis" --config-file "$ROOT/Tools/api-check.toml" run "$ROOT/Schema/openapi.yaml" \
        --url "$URL" -H "Authorization: Bearer $token" --checks all \
        --phases examples,coverage,fuzzing,stateful --max-examples "$MAX_EXAMPLES" ${SEED:+--seed "$SEED"} \
        --continue-on-failure --generation-database none --no-color \
        --report har --report-har-path "$WORK/schemathesis-$label.har") >"$out" 2>&1 || status=$?
    cat "$out"
    [ "$status" = 0 ] || FAILED+=("$label (exit $status)")
}
START=$SECONDS
run_schemathesis reporter "$FUZZ_TOKEN"
run_schemathesis analyst "$ANALYST_TOKEN"
kill -0 "$SERVER_PID" 2>/dev/null || {
    cat "$WORK/server.log" >&2
    die "the server died during the run"
}

echo
for label in reporter analyst; do
    echo "api-check: $label: $(grep -E '^=+ .* in [0-9.]+s =+$' "$WORK/schemathesis-$label.txt" | tail -n 1 || echo "no summary line")"
done
echo "api-check: schemathesis took $((SECONDS - START)) s"
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "api-check: FAILED: ${FAILED[*]}" >&2
    exit 1
fi
echo "api-check: no failures"
