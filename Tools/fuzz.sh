#!/usr/bin/env bash
# Builds the libFuzzer targets in FuzzTesting/ and runs them: every regression input
# (FuzzTesting/Regressions/<target>/*), then each target for N seconds from its seed corpus
# (FuzzTesting/Corpora/<target>). Exits non-zero on any crash, trap, disagreement between
# decoders or broken bound, and prints the executions per target.
#
#   Tools/fuzz.sh [--seconds N]      the regressions, then each target N seconds (default 60)
#   Tools/fuzz.sh --ci               the regressions, then each target 10 seconds (for CI)
#   Tools/fuzz.sh --regressions      the regressions only
#   options: --only T1,T2            these targets only (names as in FuzzTesting/Package.swift)
#            --no-bounds             do not check the bounds of trust.md on what decoders accept
#                                    (OUTPOST_FUZZ_BOUNDS=0): traps and disagreements only
#            --debug                 a debug build (faster to build, slower to run)
#            --skip-build            use the targets already built
#
# A finding is written to FuzzTesting/.build/fuzz-artifacts/<target>/crash-…: copy it to
# FuzzTesting/Regressions/<target>/ with a name that says what it is, and commit it.
# Inputs the fuzzer finds interesting go to FuzzTesting/.build/fuzz-corpus/<target>/ (not
# committed); merge good ones into Corpora by hand.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
fuzz="$root/FuzzTesting"
targets=(
    FuzzChangeTree FuzzChangeWire FuzzChangeDifferential FuzzSyncBody FuzzBundle FuzzRecordState
    FuzzImportNDJSON FuzzImportCSV FuzzScenario
)
seconds=60
fuzzing=yes
regressions=yes
config=release
build=yes
only=""

while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) seconds="${2:?--seconds needs a number}"; shift ;;
        --ci) seconds=10 ;;
        --regressions) fuzzing=no ;;
        --only) only="${2:?--only needs target names}"; shift ;;
        --no-bounds) export OUTPOST_FUZZ_BOUNDS=0 ;;
        --debug) config=debug ;;
        --skip-build) build=no ;;
        -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "fuzz.sh: --seconds wants a whole number > 0" >&2; exit 2; }
if [[ -n "$only" ]]; then
    IFS=',' read -r -a targets <<<"$only"
fi

# Every module is instrumented for coverage and AddressSanitizer; libFuzzer itself is linked into
# the fuzz targets only (FuzzTesting/Package.swift), so the main package's build tool keeps its main.
if [[ "$build" == yes ]]; then
    echo "== building the fuzz targets ($config, -sanitize=address with libFuzzer coverage)"
    start=$SECONDS
    # ld.gold warns "Cannot export local symbol '__asan_…'" for every target: harmless, filtered.
    set +e
    swift build -c "$config" --package-path "$fuzz" \
        -Xswiftc -sanitize=address \
        -Xswiftc -sanitize-coverage=edge,indirect-calls,trace-cmp,inline-8bit-counters,pc-table \
        2>&1 | grep --line-buffered -v "Cannot export local symbol '__asan"
    status=${PIPESTATUS[0]}
    set -e
    if [[ $status -ne 0 ]]; then echo "fuzz.sh: the build failed" >&2; exit 1; fi
    echo "== built in $((SECONDS - start)) s"
fi
bin="$(swift build -c "$config" --package-path "$fuzz" --show-bin-path)"

# Short reports, no leak checks (Swift's runtime keeps caches that look like leaks), and a
# finding's own message instead of Swift's full backtrace.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:handle_abort=1}"

failures=()
summary=()
log_dir="$fuzz/.build/fuzz-logs"
mkdir -p "$log_dir"

run_regressions() {
    local target=$1 dir="$fuzz/Regressions/$1" file count=0 failed=0
    [[ -d "$dir" ]] || { summary+=("$target: no regression inputs"); return 0; }
    for file in "$dir"/*; do
        [[ -f "$file" ]] || continue
        count=$((count + 1))
        if ! "$bin/$target" -runs=1 -timeout=20 "$file" >"$log_dir/$target-regression.log" 2>&1; then
            failed=$((failed + 1))
            failures+=("$target: regression input ${file#"$root"/} fails")
            echo "-- $target: FAILS on ${file#"$root"/}:"
            grep -m3 -E "==FUZZ FINDING==|Fatal error|runtime failure|ERROR: AddressSanitizer|ERROR: libFuzzer|deadly signal" \
                "$log_dir/$target-regression.log" | sed 's/^/   /' || true
        fi
    done
    summary+=("$target: $count regression inputs, $failed failing")
}

fuzz_target() {
    local target=$1 corpus="$fuzz/.build/fuzz-corpus/$1" artifacts="$fuzz/.build/fuzz-artifacts/$1/"
    local log="$log_dir/$target.log" status=0
    mkdir -p "$corpus" "$artifacts"
    echo "== $target: fuzzing for $seconds s"
    "$bin/$target" "$corpus" "$fuzz/Corpora/$target" \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts" >"$log" 2>&1 || status=$?
    local runs
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")"
    if [[ $status -ne 0 ]]; then
        local artifact
        artifact="$(grep -o "Test unit written to .*" "$log" | sed 's/Test unit written to //' | tail -1)"
        failures+=("$target: crash after $runs executions: ${artifact:-see $log}")
        summary+=("$target: $runs executions, CRASH")
        echo "-- $target: CRASH after $runs executions; input: ${artifact:-?}; log: $log"
        grep -m3 -E "==FUZZ FINDING==|Fatal error|runtime failure|ERROR: AddressSanitizer|ERROR: libFuzzer|deadly signal" "$log" | sed 's/^/   /' || true
    else
        summary+=("$target: $runs executions in $seconds s, no crash")
        echo "-- $target: $runs executions, no crash"
    fi
}

for target in "${targets[@]}"; do
    [[ -x "$bin/$target" ]] || { echo "fuzz.sh: no target $target in $bin" >&2; exit 2; }
done
if [[ "$regressions" == yes ]]; then
    echo "== regression inputs"
    for target in "${targets[@]}"; do run_regressions "$target"; done
fi
if [[ "$fuzzing" == yes ]]; then
    for target in "${targets[@]}"; do fuzz_target "$target"; done
fi

echo "== summary (bounds checks ${OUTPOST_FUZZ_BOUNDS:-1})"
printf '   %s\n' "${summary[@]}"
if [[ ${#failures[@]} -gt 0 ]]; then
    echo "== FAILED: ${#failures[@]} finding(s)"
    printf '   %s\n' "${failures[@]}"
    exit 1
fi
echo "== fuzzing passed"
