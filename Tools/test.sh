#!/usr/bin/env bash
# The test command: installs missing system packages, then builds and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/setup.sh
export PATH="/opt/swift/usr/bin:$PATH"
echo "== building (debug, with tests; a clean build takes 10-15 minutes on 2 cores)"
# A progress line per tenth of the steps or per minute; errors and warnings show, and a failed
# build fails here.
Tools/build-progress.sh swift build --build-tests
echo "== running the tests"
# Every test uses Swift Testing: XCTest's runner is left out (it would only print "Executed 0 tests").
swift test --skip-build --disable-xctest 2>&1
echo "== crash trials (kill -9 during import, bundle apply and sync; Tools/crash-trials.sh 200 --release for the long run)"
Tools/crash-trials.sh 12
echo "== API contract (schemathesis against Schema/openapi.yaml, bounded; Tools/api-check.sh for the long run)"
Tools/api-check.sh --max-examples 50 --seed 1
echo "== web workspace in headless Chromium (Tools/browser-test.sh; screenshots in test-artifacts/browser)"
timeout 600 Tools/browser-test.sh
echo "== fuzzing (every regression input, then each target 10 s; Tools/fuzz.sh --seconds N for the long run)"
Tools/fuzz.sh --ci
