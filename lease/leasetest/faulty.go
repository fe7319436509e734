package leasetest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/shoal-go/shoal/lease"
)

// Rule is one injected fault. A call matches when Op equals its method name ("Take",
// "Heartbeat", ...; "" matches every method) and, if Match is set, Match(worker-or-key) is true.
type Rule struct {
	Op    string
	Match func(arg string) bool
	// Delay is waited (or until the call's ctx ends) before the call proceeds or fails.
	Delay time.Duration
	// Latency, when non-nil, is called for each matching call and its result is waited after
	// Delay (e.g. LogNormal). It is called concurrently.
	Latency func() time.Duration
	// Err, when non-nil, fails the call after Delay, wrapped with the method name.
	Err error
	// Block, when non-nil, makes the call wait until Block is closed (or ctx ends) first.
	Block <-chan struct{}
}

// Faulty wraps a lease.Store and injects faults into selected calls: errors, delays, blocking.
// Rules apply in order; the first match wins. Safe for concurrent use; rules may change while
// calls run. Create it with NewFaulty.
type Faulty struct {
	lease.Store

	mu    sync.Mutex
	rules []Rule
	calls map[string]int
}

// NewFaulty wraps s with no rules.
func NewFaulty(s lease.Store) *Faulty { return &Faulty{Store: s, calls: map[string]int{}} }

// Set replaces all rules.
func (f *Faulty) Set(rules ...Rule) {
	f.mu.Lock()
	f.rules = rules
	f.mu.Unlock()
}

// Calls returns how many times method op was called.
func (f *Faulty) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// LogNormal returns a latency distribution for Rule.Latency: log-normal with the given median
// and 99th percentile (p99 > p50 > 0), drawn from a generator seeded with seed, capped at
// 20*p99. Safe for concurrent use.
func LogNormal(p50, p99 time.Duration, seed uint64) func() time.Duration {
	sigma := math.Log(float64(p99)/float64(p50)) / 2.3263478740 // z of the 99th percentile
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	return func() time.Duration {
		mu.Lock()
		z := rng.NormFloat64()
		mu.Unlock()
		return min(time.Duration(float64(p50)*math.Exp(sigma*z)), 20*p99)
	}
}

// During returns a Rule.Match predicate that is true for the first burst of every period,
// counted from the call of During on the caller's clock (the fake clock under synctest): e.g.
// Rule{Err: ErrThrottle, Match: During(15*time.Second, 1500*time.Millisecond)} throttles every
// call for 1.5 s every 15 s.
func During(period, burst time.Duration) func(string) bool {
	start := time.Now()
	return func(string) bool { return time.Since(start)%period < burst }
}

// ErrThrottle is an error for Rule.Err to imitate store throttling: it wraps lease.ErrThrottled.
var ErrThrottle = fmt.Errorf("injected: %w", lease.ErrThrottled)

func (f *Faulty) inject(ctx context.Context, op, arg string) error {
	f.mu.Lock()
	f.calls[op]++
	var r *Rule
	for i := range f.rules {
		x := f.rules[i]
		if (x.Op == "" || x.Op == op) && (x.Match == nil || x.Match(arg)) {
			r = &x
			break
		}
	}
	f.mu.Unlock()
	if r == nil {
		return nil
	}
	if r.Block != nil {
		select {
		case <-r.Block:
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %w", op, arg, ctx.Err())
		}
	}
	d := r.Delay
	if r.Latency != nil {
		d += r.Latency()
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s %s: %w", op, arg, ctx.Err())
		}
	}
	if r.Err != nil {
		return fmt.Errorf("%s %s: %w", op, arg, r.Err)
	}
	return nil
}

// Create implements lease.Store.
func (f *Faulty) Create(ctx context.Context, l lease.Lease) error {
	if err := f.inject(ctx, "Create", l.Key); err != nil {
		return err
	}
	return f.Store.Create(ctx, l)
}

// Get implements lease.Store.
func (f *Faulty) Get(ctx context.Context, key string) (lease.Lease, error) {
	if err := f.inject(ctx, "Get", key); err != nil {
		return lease.Lease{}, err
	}
	return f.Store.Get(ctx, key)
}

