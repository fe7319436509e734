#!/usr/bin/env bash
# Runs every test: installs what the tests need (Go modules; kinesalite, kinesis-local and dynalite
# from npm, pinned by test/emulators/package-lock.json; the AWS clients of test/clients/install.sh),
# starts the emulators on loopback, runs go vet and go test -race over the whole module, and stops
# the emulators by PID.
#
# Every step runs even when an earlier one failed (a failed vet must not hide the test results);
# a summary at the end lists each step's result and duration, and the script exits non-zero if any
# step failed. Arguments are passed to the main `go test` (e.g. ./test.sh -run TestX).
# The emulators' ports and run directory follow test/emulators/start.sh's environment
# (KINESALITE_PORT, DYNALITE_PORT, KINESIS_LOCAL_PORT, KINESIS_LOCAL_TLS_PORT, HARNESS_RUN_DIR).
set -uo pipefail
cd "$(dirname "$0")"

names=()
results=()
failed=0

# step NAME CMD...: runs CMD, records pass/fail and the wall time.
step() {
  local name="$1"
  shift
  echo "== $name"
  local t0=$SECONDS rc=0
  "$@" || rc=$?
  local took=$((SECONDS - t0))
  names+=("$name")
  if [[ $rc -eq 0 ]]; then
    results+=("pass  ${took}s")
  else
    results+=("FAIL  ${took}s (exit $rc)")
    failed=1
  fi
  return 0
}

summary() {
  echo
  echo "== summary"
  local i
  for i in "${!names[@]}"; do
    printf '  %-32s %s\n' "${names[$i]}" "${results[$i]}"
  done
  if [[ $failed -ne 0 ]]; then
    echo "== FAILED"
  else
    echo "== all steps passed"
  fi
}

modules() { go mod download && go mod verify >/dev/null; }
step "go modules" modules
step "go vet" go vet ./...

RUN_DIR="${HARNESS_RUN_DIR:-test/emulators/.run}"
emulators() {
  bash test/emulators/start.sh || return 1
  set -a
  # shellcheck disable=SC1091
  . "$RUN_DIR/env" || return 1
  set +a
}
trap 'bash test/emulators/stop.sh' EXIT
step "third-party emulators (npm)" emulators
# Tests that need an emulator fail (not skip) when its endpoint is missing.
export SHOAL_REQUIRE_EMULATORS=1

# AWS clients nobody here wrote, run at their defaults against `shoal local` (cmd/shoal
# clients_test.go): the Node AWS SDK v3 (npm ci, pinned), boto3 and the AWS CLI (Debian packages).
step "AWS clients (npm, apt)" bash test/clients/install.sh

step "go test -race" go test -race -count=1 -timeout 45m "$@" ./...

# The peer-comparison module (a8m/kinesis-producer) has its own go.mod so the core module never
# depends on it; its tests show the peer's partition-key bug against ours.
peers() { (cd bench/peers && go vet ./... && go test -race -count=1 -timeout 10m ./...); }
step "bench/peers (separate module)" peers
# The lease baseline against vmware-go-kcl-v2 (separate module): the adapters' smoke test here;
# the 4-minute comparison itself is `cd bench/kclpeers && go test -run TestBaseline -v .`.
kclpeers() { (cd bench/kclpeers && go vet ./... && go test -race -count=1 -timeout 10m -run TestAdaptersSmoke ./...); }
step "bench/kclpeers (separate module)" kclpeers

summary
exit $failed
