package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Coordinator runs the lease protocol for one worker: it heartbeats, reads the tables, takes,
// steals (by graceful handoff) and gives up leases, and hands each acquired lease to
// Config.Acquired as a *Claim. One goroutine (Run's) owns all of its state; two helper goroutines
// (heartbeat, fencer) are started and awaited by Run. Its methods are safe for concurrent use.
type Coordinator struct {
	cfg  Config
	live *liveness

	nudge    chan struct{} // a claim changed state
	rescan   chan struct{} // Rescan was called
	shutdown chan struct{} // Shutdown was called
	hard     chan struct{} // Shutdown's ctx ended
	done     chan struct{} // Run returned

	shutdownOnce, hardOnce sync.Once
	running                atomic.Bool

	statsMu sync.Mutex
	stats   Stats
}

// Stats is a snapshot of a Coordinator's counters.
type Stats struct {
	// Held is the number of leases this worker holds now.
	Held int
	// LiveWorkers is the number of live workers in the last view (this one included).
	LiveWorkers int
	// Leases is the number of leases in the last lease-table read.
	Leases int
	// Target is this worker's target lease count in the last plan.
	Target int
	// Live reports whether this worker's heartbeats count now.
	Live bool
	// Acquired, Lost, Released and HandoffsRequested count claim events since Run started.
	Acquired, Lost, Released, HandoffsRequested int64
	// Scans counts lease-table reads.
	Scans int64
	// Invalid is the number of items in the last lease-table read that are not valid leases
	// (skipped: never taken or written; see Hooks.InvalidItem).
	Invalid int
}

