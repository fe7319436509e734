package kcl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/aggregate"
	"github.com/shoal-go/shoal/lease"
)

// Processor processes one shard. ProcessShard is called in its own goroutine each time this
// worker starts a shard; it reads batches with s.Next and checkpoints with s.Checkpoint (see the
// package example). It should return s.Err() when Next returns false: nil at the end of the
// shard, in which case the library records SHARD_END and starts the shard's children.
// Returning another error runs the processor again, from the last checkpoint, after a backoff.
type Processor interface {
	ProcessShard(ctx context.Context, s *Shard) error
}

// ProcessorFunc adapts a function to Processor.
type ProcessorFunc func(ctx context.Context, s *Shard) error

// ProcessShard calls f.
func (f ProcessorFunc) ProcessShard(ctx context.Context, s *Shard) error { return f(ctx, s) }

// BatchProcessor returns a Processor that calls fn for each batch and checkpoints the batch's
// last record when fn returns nil (written as Config.CheckpointInterval says). If fn fails, the shard is processed again from the last
// checkpoint (the failed batch is delivered again), after a backoff.
func BatchProcessor(fn func(ctx context.Context, b Batch) error) Processor {
	return ProcessorFunc(func(ctx context.Context, s *Shard) error {
		for s.Next(ctx) {
			b := s.Batch()
			if err := fn(ctx, b); err != nil {
				return err
			}
			if err := s.Checkpoint(ctx, b.Last()); err != nil {
				return err
			}
		}
		return s.Err()
	})
}

// Consumer runs a Processor for every shard this worker owns. Create it with New, run it with
// Run; Shutdown stops it gracefully. Its methods are safe for concurrent use.
type Consumer struct {
	cfgMu sync.Mutex // guards cfg.Retrieval, set by Run after consumer registration
	cfg   Config
	proc  Processor
	co    *lease.Coordinator

	shards  sync.WaitGroup // one goroutine per claim
	started atomic.Bool    // Run was called
	stopped atomic.Bool    // Shutdown was called
	done    chan struct{}  // closed when Run has returned
	syncNow chan struct{}  // wakes the shard-sync loop

	mu    sync.Mutex // guards below
	stats Stats
	owned map[string]*ShardStats
}

// Stats is a snapshot of a Consumer's counters.
type Stats struct {
	// Records and Batches delivered to the processor, and Checkpoints written to the lease
	// table (coalesced: see Config.CheckpointInterval), since Run started.
	Records, Batches, Checkpoints int64
	// Throttles counts reads that were throttled or failed and retried.
	Throttles int64
	// ProcessorErrors counts processor runs that returned an error.
	ProcessorErrors int64
	// ShardsEnded counts shards read to their end (SHARD_END written).
	ShardsEnded int64
	// Shards is the state of each shard this worker processes now.
	Shards map[string]ShardStats
	// Leases is the lease coordinator's view.
	Leases lease.Stats
}

// ShardStats is the state of one owned shard.
type ShardStats struct {
	Records            int64
	MillisBehindLatest int64
	LastBatch          time.Time
}

