package lease_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/leasetest"
)

// Defaults: HeartbeatInterval 1s, LeaseDuration 3s, SafetyMargin 400ms, worker scan 1s.
var defaults = lease.Config{}

func TestFleetJoinConverges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, 20)
		t.Cleanup(f.stopAll)
		f.start("a")
		f.waitUntil(10*time.Second, "a takes everything", func() bool { return f.held()["a"] == 20 })
		f.start("b")
		took := f.waitUntil(30*time.Second, "balance after b joins", func() bool { return f.balanced(20) })
		t.Logf("1 -> 2 workers, 20 leases: balanced in %v", took)
		if took > 5*time.Second {
			t.Errorf("rebalance took %v, want <= 5s (one worker scan + handoffs)", took)
		}
		f.start("c")
		f.start("d")
		took = f.waitUntil(30*time.Second, "balance after c, d join", func() bool { return f.balanced(20) })
		t.Logf("2 -> 4 workers: balanced in %v", took)
		// Stays balanced: no oscillation.
		time.Sleep(20 * time.Second)
		if !f.balanced(20) {
			t.Fatalf("not balanced 20s later: %v", f.held())
		}
	})
}

func TestFleetCrashFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, 12)
		t.Cleanup(f.stopAll)
		for _, id := range []string{"a", "b", "c"} {
			f.start(id)
		}
		f.waitUntil(30*time.Second, "initial balance", func() bool { return f.balanced(12) })
		time.Sleep(2 * time.Second)
		f.crash("a")
		took := f.waitUntil(20*time.Second, "a's leases taken", func() bool { return f.balanced(12) })
		t.Logf("crash failover: %v", took)
		// LeaseDuration (3s) + one worker scan (1s) + the read/plan latency.
		if took > lease.DefaultLeaseDuration+lease.DefaultWorkerScanInterval+500*time.Millisecond {
			t.Errorf("failover took %v, want <= LeaseDuration + one scan", took)
		}
	})
}

func TestFleetGracefulShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, 12)
		t.Cleanup(f.stopAll)
		for _, id := range []string{"a", "b", "c"} {
			f.start(id)
		}
		f.waitUntil(30*time.Second, "initial balance", func() bool { return f.balanced(12) })
		time.Sleep(time.Second)
		start := time.Now()
		f.shutdown("a", false)
		stopped := time.Since(start)
		took := f.waitUntil(10*time.Second, "a's leases taken", func() bool { return f.balanced(12) })
		t.Logf("graceful shutdown: Shutdown returned in %v, leases held elsewhere %v later", stopped, took)
		if stopped+took > 1500*time.Millisecond {
			t.Errorf("graceful handover took %v, want <= 1.5s", stopped+took)
		}
		// The final checkpoints were kept: fleet.acquired checks each new claim starts from the
		// last successful checkpoint.
	})
}

// A worker whose heartbeats stall longer than the lease duration fences itself before anyone
// takes its leases; when the stall ends it rejoins and the fleet rebalances.
func TestFleetPausedWorkerSelfFences(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, 12)
		t.Cleanup(f.stopAll)
		for _, id := range []string{"a", "b", "c"} {
			f.start(id)
		}
		f.waitUntil(30*time.Second, "initial balance", func() bool { return f.balanced(12) })
		stop := make(chan struct{})
		f.members["a"].faulty.Set(leasetest.Rule{Op: "Heartbeat", Block: stop})
		// Sample the invariant densely while a's leases move.
		sampleUntil := time.Now().Add(8 * time.Second)
		for time.Now().Before(sampleUntil) {
			for i := range 12 {
				key := keyOf(i)
				if v := f.othersValid("", key); len(v) > 1 {
					t.Fatalf("%s validly held by %v at once", key, v)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := f.held()["a"]; n != 0 {
			t.Fatalf("paused worker still holds %d valid claims", n)
		}
		if h := f.held(); h["b"]+h["c"] != 12 || h["b"] != 6 {
			t.Fatalf("survivors did not take over: %v", h)
		}
		close(stop)
		f.members["a"].faulty.Set()
		took := f.waitUntil(30*time.Second, "rebalance after a resumes", func() bool {
			return f.balanced(12) && f.held()["a"] == 4
		})
		t.Logf("paused worker back in balance %v after resuming", took)
	})
}

// DynamoDB throttles every call of every worker for longer than the lease duration: everyone
// fences, nobody takes anything from anybody, no checkpoint is lost, and the fleet recovers.
func TestFleetThrottlingLongerThanLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, 12)
		t.Cleanup(f.stopAll)
		for _, id := range []string{"a", "b", "c"} {
			f.start(id)
		}
		f.waitUntil(30*time.Second, "initial balance", func() bool { return f.balanced(12) })
		time.Sleep(time.Second)
		before := f.owners()
		for _, m := range f.members {
			m.faulty.Set(leasetest.Rule{Err: leasetest.ErrThrottle, Delay: 50 * time.Millisecond})
		}
		time.Sleep(2 * lease.DefaultLeaseDuration)
		if h := f.held(); h["a"]+h["b"]+h["c"] != 0 {
			t.Fatalf("claims still valid after %v of throttling: %v", 2*lease.DefaultLeaseDuration, h)
		}
		if after := f.owners(); !mapsEqual(before, after) {
			t.Fatalf("ownership changed during throttling: %v -> %v", before, after)
		}
		for _, m := range f.members {
			m.faulty.Set()
		}
		took := f.waitUntil(30*time.Second, "recovery", func() bool { return f.balanced(12) })
		t.Logf("recovered %v after throttling ended", took)
		if after := f.owners(); !mapsEqual(before, after) {
			t.Errorf("leases moved although every worker stayed alive: %v -> %v", before, after)
		}
	})
}

func keyOf(i int) string {
	return "shardId-" + pad12(i)
}

func pad12(i int) string {
	s := "000000000000" + itoa(i)
	return s[len(s)-12:]
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