// New validates cfg and returns a Coordinator. It starts nothing and does no I/O.
func New(cfg Config) (*Coordinator, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	co := &Coordinator{
		cfg:      c,
		nudge:    make(chan struct{}, 1),
		rescan:   make(chan struct{}, 1),
		shutdown: make(chan struct{}),
		hard:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	co.live = newLiveness(&co.cfg)
	return co, nil
}

// Stats returns a snapshot of the coordinator's counters. It does not block on I/O.
func (co *Coordinator) Stats() Stats {
	co.statsMu.Lock()
	defer co.statsMu.Unlock()
	s := co.stats
	s.Live = co.live.current(co.cfg.clock.now()) != nil
	return s
}

// Rescan asks the coordinator to read the lease table now (e.g. after creating leases). It does
// not block.
func (co *Coordinator) Rescan() {
	select {
	case co.rescan <- struct{}{}:
	default:
	}
}

// The claimEnv of every Claim this coordinator acquires.
func (co *Coordinator) store() Store     { return co.cfg.Store }
func (co *Coordinator) workerID() string { return co.cfg.WorkerID }
func (co *Coordinator) valid(epoch context.Context, now time.Time) bool {
	return co.live.valid(epoch, now)
}
func (co *Coordinator) changed() { co.notify() }
func (co *Coordinator) wakeTimeout() time.Duration {
	return co.cfg.clock.real(co.cfg.LeaseDuration / 4)
}
func (co *Coordinator) now() time.Time { return co.cfg.clock.now() }
func (co *Coordinator) checkpointed(key string, cp Checkpoint, took time.Duration) {
	if h := co.cfg.Hooks.Checkpointed; h != nil {
		h(key, cp, took)
	}
}

func (co *Coordinator) notify() {
	select {
	case co.nudge <- struct{}{}:
	default:
	}
}

// Shutdown stops the coordinator gracefully: it takes nothing more, hands each held lease to a
// live peer (a handoff request written on the peer's behalf; claims keep running until the peers
// have seen it, at most min(2 x HeartbeatInterval, LeaseDuration/2)), closes every claim's
// Stopping channel, waits until every claim is released (each handed to its taker, which starts
// within about 50 ms, or, with no live peer, made unowned so other workers take it at once),
// removes its worker row, and makes Run return nil.
// If ctx ends first, remaining claims are cancelled with ErrShutdown (their leases expire
// normally) and Shutdown returns ctx's error after Run returned. Shutdown blocks; it returns
// at once if Run is not running.
func (co *Coordinator) Shutdown(ctx context.Context) error {
	co.shutdownOnce.Do(func() { close(co.shutdown) })
	if !co.running.Load() {
		return nil
	}
	select {
	case <-co.done:
		return nil
	case <-ctx.Done():
		co.hardOnce.Do(func() { close(co.hard) })
		<-co.done
		return ctx.Err()
	}
}

// errHardStop is the cause of Run's internal context after Shutdown's ctx ended.
var errHardStop = errors.New("lease: hard shutdown")

// loop is the state owned by Run's goroutine.
type loop struct {
	co        *Coordinator
	held      map[string]*Claim
	lingering map[string]*Claim // ended by loss, not yet acknowledged by the holder
	obs       *observer
	liveIDs   map[string]bool
	draining  bool
	lastWake  int64
	verify    bool                   // the last plan saw unverified dead owners: read workers, then leases, now
	conflicts int                    // conditional writes of the last plan that lost a race
	invalid   map[string]InvalidItem // invalid items of the last read, to report each once
	pace      pace                   // takes and handoffs per scan while the store struggles
	more      bool                   // the last scan held back writes: scan again soon
	pending   map[string]time.Time   // handed over to this worker, giver not done: watch until
	give      *giveState             // a graceful Shutdown's handover in progress
	watchNext int                    // the next pending lease watch reads (round robin)
}

// Run runs the protocol until ctx is cancelled (hard stop: every claim's context is cancelled
// with ErrShutdown and Run returns context.Cause(ctx)) or Shutdown completes (Run returns nil).
// If the store implements Initializer, Run first calls Init (creating tables). Run may be
// called once. Every goroutine it starts has ended when it returns.
func (co *Coordinator) Run(ctx context.Context) error {
	if !co.running.CompareAndSwap(false, true) {
		return errors.New("lease: Coordinator.Run called twice")
	}
	defer close(co.done)
	select {
	case <-co.shutdown:
		return nil
	default:
	}
	if in, ok := co.cfg.Store.(Initializer); ok {
		if err := in.Init(ctx); err != nil {
			return fmt.Errorf("lease: init store: %w", err)
		}
	}
	bctx, stopBG := context.WithCancel(context.Background())
	// ctx also ends at a hard Shutdown, so no store call of the loop outlives a hard stop.
	ctx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	var wg sync.WaitGroup
	wg.Go(func() { co.live.runHeartbeat(bctx) })
	wg.Go(func() { co.live.runFencer(bctx) })
	wg.Go(func() {
		select {
		case <-co.hard:
			cancelRun(errHardStop)
		case <-bctx.Done():
		}
	})
	stopped := false
	stopBackground := func() {
		if !stopped {
			stopBG()
			wg.Wait()
			stopped = true
		}
	}
	defer stopBackground()

	lp := &loop{co: co, held: map[string]*Claim{}, lingering: map[string]*Claim{}, obs: newObserver(), lastWake: -1}
	err := lp.run(ctx, stopBackground)
	cause := ErrShutdown
	if errors.Is(err, ErrDuplicateWorker) {
		cause = ErrLeaseLost // the other process owns these leases now
	}
	co.live.stop(cause)
	for _, m := range []map[string]*Claim{lp.held, lp.lingering} {
		for _, cl := range m {
			cl.lose(cause)
		}
	}
	return err
}

func (lp *loop) run(ctx context.Context, stopBackground func()) error {
	co := lp.co
	cfg := &co.cfg
	clk := cfg.clock
	wt := time.NewTimer(0)
	defer wt.Stop()
	lt := time.NewTimer(clk.real(cfg.ScanInterval))
	defer lt.Stop()
	ft := time.NewTimer(time.Hour) // the earliest forced handoff
	defer ft.Stop()
	pt := time.NewTimer(time.Hour) // watch pending handoffs (handover.go)
	defer pt.Stop()
	watching := false
	shutdown := co.shutdown
	for {
		lp.sweep(ctx)
		if at := lp.nextForce(); !at.IsZero() {
			ft.Reset(max(clk.real(clk.until(at)), 0))
		} else {
			ft.Reset(time.Hour)
		}
		lp.publish()
		if !watching && (len(lp.pending) > 0 || lp.give != nil) {
			pt.Reset(clk.real(watchInterval))
			watching = true
		}
		if lp.draining && len(lp.held) == 0 && len(lp.lingering) == 0 {
			beat := co.live.beat()
			stopBackground()
			rctx, cancel := context.WithTimeout(ctx, clk.real(cfg.LeaseDuration))
			// Every lease is released: wake the others so they take them at their next heartbeat.
			for id := range lp.liveIDs {
				if id != cfg.WorkerID {
					_ = cfg.Store.Wake(rctx, id)
				}
			}
			err := cfg.Store.RemoveWorker(rctx, cfg.WorkerID, beat)
			cancel()
			if err != nil && !errors.Is(err, ErrNotFound) {
				lp.storeErr("remove worker", err)
			}
			return nil
		}
		scan := false
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errHardStop) {
				return nil
			}
			return context.Cause(ctx)
		case <-co.hard:
			return nil
		case <-ft.C:
		case <-shutdown:
			shutdown = nil
			lp.draining = true
			lp.handOver(ctx)
			scan = true
		case <-pt.C:
			watching = false
			scan = lp.watch(ctx)
		case b := <-co.live.beats:
			if (lp.lastWake >= 0 && b.w.Wake != lp.lastWake) || b.started {
				scan = true
			}
			lp.lastWake = b.w.Wake
		case <-co.live.fenced:
		case other := <-co.live.dup:
			if err := lp.duplicate(other); err != nil {
				return err
			}
		case <-co.nudge:
		case <-co.rescan:
			scan = true
		case <-wt.C:
			scan = lp.scanWorkers(ctx) || lp.verify
			lp.verify = false
			wt.Reset(clk.real(cfg.WorkerScanInterval))
		case <-lt.C:
			scan = true
		}
		if scan {
			lp.scanLeases(ctx)
			// A take or handoff request that lost a race leaves this worker below target: read
			// again at once (a few times) instead of waiting for the next scan.
			for i := 0; i < 3 && lp.conflicts > 0; i++ {
				lp.scanLeases(ctx)
			}
			if lp.more {
				lt.Reset(clk.real(cfg.WorkerScanInterval))
			} else {
				lt.Reset(clk.real(cfg.ScanInterval))
			}
			if lp.verify {
				wt.Reset(0)
			}
		}
	}
}

