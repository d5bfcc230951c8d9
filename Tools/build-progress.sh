#!/usr/bin/env bash
# Runs a build command (e.g. `swift build --build-tests`) and shows its progress without flooding
# a CI log: one line per tenth of the compile steps or per minute, a heartbeat after 30 s of
# silence (linking, a big file), and every other line (warnings, errors, "Build complete!") as is,
# except dependencies' "found N file(s) which are unhandled" packaging warnings.
# Exits with the build's status.
#   Tools/build-progress.sh swift build --build-tests
set -uo pipefail
(($# > 0)) || { echo "usage: $0 COMMAND [ARGUMENTS…]" >&2; exit 2; }
start=$SECONDS
"$@" 2>&1 | {
  shown_at=$SECONDS
  shown_percent=-100
  step=""
  while true; do
    if IFS= read -r -t 30 line; then
      if [[ $line =~ ^\[([0-9]+)/([0-9]+)\] ]]; then
        done_steps=${BASH_REMATCH[1]}
        all_steps=${BASH_REMATCH[2]}
        step="$done_steps/$all_steps"
        percent=$((done_steps * 100 / all_steps))
        # The step count grows while SwiftPM plans, so the percentage can fall back: a line per
        # tenth gained, else one a minute.
        if ((percent - shown_percent >= 10 || SECONDS - shown_at >= 60)); then
          printf '   build: step %s (%d%%), %d s\n' "$step" "$percent" $((SECONDS - start))
          shown_percent=$percent
          shown_at=$SECONDS
        fi
      elif [[ $line =~ ^warning:\ \'[^\']+\':\ found\ [0-9]+\ file\(s\)\ which\ are\ unhandled ]]; then
        # A dependency's packaging warning (its CMakeLists.txt files), not ours: dropped with
        # the paths listed under it.
        in_unhandled=true
      elif ${in_unhandled:-false} && [[ $line == "    /"*"/.build/checkouts/"* ]]; then
        continue
      else
        in_unhandled=false
        printf '%s\n' "$line"
      fi
    elif (($? > 128)); then
      printf '   build: still working after %d s%s\n' $((SECONDS - start)) "${step:+ (last step $step)}"
      shown_at=$SECONDS
    else
      break
    fi
  done
}
exit "${PIPESTATUS[0]}"
