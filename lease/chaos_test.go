package lease_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shoal-go/shoal/lease/leasetest"
)

// TestChaos runs a fleet over memlease under synctest and, for a fixed time, randomly crashes
// workers (no release), pauses them (every store call blocks, longer than the lease duration),
// shuts them down gracefully and restarts them (same id or a new one). Invariants, checked as
// events happen (fleet): no claim is delivered and no checkpoint succeeds while another worker
// holds a valid claim on the lease; every take returns the last checkpoint written; checkpoints
// never move backwards. At the end: every lease is held by a live worker, balanced to +/-1.
// Seeded: SHOAL_CHAOS_SEED=n reruns one seed.
func TestChaos(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if s := os.Getenv("SHOAL_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = []uint64{n}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { chaos(t, seed) })
		})
	}
}

func chaos(t *testing.T, seed uint64) {
	const (
		leases  = 24
		workers = 5
		runFor  = 60 * time.Second
	)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	f := newFleet(t, leases)
	t.Cleanup(f.stopAll)
	next := workers
	for i := range workers {
		f.start(fmt.Sprintf("w%d", i))
	}
	type pause struct {
		until time.Time
		stop  chan struct{}
		m     *member
	}
	var paused []pause
	dead := []string{}
	live := func() []string {
		f.mu.Lock()
		defer f.mu.Unlock()
		var ids []string
		for id := range f.members {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids
	}
	unpause := func(now time.Time, all bool) {
		var keep []pause
		for _, p := range paused {
			if all || !now.Before(p.until) {
				p.m.faulty.Set()
				close(p.stop)
			} else {
				keep = append(keep, p)
			}
		}
		paused = keep
	}
	counts := map[string]int{}
	end := time.Now().Add(runFor)
	for time.Now().Before(end) {
		time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		unpause(time.Now(), false)
		ids := live()
		switch op := rng.IntN(5); {
		case op == 0 && len(ids) > 1:
			id := ids[rng.IntN(len(ids))]
			f.crash(id)
			dead = append(dead, id)
			counts["crash"]++
		case op == 1 && len(ids) > 1:
			id := ids[rng.IntN(len(ids))]
			m := f.members[id]
			f.shutdown(id, slices.ContainsFunc(paused, func(p pause) bool { return p.m == m }))
			dead = append(dead, id)
			counts["shutdown"]++
		case op == 2 && len(ids) > 1:
			id := ids[rng.IntN(len(ids))]
			m := f.members[id]
			if slices.ContainsFunc(paused, func(p pause) bool { return p.m == m }) {
				continue
			}
			stop := make(chan struct{})
			m.faulty.Set(leasetest.Rule{Block: stop})
			paused = append(paused, pause{until: time.Now().Add(time.Duration(3500+rng.IntN(5000)) * time.Millisecond), stop: stop, m: m})
			counts["pause"]++
		case op >= 3 && len(dead) > 0:
			i := rng.IntN(len(dead))
			id := dead[i]
			dead = slices.Delete(dead, i, i+1)
			if rng.IntN(2) == 0 {
				id = fmt.Sprintf("w%d", next)
				next++
			}
			if _, running := f.members[id]; !running {
				f.start(id)
				counts["restart"]++
			}
		}
	}
	unpause(time.Now(), true)
	for len(live()) < 2 {
		f.start(fmt.Sprintf("w%d", next))
		next++
	}
	took := f.waitUntil(60*time.Second, "final balance", func() bool { return f.balanced(leases) })
	owners := f.owners()
	ids := live()
	for owner, n := range owners {
		if !slices.Contains(ids, owner) {
			t.Errorf("%d leases owned by %q, which is not a live worker (live %v)", n, owner, ids)
		}
	}
	t.Logf("seed %d: %v; balanced %v after the chaos ended; %d live workers; held %v; %d checkpoints, %d refused (lease lost)",
		seed, counts, took, len(ids), f.held(), f.checkpoints.Load(), f.refused.Load())
}