func (lp *loop) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, lp.co.cfg.clock.real(lp.co.cfg.LeaseDuration))
}

func (lp *loop) storeErr(op string, err error) {
	lp.co.cfg.Logger.Warn("lease store call failed", "op", op, "worker", lp.co.cfg.WorkerID, "err", err)
	if h := lp.co.cfg.Hooks.StoreError; h != nil {
		h(op, err)
	}
}

// nextForce returns the earliest deadline of a requested stop among held claims (zero: none).
func (lp *loop) nextForce() time.Time {
	var at time.Time
	for _, cl := range lp.held {
		if d := cl.stopDeadline(); !d.IsZero() && (at.IsZero() || d.Before(at)) {
			at = d
		}
	}
	return at
}

// sweep moves claims whose context ended out of held, and forgets acknowledged ones; it also
// forces stops whose deadline passed.
func (lp *loop) sweep(ctx context.Context) {
	co := lp.co
	now := co.cfg.clock.now()
	for key, cl := range lp.held {
		if cl.ctx.Err() == nil && cl.stopDue(now) && cl.forceStop() {
			// The holder did not release in time: cancel it first, so at no instant two workers
			// may process the lease, then hand the lease over ourselves. forceStop is exclusive
			// with the holder's own Release: one of the two writes, never both.
			co.cfg.Logger.Warn("processor did not release within HandoffTimeout: handing the lease over anyway",
				"shard", key, "worker", co.cfg.WorkerID, "handoff_timeout", co.cfg.HandoffTimeout)
			if lp.force(ctx, key) {
				cl.markHandedOver()
			}
		}
		if cl.ctx.Err() == nil {
			continue
		}
		delete(lp.held, key)
		lp.lingering[key] = cl
	}
	// Ended claims stay here until the holder acknowledged them (Release or Finish returned), so
	// the key is not acquired again meanwhile. A loss is reported at once; a release when done.
	for key, cl := range lp.lingering {
		acked := cl.isAcked()
		if acked {
			delete(lp.lingering, key)
		}
		if cl.reported || (!acked && cl.isGiving()) {
			continue // reported already, or the holder's final write is in flight
		}
		cl.reported = true
		if cl.released() {
			lp.count(func(s *Stats) { s.Released++ })
			if h := co.cfg.Hooks.LeaseReleased; h != nil {
				h(key)
			}
			continue
		}
		cause := context.Cause(cl.ctx)
		if errors.Is(cause, errReleased) {
			cause = ErrLeaseLost // a release whose write failed
		}
		lp.count(func(s *Stats) { s.Lost++ })
		co.cfg.Logger.Info("lease lost", "shard", key, "worker", co.cfg.WorkerID, "cause", cause)
		if h := co.cfg.Hooks.LeaseLost; h != nil {
			h(key, cause)
		}
	}
}

