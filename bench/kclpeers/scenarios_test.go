package kclpeers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/shoal-go/shoal/kinesislocal"
)

// moveResult is the outcome of the crash or graceful-stop scenario.
type moveResult struct {
	moved   int             // shards the stopped worker processed
	idle    []string        // workers that processed no shard when the victim was stopped
	gaps    []time.Duration // per moved shard: from the stop until another worker processed it
	unmoved int             // moved shards nobody else processed within the bound
	bound   time.Duration
	setup   time.Duration // from the first start until the fleet settled
	dups    int
	lost    int // records never processed, after a bounded drain
	err     error
}

// runMove starts specs (specs[0] is the victim) on a stream of shards, with records flowing;
// once every worker processes shards and nothing moved for 3 s, it crashes or shuts down the
// victim and measures how long each of its shards waits for another worker.
func runMove(ctx context.Context, srv *kinesislocal.Server, lib library, graceful bool, specs []workerSpec,
	shards int, name string, setupBound, moveBound time.Duration) (out moveResult) {
	out.bound = moveBound
	e := newEnv(srv, name)
	if out.err = createStream(ctx, e.kc, e.stream, shards); out.err != nil {
		return out
	}
	pctx, stopProd := context.WithCancel(ctx)
	var prod sync.WaitGroup
	prod.Go(func() { e.rec.produce(pctx, e.kc, e.stream, 12, 100*time.Millisecond) })
	defer func() { stopProd(); prod.Wait() }()
	t0 := time.Now()
	ws := make([]worker, 0, len(specs))
	defer func() {
		for _, w := range ws {
			w.close()
		}
	}()
	ids := make([]string, len(specs))
	for i, s := range specs {
		w, err := lib.start(ctx, e, s)
		if err != nil {
			out.err = fmt.Errorf("%s: start %s: %w", name, s.id, err)
			return out
		}
		ws = append(ws, w)
		ids[i] = s.id
	}
	// vmware's first shard sync loop runs 30-90 s after Start; after 95 s every worker has tried.
	// Quiet 8 s: longer than Shoal's 5 s lease scan, so a balancing handoff cannot be under way
	// when the victim stops (with 3 s, a handoff started then made some gaps ~0).
	if !waitUntil(ctx, setupBound, func() bool {
		return e.rec.settled(shards, ids, 8*time.Second, time.Since(t0) > 95*time.Second)
	}) {
		out.err = fmt.Errorf("%s: fleet did not settle in %v (shards per worker %v)", name, setupBound, e.rec.byWorker())
		return out
	}
	out.setup = time.Since(t0)
	by := e.rec.byWorker()
	for _, id := range ids {
		if by[id] == 0 {
			out.idle = append(out.idle, id)
		}
	}
	victim := specs[0].id
	e.rec.mu.Lock()
	for _, s := range e.rec.shardsOfLocked(victim) {
		e.rec.watch[s] = victim
	}
	out.moved = len(e.rec.watch)
	if !graceful {
		e.rec.dead[victim] = true
	}
	e.rec.mu.Unlock()
	stop := time.Now()
	if graceful {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := ws[0].shutdown(sctx); err != nil {
			out.err = fmt.Errorf("%s: shutdown: %w", name, err)
		}
		cancel()
	} else {
		ws[0].crash()
	}
	waitUntil(ctx, moveBound-time.Since(stop), func() bool {
		e.rec.mu.Lock()
		defer e.rec.mu.Unlock()
		return len(e.rec.firstAt) == out.moved
	})
	e.rec.mu.Lock()
	for s := range e.rec.watch {
		if at, ok := e.rec.firstAt[s]; ok {
			out.gaps = append(out.gaps, at.Sub(stop))
		} else {
			out.unmoved++
		}
	}
	e.rec.mu.Unlock()
	stopProd()
	prod.Wait()
	e.rec.awaitAll(ctx, 20*time.Second)
	out.dups, out.lost = e.rec.duplicates()
	return out
}

// shardsOfLocked is shardsOf for a caller holding r.mu.
func (r *recorder) shardsOfLocked(worker string) []string {
	var out []string
	for s, w := range r.lastBy {
		if w == worker {
			out = append(out, s)
		}
	}
	return out
}

