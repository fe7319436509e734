#!/usr/bin/env bash
# Runs every test: installs what the tests need (Go modules; kinesalite, kinesis-local and dynalite
# from npm, pinned by test/emulators/package-lock.json; the AWS clients of test/clients/install.sh),
# starts the emulators on loopback, runs go vet and go test -race over the whole module, and stops
# the emulators by PID.
set -euo pipefail
cd "$(dirname "$0")"

echo "== go modules"
go mod download
go mod verify >/dev/null

echo "== go vet"
go vet ./...

echo "== third-party emulators (npm)"
bash test/emulators/start.sh
trap 'bash test/emulators/stop.sh' EXIT
set -a
. test/emulators/.run/env
set +a
# Tests that need an emulator fail (not skip) when its endpoint is missing.
export SHOAL_REQUIRE_EMULATORS=1

# AWS clients nobody here wrote, run at their defaults against `shoal local` (cmd/shoal
# clients_test.go): the Node AWS SDK v3 (npm ci, pinned), boto3 and the AWS CLI (Debian packages).
echo "== AWS clients (npm, apt)"
bash test/clients/install.sh

echo "== go test -race"
go test -race -count=1 -timeout 45m "$@" ./...

# The peer-comparison module (a8m/kinesis-producer) has its own go.mod so the core module never
# depends on it; its tests show the peer's partition-key bug against ours.
echo "== bench/peers (separate module)"
(cd bench/peers && go vet ./... && go test -race -count=1 -timeout 10m ./...)
# The lease baseline against vmware-go-kcl-v2 (separate module): the adapters' smoke test here;
# the 4-minute comparison itself is `cd bench/kclpeers && go test -run TestBaseline -v .`.
echo "== bench/kclpeers (separate module)"
(cd bench/kclpeers && go vet ./... && go test -race -count=1 -timeout 10m -run TestAdaptersSmoke ./...)