// force completes the handoff of (or releases) a lease whose claim was just cancelled, and
// reports whether it did. Each write is conditional on the counter read just before, so a
// checkpoint still in flight from the cancelled claim either lands first (and we retry) or
// fails. If it cannot finish now, the next plan completes the handoff (Actions.Complete) or
// takes the lease back (Actions.Take). A hard stop (ctx) cuts it short.
func (lp *loop) force(ctx context.Context, key string) bool {
	cfg := &lp.co.cfg
	me := cfg.WorkerID
	ctx, cancel := context.WithTimeout(ctx, cfg.clock.real(cfg.LeaseDuration))
	defer cancel()
	for range 3 {
		cur, err := cfg.Store.Get(ctx, key)
		if err != nil {
			if !errors.Is(err, ErrNotFound) && ctx.Err() == nil {
				lp.storeErr("force handoff", err)
			}
			return false
		}
		e := Expect{Owner: me, Counter: cur.Counter}
		switch {
		case cur.CheckpointOwner == me:
			_, err = cfg.Store.CompleteHandoff(ctx, key, e)
			if err == nil && cur.Owner != "" {
				_ = cfg.Store.Wake(ctx, cur.Owner)
			}
		case cur.Owner == me && cur.CheckpointOwner == "":
			_, err = cfg.Store.Release(ctx, key, e)
		default:
			return false
		}
		if err == nil {
			return true
		}
		if !errors.Is(err, ErrConflict) {
			if ctx.Err() == nil {
				lp.storeErr("force handoff", err)
			}
			return false
		}
	}
	return false
}

func (lp *loop) count(f func(*Stats)) {
	lp.co.statsMu.Lock()
	f(&lp.co.stats)
	lp.co.statsMu.Unlock()
}

func (lp *loop) publish() {
	lp.count(func(s *Stats) { s.Held = len(lp.held) })
}

// scanWorkers reads the worker table and reports whether the set of live workers changed.
func (lp *loop) scanWorkers(ctx context.Context) bool {
	cfg := &lp.co.cfg
	octx, cancel := lp.opCtx(ctx)
	defer cancel()
	start := cfg.clock.now()
	ws, err := cfg.Store.Workers(octx)
	if err != nil {
		lp.storeErr("list workers", err)
		return false
	}
	lp.obs.sawWorkers(ws, start, cfg.clock.now())
	ids := lp.obs.liveWorkers(cfg.LeaseDuration)
	changed := len(ids) != len(lp.liveIDs)
	for id := range ids {
		changed = changed || !lp.liveIDs[id]
	}
	lp.liveIDs = ids
	// Garbage-collect rows of long-dead workers (conditional on the heartbeat we saw).
	v := lp.obs.view()
	for _, w := range v.Workers {
		if w.ID != cfg.WorkerID && w.Idle >= 10*cfg.LeaseDuration {
			if err := cfg.Store.RemoveWorker(octx, w.ID, lp.obs.workers[w.ID].w.Heartbeat); err != nil &&
				!errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
				lp.storeErr("remove worker", err)
			}
		}
	}
	return changed
}

