#!/usr/bin/env bash
# The test command: installs missing system packages, then builds and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/setup.sh
export PATH="/opt/swift/usr/bin:$PATH"
echo "== building (debug, with tests)"
# Compiler progress lines are dropped; errors and warnings still show, and a failed build fails here.
swift build --build-tests 2>&1 | { grep -v -E '^\[[0-9]+/[0-9]+\]' || true; }
echo "== running the tests"
swift test --skip-build 2>&1
