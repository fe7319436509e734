#!/usr/bin/env bash
# Starts the third-party emulators the conformance suite (internal/conformance) runs against,
# bound to 127.0.0.1 only: kinesalite (Kinesis), kinesis-local (Kinesis, kinesis-mock) and dynalite
# (DynamoDB), all pinned by package-lock.json. Needs only node and npm. Installs them with `npm ci`
# when node_modules is missing or the lock file changed, starts them, waits until each answers,
# then writes:
#   $HARNESS_RUN_DIR/pids   one "name pid" line per emulator (stop.sh kills exactly these)
#   $HARNESS_RUN_DIR/env    export lines: KINESALITE_ENDPOINT, KINESIS_LOCAL_ENDPOINT,
#                           KINESIS_LOCAL_TLS_ENDPOINT, DYNALITE_ENDPOINT
#   $HARNESS_RUN_DIR/*.log  each emulator's output
#
# Every emulator runs under preload scripts (node --require), never a patched node_modules:
#   loopback-only.js   binds every TCP listen to 127.0.0.1 (kinesalite and kinesis-local have no
#                      bind-address option).
#   abort-tolerant.js  (kinesalite, dynalite) both rethrow a request's 'error' event, so a client
#                      that closes its connection in the middle of a request body (an SDK call
#                      cancelled by its context) made the whole process exit with "Error: aborted"
#                      and every later test on it fail. The script drops
#                      exactly that error and logs a line per dropped request to the emulator's log;
#                      any other error still crashes it visibly. kinesis-local is not affected.
#   Test: internal/conformance TestEmulatorsSurviveAbortedRequest.
#
# Environment (defaults in brackets):
#   EMULATORS               which to start ["kinesalite kinesis-local dynalite"]
#   KINESALITE_PORT [14567]  DYNALITE_PORT [14568]
#   KINESIS_LOCAL_PORT [14569] (plain HTTP)  KINESIS_LOCAL_TLS_PORT [14570] (HTTPS, self-signed)
#   EMULATOR_DELAY_MS [50]  how long CREATING/UPDATING/DELETING states last
#   EMULATOR_SHARD_LIMIT [1000]  open-shard limit (kinesalite's own default is 10)
#   HARNESS_RUN_DIR [test/emulators/.run]  HARNESS_WAIT_S [60]  readiness timeout per emulator
set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="${HARNESS_RUN_DIR:-$DIR/.run}"
EMULATORS="${EMULATORS:-kinesalite kinesis-local dynalite}"
KINESALITE_PORT="${KINESALITE_PORT:-14567}"
DYNALITE_PORT="${DYNALITE_PORT:-14568}"
KINESIS_LOCAL_PORT="${KINESIS_LOCAL_PORT:-14569}"
KINESIS_LOCAL_TLS_PORT="${KINESIS_LOCAL_TLS_PORT:-14570}"
DELAY_MS="${EMULATOR_DELAY_MS:-50}"
SHARD_LIMIT="${EMULATOR_SHARD_LIMIT:-1000}"
WAIT_S="${HARNESS_WAIT_S:-60}"

die() { echo "emulators: $*" >&2; exit 1; }

command -v node >/dev/null || die "node is not installed (need Node 18+ and npm)"
command -v npm >/dev/null || die "npm is not installed"
for e in $EMULATORS; do
  case "$e" in kinesalite|kinesis-local|dynalite) ;; *) die "unknown emulator '$e' in EMULATORS (kinesalite, kinesis-local, dynalite)";; esac
done

mkdir -p "$RUN"
if [[ -s "$RUN/pids" ]]; then
  while read -r name pid; do
    # Only a live process that is still this directory's emulator counts (PIDs get recycled).
    cl="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || ps -p "$pid" -o args= 2>/dev/null || true)"
    if [[ "$cl" == *"$DIR/node_modules/"* ]]; then
      die "$name (pid $pid) from an earlier start is still running; run $DIR/stop.sh first, or use another HARNESS_RUN_DIR and other ports"
    fi
  done <"$RUN/pids"
fi
rm -f "$RUN/pids" "$RUN/env"

# Install (or reinstall) the pinned packages when node_modules is missing or the lock changed.
lock_hash() {
  node -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync(process.argv[1])).digest("hex"))' "$DIR/package-lock.json"
}
stamp="$DIR/node_modules/.shoal-lock-sha256"
want="$(lock_hash)"
if [[ ! -d "$DIR/node_modules" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "emulators: npm ci (pinned by package-lock.json)"
  (cd "$DIR" && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error </dev/null) || die "npm ci failed in $DIR"
  printf '%s' "$want" >"$stamp"
fi

# Refuse ports that are taken: another server answering there would pass the readiness check.
ports=()
for e in $EMULATORS; do
  case "$e" in
    kinesalite) ports+=("$KINESALITE_PORT") ;;
    dynalite) ports+=("$DYNALITE_PORT") ;;
    kinesis-local) ports+=("$KINESIS_LOCAL_PORT" "$KINESIS_LOCAL_TLS_PORT") ;;
  esac
