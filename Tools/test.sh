#!/usr/bin/env bash
# The test command: installs missing system packages, then builds and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/setup.sh
export PATH="/opt/swift/usr/bin:$PATH"
swift build --build-tests 2>&1 | grep -v '^\[' || true
swift test --skip-build --parallel 2>&1