// rebalanceResult is the outcome of the rebalance scenario.
type rebalanceResult struct {
	shards     int
	took       time.Duration // from b's start until both process shards/2 +/- 1
	reached    bool
	bound      time.Duration
	byA, byB   int   // shards last processed by a and by b when the wait ended
	claims     int64 // vmware steal claims written during the scenario
	dups, lost int
	err        error
}

// runRebalance has worker a process every shard of a stream, then starts b and waits until
// each processes shards/2 +/- 1, with records flowing.
func runRebalance(ctx context.Context, srv *kinesislocal.Server, lib library, a, b workerSpec, shards int,
	name string, bound time.Duration) (out rebalanceResult) {
	out.shards, out.bound = shards, bound
	e := newEnv(srv, name)
	if out.err = createStream(ctx, e.kc, e.stream, shards); out.err != nil {
		return out
	}
	pctx, stopProd := context.WithCancel(ctx)
	var prod sync.WaitGroup
	prod.Go(func() { e.rec.produce(pctx, e.kc, e.stream, 40, 200*time.Millisecond) })
	defer func() { stopProd(); prod.Wait() }()
	wa, err := lib.start(ctx, e, a)
	if err != nil {
		out.err = err
		return out
	}
	defer wa.close()
	if !waitUntil(ctx, 90*time.Second, func() bool { return e.rec.byWorker()[a.id] == shards }) {
		out.err = fmt.Errorf("%s: a processes %d of %d shards after 90 s", name, e.rec.byWorker()[a.id], shards)
		return out
	}
	t0 := time.Now()
	wb, err := lib.start(ctx, e, b)
	if err != nil {
		out.err = err
		return out
	}
	defer wb.close()
	out.reached = waitUntil(ctx, bound, func() bool {
		by := e.rec.byWorker()
		na, nb := by[a.id], by[b.id]
		return na+nb == shards && na-nb <= 1 && nb-na <= 1
	})
	out.took = time.Since(t0)
	by := e.rec.byWorker()
	out.byA, out.byB = by[a.id], by[b.id]
	out.claims = e.ctr.claims.Load()
	stopProd()
	prod.Wait()
	e.rec.awaitAll(ctx, 20*time.Second)
	out.dups, out.lost = e.rec.duplicates()
	return out
}

// costResult is the lease table traffic of a steady fleet with no records (no checkpoints).
type costResult struct {
	leases, workers   int
	window            time.Duration
	writesPerLeaseMin float64
	readsPerMin       float64
	err               error
}

// runCost starts specs over a stream of leases shards with no records, waits until every lease
// is held, and counts the workers' DynamoDB requests for window.
func runCost(ctx context.Context, srv *kinesislocal.Server, lib library, specs []workerSpec, leases int,
	name string, setupBound, window time.Duration) (out costResult) {
	out.leases, out.workers, out.window = leases, len(specs), window
	e := newEnv(srv, name)
	if out.err = createStream(ctx, e.kc, e.stream, leases); out.err != nil {
		return out
	}
	ws := make([]worker, 0, len(specs))
	defer func() {
		for _, w := range ws {
			w.close()
		}
	}()
	for _, s := range specs {
		w, err := lib.start(ctx, e, s)
		if err != nil {
			out.err = err
			return out
		}
		ws = append(ws, w)
	}
	total := func() int {
		n := 0
		for _, w := range ws {
			n += w.held(ctx)
		}
		return n
	}
	if !waitUntil(ctx, setupBound, func() bool { return total() == leases }) {
		out.err = fmt.Errorf("%s: %d of %d leases held after %v", name, total(), leases, setupBound)
		return out
	}
	time.Sleep(5 * time.Second) // let handoffs settle
	w0, r0 := e.ctr.writes.Load(), e.ctr.reads.Load()
	time.Sleep(window)
	w, r := e.ctr.writes.Load()-w0, e.ctr.reads.Load()-r0
	if n := total(); n != leases {
		out.err = fmt.Errorf("%s: %d of %d leases held at the end of the window", name, n, leases)
	}
	out.writesPerLeaseMin = float64(w) / float64(leases) / window.Minutes()
	out.readsPerMin = float64(r) / window.Minutes()
	return out
}