// New validates cfg and returns a Consumer. It starts nothing and does no I/O.
func New(cfg Config, p Processor) (*Consumer, error) {
	cfg, err := cfg.withDefaults()
	if p == nil {
		err = errors.Join(err, errors.New("kcl: Processor is required"))
	}
	if err != nil {
		return nil, err
	}
	c := &Consumer{cfg: cfg, proc: p, owned: map[string]*ShardStats{},
		done: make(chan struct{}), syncNow: make(chan struct{}, 1)}
	t := cfg.Lease
	co, err := lease.New(lease.Config{
		Store: cfg.Leases, WorkerID: cfg.WorkerID, Acquired: c.acquired,
		HeartbeatInterval: t.HeartbeatInterval, HeartbeatTimeout: t.HeartbeatTimeout,
		LeaseDuration: t.LeaseDuration, SafetyMargin: t.SafetyMargin,
		WorkerScanInterval: t.WorkerScanInterval, ScanInterval: t.ScanInterval,
		HandoffTimeout: t.HandoffTimeout, MaxLeasesPerWorker: t.MaxLeasesPerWorker,
		MaxStealsPerCycle: t.MaxStealsPerCycle,
		Hooks: lease.Hooks{
			LeaseAcquired: func(key string, _ lease.Lease) {
				if h := cfg.Hooks.LeaseAcquired; h != nil {
					h(key)
				}
			},
			LeaseLost: func(key string, cause error) {
				if h := cfg.Hooks.LeaseLost; h != nil {
					h(key, cause)
				}
			},
		},
		Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("kcl: %w", err)
	}
	c.co = co
	return c, nil
}

// WorkerID returns this worker's id in the lease table.
func (c *Consumer) WorkerID() string { return c.cfg.WorkerID }

// ErrStreamNotFound: the stream does not exist (Kinesis answered ResourceNotFoundException when
// Run started). Run returns it before creating lease tables.
var ErrStreamNotFound = errors.New("kcl: stream not found")

// Config returns the configuration in effect: the Config given to New with every default
// applied (for FanOut without ConsumerARN, the ARN once Run has registered the consumer).
func (c *Consumer) Config() Config {
	c.cfgMu.Lock()
	defer c.cfgMu.Unlock()
	return c.cfg
}

// ErrRunning: Run was called on a Consumer that is running or has run.
var ErrRunning = errors.New("kcl: Run called twice")

// Run runs the consumer until ctx is cancelled (a hard stop: processors see their context
// cancelled with ErrShutdown, nothing is released, and other workers take the shards after the
// lease duration) or Shutdown completes. It returns nil after Shutdown, else ctx's cause or the
// error that stopped it. Every goroutine it starts has ended when it returns. Run may be called
// once; later calls return ErrRunning at once.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer close(c.done)
	if c.stopped.Load() {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	log := c.cfg.Logger.With("worker", c.cfg.WorkerID, "stream", c.streamLabel())
	// Fail fast on a stream that does not exist, before creating anything for it.
	if err := c.checkStream(ctx); err != nil {
		log.Error("consumer not started", "err", err)
		return err
	}
	if fo, ok := c.cfg.Retrieval.(FanOut); ok && fo.ConsumerARN == "" {
		arn, err := registerConsumer(ctx, c.cfg.Kinesis.(FanOutAPI), c.cfg.StreamName, c.cfg.StreamARN, fo.ConsumerName)
		if err != nil {
			return fmt.Errorf("kcl: %w", err)
		}
		fo.ConsumerARN = arn
		c.cfgMu.Lock()
		c.cfg.Retrieval = fo
		c.cfgMu.Unlock()
	}
	// Create the lease tables before the first shard sync reads them (the coordinator's Run does
	// the same; Init is idempotent).
	if in, ok := c.cfg.Leases.(lease.Initializer); ok {
		if err := in.Init(ctx); err != nil {
			return fmt.Errorf("kcl: init lease store: %w", err)
		}
	}
	log.Info("consumer starting", "initial_position", c.cfg.InitialPosition.String(),
		"retrieval", fmt.Sprintf("%T", c.cfg.Retrieval))
	var bg sync.WaitGroup
	syncCtx, stopSync := context.WithCancel(ctx)
	bg.Go(func() { c.syncLoop(syncCtx) })
	err := c.co.Run(ctx)
	stopSync()
	bg.Wait()
	c.shards.Wait()
	log.Info("consumer stopped", "err", err)
	return err
}

// checkStream returns ErrStreamNotFound if Kinesis says the stream does not exist. Other errors
// are left to shard sync, which retries them.
func (c *Consumer) checkStream(ctx context.Context) error {
	in := &kinesis.ListShardsInput{MaxResults: aws.Int32(1)}
	if c.cfg.StreamARN != "" {
		in.StreamARN = aws.String(c.cfg.StreamARN)
	} else {
		in.StreamName = aws.String(c.cfg.StreamName)
	}
	_, err := c.cfg.Kinesis.ListShards(ctx, in)
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) || errorCode(err) == "ResourceNotFoundException" {
		return fmt.Errorf("%w: %s: %v", ErrStreamNotFound, c.streamLabel(), err)
	}
	return nil
}

