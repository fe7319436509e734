package conformance

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestMain prints which targets run and which are skipped before any test, so a partial run is
// visible even in a quiet `go test` summary.
func TestMain(m *testing.M) {
	run, skipped := plan(os.Getenv)
	line := "conformance: targets: " + strings.Join(run, ", ")
	if len(skipped) > 0 {
		line += "; SKIPPED: " + strings.Join(skipped, ", ")
		if os.Getenv(requireEmulatorsEnv) == "1" {
			line += " (" + requireEmulatorsEnv + "=1: they will fail)"
		} else {
			line += " (start them: bash test/emulators/start.sh; . test/emulators/.run/env)"
		}
	}
	fmt.Fprintln(os.Stderr, line)
	os.Exit(m.Run())
}

// TestKinesis runs every Kinesis case on kinesislocal (in-process, and a smoke subset over a
// loopback socket), kinesalite and kinesis-local.
func TestKinesis(t *testing.T) {
	targets := openTargets(t, "kinesis")
	runCases(t, targets, kinesisCases())
	checkDeviationsConsulted(t, targets)
}

// TestDynamoDB runs every DynamoDB case on kinesislocal (in-process, and a smoke subset over a
// loopback socket) and dynalite.
func TestDynamoDB(t *testing.T) {
	targets := openTargets(t, "dynamodb")
	runCases(t, targets, dynamoCases())
	checkDeviationsConsulted(t, targets)
}
