// Package synctestrace lets a package's tests use testing/synctest under the race detector
// without crashing the test binary.
//
// The crash (seen with Go 1.26.8, `go test -race`, on a loaded 2-core machine): SIGSEGV inside
// the race runtime (__tsan::SlotLock, null ThreadState) from runtime.(*timer).maybeRunChan in a
// select on a timer or ticker channel inside a bubble. The runtime runs an expired bubble timer
// on the goroutine that touches its channel, with the race context of the bubble's timers
// (bubble.timers.raceCtx, one per bubble, see runtime/time.go unlockAndRun). Two goroutines of
// one bubble on two threads can do that at once, so one race-detector thread state is used by
// two OS threads at the same time, which it does not allow. With one P only one thread runs Go
// code at a time, so the shared context is never used concurrently.
//
// Main therefore sets GOMAXPROCS to 1 in race-enabled test binaries. Race detection is not
// weakened: the detector judges happens-before from vector clocks, not from what ran in
// parallel, and goroutines are still preempted and interleaved. Builds without -race are
// unchanged.
package synctestrace

import (
	"os"
	"runtime"
	"testing"
)

// Main runs m, with GOMAXPROCS 1 when the race detector is on (see the package comment), and
// exits with its result. Call it from a package's TestMain.
func Main(m *testing.M) {
	if raceEnabled {
		runtime.GOMAXPROCS(1)
	}
	os.Exit(m.Run())
}