// Shutdown stops the consumer gracefully: each processor sees Next return false with
// ErrStopping, checkpoints and returns, and its lease is released so another worker continues
// from that checkpoint at once. It blocks until Run has returned or ctx ends (then the remaining
// shards are stopped hard and their leases expire normally, and Shutdown returns ctx's error
// without waiting for processors that ignore their context). Called before Run, it makes Run
// return nil at once. It may be called more than once.
func (c *Consumer) Shutdown(ctx context.Context) error {
	c.stopped.Store(true)
	if c.started.Load() {
		c.cfg.Logger.Info("consumer shutting down", "worker", c.cfg.WorkerID, "stream", c.streamLabel())
	}
	err := c.co.Shutdown(ctx)
	if !c.started.Load() {
		return err
	}
	select {
	case <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns a snapshot of the consumer's counters. It does not block on I/O.
func (c *Consumer) Stats() Stats {
	c.mu.Lock()
	s := c.stats
	s.Shards = make(map[string]ShardStats, len(c.owned))
	for id, st := range c.owned {
		s.Shards[id] = *st
	}
	c.mu.Unlock()
	s.Leases = c.co.Stats()
	return s
}

func (c *Consumer) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

// acquired is called by the coordinator for each new claim; it must not block.
func (c *Consumer) acquired(cl *lease.Claim) {
	c.shards.Go(func() { c.runShard(cl) })
}

func (c *Consumer) streamLabel() string {
	if c.cfg.StreamARN != "" {
		return c.cfg.StreamARN
	}
	return c.cfg.StreamName
}

// runShard processes one claim until it ends: shard end, stop, loss, or hard stop.
func (c *Consumer) runShard(cl *lease.Claim) {
	id := cl.Key()
	log := c.cfg.Logger.With("shard", id, "worker", c.cfg.WorkerID, "stream", c.streamLabel())
	c.mu.Lock()
	c.owned[id] = &ShardStats{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.owned, id)
		c.mu.Unlock()
	}()
	// release acknowledges the claim; it must happen whatever the outcome.
	release := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(cl.Context()), 10*time.Second)
		defer cancel()
		if err := cl.Release(rctx); err != nil {
			log.Warn("release lease", "err", err)
		}
	}
	l := cl.Lease()
	if l.Finished() {
		release()
		return
	}
	var keep *aggregate.HashRange
	if c.cfg.HashRangeFilter {
		if r, err := aggregate.ParseHashRange(l.StartingHashKey, l.EndingHashKey); err == nil {
			keep = &r
		}
	}
	bo := backoff{base: c.cfg.RetryBase, max: c.cfg.RetryMax}
	var first lease.Checkpoint // the first record delivered in this claim: where a retry resumes
	fresh := false             // this claim wrote the LATEST lease's start time
	for attempt := 1; ; attempt++ {
		var err, ferr error
		var s *Shard
		if fresh, err = c.durableStart(cl, fresh); err == nil {
			var stopRead func()
			s, stopRead = c.openShard(cl, keep, first, fresh && attempt == 1, log)
			err = c.proc.ProcessShard(cl.Context(), s)
			s.report()
			// The last position the processor recorded is written before the shard is finished,
			// released or run again.
			ferr = s.finalFlush(log)
			stopRead()
			if first.Sequence == "" {
				first = s.firstDelivered()
			}
		} else {
			s = &Shard{} // nothing was read
		}
		switch {
		case s.ended && err == nil && ferr == nil:
			c.finishShard(cl, s.end, log)
			return
		case s.ended && err == nil && cl.Context().Err() == nil:
			// SHARD_END only after the final checkpoint: the next owner reads the rest again.
			log.Warn("shard ended but its final checkpoint could not be written; releasing it", "err", ferr)
			release()
			return
		case cl.Context().Err() != nil:
			release() // lost or hard stop: acknowledge only
			return
		case errors.Is(err, ErrStopping) || (err == nil && s.err == ErrStopping) || isStopping(cl):
			release()
			return
		case err == nil:
			err = fmt.Errorf("processor returned nil before the end of the shard (Err: %v)", s.Err())
		}
		if s.progressed() {
			bo.reset() // the failure follows progress: start the backoff over
		}
		wait := bo.next()
		c.count(func(st *Stats) { st.ProcessorErrors++ })
		log.Warn("processor failed; retrying from the last checkpoint", "err", err, "attempt", attempt, "wait", wait)
		if h := c.cfg.Hooks.ProcessorFailed; h != nil {
			h(id, err, attempt, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-cl.Stopping():
			t.Stop()
			release()
			return
		case <-cl.Context().Done():
			t.Stop()
			release()
			return
		}
	}
}