// scanLeases reads the lease table, plans, and acts.
func (lp *loop) scanLeases(ctx context.Context) {
	co := lp.co
	cfg := &co.cfg
	me := cfg.WorkerID
	octx, cancel := lp.opCtx(ctx)
	clk := cfg.clock
	start := clk.now()
	ls, bad, err := cfg.Store.Scan(octx)
	cancel()
	if err != nil {
		lp.storeErr("list leases", err)
		lp.pace.observe(0, true)
		return
	}
	trouble := clk.since(start) > slowCall(cfg.LeaseDuration) || co.live.struggling()
	lp.obs.sawLeases(ls, start, clk.now())
	lp.trackPending(ls)
	lp.count(func(s *Stats) { s.Scans++; s.Leases = len(ls); s.Invalid = len(bad) })
	lp.reportInvalid(bad)
	v := lp.obs.view()
	for _, inv := range bad {
		v.Invalid = append(v.Invalid, inv.Key)
	}
	v.Held = make(map[string]int64, len(lp.held)+len(lp.lingering))
	for key, cl := range lp.held {
		v.Held[key] = cl.acquired
	}
	epoch := co.live.current(clk.now())
	act := Plan(v, PlanConfig{
		Me: me, LeaseDuration: cfg.LeaseDuration, MaxLeasesPerWorker: cfg.MaxLeasesPerWorker,
		MaxStealsPerCycle: cfg.MaxStealsPerCycle, Draining: lp.draining || epoch == nil,
	})
	lp.count(func(s *Stats) { s.LiveWorkers = len(act.Targets); s.Target = act.Targets[me] })
	lp.verify = act.Unverified > 0
	lp.conflicts = 0
	cfg.Logger.Debug("lease plan", "worker", me, "leases", len(ls), "held", len(lp.held), "target", act.Targets[me],
		"take", len(act.Take), "handoff", len(act.Handoff), "stop", len(act.Stop), "lost", len(act.Lost),
		"complete", len(act.Complete), "shed", len(act.Shed), "live", epoch != nil)
	byKey := make(map[string]Lease, len(ls))
	for _, l := range ls {
		byKey[l.Key] = l
	}
	now := clk.now()
	for _, key := range act.Lost {
		lp.held[key].lose(ErrLeaseLost)
	}
	for _, key := range act.Stop {
		if lp.give != nil && lp.give.keys[key] {
			continue // handed over by this worker's Shutdown: stopped once the taker watches
		}
		snap := byKey[key]
		lp.held[key].requestStop(true, now.Add(cfg.HandoffTimeout), &snap)
	}
	for _, key := range act.Shed {
		lp.held[key].requestStop(false, now.Add(cfg.HandoffTimeout), nil)
	}
	for _, m := range act.Complete {
		octx, cancel := lp.opCtx(ctx)
		l, err := cfg.Store.CompleteHandoff(octx, m.Key, m.From)
		if err == nil && l.Owner != "" {
			err = cfg.Store.Wake(octx, l.Owner)
		}
		cancel()
		if err != nil && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
			lp.storeErr("complete handoff", err)
		}
	}
	// Pacing: re-validations of leases this worker owns always go; new takes, then handoff
	// requests, share the budget.
	var takes []Move
	fresh := 0
	for _, m := range act.Take {
		if m.From.Owner != me {
			fresh++
		}
	}
	allowed := lp.pace.limit(fresh + len(act.Handoff))
	lp.more = allowed < fresh+len(act.Handoff)
	sent := 0
	for _, m := range act.Take {
		if m.From.Owner != me {
			if sent == allowed {
				continue
			}
			sent++
		}
		takes = append(takes, m)
	}
	handoffs := act.Handoff[:min(len(act.Handoff), allowed-sent)]
	sent += len(handoffs)
	slow := slowCall(cfg.LeaseDuration)
	timed := func(f func() error) error {
		t0 := clk.now()
		err := f()
		if (err != nil && !errors.Is(err, ErrConflict)) || clk.since(t0) > slow {
			trouble = true
		}
		return err
	}
	for _, m := range takes {
		if _, busy := lp.lingering[m.Key]; busy {
			continue
		}
		if co.live.current(clk.now()) != epoch {
			break // fenced meanwhile
		}
		octx, cancel := lp.opCtx(ctx)
		var l Lease
		err := timed(func() (err error) { l, err = cfg.Store.Take(octx, m.Key, m.From, me); return err })
		cancel()
		if err != nil {
			if errors.Is(err, ErrConflict) {
				lp.conflicts++
			} else {
				lp.storeErr("take lease", err)
			}
			continue
		}
		lp.acquire(l, epoch)
	}
	for _, m := range handoffs {
		octx, cancel := lp.opCtx(ctx)
		err := timed(func() error { _, err := cfg.Store.RequestHandoff(octx, m.Key, m.From, me); return err })
		if err == nil {
			if lp.pending == nil {
				lp.pending = map[string]time.Time{}
			}
			lp.pending[m.Key] = clk.now().Add(cfg.HandoffTimeout + cfg.LeaseDuration) // watch it
			lp.count(func(s *Stats) { s.HandoffsRequested++ })
			if h := cfg.Hooks.HandoffRequested; h != nil {
				h(m.Key, m.From.Owner)
			}
			if werr := cfg.Store.Wake(octx, m.From.Owner); werr != nil && !errors.Is(werr, ErrNotFound) {
				lp.storeErr("wake worker", werr)
			}
		} else if errors.Is(err, ErrConflict) {
			lp.conflicts++
		} else {
			lp.storeErr("request handoff", err)
		}
		cancel()
	}
	lp.pace.observe(sent, trouble)
}

