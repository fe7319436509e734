package lease_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/leasetest"
	"github.com/shoal-go/shoal/lease/memlease"
)

// SafetyMargin covers clock-rate drift: owner a's clock runs slow and observer b's fast (and
// their offsets differ). a's store calls hang, so its heartbeats stop; a must have fenced itself
// (real time, the one synctest clock) before b acquires the lease. With the defaults
// (LeaseDuration 3 s, SafetyMargin 400 ms) that holds while 2.6/(1-d) < 3/(1+d), i.e. for a
// relative drift d below about 7%; at 20% the owner is still processing when the observer takes
// over, which shows the margin is what protects the lease (and that this test can fail).
func TestClockSkewSafetyMargin(t *testing.T) {
	for _, tt := range []struct {
		drift    float64
		overlaps bool
	}{{0, false}, {0.05, false}, {0.2, true}} {
		synctest.Test(t, func(t *testing.T) {
			mem := memlease.New()
			createLeases(t, mem, lease.Lease{Key: "k"})
			fa := leasetest.NewFaulty(mem)
			a := startSingle(t, lease.WithClock(lease.Config{Store: fa, WorkerID: "a"}, 1-tt.drift, -time.Hour))
			cl := recv(t, a.claims, 10*time.Second)
			time.Sleep(1500 * time.Millisecond)
			hang := make(chan struct{})
			defer close(hang)
			fa.Set(leasetest.Rule{Block: hang})
			b := startSingle(t, lease.WithClock(lease.Config{Store: mem, WorkerID: "b"}, 1+tt.drift, 37*time.Minute))
			var fenced, taken time.Time
			for fenced.IsZero() || taken.IsZero() {
				select {
				case <-cl.Context().Done():
					if fenced.IsZero() {
						fenced = time.Now()
					}
				case <-b.claims:
					taken = time.Now()
				case <-time.After(30 * time.Second):
					t.Fatalf("drift %v: fenced %v taken %v", tt.drift, fenced, taken)
				}
				if !fenced.IsZero() && taken.IsZero() {
					select {
					case <-b.claims:
						taken = time.Now()
					case <-time.After(30 * time.Second):
						t.Fatal("never taken over")
					}
				}
			}
			t.Logf("drift %.0f%%: owner fenced %v before the observer took the lease", tt.drift*100, taken.Sub(fenced))
			if got := taken.Before(fenced); got != tt.overlaps {
				t.Errorf("drift %.0f%%: taken before the fence = %v, want %v (fenced %v, taken %v)", tt.drift*100, got, tt.overlaps, fenced, taken)
			}
			cl.Release(context.Background())
		})
	}
}
