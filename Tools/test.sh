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
