package lease

import (
	"context"
	"errors"
	"slices"
	"time"
)

// watchInterval is how often a worker reads (Store.Get) the leases handed over to it whose giver
// has not finished yet, and how often a leaving worker reads the worker table while it waits for
// its takers to notice their handoffs.
const watchInterval = 50 * time.Millisecond

// watchBatch is the most handed-over leases read per watch tick.
const watchBatch = 4

// giveState is a graceful Shutdown's handover in progress: the leases this worker handed to live
// peers (RequestHandoff written on their behalf) and keeps processing until every taker has shown
// it saw the wake (its heartbeat advanced after the wake was written), or until the deadline.
type giveState struct {
	keys  map[string]bool  // held leases handed over and not yet asked to stop
	seen  map[string]int64 // taker -> its heartbeat counter read after the wake
	until time.Time
}

// trackPending records the leases handed over to this worker whose giver still has to complete
// the handoff (Owner = this worker, CheckpointOwner = another worker, no claim here), so that
// watch can take them the moment the giver finishes. Reads only; the takes go through Plan.
func (lp *loop) trackPending(ls []Lease) {
	cfg := &lp.co.cfg
	me := cfg.WorkerID
	now := cfg.clock.now()
	next := map[string]time.Time{}
	if !lp.draining {
		for _, l := range ls {
			_, held := lp.held[l.Key]
			_, busy := lp.lingering[l.Key]
			if l.Owner != me || l.CheckpointOwner == "" || l.CheckpointOwner == me || held || busy {
				continue
			}
			until, ok := lp.pending[l.Key]
			if !ok {
				// Bounded: a giver that neither completes nor dies within this is left to the
				// periodic scan (Plan takes the lease once the giver is dead).
				until = now.Add(cfg.HandoffTimeout + cfg.LeaseDuration)
			}
			next[l.Key] = until
		}
	}
	lp.pending = next
}

// watch reads each pending handed-over lease and reports whether one of them is ready to take
// (its checkpointOwner was cleared): the caller then scans and plans at once. It also advances a
// graceful Shutdown's handover.
func (lp *loop) watch(ctx context.Context) bool {
	cfg := &lp.co.cfg
	me := cfg.WorkerID
	now := cfg.clock.now()
	ready := false
	keys := make([]string, 0, len(lp.pending))
	for key, until := range lp.pending {
		if _, held := lp.held[key]; held || now.After(until) || lp.draining {
			delete(lp.pending, key)
			continue
		}
		keys = append(keys, key)
	}
	// At most watchBatch reads per tick, taking turns, so a worker waiting for many handoffs
	// (a join: half the table) reads at a bounded rate; each lease is then seen within
	// watchInterval x ceil(n / watchBatch).
	slices.Sort(keys)
	if len(keys) > watchBatch {
		i := lp.watchNext % len(keys)
		keys = append(keys[i:], keys[:i]...)[:watchBatch]
		lp.watchNext += watchBatch
	}
	for _, key := range keys {
		octx, cancel := lp.opCtx(ctx)
		cur, err := cfg.Store.Get(octx, key)
		cancel()
		switch {
		case err != nil:
			if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidItem) {
				delete(lp.pending, key)
			}
		case cur.Owner != me:
			delete(lp.pending, key)
		case cur.CheckpointOwner == "":
			delete(lp.pending, key)
			ready = true
		}
	}
	if lp.give != nil {
		lp.checkGive(ctx)
	}
	return ready
}

