package lease_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/leasetest"
	"github.com/shoal-go/shoal/lease/memlease"
)

// fleet runs many coordinators in one process over one memlease store, each through its own
// fault injector, with fake processors that checkpoint every tick. It checks, as events happen:
//   - when a claim is delivered, and when a checkpoint succeeds, no other worker holds a valid
//     claim on the same lease;
//   - a take returns the last successful checkpoint (nothing lost), and checkpoints never move
//     backwards (cpLog).
type fleet struct {
	t       *testing.T
	store   *memlease.Store
	checked *cpLog
	cfg     lease.Config
	// clockOf, when set, gives each started member its local clock (rate, offset): see
	// lease.WithClock.
	clockOf func(id string) (float64, time.Duration)

	mu      sync.Mutex
	members map[string]*member
	wg      sync.WaitGroup // Run and processor goroutines
	errs    []string

	checkpoints, refused atomic.Int64 // successful checkpoints; checkpoints refused with ErrLeaseLost
}

type member struct {
	id     string
	faulty *leasetest.Faulty
	co     *lease.Coordinator
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	claims map[string]*lease.Claim
}

// cpLog wraps the (non-blocking) memlease store and records every successful checkpoint write;
// every successful Take must return the last checkpoint written (no checkpoint lost). Its lock
// is held across the inner call, so the log is in the store's order.
type cpLog struct {
	lease.Store
	mu   sync.Mutex
	log  map[string][]lease.Lease
	errs []string
}

func (c *cpLog) Checkpoint(ctx context.Context, key string, from lease.Expect, cp lease.Checkpoint) (lease.Lease, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, err := c.Store.Checkpoint(ctx, key, from, cp)
	if err == nil {
		c.log[key] = append(c.log[key], l)
	}
	return l, err
}

func (c *cpLog) Take(ctx context.Context, key string, from lease.Expect, to string) (lease.Lease, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, err := c.Store.Take(ctx, key, from, to)
	if ls := c.log[key]; err == nil && len(ls) > 0 && ls[len(ls)-1].Checkpoint != l.Checkpoint {
		c.errs = append(c.errs, fmt.Sprintf("%s taken by %s at checkpoint %v, last written %v", key, to, l.Checkpoint, ls[len(ls)-1].Checkpoint))
	}
	return l, err
}

// verify: for each lease, checkpoints ordered by counter never move backwards.
func (c *cpLog) verify(t *testing.T) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.errs {
		t.Error(e)
	}
	n := 0
	for key, ls := range c.log {
		slices.SortFunc(ls, func(a, b lease.Lease) int { return int(a.Counter - b.Counter) })
		for i := 1; i < len(ls); i++ {
			n++
			if ls[i].Counter == ls[i-1].Counter {
				t.Errorf("%s: two checkpoint writes with counter %d", key, ls[i].Counter)
			}
			if ls[i].Checkpoint.Compare(ls[i-1].Checkpoint) < 0 {
				t.Errorf("%s: checkpoint moved backwards %v -> %v", key, ls[i-1].Checkpoint, ls[i].Checkpoint)
			}
		}
	}
	return n
}

