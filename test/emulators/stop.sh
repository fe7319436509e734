#!/usr/bin/env bash
# Stops the emulators start.sh started: exactly the PIDs recorded in $HARNESS_RUN_DIR/pids, each
# only after checking that the process is still that emulator of this directory (its command
# line names $DIR/node_modules/<package>/...), so a recycled PID is never killed. Idempotent.
set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="${HARNESS_RUN_DIR:-$DIR/.run}"

[[ -f "$RUN/pids" ]] || { echo "emulators: nothing to stop ($RUN/pids not found)"; exit 0; }

cmdline() {
  if [[ -r "/proc/$1/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$1/cmdline"
  else
    ps -p "$1" -o args= 2>/dev/null || true
  fi
}

script_of() {
  case "$1" in
    kinesalite) echo "$DIR/node_modules/kinesalite/cli.js" ;;
    dynalite) echo "$DIR/node_modules/dynalite/cli.js" ;;
    kinesis-local) echo "$DIR/node_modules/kinesis-local/main.js" ;;
    *) echo "" ;;
  esac
}

killed=()
while read -r name pid; do
  [[ -n "${pid:-}" ]] || continue
  want="$(script_of "$name")"
  cl="$(cmdline "$pid")"
  if [[ -z "$cl" ]]; then
    echo "emulators: $name (pid $pid) already gone"
    continue
  fi
  if [[ -z "$want" || "$cl" != *node* || "$cl" != *"$want"* ]]; then
    echo "emulators: pid $pid is not $name any more ($cl); not killing it" >&2
    continue
  fi
  kill -TERM "$pid" 2>/dev/null && killed+=("$name $pid")
done <"$RUN/pids"

for entry in "${killed[@]+"${killed[@]}"}"; do
  name="${entry% *}"; pid="${entry#* }"
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "emulators: $name (pid $pid) ignored SIGTERM for 5s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  echo "emulators: stopped $name (pid $pid)"
done
rm -f "$RUN/pids" "$RUN/env"
