package leasebench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shoal-go/shoal/internal/clientbench"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/dynamolease"
)

// Move is the outcome of a crash or graceful-stop scenario.
type Move struct {
	Gaps []time.Duration // per moved shard: from the kill/stop until another worker processed it
	// Stalls: per moved shard, from the last batch the stopped worker processed (a graceful
	// stop keeps processing while it hands over) until another worker processed it.
	Stalls     []time.Duration
	Duplicates int
	Lost       int
	// LeasesLost counts leases lost by any worker during the trial (a self-fence when the
	// machine stalls longer than the heartbeat deadline; the next owner then repeats what came
	// after the last checkpoint, so duplicates are expected).
	LeasesLost int64
}

// Failover kills (graceful=false) or shuts down (graceful=true) one of three workers sharing a
// 12-shard stream with records flowing, trials times, and measures how long each of its shards
// waits for another worker.
func Failover(ctx context.Context, graceful bool, trials int) (Move, error) {
	var out Move
	for trial := range trials {
		srv, err := kinesislocal.New(kinesislocal.Options{})
		if err != nil {
			return out, err
		}
		m, err := failoverOnce(ctx, srv, graceful, fmt.Sprintf("failover-%d", trial))
		srv.Close()
		if err != nil {
			return out, err
		}
		out.Gaps = append(out.Gaps, m.Gaps...)
		out.Stalls = append(out.Stalls, m.Stalls...)
		out.Duplicates += m.Duplicates
		out.Lost += m.Lost
		out.LeasesLost += m.LeasesLost
	}
	return out, nil
}

func failoverOnce(ctx context.Context, srv *kinesislocal.Server, graceful bool, name string) (Move, error) {
	const shards = 12
	f, err := newFleet(ctx, srv, shards, name)
	if err != nil {
		return Move{}, err
	}
	defer f.stopAll()
	for _, id := range []string{"a", "b", "c"} {
		if err := f.start(ctx, id); err != nil {
			return Move{}, err
		}
	}
	pctx, stopProd := context.WithCancel(ctx)
	var prod sync.WaitGroup
	prod.Go(func() { f.produce(pctx, 24, 50*time.Millisecond) })
	defer func() { stopProd(); prod.Wait() }()
	if !waitUntil(ctx, time.Minute, func() bool { return f.held("a") == 4 && f.held("b") == 4 && f.held("c") == 4 }) {
		return Move{}, errf("%s: fleet did not balance to 4/4/4 (a %d, b %d, c %d)", name, f.held("a"), f.held("b"), f.held("c"))
	}
	time.Sleep(time.Second) // every shard has a recent batch
	victim := f.shardsOf("a")
	f.mu.Lock()
	for _, s := range victim {
		f.watch[s] = "a"
	}
	m := f.workers["a"]
	f.mu.Unlock()
	t0 := time.Now()
	if graceful {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := m.c.Shutdown(sctx)
		cancel()
		if err != nil {
			return Move{}, errf("%s: shutdown: %v", name, err)
		}
	} else {
		m.cancel() // a crash: no release, the leases expire
	}
	if !waitUntil(ctx, time.Minute, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.firstAt) == len(victim)
	}) {
		return Move{}, errf("%s: not every shard of the stopped worker moved", name)
	}
	var out Move
	f.mu.Lock()
	for _, s := range victim {
		out.Gaps = append(out.Gaps, f.firstAt[s].Sub(t0))
		from := t0
		if f.lastAt[s].After(from) {
			from = f.lastAt[s]
		}
		out.Stalls = append(out.Stalls, f.firstAt[s].Sub(from))
	}
	f.mu.Unlock()
	stopProd()
	prod.Wait()
	f.awaitAll(ctx)
	out.Duplicates, out.Lost = f.duplicates()
	out.LeasesLost = f.leasesLost()
	return out, nil
}

// Rebalance has worker a hold every lease of an n-shard stream, then starts worker b and
// measures the time until both hold n/2 +/- 1, with records flowing.
func Rebalance(ctx context.Context, n int) (took time.Duration, dups, lost int, err error) {
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		return 0, 0, 0, err
	}
	defer srv.Close()
	f, err := newFleet(ctx, srv, n, "rebalance")
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.stopAll()
	if err := f.start(ctx, "a"); err != nil {
		return 0, 0, 0, err
	}
	pctx, stopProd := context.WithCancel(ctx)
	var prod sync.WaitGroup
	prod.Go(func() { f.produce(pctx, 50, 100*time.Millisecond) })
	defer func() { stopProd(); prod.Wait() }()
	if !waitUntil(ctx, time.Minute, func() bool { return f.held("a") == n }) {
		return 0, 0, 0, errf("worker a holds %d of %d leases", f.held("a"), n)
	}
	t0 := time.Now()
	if err := f.start(ctx, "b"); err != nil {
		return 0, 0, 0, err
	}
	balanced := func() bool {
		a, b := f.held("a"), f.held("b")
		return a+b == n && a-b <= 1 && b-a <= 1
	}
	if !waitUntil(ctx, 3*time.Minute, balanced) {
		return 0, 0, 0, errf("not balanced after 3 minutes: a %d, b %d", f.held("a"), f.held("b"))
	}
	took = time.Since(t0)
	stopProd()
	prod.Wait()
	f.awaitAll(ctx)
	dups, lost = f.duplicates()
	return took, dups, lost, nil
}

