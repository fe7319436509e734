package lease_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/memlease"
)

// Items that are not valid leases are skipped and reported once each (hook, Stats); every valid
// lease is taken; a child whose parent is unreadable waits (the parent may be unfinished).
func TestInvalidItemsSkippedAndReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memlease.New()
		createLeases(t, mem, lease.Lease{Key: "s0"}, lease.Lease{Key: "s1"},
			lease.Lease{Key: "child", ParentShardIDs: []string{"bad-parent"}})
		mem.PutInvalid(lease.InvalidItem{Key: "junk", Attribute: "leaseCounter", Problem: "missing"})
		mem.PutInvalid(lease.InvalidItem{Key: "bad-parent", Attribute: "checkpoint", Problem: `got "x"`})
		var mu sync.Mutex
		reported := map[string]int{}
		a := startSingle(t, lease.Config{Store: mem, WorkerID: "a", Hooks: lease.Hooks{InvalidItem: func(it lease.InvalidItem) {
			mu.Lock()
			reported[it.Key]++
			mu.Unlock()
		}}})
		got := map[string]bool{}
		for range 2 {
			got[recv(t, a.claims, 10*time.Second).Key()] = true
		}
		if !got["s0"] || !got["s1"] {
			t.Fatalf("claims %v, want s0 and s1", got)
		}
		time.Sleep(20 * time.Second) // several scans
		select {
		case cl := <-a.claims:
			t.Fatalf("claimed %s: a child of an unreadable parent, or an invalid item", cl.Key())
		default:
		}
		mu.Lock()
		defer mu.Unlock()
		if reported["junk"] != 1 || reported["bad-parent"] != 1 || len(reported) != 2 {
			t.Errorf("InvalidItem hook calls %v, want junk and bad-parent once each", reported)
		}
		if s := a.co.Stats(); s.Invalid != 2 || s.Leases != 3 || s.Held != 2 {
			t.Errorf("stats %+v, want Invalid 2, Leases 3, Held 2", s)
		}
	})
}
