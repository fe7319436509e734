package lease_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/memlease"
)

// gapWorker runs one coordinator whose processors "process" until Stopping and then for
// finishBatch more (finishing the batch, checkpointing), then Release, recording when each lease was last processed here and when it was acquired here.
type gapWorker struct {
	*single
	mu       sync.Mutex
	acquired map[string]time.Time
	ended    map[string]time.Time
	wg       sync.WaitGroup
}

func startGapWorker(t *testing.T, cfg lease.Config) *gapWorker {
	g := &gapWorker{acquired: map[string]time.Time{}, ended: map[string]time.Time{}}
	g.single = startSingle(t, cfg)
	g.wg.Go(func() {
		for {
			select {
			case cl := <-g.claims:
				g.mu.Lock()
				g.acquired[cl.Key()] = time.Now()
				g.mu.Unlock()
				g.wg.Go(func() {
					select {
					case <-cl.Stopping():
						time.Sleep(finishBatch)
					case <-cl.Context().Done():
					}
					g.mu.Lock()
					g.ended[cl.Key()] = time.Now()
					g.mu.Unlock()
					cl.Release(context.Background())
				})
			case <-g.done:
				g.done <- nil
				return
			}
		}
	})
	return g
}

func (g *gapWorker) held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for k, at := range g.acquired {
		if e, ok := g.ended[k]; !ok || e.Before(at) {
			n++
		}
	}
	return n
}

// maxGap returns the largest time between giver's end of processing a lease and taker's
// acquisition of it, over the leases that moved; and how many moved.
func maxGap(t *testing.T, giver, taker *gapWorker) (time.Duration, int) {
	giver.mu.Lock()
	defer giver.mu.Unlock()
	taker.mu.Lock()
	defer taker.mu.Unlock()
	var worst time.Duration
	n := 0
	for k, end := range giver.ended {
		at, ok := taker.acquired[k]
		if !ok || at.Before(end) {
			continue
		}
		n++
		worst = max(worst, at.Sub(end))
	}
	return worst, n
}

const (
	wakeGapBound = 200 * time.Millisecond
	finishBatch  = 300 * time.Millisecond
)

// A rebalancing steal: the taker starts processing a lease within wakeGapBound of the giver's
// release (it watches the leases it asked for instead of waiting for its next heartbeat).
func TestHandoffGapRebalance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memlease.New()
		for i := range 8 {
			createLeases(t, mem, lease.Lease{Key: "k" + string(rune('0'+i))})
		}
		a := startGapWorker(t, lease.Config{Store: mem, WorkerID: "a"})
		for a.held() < 8 {
			time.Sleep(10 * time.Millisecond)
		}
		b := startGapWorker(t, lease.Config{Store: mem, WorkerID: "b"})
		deadline := time.Now().Add(30 * time.Second)
		for b.held() < 4 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		gap, n := maxGap(t, a, b)
		t.Logf("rebalance: %d leases moved, max gap %v", n, gap)
		if n != 4 || gap > wakeGapBound {
			t.Errorf("rebalance moved %d leases (want 4) with a max gap of %v (want <= %v)", n, gap, wakeGapBound)
		}
		b.cancel()
		a.cancel()
	})
}

// A graceful Shutdown of one of two workers: the survivor starts each lease within wakeGapBound
// of the moment the leaving worker stopped processing it.
func TestHandoffGapShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memlease.New()
		for i := range 8 {
			createLeases(t, mem, lease.Lease{Key: "k" + string(rune('0'+i))})
		}
		a := startGapWorker(t, lease.Config{Store: mem, WorkerID: "a"})
		for a.held() < 8 {
			time.Sleep(10 * time.Millisecond)
		}
		b := startGapWorker(t, lease.Config{Store: mem, WorkerID: "b"})
		for b.held() < 4 || a.held() != 4 {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(3 * time.Second) // settled: a and b have seen each other's rows for a while
		a.mu.Lock()
		clear(a.ended)
		a.mu.Unlock()
		if err := a.co.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for b.held() < 8 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		gap, n := maxGap(t, a, b)
		t.Logf("shutdown: %d leases moved, max gap %v", n, gap)
		if n != 4 || gap > wakeGapBound {
			t.Errorf("shutdown moved %d leases (want 4) with a max gap of %v (want <= %v)", n, gap, wakeGapBound)
		}
		b.cancel()
	})
}

// A taker that dies while a leaving worker hands it a lease: the leaving worker stops waiting
// after its bound, completes the handoff anyway, and the lease expires from the dead taker like
// any lease, so a third worker takes everything within a lease duration or so.
func TestShutdownHandoverToDeadTaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memlease.New()
		for i := range 4 {
			createLeases(t, mem, lease.Lease{Key: "k" + string(rune('0'+i))})
		}
		a := startGapWorker(t, lease.Config{Store: mem, WorkerID: "a"})
		for a.held() < 4 {
			time.Sleep(10 * time.Millisecond)
		}
		b := startGapWorker(t, lease.Config{Store: mem, WorkerID: "b"})
		for b.held() < 2 || a.held() != 2 {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(3 * time.Second)
		b.cancel() // a hard stop: b's row stays until it expires; its leases are not released
		start := time.Now()
		if err := a.co.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("Shutdown took %v with a dead taker", took)
		}
		c := startGapWorker(t, lease.Config{Store: mem, WorkerID: "c"})
		deadline := time.Now().Add(10 * time.Second)
		for c.held() < 4 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := c.held(); n != 4 {
			t.Fatalf("c holds %d of 4 leases 10 s after a left and b died", n)
		}
		t.Logf("c took every lease %v after a's Shutdown began", time.Since(start))
		c.cancel()
	})
}