// Cost is the lease table traffic of a steady fleet with no records (so no checkpoints).
type Cost struct {
	Leases, Workers          int
	Window                   time.Duration
	WritesPerLeasePerMinute  float64
	ReadsPerMinute           float64 // requests (Scan pages and GetItem)
	ScannedItemsPerMinute    float64
	WritesPerWorkerPerMinute float64
}

// LeaseCost runs workers over an n-shard stream until balanced, then counts DynamoDB requests
// for window.
func LeaseCost(ctx context.Context, n, workers int, window time.Duration) (Cost, error) {
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		return Cost{}, err
	}
	defer srv.Close()
	f, err := newFleet(ctx, srv, n, "cost")
	if err != nil {
		return Cost{}, err
	}
	defer f.stopAll()
	ids := make([]string, workers)
	for i := range ids {
		ids[i] = fmt.Sprintf("w%d", i)
		if err := f.start(ctx, ids[i]); err != nil {
			return Cost{}, err
		}
	}
	if !waitUntil(ctx, 2*time.Minute, func() bool {
		total, lo, hi := 0, n, 0
		for _, id := range ids {
			h := f.held(id)
			total += h
			lo, hi = min(lo, h), max(hi, h)
		}
		return total == n && hi-lo <= 1
	}) {
		return Cost{}, errf("fleet did not balance")
	}
	time.Sleep(2 * time.Second) // let handoffs settle
	w0, r0, s0 := f.db.writes.Load(), f.db.reads.Load(), f.db.scannedItems.Load()
	time.Sleep(window)
	w, r, s := f.db.writes.Load()-w0, f.db.reads.Load()-r0, f.db.scannedItems.Load()-s0
	min := window.Minutes()
	return Cost{Leases: n, Workers: workers, Window: window,
		WritesPerLeasePerMinute: float64(w) / float64(n) / min, ReadsPerMinute: float64(r) / min,
		ScannedItemsPerMinute: float64(s) / min, WritesPerWorkerPerMinute: float64(w) / float64(workers) / min}, nil
}

// Scale is the cost of one worker holding many leases (lease layer only: a coordinator over
// dynamolease on the in-process server, no shard readers).
type Scale struct {
	Leases       int
	CPUPerSecond time.Duration // process CPU per wall second while holding them
	HeapBytes    uint64        // heap in use while holding them
	AcquireAllIn time.Duration
}

// ManyLeases creates n leases and measures one coordinator holding them for window.
func ManyLeases(ctx context.Context, n int, window time.Duration) (Scale, error) {
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		return Scale{}, err
	}
	defer srv.Close()
	cfg := srv.AWSConfig()
	db := &countingDB{Client: dynamodb.NewFromConfig(cfg)}
	store, err := dynamolease.New(db, dynamolease.Options{Table: "many", PollInterval: 20 * time.Millisecond})
	if err != nil {
		return Scale{}, err
	}
	if err := store.Init(ctx); err != nil {
		return Scale{}, err
	}
	for i := range n {
		if err := store.Create(ctx, lease.Lease{Key: fmt.Sprintf("shardId-%012d", i), Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}}); err != nil {
			return Scale{}, err
		}
	}
	var mu sync.Mutex
	var claims []*lease.Claim
	co, err := lease.New(lease.Config{Store: store, WorkerID: "solo", Acquired: func(c *lease.Claim) {
		mu.Lock()
		claims = append(claims, c)
		mu.Unlock()
	}})
	if err != nil {
		return Scale{}, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- co.Run(rctx) }()
	defer func() {
		cancel()
		<-done
		mu.Lock()
		for _, c := range claims {
			c.Release(context.Background())
		}
		mu.Unlock()
	}()
	if !waitUntil(ctx, 2*time.Minute, func() bool { return co.Stats().Held == n }) {
		return Scale{}, errf("holds %d of %d leases", co.Stats().Held, n)
	}
	out := Scale{Leases: n, AcquireAllIn: time.Since(t0)}
	runtime.GC()
	c0, w0 := clientbench.CPU(), time.Now()
	time.Sleep(window)
	out.CPUPerSecond = time.Duration(float64(clientbench.CPU()-c0) / time.Since(w0).Seconds())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out.HeapBytes = ms.HeapInuse
	return out, nil
}
