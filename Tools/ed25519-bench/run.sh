#!/usr/bin/env bash
# Ed25519: swift-crypto beside libsodium (issue 12). Builds Tools/ed25519-bench in release mode
# (its own .build, away from the main package) and runs it. Needs libsodium-dev (Tools/setup.sh).
#   Tools/ed25519-bench/run.sh [RUNS] [--instructions]
# RUNS runs of the timed benchmark (default 1). --instructions adds valgrind's instruction count
# per operation ((count at N=200 - count at N=0) / 200), which does not depend on machine load.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
runs=1
instructions=0
for arg in "$@"; do
  case "$arg" in
    --instructions) instructions=1 ;;
    *) runs="$arg" ;;
  esac
done
swift build -c release --package-path "$here" >&2
bin="$(swift build -c release --package-path "$here" --show-bin-path)/ed25519-bench"
for ((run = 1; run <= runs; run++)); do
  echo "== run $run, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$bin"
done
if ((instructions)); then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # valgrind 3.19 cannot read the Swift debug info: count a copy without it.
  strip --strip-debug -o "$work/bench" "$bin"
  count() {
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$work/bench" count "$1" "$2" 2>&1 |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
  }
  echo "instructions per operation (valgrind callgrind):"
  for op in "swift-crypto sign" "libsodium sign" "swift-crypto verify" "swift-crypto verify, key parsed" "libsodium verify"; do
    base="$(count "$op" 0)"
    full="$(count "$op" 200)"
    printf '  %-32s %10d\n' "$op" $(((full - base) / 200))
  done
fi
