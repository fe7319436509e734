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
// shuts them down gracefully, restarts them (same id or a new one), slows a worker's store
// (log-normal latency, p99 up to 1 s) or throttles it in bursts, and gives every worker a clock
// of its own (rate within ±3 %, any offset: SafetyMargin must cover the drift). Invariants,
// checked as events happen (fleet): no claim is delivered and no checkpoint succeeds while
// another worker holds a valid claim on the lease; every take returns the last checkpoint
// written; checkpoints never move backwards. At the end: every lease is held by a live worker,
// balanced to +/-1.
//
// Seeds: 1-6 by default (a few seconds with -race). SHOAL_CHAOS_SEED=n reruns one seed.
// The nightly-style long run, 200 seeds of 10 minutes of fake time each:
//
//	SHOAL_CHAOS_LONG=1 go test -race -run TestChaos -timeout 2h ./lease/
//
// (SHOAL_CHAOS_SEEDS=n and SHOAL_CHAOS_MINUTES=m change its size.)
func TestChaos(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6}
	runFor := 60 * time.Second
	if os.Getenv("SHOAL_CHAOS_LONG") == "1" {
		n, m := envInt(t, "SHOAL_CHAOS_SEEDS", 200), envInt(t, "SHOAL_CHAOS_MINUTES", 10)
		seeds = nil
		for i := range n {
			seeds = append(seeds, uint64(1000+i))
		}
		runFor = time.Duration(m) * time.Minute
		t.Logf("long chaos run: %d seeds x %v of fake time", n, runFor)
	}
	if s := os.Getenv("SHOAL_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = []uint64{n}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { chaos(t, seed, runFor) })
		})
	}
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

func chaos(t *testing.T, seed uint64, runFor time.Duration) {
	const (
		leases  = 24
		workers = 5
	)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	f := newFleet(t, leases)
	f.clockOf = func(string) (float64, time.Duration) {
		return 0.97 + 0.06*rng.Float64(), time.Duration(rng.Int64N(int64(2*time.Hour))) - time.Hour
	}
	t.Cleanup(f.stopAll)
	next := workers
	for i := range workers {
		f.start(fmt.Sprintf("w%d", i))
	}
	// trouble is a member's injected store trouble: a pause (every call blocks) or a slow or
	// throttled store, until a fake instant.
	type trouble struct {
		until time.Time
		stop  chan struct{} // pauses only
		m     *member
	}
	var troubled []trouble
	isTroubled := func(m *member) bool {
		return slices.ContainsFunc(troubled, func(p trouble) bool { return p.m == m })
	}
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
	clear := func(now time.Time, all bool) {
		var keep []trouble
		for _, p := range troubled {
			if all || !now.Before(p.until) {
				p.m.faulty.Set()
				if p.stop != nil {
					close(p.stop)
				}
			} else {
				keep = append(keep, p)
			}
		}
		troubled = keep
	}
	counts := map[string]int{}
	end := time.Now().Add(runFor)
	for time.Now().Before(end) {
		time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		clear(time.Now(), false)
		ids := live()
		switch op := rng.IntN(7); {
		case op == 0 && len(ids) > 1:
			id := ids[rng.IntN(len(ids))]
			f.crash(id)
			troubled = slices.DeleteFunc(troubled, func(p trouble) bool {
				if p.m.id == id && p.stop != nil {
					close(p.stop)
				}
				return p.m.id == id
			})
			dead = append(dead, id)
			counts["crash"]++
		case op == 1 && len(ids) > 1:
			id := ids[rng.IntN(len(ids))]
			m := f.members[id]
			f.shutdown(id, isTroubled(m))
			troubled = slices.DeleteFunc(troubled, func(p trouble) bool {
				if p.m == m && p.stop != nil {
					close(p.stop)
				}
				return p.m == m
			})
			dead = append(dead, id)
			counts["shutdown"]++
		case op == 2 && len(ids) > 1:
			m := f.members[ids[rng.IntN(len(ids))]]
			if isTroubled(m) {
				continue
			}
			stop := make(chan struct{})
			m.faulty.Set(leasetest.Rule{Block: stop})
			troubled = append(troubled, trouble{until: time.Now().Add(time.Duration(3500+rng.IntN(5000)) * time.Millisecond), stop: stop, m: m})
			counts["pause"]++
		case op == 3 && len(ids) > 0:
			m := f.members[ids[rng.IntN(len(ids))]]
			if isTroubled(m) {
				continue
			}
			p99 := time.Duration(100+rng.IntN(900)) * time.Millisecond
			m.faulty.Set(leasetest.Rule{Latency: leasetest.LogNormal(p99/8, p99, rng.Uint64())})
			troubled = append(troubled, trouble{until: time.Now().Add(time.Duration(2000+rng.IntN(10000)) * time.Millisecond), m: m})
			counts["slow"]++
		case op == 4 && len(ids) > 0:
			m := f.members[ids[rng.IntN(len(ids))]]
			if isTroubled(m) {
				continue
			}
			burst := time.Duration(200+rng.IntN(1300)) * time.Millisecond
			m.faulty.Set(leasetest.Rule{Err: leasetest.ErrThrottle, Match: leasetest.During(burst+time.Duration(1000+rng.IntN(4000))*time.Millisecond, burst)})
			troubled = append(troubled, trouble{until: time.Now().Add(time.Duration(3000+rng.IntN(10000)) * time.Millisecond), m: m})
			counts["throttle"]++
		case op >= 5 && len(dead) > 0:
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
	clear(time.Now(), true)
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