func newFleet(t *testing.T, leases int) *fleet {
	mem := memlease.New()
	f := &fleet{t: t, store: mem, checked: &cpLog{Store: mem, log: map[string][]lease.Lease{}},
		members: map[string]*member{}}
	for i := range leases {
		key := fmt.Sprintf("shardId-%012d", i)
		if err := mem.Create(context.Background(), lease.Lease{Key: key, Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fleet) fail(format string, args ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// othersValid returns the ids of members other than me holding a valid claim on key (with the
// claim's view of the lease, for diagnosis).
func (f *fleet) othersValid(me, key string) []string {
	f.mu.Lock()
	ms := make([]*member, 0, len(f.members))
	for _, m := range f.members {
		ms = append(ms, m)
	}
	f.mu.Unlock()
	var out []string
	for _, m := range ms {
		if m.id == me {
			continue
		}
		m.mu.Lock()
		cl := m.claims[key]
		m.mu.Unlock()
		if cl != nil && cl.Valid() {
			l := cl.Lease()
			stopping := false
			select {
			case <-cl.Stopping():
				stopping = true
			default:
			}
			out = append(out, fmt.Sprintf("%s(owner=%s counter=%d cpOwner=%s stopping=%v)", m.id, l.Owner, l.Counter, l.CheckpointOwner, stopping))
		}
	}
	return out
}

// start adds (or restarts) a member.
func (f *fleet) start(id string) *member {
	m := &member{id: id, faulty: leasetest.NewFaulty(f.checked), claims: map[string]*lease.Claim{}, done: make(chan struct{})}
	cfg := f.cfg
	cfg.Store, cfg.WorkerID = m.faulty, id
	cfg.Acquired = func(cl *lease.Claim) { f.acquired(m, cl) }
	if f.clockOf != nil {
		rate, off := f.clockOf(id)
		cfg = lease.WithClock(cfg, rate, off)
	}
	co, err := lease.New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	m.co = co
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	f.mu.Lock()
	f.members[id] = m
	f.mu.Unlock()
	f.wg.Go(func() {
		defer close(m.done)
		if err := co.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			f.fail("%s: Run: %v", id, err)
		}
	})
	return m
}

func (f *fleet) acquired(m *member, cl *lease.Claim) {
	key := cl.Key()
	if others := f.othersValid(m.id, key); len(others) > 0 {
		l := cl.Lease()
		f.fail("%s acquired %s (counter %d, switches %d) at %v while %v hold valid claims", m.id, key, l.Counter, l.OwnerSwitchesSinceCheckpoint, time.Now(), others)
	}
	m.mu.Lock()
	m.claims[key] = cl
	m.mu.Unlock()
	f.wg.Go(func() { f.process(m, cl) })
}

// process is a fake shard processor: a checkpoint every 100ms; on Stopping a final checkpoint
// and Release; on loss, Release (acknowledge).
func (f *fleet) process(m *member, cl *lease.Claim) {
	ctx := cl.Context()
	next := int64(0)
	if cp := cl.Lease().Checkpoint; !cp.IsSentinel() {
		next, _ = strconv.ParseInt(cp.Sequence, 10, 64)
	}
	checkpoint := func() {
		next++
		cp := lease.Checkpoint{Sequence: strconv.FormatInt(next, 10)}
		err := cl.Checkpoint(context.Background(), cp)
		if errors.Is(err, lease.ErrLeaseLost) {
			f.refused.Add(1)
		}
		if err == nil {
			f.checkpoints.Add(1)
			if others := f.othersValid(m.id, cl.Key()); len(others) > 0 {
				f.fail("%s checkpointed %s while %v hold valid claims", m.id, cl.Key(), others)
			}
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			cl.Release(context.Background())
			return
		case <-cl.Stopping():
			checkpoint()
			if err := cl.Release(context.Background()); err != nil && ctx.Err() == nil {
				f.fail("%s release %s: %v", m.id, cl.Key(), err)
			}
			return
		case <-tick.C:
			checkpoint()
		}
	}
}

// crash stops a member without releasing anything.
func (f *fleet) crash(id string) {
	f.mu.Lock()
	m := f.members[id]
	delete(f.members, id)
	f.mu.Unlock()
	m.cancel()
	<-m.done
}

// shutdown stops a member gracefully; a member whose store calls block (paused) may miss the
// deadline only if mayTimeout.
func (f *fleet) shutdown(id string, mayTimeout bool) {
	f.mu.Lock()
	m := f.members[id]
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.co.Shutdown(ctx); err != nil && !(mayTimeout && errors.Is(err, context.DeadlineExceeded)) {
		f.fail("%s: Shutdown: %v", id, err)
	}
	<-m.done
	f.mu.Lock()
	delete(f.members, id)
	f.mu.Unlock()
}

func (f *fleet) stopAll() {
	f.mu.Lock()
	ids := make([]string, 0, len(f.members))
	for id := range f.members {
		ids = append(ids, id)
	}
	f.mu.Unlock()
	for _, id := range ids {
		f.crash(id)
	}
	f.wg.Wait()
	for _, e := range f.errs {
		f.t.Error(e)
	}
	f.checked.verify(f.t)
}

// owners returns the number of leases each worker owns in the table (unowned under "").
func (f *fleet) owners() map[string]int {
	ls, err := f.store.List(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]int{}
	for _, l := range ls {
		out[l.Owner]++
	}
	return out
}

// held returns, per live member, how many valid claims it has.
func (f *fleet) held() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for id, m := range f.members {
		out[id] = 0
		m.mu.Lock()
		for _, cl := range m.claims {
			if cl.Valid() {
				out[id]++
			}
		}
		m.mu.Unlock()
	}
	return out
}

// balanced reports whether every lease is validly held by a live member and counts differ by
// at most one.
func (f *fleet) balanced(total int) bool {
	h := f.held()
	sum, lo, hi := 0, total, 0
	for _, n := range h {
		sum += n
		lo, hi = min(lo, n), max(hi, n)
	}
	return sum == total && hi-lo <= 1
}

// waitUntil polls cond every 100ms of (fake) time; it returns the time waited, or fails after max.
func (f *fleet) waitUntil(max time.Duration, what string, cond func() bool) time.Duration {
	f.t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > max {
			f.t.Fatalf("%s: not reached after %v (held %v, owners %v)", what, max, f.held(), f.owners())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}