// List implements lease.Store.
func (f *Faulty) List(ctx context.Context) ([]lease.Lease, error) {
	if err := f.inject(ctx, "List", ""); err != nil {
		return nil, err
	}
	return f.Store.List(ctx)
}

// Scan implements lease.Store.
func (f *Faulty) Scan(ctx context.Context) ([]lease.Lease, []lease.InvalidItem, error) {
	if err := f.inject(ctx, "Scan", ""); err != nil {
		return nil, nil, err
	}
	return f.Store.Scan(ctx)
}

// Take implements lease.Store.
func (f *Faulty) Take(ctx context.Context, key string, from lease.Expect, to string) (lease.Lease, error) {
	if err := f.inject(ctx, "Take", key); err != nil {
		return lease.Lease{}, err
	}
	return f.Store.Take(ctx, key, from, to)
}

// RequestHandoff implements lease.Store.
func (f *Faulty) RequestHandoff(ctx context.Context, key string, from lease.Expect, to string) (lease.Lease, error) {
	if err := f.inject(ctx, "RequestHandoff", key); err != nil {
		return lease.Lease{}, err
	}
	return f.Store.RequestHandoff(ctx, key, from, to)
}

// CompleteHandoff implements lease.Store.
func (f *Faulty) CompleteHandoff(ctx context.Context, key string, from lease.Expect) (lease.Lease, error) {
	if err := f.inject(ctx, "CompleteHandoff", key); err != nil {
		return lease.Lease{}, err
	}
	return f.Store.CompleteHandoff(ctx, key, from)
}

// Release implements lease.Store.
func (f *Faulty) Release(ctx context.Context, key string, from lease.Expect) (lease.Lease, error) {
	if err := f.inject(ctx, "Release", key); err != nil {
		return lease.Lease{}, err
	}
	return f.Store.Release(ctx, key, from)
}

// Checkpoint implements lease.Store.
func (f *Faulty) Checkpoint(ctx context.Context, key string, from lease.Expect, cp lease.Checkpoint) (lease.Lease, error) {
	if err := f.inject(ctx, "Checkpoint", key); err != nil {
		return lease.Lease{}, err
	}
	return f.Store.Checkpoint(ctx, key, from, cp)
}

// Finish implements lease.Store.
func (f *Faulty) Finish(ctx context.Context, key string, from lease.Expect, children []string) (lease.Lease, error) {
	if err := f.inject(ctx, "Finish", key); err != nil {
		return lease.Lease{}, err
	}
	return f.Store.Finish(ctx, key, from, children)
}

// Delete implements lease.Store.
func (f *Faulty) Delete(ctx context.Context, key string) error {
	if err := f.inject(ctx, "Delete", key); err != nil {
		return err
	}
	return f.Store.Delete(ctx, key)
}

// Heartbeat implements lease.Store.
func (f *Faulty) Heartbeat(ctx context.Context, worker, instance string) (lease.Worker, error) {
	if err := f.inject(ctx, "Heartbeat", worker); err != nil {
		return lease.Worker{}, err
	}
	return f.Store.Heartbeat(ctx, worker, instance)
}

// Wake implements lease.Store.
func (f *Faulty) Wake(ctx context.Context, worker string) error {
	if err := f.inject(ctx, "Wake", worker); err != nil {
		return err
	}
	return f.Store.Wake(ctx, worker)
}

// Workers implements lease.Store.
func (f *Faulty) Workers(ctx context.Context) ([]lease.Worker, error) {
	if err := f.inject(ctx, "Workers", ""); err != nil {
		return nil, err
	}
	return f.Store.Workers(ctx)
}

// RemoveWorker implements lease.Store.
func (f *Faulty) RemoveWorker(ctx context.Context, worker string, heartbeat int64) error {
	if err := f.inject(ctx, "RemoveWorker", worker); err != nil {
		return err
	}
	return f.Store.RemoveWorker(ctx, worker, heartbeat)
}