// handOver starts a graceful Shutdown. With live peers, it hands each held lease to the least
// loaded of them (respecting MaxLeasesPerWorker) by writing the taker's handoff request itself,
// conditional on this worker still owning the lease at the counter it just read, wakes the
// takers and keeps the claims running (see checkGive). Leases it cannot hand over (no peer, a
// conflict, an error) are stopped and released as before.
func (lp *loop) handOver(ctx context.Context) {
	cfg := &lp.co.cfg
	me := cfg.WorkerID
	stopAll := func(keys []string) {
		for _, k := range keys {
			if cl, ok := lp.held[k]; ok {
				cl.requestStop(false, time.Time{}, nil)
			}
		}
	}
	keys := make([]string, 0, len(lp.held))
	for k := range lp.held {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var peers []string
	for id := range lp.liveIDs {
		if id != me {
			peers = append(peers, id)
		}
	}
	if len(peers) == 0 || len(keys) == 0 || lp.co.live.current(cfg.clock.now()) == nil {
		stopAll(keys)
		return
	}
	slices.Sort(peers)
	// Each peer's load from a fresh read (the last scan may be ScanInterval old, and a stale load
	// would hand a peer too many, which the fleet then rebalances with another round of moves).
	octx, cancel := lp.opCtx(ctx)
	ls, err := cfg.Store.List(octx)
	cancel()
	if err != nil {
		lp.storeErr("list leases", err)
		for _, s := range lp.obs.leases {
			ls = append(ls, s.l)
		}
	}
	load := map[string]int{}
	for _, l := range ls {
		if !l.Finished() && l.Owner != "" {
			load[l.Owner]++
		}
	}
	g := &giveState{keys: map[string]bool{}, seen: map[string]int64{}}
	// One conditional write per lease, in this goroutine: on a slow store, leases not reached
	// within this budget are released as before rather than delaying the others.
	budget := cfg.clock.now().Add(cfg.LeaseDuration / 3)
	var rest []string
	for _, key := range keys {
		to := ""
		for _, p := range peers {
			if c := cfg.MaxLeasesPerWorker; c > 0 && load[p] >= c {
				continue
			}
			if to == "" || load[p] < load[to] {
				to = p
			}
		}
		if to == "" {
			rest = append(rest, key)
			continue
		}
		if cfg.clock.now().After(budget) {
			rest = append(rest, key)
			continue
		}
		// The claim's counter is that of this worker's last write on the lease: if a checkpoint
		// is in flight, or a taker asked for the lease meanwhile, the condition fails and the
		// lease is stopped and released (or handed to that taker) as before.
		octx, cancel := lp.opCtx(ctx)
		l, err := cfg.Store.RequestHandoff(octx, key, Expect{Owner: me, Counter: lp.held[key].Lease().Counter}, to)
		cancel()
		if err != nil {
			if !errors.Is(err, ErrConflict) {
				lp.storeErr("hand over lease", err)
			}
			rest = append(rest, key)
			continue
		}
		lp.held[key].handOver(l)
		load[to]++
		g.keys[key] = true
		g.seen[to] = -1
		lp.count(func(s *Stats) { s.HandoffsRequested++ })
	}
	stopAll(rest)
	if len(g.keys) == 0 {
		return
	}
	octx, cancel = lp.opCtx(ctx)
	defer cancel()
	for to := range g.seen {
		if err := cfg.Store.Wake(octx, to); err != nil && !errors.Is(err, ErrNotFound) {
			lp.storeErr("wake worker", err)
		}
	}
	// The takers' heartbeat counters as read after the wakes: one that advanced past these
	// was written after the wake, so its response carried it and the taker is watching.
	ws, err := cfg.Store.Workers(octx)
	if err != nil {
		lp.storeErr("list workers", err)
		g.seen = nil // cannot tell: stop at once (the takers still learn at their next heartbeat)
	}
	for _, w := range ws {
		if _, ok := g.seen[w.ID]; ok {
			g.seen[w.ID] = w.Heartbeat
		}
	}
	g.until = cfg.clock.now().Add(min(2*cfg.HeartbeatInterval, cfg.LeaseDuration/2))
	lp.give = g
	cfg.Logger.Info("handing leases over before leaving", "worker", me, "leases", len(g.keys), "takers", len(g.seen))
}

// checkGive stops the handed-over claims once every taker's heartbeat advanced since the wake
// (or the wait bound passed): each processor then checkpoints and Release completes its handoff.
func (lp *loop) checkGive(ctx context.Context) {
	cfg := &lp.co.cfg
	g := lp.give
	done := g.seen == nil || !cfg.clock.now().Before(g.until)
	if !done {
		octx, cancel := lp.opCtx(ctx)
		ws, err := cfg.Store.Workers(octx)
		cancel()
		if err == nil {
			advanced := 0
			for _, w := range ws {
				if hb, ok := g.seen[w.ID]; ok && hb != -1 && w.Heartbeat != hb {
					advanced++
				}
			}
			done = advanced == len(g.seen)
		}
	}
	if !done {
		return
	}
	for key := range g.keys {
		if cl, ok := lp.held[key]; ok {
			cl.requestStop(true, time.Time{}, nil)
		}
	}
	lp.give = nil
}
