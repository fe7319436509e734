// Package conformance holds an integration suite for the Kinesis and DynamoDB APIs that runs the
// same cases, through the real aws-sdk-go-v2 clients, against Shoal's own server (kinesislocal,
// in-process and over a loopback socket) and against third-party emulators we did not write:
// kinesalite and kinesis-local (Kinesis) and dynalite (DynamoDB), started by
// test/emulators/start.sh.
//
// Every known difference between a target and AWS is declared once, in the deviations table of
// the tests, and each case asserts that the declared deviation really happens, so the table (and
// docs/emulator-differences.md, generated from it) stays true. A target whose endpoint variable is
// unset is skipped loudly, or fails the run when SHOAL_REQUIRE_EMULATORS=1.
//
// The package has no non-test code; run it with
//
//	bash test/emulators/start.sh && set -a && . test/emulators/.run/env && set +a
//	go test -race ./internal/conformance/
//	bash test/emulators/stop.sh
package conformance
