package leasebench

import (
	"context"
	"testing"
	"time"
)

// TestScenariosSmoke runs each scenario once, small, so the benchmark harness cannot rot: the
// moved shards are all measured, nothing is lost, a graceful handoff duplicates nothing.
func TestScenariosSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("!!! leasebench smoke test skipped under -short (it runs ~20 s of real time)")
	}
	ctx := context.Background()
	crash, err := Failover(ctx, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(crash.Gaps) != 4 || crash.Lost != 0 {
		t.Fatalf("crash: %d gaps (want 4), %d lost", len(crash.Gaps), crash.Lost)
	}
	grace, err := Failover(ctx, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(grace.Gaps) != 4 || grace.Lost != 0 {
		t.Fatalf("graceful: %d gaps, %d lost", len(grace.Gaps), grace.Lost)
	}
	// A graceful handoff duplicates nothing. A lease lost meanwhile (a worker that fenced itself
	// because the machine stalled past its heartbeat deadline) is restarted from its last
	// checkpoint, which repeats records by design (at least once): then duplicates prove nothing.
	switch {
	case grace.Duplicates != 0 && grace.LeasesLost == 0:
		t.Fatalf("graceful: %d duplicates without any lease lost", grace.Duplicates)
	case grace.LeasesLost != 0:
		t.Logf("!!! graceful: %d leases lost (self-fence: the machine stalled), so %d duplicates are not checked", grace.LeasesLost, grace.Duplicates)
	}
	cost, err := LeaseCost(ctx, 8, 2, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if cost.WritesPerWorkerPerMinute <= 0 {
		t.Fatalf("no heartbeats counted: %+v", cost)
	}
	t.Logf("crash p50 %v (%d leases lost), graceful p50 %v (%d leases lost, %d duplicates), cost %+v", Percentile(crash.Gaps, 50), crash.LeasesLost, Percentile(grace.Gaps, 50), grace.LeasesLost, grace.Duplicates, cost)
}