func isStopping(cl *lease.Claim) bool {
	select {
	case <-cl.Stopping():
		return true
	default:
		return false
	}
}

// LatestStartSkew is subtracted from this worker's clock when it records where a LATEST lease
// starts (see durableStart): it covers clock skew between the worker and Kinesis's arrival
// timestamps. A later owner of the lease may therefore also see records that arrived up to this
// long before the lease's first owner started; it never misses one that arrived after.
const LatestStartSkew = 5 * time.Second

// durableStart makes a LATEST lease's start durable before its first iterator opens: if the
// lease still holds LATEST without a start time, it writes (fenced, like any checkpoint)
// LATEST with the time, minus LatestStartSkew. Every later reader of the lease, this worker's
// retries and any later owner, starts AT_TIMESTAMP there instead of at a new LATEST, so no owner
// change or retry before the first checkpoint skips a record. (A Java KCL reading the table
// sees LATEST and ignores the time.) It returns whether this call or an earlier one of the same
// claim wrote it.
func (c *Consumer) durableStart(cl *lease.Claim, wrote bool) (bool, error) {
	cp := cl.Lease().Checkpoint
	if cp.Sequence != lease.Latest || !cp.Timestamp.IsZero() {
		return wrote, nil
	}
	ctx, cancel := context.WithTimeout(cl.Context(), time.Minute)
	defer cancel()
	ts := time.UnixMilli(time.Now().Add(-LatestStartSkew).UnixMilli()).UTC()
	if err := cl.Checkpoint(ctx, lease.Checkpoint{Sequence: lease.Latest, Timestamp: ts}); err != nil {
		return false, fmt.Errorf("record where the LATEST lease starts: %w", err)
	}
	return true, nil
}

