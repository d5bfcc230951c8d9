#!/usr/bin/env bash
# Installs the system packages Outpost builds against, when they are missing.
# Safe to run again: it does nothing when everything is present.
set -euo pipefail
# chromium and chromium-driver: Tools/browser-test.sh drives the web workspace in headless Chromium.
needed=(libsqlite3-dev libcurl4-openssl-dev zlib1g-dev libsodium-dev pkg-config curl openssl chromium chromium-driver)
missing=()
for pkg in "${needed[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1; then
  echo "setup: swift is not on PATH (expected /opt/swift/usr/bin)" >&2
  exit 1
fi
