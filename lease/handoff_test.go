package lease_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/leasetest"
	"github.com/shoal-go/shoal/lease/memlease"
)

// A holder that releases at the very instant its HandoffTimeout passes hands the lease over
// cleanly: whichever of its own Release and the coordinator's forced handoff goes first, exactly
// one completes the handoff, and the lease is reported released, never lost. (Before the fix the
// two raced: the forced path cancelled the claim with ErrLeaseLost under the holder's feet and
// the clean handoff was reported through Hooks.LeaseLost.)
func TestReleaseAtHandoffTimeoutIsNotALoss(t *testing.T) {
	const ht = 2 * time.Second
	for i := range 20 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := memlease.New()
				createLeases(t, mem, lease.Lease{Key: "k0"}, lease.Lease{Key: "k1"})
				var mu sync.Mutex
				var lost, released []string
				hooks := lease.Hooks{
					LeaseLost:     func(key string, cause error) { mu.Lock(); lost = append(lost, key); mu.Unlock() },
					LeaseReleased: func(key string) { mu.Lock(); released = append(released, key); mu.Unlock() },
				}
				a := startSingle(t, lease.Config{Store: mem, WorkerID: "a", HandoffTimeout: ht, Hooks: hooks})
				held := []*lease.Claim{recv(t, a.claims, 10*time.Second), recv(t, a.claims, 10*time.Second)}
				var wg sync.WaitGroup
				for _, cl := range held {
					wg.Go(func() {
						select {
						case <-cl.Stopping():
						case <-time.After(30 * time.Second):
							return
						}
						time.Sleep(ht) // releases exactly at the deadline
						cl.Release(context.Background())
					})
				}
				b := startSingle(t, lease.Config{Store: mem, WorkerID: "b"})
				recv(t, b.claims, 20*time.Second)
				wg.Wait()
				time.Sleep(2 * time.Second)
				mu.Lock()
				defer mu.Unlock()
				if len(lost) != 0 || len(released) != 1 {
					t.Fatalf("released %v, lost %v; want one release and no loss", released, lost)
				}
			})
		})
	}
}

// A hard stop (Run's ctx cancelled) while the coordinator forces a handoff whose store calls hang
// returns at once, not after a lease duration. (Before the fix force used
// context.Background() with a LeaseDuration timeout.)
func TestHardStopDuringForcedHandoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memlease.New()
		createLeases(t, mem, lease.Lease{Key: "k0"}, lease.Lease{Key: "k1"})
		fa := leasetest.NewFaulty(mem)
		a := startSingle(t, lease.Config{Store: fa, WorkerID: "a", HandoffTimeout: 2 * time.Second, LeaseDuration: 10 * time.Second})
		held := []*lease.Claim{recv(t, a.claims, 10*time.Second), recv(t, a.claims, 10*time.Second)}
		b := startSingle(t, lease.Config{Store: mem, WorkerID: "b"})
		var stopping *lease.Claim
		for stopping == nil {
			for _, cl := range held {
				select {
				case <-cl.Stopping():
					stopping = cl
				default:
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		hang := make(chan struct{})
		defer close(hang)
		fa.Set(leasetest.Rule{Op: "Get", Block: hang}, leasetest.Rule{Op: "CompleteHandoff", Block: hang})
		<-stopping.Context().Done() // forced: the coordinator is now in its forced handoff
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		a.cancel()
		err := <-a.done
		a.done <- err // for the cleanup
		if took := time.Since(start); took > 100*time.Millisecond {
			t.Errorf("Run returned %v after the hard stop, want at once", took)
		}
		if !errors.Is(context.Cause(stopping.Context()), lease.ErrLeaseLost) {
			t.Errorf("cause %v", context.Cause(stopping.Context()))
		}
		for _, cl := range held {
			cl.Release(context.Background())
		}
		_ = b
	})
}