// duplicate handles another live process heartbeating under this worker id. Deterministically
// the one that started later (the greater instance id: start time first) steps back: it returns
// ErrDuplicateWorker from Run, and its claims end with ErrLeaseLost, without writing the row or
// any lease (the other process re-validates the leases it finds owned by the id). Both log at
// ERROR.
func (lp *loop) duplicate(other string) error {
	cfg := &lp.co.cfg
	me := lp.co.live.instance
	stepBack := me > other
	cfg.Logger.Error("another live process uses this WorkerID: worker ids must be unique among running processes",
		"worker", cfg.WorkerID, "instance", me, "other_instance", other, "stepping_back", stepBack)
	if h := cfg.Hooks.DuplicateWorker; h != nil {
		h(other, stepBack)
	}
	if stepBack {
		return fmt.Errorf("worker %s (instance %s; other instance %s): %w", cfg.WorkerID, me, other, ErrDuplicateWorker)
	}
	return nil
}

// reportInvalid logs and reports (Hooks.InvalidItem) each invalid item not reported by the
// previous read with the same problem.
func (lp *loop) reportInvalid(bad []InvalidItem) {
	cfg := &lp.co.cfg
	next := make(map[string]InvalidItem, len(bad))
	for _, inv := range bad {
		next[inv.Key] = inv
		if prev, seen := lp.invalid[inv.Key]; seen && prev == inv {
			continue
		}
		cfg.Logger.Error("lease table item is not a valid lease: skipped (never taken or written) until it is fixed or deleted",
			"shard", inv.Key, "worker", cfg.WorkerID, "attribute", inv.Attribute, "problem", inv.Problem)
		if h := cfg.Hooks.InvalidItem; h != nil {
			h(inv)
		}
	}
	lp.invalid = next
}

func (lp *loop) acquire(l Lease, epoch context.Context) {
	co := lp.co
	ctx, cancel := context.WithCancelCause(epoch)
	cl := &Claim{env: co, key: l.Key, ctx: ctx, cancel: cancel, epoch: epoch, stopping: make(chan struct{}), lease: l, acquired: l.Counter}
	lp.held[l.Key] = cl
	lp.count(func(s *Stats) { s.Acquired++ })
	co.cfg.Logger.Info("lease acquired", "shard", l.Key, "worker", co.cfg.WorkerID, "lease_counter", l.Counter)
	if lp.draining {
		cl.requestStop(false, time.Time{}, nil)
	}
	if h := co.cfg.Hooks.LeaseAcquired; h != nil {
		h(l.Key, l.Clone())
	}
	co.cfg.Acquired(cl)
}