// openShard starts a reader and returns the Shard the processor sees and a function that stops
// the reader and waits for it. The reader starts after the claim's checkpoint; at a starting
// sentinel, AT first (the first record an earlier attempt of this claim delivered) if known,
// else at the lease's recorded start (LATEST itself only on the attempt that recorded it).
func (c *Consumer) openShard(cl *lease.Claim, keep *aggregate.HashRange, first lease.Checkpoint, fresh bool, log *slog.Logger) (*Shard, func()) {
	id := cl.Key()
	l := cl.Lease()
	pos, after := startPosition(l.Checkpoint, c.cfg.InitialPosition, first, fresh)
	onRetry := func(err error, throttled bool, wait time.Duration) {
		c.count(func(st *Stats) { st.Throttles++ })
		if h := c.cfg.Hooks.Throttled; h != nil {
			h(id, err, wait)
		}
	}
	var f fetcher
	switch r := c.cfg.Retrieval.(type) {
	case FanOut:
		f = newSubscriber(c.cfg.Kinesis.(FanOutAPI), r.ConsumerARN, id, r, pos, onRetry)
	case Polling:
		f = newPoller(c.cfg.Kinesis, c.cfg.StreamName, c.cfg.StreamARN, id, r, pos, onRetry)
	}
	rctx, cancel := context.WithCancel(cl.Context())
	pages, done := prefetch(rctx, f)
	s := &Shard{id: id, claim: cl, ctx: cl.Context(), stop: cl.Stopping(),
		pages: pages, recorded: after, written: after,
		dec: &decoder{keep: keep, after: after,
			corrupt: func(r Record) {
				if h := c.cfg.Hooks.CorruptRecord; h != nil {
					h(id, r)
				}
			}}}
	hooks := c.cfg.Hooks // a copy, with the consumer's counters added
	s.hooks = &hooks
	inner := s.hooks.BatchProcessed
	s.hooks.BatchProcessed = func(shard string, n, bytes int, behind int64, took time.Duration) {
		c.mu.Lock()
		c.stats.Records += int64(n)
		c.stats.Batches++
		if st := c.owned[shard]; st != nil {
			st.Records += int64(n)
			st.MillisBehindLatest = behind
			st.LastBatch = time.Now()
		}
		c.mu.Unlock()
		if inner != nil {
			inner(shard, n, bytes, behind, took)
		}
	}
	innerCP := s.hooks.Checkpointed
	s.hooks.Checkpointed = func(shard string, took time.Duration) {
		c.count(func(st *Stats) { st.Checkpoints++ })
		if innerCP != nil {
			innerCP(shard, took)
		}
	}
	s.cpw = newCheckpointer(s, c.cfg.CheckpointInterval, cl.Stopping(), log)
	go s.cpw.run(rctx)
	return s, func() { cancel(); <-done; <-s.cpw.done }
}

// finishShard creates the children's leases, writes SHARD_END and gives the lease up. If it
// cannot (the lease table or Kinesis fails), it releases the lease: the next owner reads the
// rest of the shard again from the last checkpoint and retries.
func (c *Consumer) finishShard(cl *lease.Claim, end page, log interface {
	Warn(string, ...any)
	Info(string, ...any)
}) {
	id := cl.Key()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(cl.Context()), time.Minute)
	defer cancel()
	children, err := c.children(ctx, id, end.children)
	if err == nil {
		err = c.createChildLeases(ctx, id, children)
	}
	if err != nil {
		log.Warn("shard ended but its children could not be recorded; releasing it", "err", err)
		if rerr := cl.Release(ctx); rerr != nil {
			log.Warn("release lease", "err", rerr)
		}
		return
	}
	ids := make([]string, len(children))
	for i, ch := range children {
		ids[i] = ch.id
	}
	if err := cl.Finish(ctx, ids); err != nil {
		log.Warn("write SHARD_END", "err", err)
		return
	}
	c.count(func(st *Stats) { st.ShardsEnded++ })
	log.Info("shard ended", "children", ids)
	if h := c.cfg.Hooks.ShardEnded; h != nil {
		h(id, ids)
	}
	c.co.Rescan()
}

// children returns the child shards of a closed shard: from the ChildShards of its last read,
// or, for servers that send none, from ListShards.
func (c *Consumer) children(ctx context.Context, id string, fromRead []types.ChildShard) ([]shardInfo, error) {
	if len(fromRead) > 0 {
		out := make([]shardInfo, 0, len(fromRead))
		for _, ch := range fromRead {
			si := shardInfo{id: aws.ToString(ch.ShardId), parents: ch.ParentShards}
			if ch.HashKeyRange != nil {
				si.startHash, si.endHash = aws.ToString(ch.HashKeyRange.StartingHashKey), aws.ToString(ch.HashKeyRange.EndingHashKey)
			}
			out = append(out, si)
		}
		return out, nil
	}
	bo := backoff{base: 200 * time.Millisecond, max: 5 * time.Second}
	for attempt := 0; ; attempt++ {
		shards, err := c.listShards(ctx)
		if err != nil {
			return nil, err
		}
		var out []shardInfo
		for _, s := range shards {
			for _, p := range s.parents {
				if p == id {
					out = append(out, s)
				}
			}
		}
		// A closed shard always has children once the reshard is visible; a stream being deleted
		// may show none.
		if len(out) > 0 || attempt >= 5 {
			return out, nil
		}
		if err := sleep(ctx, bo.next()); err != nil {
			return nil, err
		}
	}
}

