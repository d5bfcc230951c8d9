#!/usr/bin/env bash
# The main job: a local sync server on embedded SQLite, two reporters recording offline and
# syncing to it, then the aggregated reports as an analyst sees them. Everything lives in a
# temporary folder (kept with --keep); the server listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/setup.sh
export PATH="/opt/swift/usr/bin:$PATH"

echo "== building (release; a clean build takes 10-15 minutes on 2 cores)"
Tools/build-progress.sh swift build -c release --product outpost
Tools/build-progress.sh swift build -c release --product outpost-server
bin="$(swift build -c release --show-bin-path)"
outpost="$bin/outpost"
server="$bin/outpost-server"

work="$(mktemp -d /tmp/outpost-demo.XXXXXX)"
keep=false
[[ "${1:-}" == "--keep" ]] && keep=true
server_pid=""
cleanup() {
  # The unlock agents forget their keys (they would anyway when their time runs out).
  for who in alice bob carol; do
    [[ -d "$work/$who" ]] && OUTPOST_STORE="$work/$who" "$outpost" lock >/dev/null 2>&1 || true
  done
  if [[ -n "$server_pid" ]]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if $keep; then echo "(kept $work)"; else rm -rf "$work"; fi
}
trap cleanup EXIT

db="$work/outpost-server.db"
echo "== enrolling two reporters of team Gao and an analyst of every team"
alice_token="$("$server" enroll --db "$db" --reporter alice --team Gao)"
bob_token="$("$server" enroll --db "$db" --reporter bob --team Gao)"
analyst_token="$("$server" enroll --db "$db" --reporter desk --role analyst)"

echo "== starting the server over TLS, with a self-signed certificate that devices pin"
pin="$("$server" cert --out "$work/tls" 2>/dev/null)"
echo "   the server's pin: $pin"
"$server" serve --db "$db" --host 127.0.0.1 --port 0 --tls-cert "$work/tls/cert.pem" --tls-key "$work/tls/key.pem" \
  >"$work/server.log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 1 100); do
  url="$(grep -o 'https://127.0.0.1:[0-9]*' "$work/server.log" | head -n 1 || true)"
  [[ -n "$url" ]] && break
  sleep 0.1
done
[[ -n "$url" ]] || { echo "the server did not start:"; cat "$work/server.log"; exit 1; }
# The analyst's curl checks the same pin (-k: the certificate has no CA; --pinnedpubkey decides).
acurl=(curl -fsS -k --pinnedpubkey "$pin")
"${acurl[@]}" "$url/healthz" >/dev/null
echo "   listening on $url"

echo "== each reporter makes an encrypted store, then unlocks it for this session"
# A field device asks for the passphrase on its terminal; a script hands it over in a file.
for who in alice bob carol; do printf '%s keeps the Gao notes safe\n' "$who" >"$work/$who.passphrase"; done
alice=(env OUTPOST_STORE="$work/alice" "$outpost")
bob=(env OUTPOST_STORE="$work/bob" "$outpost")
"${alice[@]}" init --reporter alice --server "$url" --token "$alice_token" --pin "$pin" --passphrase-file "$work/alice.passphrase"
"${bob[@]}" init --reporter bob --server "$url" --token "$bob_token" --pin "$pin" --passphrase-file "$work/bob.passphrase"
"${alice[@]}" unlock --for 10m --passphrase-file "$work/alice.passphrase"
"${bob[@]}" unlock --for 10m --passphrase-file "$work/bob.passphrase"

echo "== alice records offline, then syncs"
market="$("${alice[@]}" new --title "Market attack, Gao" --event-type violence_against_civilians \
  --occurred-at 2026-03-01 --lat 16.27 --lon -0.04 --killed 3 --place-name Gao --source-type witness)"
"${alice[@]}" new --title "Displacement from Ansongo" --event-type displacement --displaced 120 \
  --lat 15.66 --lon 0.5 --place-name Ansongo >/dev/null
"${alice[@]}" sync

echo "== bob syncs, and both edit the market attack while offline"
"${bob[@]}" sync
"${alice[@]}" edit "$market" --killed 4
sleep 0.05
"${bob[@]}" edit "$market" --killed 5 --injured 11
"${alice[@]}" sync
"${bob[@]}" sync
"${alice[@]}" sync

echo "== alice sees the conflict (nothing was lost) and resolves it"
"${alice[@]}" conflicts
"${alice[@]}" resolve "$market" killed --value 5
"${alice[@]}" sync
"${bob[@]}" sync

echo "== carol (team Kidal) never reaches the server: enrolled by her device's key, she hands alice a bundle"
carol=(env OUTPOST_STORE="$work/carol" "$outpost")
"${carol[@]}" init --reporter carol --passphrase-file "$work/carol.passphrase"
"${carol[@]}" unlock --for 10m --passphrase-file "$work/carol.passphrase"
carol_replica="$("${carol[@]}" identity --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["replica"])')"
carol_key="$("${carol[@]}" identity --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
"$server" enroll --db "$db" --reporter carol --team Kidal --replica "$carol_replica" --key "$carol_key" >"$work/carol.enroll"
"${carol[@]}" config --roster-key "$(sed -n 's/^roster key: //p' "$work/carol.enroll")" \
  --parcel-key "$(sed -n 's/^parcel key: //p' "$work/carol.enroll")"
checkpoint="$("${carol[@]}" new --title "Checkpoint abuses, Kidal road" --event-type violence_against_civilians \
  --occurred-at 2026-03-03 --lat 18.44 --lon 1.41 --injured 2 --place-name Kidal)"
"${carol[@]}" bundle create --out "$work/carol.bundle"
echo "   alice is of another team: carol's report travels sealed to the server, alice cannot read it"
"${alice[@]}" bundle apply "$work/carol.bundle"
"${alice[@]}" status | grep -i parcel
if "${alice[@]}" list | grep -q "Checkpoint abuses"; then echo "alice can read carol's report" >&2; exit 1; fi
"${alice[@]}" sync
echo "   the analyst sees carol's report as hers, verified, delivered by alice:"
"${acurl[@]}" -H "Authorization: Bearer $analyst_token" "$url/v1/incidents/$checkpoint" \
  | python3 -c 'import json,sys; h=json.load(sys.stdin)["history"][0]; print("  ", {k: h.get(k) for k in ("author","verified","delivered_by")})'

echo "== what each reporter holds"
"${alice[@]}" list
"${bob[@]}" list

echo "== alice locks her store: without the passphrase it opens no more (exit 15)"
"${alice[@]}" lock
status=0
"${alice[@]}" list </dev/null >/dev/null 2>"$work/locked.err" || status=$?
echo "   outpost list on the locked store: exit $status, $(cat "$work/locked.err")"
[[ $status -eq 15 ]]
hits="$(grep -l -a "Market attack" "$work"/alice/* 2>/dev/null | wc -l || true)"
echo "   files of alice's store holding \"Market attack\" as text: $hits of $(ls "$work/alice" | wc -l)" \
  "(the server's database, which is not encrypted: $(grep -l -a "Market attack" "$db"* 2>/dev/null | wc -l || true))"
[[ $hits -eq 0 ]]

echo "== the aggregated reports, as the analyst desk reads them"
"${acurl[@]}" -H "Authorization: Bearer $analyst_token" "$url/v1/incidents" | python3 -m json.tool | head -n 60
echo "== server export (csv)"
"$server" export --db "$db" --format csv
echo "== done"