done
node -e '
const net = require("net")
const busy = []
let left = process.argv.length - 1
for (const port of process.argv.slice(1)) {
  const s = net.createServer()
  s.once("error", () => { busy.push(port); if (--left === 0) done() })
  s.listen(Number(port), "127.0.0.1", () => s.close(() => { if (--left === 0) done() }))
}
function done () {
  if (busy.length) { console.error("emulators: port(s) already in use on 127.0.0.1: " + busy.join(" ")); process.exit(1) }
}' "${ports[@]}" || die "free those ports or choose others (KINESALITE_PORT, DYNALITE_PORT, KINESIS_LOCAL_PORT, KINESIS_LOCAL_TLS_PORT)"

started=()   # "name pid" of everything this run started, for cleanup on failure
cleanup_on_failure() {
  for entry in "${started[@]}"; do
    kill "${entry#* }" 2>/dev/null || true
  done
}
trap 'cleanup_on_failure' ERR

# start NAME CMD...: runs CMD in the background (stdin closed, output to $RUN/NAME.log) and records
# its pid in $pid.
start() {
  local name="$1"; shift
  "$@" </dev/null >"$RUN/$name.log" 2>&1 &
  pid=$!
  started+=("$name $pid")
}

# wait_ready NAME PID URL TARGET: waits until URL answers; on failure prints the log and exits.
wait_ready() {
  local name="$1" pid="$2" url="$3" target="$4"
  if ! node "$DIR/wait-ready.js" "$pid" "$WAIT_S" "$url" "$target"; then
    echo "emulators: $name did not become ready; its log ($RUN/$name.log):" >&2
    sed 's/^/  | /' "$RUN/$name.log" >&2 || true
    cleanup_on_failure
    exit 1
  fi
}

env_lines=()
pending=()  # "name pid url target"
for e in $EMULATORS; do
  case "$e" in
    kinesalite)
      start kinesalite node --require "$DIR/loopback-only.js" --require "$DIR/abort-tolerant.js" "$DIR/node_modules/kinesalite/cli.js" \
        --port "$KINESALITE_PORT" --shardLimit "$SHARD_LIMIT" \
        --createStreamMs "$DELAY_MS" --deleteStreamMs "$DELAY_MS" --updateStreamMs "$DELAY_MS"
      pending+=("kinesalite $pid http://127.0.0.1:$KINESALITE_PORT Kinesis_20131202.ListStreams")
      env_lines+=("export KINESALITE_ENDPOINT=http://127.0.0.1:$KINESALITE_PORT")
      ;;
    dynalite)
      start dynalite node --require "$DIR/loopback-only.js" --require "$DIR/abort-tolerant.js" "$DIR/node_modules/dynalite/cli.js" \
        --host 127.0.0.1 --port "$DYNALITE_PORT" \
        --createTableMs "$DELAY_MS" --deleteTableMs "$DELAY_MS" --updateTableMs "$DELAY_MS"
      pending+=("dynalite $pid http://127.0.0.1:$DYNALITE_PORT DynamoDB_20120810.ListTables")
      env_lines+=("export DYNALITE_ENDPOINT=http://127.0.0.1:$DYNALITE_PORT")
      ;;
    kinesis-local)
      d="${DELAY_MS}ms"
      # The cert path must be absolute: its default, "server.json", is resolved against the CWD.
      start kinesis-local env \
        KINESIS_MOCK_PLAIN_PORT="$KINESIS_LOCAL_PORT" KINESIS_MOCK_TLS_PORT="$KINESIS_LOCAL_TLS_PORT" \
        KINESIS_MOCK_CERT_PATH="$DIR/node_modules/kinesis-local/server.json" \
        CREATE_STREAM_DURATION="$d" DELETE_STREAM_DURATION="$d" \
        REGISTER_STREAM_CONSUMER_DURATION="$d" DEREGISTER_STREAM_CONSUMER_DURATION="$d" \
        SPLIT_SHARD_DURATION="$d" MERGE_SHARDS_DURATION="$d" UPDATE_SHARD_COUNT_DURATION="$d" \
        UPDATE_STREAM_MODE_DURATION="$d" START_STREAM_ENCRYPTION_DURATION="$d" STOP_STREAM_ENCRYPTION_DURATION="$d" \
        SHARD_LIMIT="$SHARD_LIMIT" LOG_LEVEL=WARN \
        node --require "$DIR/loopback-only.js" "$DIR/node_modules/kinesis-local/main.js"
      pending+=("kinesis-local $pid http://127.0.0.1:$KINESIS_LOCAL_PORT Kinesis_20131202.ListStreams")
      env_lines+=("export KINESIS_LOCAL_ENDPOINT=http://127.0.0.1:$KINESIS_LOCAL_PORT"
        "export KINESIS_LOCAL_TLS_ENDPOINT=https://127.0.0.1:$KINESIS_LOCAL_TLS_PORT")
      ;;
  esac
done

for p in "${pending[@]}"; do
  read -r name pid url target <<<"$p"
  wait_ready "$name" "$pid" "$url" "$target"
done

printf '%s\n' "${started[@]}" >"$RUN/pids"
printf '%s\n' "${env_lines[@]}" >"$RUN/env"
trap - ERR
echo "emulators: ready ($EMULATORS); endpoints in $RUN/env, pids in $RUN/pids"
sed 's/^export /  /' "$RUN/env"