// createChildLeases creates the leases of parent's children (at TRIM_HORIZON, or AT_TIMESTAMP
// for AtTimestamp). A merge child whose other parent has no lease is held back: it would look
// startable (a parent missing from the table counts as finished) and that parent would be
// skipped. Shard sync, woken now, creates the missing parent first and the child after it.
func (c *Consumer) createChildLeases(ctx context.Context, parent string, children []shardInfo) error {
	cp := lease.TrimHorizon
	if c.cfg.InitialPosition.sentinel == lease.AtTimestamp {
		cp = lease.AtTimestamp
	}
	held := false
	for _, ch := range children {
		missing := ""
		for _, p := range ch.parents {
			if p == parent {
				continue
			}
			if _, err := c.cfg.Leases.Get(ctx, p); errors.Is(err, lease.ErrNotFound) {
				missing = p
			} else if err != nil {
				return fmt.Errorf("create lease %s: read parent %s: %w", ch.id, p, err)
			}
		}
		if missing != "" {
			c.cfg.Logger.Info("child lease held back until its other parent has a lease", "shard", ch.id,
				"parent", missing, "worker", c.cfg.WorkerID, "stream", c.streamLabel())
			held = true
			continue
		}
		if err := c.createLease(ctx, newLease{shard: ch, checkpoint: cp}); err != nil {
			return err
		}
	}
	if held {
		c.syncSoon()
	}
	return nil
}

// syncSoon asks the shard-sync loop to run now. It does not block.
func (c *Consumer) syncSoon() {
	select {
	case c.syncNow <- struct{}{}:
	default:
	}
}

func (c *Consumer) createLease(ctx context.Context, nl newLease) error {
	cp := lease.Checkpoint{Sequence: nl.checkpoint}
	if nl.checkpoint == lease.AtTimestamp {
		cp.Timestamp = c.cfg.InitialPosition.ts // so any configuration reading the lease starts there
	}
	err := c.cfg.Leases.Create(ctx, lease.Lease{Key: nl.shard.id, Checkpoint: cp,
		ParentShardIDs: nl.shard.parents, StartingHashKey: nl.shard.startHash, EndingHashKey: nl.shard.endHash})
	if err != nil && !errors.Is(err, lease.ErrExists) {
		return fmt.Errorf("create lease %s: %w", nl.shard.id, err)
	}
	return nil
}

// listShards returns every shard of the stream (paginated ListShards).
func (c *Consumer) listShards(ctx context.Context) ([]shardInfo, error) {
	var out []shardInfo
	in := &kinesis.ListShardsInput{}
	if c.cfg.StreamARN != "" {
		in.StreamARN = aws.String(c.cfg.StreamARN)
	} else {
		in.StreamName = aws.String(c.cfg.StreamName)
	}
	bo := backoff{base: 200 * time.Millisecond, max: 5 * time.Second}
	seen := map[string]bool{}
	for {
		resp, err := c.cfg.Kinesis.ListShards(ctx, in)
		if err != nil {
			if isThrottle(err) {
				if serr := sleep(ctx, bo.next()); serr != nil {
					return nil, serr
				}
				continue
			}
			return nil, fmt.Errorf("list shards: %w", err)
		}
		for _, s := range resp.Shards {
			id := aws.ToString(s.ShardId)
			if seen[id] { // servers that ignore pagination repeat shards
				continue
			}
			seen[id] = true
			si := shardInfo{id: id}
			for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
				if aws.ToString(p) != "" {
					si.parents = append(si.parents, *p)
				}
			}
			if s.HashKeyRange != nil {
				si.startHash, si.endHash = aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey)
			}
			si.closed = s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil
			out = append(out, si)
		}
		if resp.NextToken == nil || len(resp.Shards) == 0 {
			return out, nil
		}
		in = &kinesis.ListShardsInput{NextToken: resp.NextToken} // the token alone names the stream
	}
}
