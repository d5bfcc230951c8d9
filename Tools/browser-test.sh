#!/usr/bin/env bash
# Drives the analysts' web workspace in headless Chromium: starts outpost-server on 127.0.0.1 (a
# free port, a temporary database), enrolls an analyst and two reporters, seeds incidents through
# the sync API with the outpost CLI (one in conflict, one whose narrative holds a script), and runs
# Tools/browser-test.py with Selenium (offline: SE_OFFLINE=true, Debian's chromium and
# chromium-driver).
#
#   Tools/browser-test.sh [--build] [--keep] [--artifacts DIR]
#
#   --build          run `swift build` first even when the binaries exist
#   --keep           keep the temporary folder (database, server log)
#   --artifacts DIR  where screenshots and the browser log go (default test-artifacts/browser, gitignored)
#
# Binaries come from .build/debug (built when missing). Selenium is installed into a venv,
# $OUTPOST_BROWSER_VENV or .build-venv-browser/ (gitignored), on first use; chromium and
# chromium-driver come from Tools/setup.sh. Exits 0 when every check passes, 1 when one fails, 2 on
# a setup problem. The server is stopped on every exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELENIUM_VERSION="4.38.0"
BUILD=0
KEEP=0
ARTIFACTS="$ROOT/test-artifacts/browser"

die() {
    echo "browser-test: $*" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --build)
        BUILD=1
        shift
        ;;
    --keep)
        KEEP=1
        shift
        ;;
    --artifacts)
        [ $# -ge 2 ] || die "--artifacts needs a folder"
        ARTIFACTS="$2"
        shift 2
        ;;
    -h | --help)
        sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
done

[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || die "chromium and chromium-driver are missing (run Tools/setup.sh)"

BIN="$ROOT/.build/debug"
if [ "$BUILD" = 1 ] || [ ! -x "$BIN/outpost-server" ] || [ ! -x "$BIN/outpost" ]; then
    echo "browser-test: building outpost-server and outpost (debug; a first build takes minutes)..."
    (cd "$ROOT" && swift build --product outpost-server && swift build --product outpost) || die "swift build failed"
fi

VENV="${OUTPOST_BROWSER_VENV:-$ROOT/.build-venv-browser}"
if ! "$VENV/bin/python" -c "import selenium, sys; sys.exit(selenium.__version__ != '$SELENIUM_VERSION')" 2>/dev/null; then
    echo "browser-test: installing selenium $SELENIUM_VERSION into $VENV..."
    python3 -m venv "$VENV" || die "python3 -m venv failed (install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "selenium==$SELENIUM_VERSION" || die "pip install selenium failed"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/outpost-browser-test.XXXXXX")"
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
    if [ "$KEEP" = 1 ]; then echo "browser-test: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DB="$WORK/server.db"
enroll() { "$BIN/outpost-server" enroll --db "$DB" --reporter "$1" --role "$2" | tail -n 1; }
ALICE_TOKEN="$(enroll alice reporter)"
BOB_TOKEN="$(enroll bob reporter)"
ANALYST_TOKEN="$(enroll desk analyst)"
REPORTER_TOKEN="$(enroll carol reporter)"

"$BIN/outpost-server" serve --db "$DB" --host 127.0.0.1 --port 0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
    URL="$(grep -o 'listening on http://[^ ]*' "$WORK/server.log" 2>/dev/null | head -n 1 | sed 's/^listening on //')" || true
    [ -n "$URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "the server did not start"; }
    sleep 0.2
done
[ -n "$URL" ] || die "the server did not say where it listens within 60 s"
echo "browser-test: server at $URL"

# Seed through POST /v1/sync: alice and bob report from the Sahel, edit one incident concurrently
# (a conflict), one narrative holds a script, one incident has no coordinates.
outpost() { "$BIN/outpost" "$@"; }
A="$WORK/alice"
B="$WORK/bob"
outpost --store "$A" init --reporter alice --server "$URL" --token "$ALICE_TOKEN" >/dev/null
outpost --store "$B" init --reporter bob --server "$URL" --token "$BOB_TOKEN" >/dev/null
CLASH="$(outpost --store "$A" new --title "Clash at the market" --event-type battle --occurred-at 2024-03-01 \
    --lat 12.65 --lon -8.0 --place-name Bamako --killed 2 --status submitted --confidence medium)"
outpost --store "$A" new --title "Gathering in Gao" --event-type protest --occurred-at 2024-03-12T10:30:00Z \
    --lat 16.27 --lon -0.04 --place-name Gao --status verified \
    --narrative 'A crowd wrote <script>alert(1)</script> on the wall & left.' >/dev/null
outpost --store "$A" new --title "Ambush near Mopti" --event-type battle --occurred-at 2024-03-20 \
    --lat 14.49 --lon -4.18 --killed 4 >/dev/null
outpost --store "$B" new --title "Checkpoint at Niamey" --event-type strategic_development --occurred-at 2024-04-02 \
    --lat 13.51 --lon 2.11 >/dev/null
outpost --store "$B" new --title "Unplaced report" --event-type other --occurred-at 2024-04-03 >/dev/null
outpost --store "$A" sync >/dev/null
outpost --store "$B" sync >/dev/null
outpost --store "$A" edit "$CLASH" --killed 3 >/dev/null
outpost --store "$B" edit "$CLASH" --killed 5 >/dev/null
outpost --store "$A" sync >/dev/null
outpost --store "$B" sync >/dev/null
echo "browser-test: seeded 5 incidents (one in conflict, one with a script in its narrative)"

mkdir -p "$ARTIFACTS"
export SE_OFFLINE=true
status=0
"$VENV/bin/python" "$ROOT/Tools/browser-test.py" --url "$URL" --analyst-token="$ANALYST_TOKEN" \
    --reporter-token="$REPORTER_TOKEN" --artifacts "$ARTIFACTS" --catalogues "$ROOT/Web/messages" \
    --outpost "$BIN/outpost" --reporter-store "$A" || status=$?
kill -0 "$SERVER_PID" 2>/dev/null || {
    cat "$WORK/server.log" >&2
    die "the server died during the run"
}
exit "$status"
