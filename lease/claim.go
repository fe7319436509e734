package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// errReleased is the cause of a Claim's context after Release or Finish succeeded.
var errReleased = errors.New("lease: released")

// ErrBackwards: a checkpoint before the lease's current checkpoint was refused.
var ErrBackwards = errors.New("lease: checkpoint before the current checkpoint")

// Claim is this worker's hold on one lease, from its acquisition until Release, Finish or loss
// (the idea of etcd's concurrency.Session, per lease). Its methods are safe for concurrent use;
// writes on one claim are serialized.
//
// Contract for the holder: process the lease while Context() is live; when Stopping() is closed
// (another worker asked for the lease, or the coordinator is shutting down), finish the current
// batch, checkpoint, and call Release. Every claim must be ended by Release or Finish, also after
// its context was cancelled: until then the coordinator does not acquire the same key again, so
// two processors of one shard never run in this process at once.
type Claim struct {
	env      claimEnv
	key      string
	acquired int64 // the lease counter when this claim was acquired
	reported bool  // its loss was reported; owned by the coordinator goroutine

	ctx    context.Context
	cancel context.CancelCauseFunc
	epoch  context.Context

	stopOnce sync.Once
	stopping chan struct{}

	// writeMu serializes the claim's store writes and is held during them. The coordinator
	// goroutine never takes it, so a slow store call cannot stall the coordinator.
	writeMu sync.Mutex

	mu    sync.Mutex // guards the fields below; never held during I/O
	lease Lease
	acked bool
	// giving: a final write was started (context cancelled with errReleased);
	// releaseFailed: it failed, so the lease may still be owned by this worker in the table.
	giving, releaseFailed bool
	// forced: the coordinator took over the final write after HandoffTimeout (the holder's own
	// final write is then refused: exactly one of the two is sent); handedOver: that forced
	// write completed the handoff or release.
	forced, handedOver bool
	stopAt             time.Time // when a requested stop turns into a forced handoff (zero: none)
	handoff            bool      // the stop was requested by a taker (checkpointOwner = this worker)
}

// claimEnv is what a Claim needs from the coordinator that acquired it; *Coordinator
// implements it. Safe for concurrent use.
type claimEnv interface {
	// store is the lease store; workerID the id the claim's writes expect as owner.
	store() Store
	workerID() string
	// valid reports whether epoch is the worker's live heartbeat chain at now.
	valid(epoch context.Context, now time.Time) bool
	// changed tells the coordinator that a claim changed state (released, lost); it does not block.
	changed()
	// checkpointed reports a written checkpoint (Hooks.Checkpointed).
	checkpointed(key string, cp Checkpoint, took time.Duration)
	// wakeTimeout bounds the best-effort wake of a taker after a release.
	wakeTimeout() time.Duration
	// now is the worker's local clock.
	now() time.Time
}

// Key returns the lease key.
func (c *Claim) Key() string { return c.key }

// Lease returns the lease as this worker last wrote or read it (a copy).
func (c *Claim) Lease() Lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lease.Clone()
}

// Context is live while the claim permits processing. It is cancelled with cause ErrLeaseLost
// when another worker owns the lease or this worker fenced itself, ErrShutdown on a hard stop,
// and errReleased once Release or Finish succeeded.
func (c *Claim) Context() context.Context { return c.ctx }

// Stopping is closed when the holder should stop gracefully: finish the batch, checkpoint,
// then Release. Checkpoints still succeed until Release.
func (c *Claim) Stopping() <-chan struct{} { return c.stopping }

// Valid reports whether the claim permits processing at this instant: its context is live and
// the worker's heartbeats still count.
func (c *Claim) Valid() bool {
	return c.ctx.Err() == nil && c.env.valid(c.epoch, c.env.now())
}

// requestStop closes Stopping. snap, when non-nil, is the scanned lease showing the handoff
// request (Owner = the taker); it replaces the claim's copy if it is not older.
func (c *Claim) requestStop(handoff bool, deadline time.Time, snap *Lease) {
	c.mu.Lock()
	if snap != nil && snap.Counter >= c.lease.Counter {
		c.lease = snap.Clone()
	}
	if !deadline.IsZero() && (c.stopAt.IsZero() || deadline.Before(c.stopAt)) {
		c.stopAt = deadline
	}
	c.handoff = c.handoff || handoff
	c.mu.Unlock()
	c.stopOnce.Do(func() { close(c.stopping) })
}

// handOver records that this worker itself asked for the lease to be handed to another worker
// (l: the lease after that request): Release will complete the handoff. Stopping stays open.
func (c *Claim) handOver(l Lease) {
	c.mu.Lock()
	if l.Counter >= c.lease.Counter {
		c.lease = l.Clone()
	}
	c.handoff = true
	c.mu.Unlock()
}

func (c *Claim) lose(cause error) {
	c.cancel(cause)
}

// forceStop ends a claim whose holder did not release in time, unless the holder's own final
// write already started (then that write decides). It reports whether the coordinator now owns
// the final write. The decision is made under mu, where write sets giving, so the holder's
// Release and the forced handoff are never both sent.
func (c *Claim) forceStop() bool {
	c.mu.Lock()
	if c.giving || c.acked || c.forced {
		c.mu.Unlock()
		return false
	}
	c.forced = true
	c.mu.Unlock()
	c.cancel(ErrLeaseLost) // outside mu: context.AfterFunc callbacks may call back into the claim
	return true
}

// markHandedOver records that the forced final write succeeded.
func (c *Claim) markHandedOver() {
	c.mu.Lock()
	c.handedOver = true
	c.mu.Unlock()
}

// permitted reports whether me may checkpoint l.
func permitted(l Lease, me string) bool {
	return (l.Owner == me && l.CheckpointOwner == "") || l.CheckpointOwner == me
}

// write runs one conditional write on the lease, expecting this worker and the claim's counter.
// A failed condition ends the claim with ErrLeaseLost. There is deliberately no
// read-and-retry: after a restart or a self-fence the same worker id may own the lease again
// under a newer claim, and a write of this (older) claim that was delayed in flight must then
// fail, not be retried with the newer counter (that could move the checkpoint backwards). A write
// that timed out but committed therefore also ends the claim; the coordinator re-acquires the
// lease once the holder released the claim. Called with c.writeMu held.
//
// A final write (release, handoff completion, finish) gives the lease up: the claim's context is
// cancelled (cause errReleased) before it is sent, so this worker stops considering itself the
// holder before any other worker can become one.
func (c *Claim) write(ctx context.Context, op string, final bool, f func(Expect) (Lease, error)) (Lease, error) {
	if err := c.ctx.Err(); err != nil {
		return Lease{}, fmt.Errorf("%s %s: %w", op, c.key, context.Cause(c.ctx))
	}
	if !c.env.valid(c.epoch, c.env.now()) {
		c.lose(ErrLeaseLost)
		return Lease{}, fmt.Errorf("%s %s: heartbeats stopped counting: %w", op, c.key, ErrLeaseLost)
	}
	c.mu.Lock()
	if c.forced {
		c.mu.Unlock()
		return Lease{}, fmt.Errorf("%s %s: not released within HandoffTimeout: %w", op, c.key, ErrLeaseLost)
	}
	counter := c.lease.Counter
	if final {
		c.giving = true
	}
	c.mu.Unlock()
	if final {
		c.cancel(errReleased)
	}
	l, err := f(Expect{Owner: c.env.workerID(), Counter: counter})
	if final {
		c.mu.Lock()
		c.releaseFailed = err != nil
		c.mu.Unlock()
	}
	if err == nil {
		c.mu.Lock()
		c.lease = l
		c.mu.Unlock()
		return l, nil
	}
	if errors.Is(err, ErrConflict) {
		c.lose(ErrLeaseLost)
		return Lease{}, fmt.Errorf("%s %s: %w: %w", op, c.key, ErrLeaseLost, err)
	}
	return Lease{}, fmt.Errorf("%s %s: %w", op, c.key, err)
}

// Checkpoint records cp as the lease's checkpoint with a conditional write that fails unless
// this worker may still checkpoint the lease. It blocks until the store answers. nil means cp is
// stored. It returns an error wrapping ErrLeaseLost (and cancels the claim) if the lease moved
// (cp was not stored), ErrBackwards if cp is before the current checkpoint, or the store's error
// with the claim still valid: ErrThrottled (not stored), or ErrUnknownOutcome (cp may be stored,
// now or later; checkpoint again, and if it was stored the claim's next write reports the lease
// lost, since its counter moved).
// Use Finish, not Checkpoint, for SHARD_END.
func (c *Claim) Checkpoint(ctx context.Context, cp Checkpoint) error {
	if !cp.Valid() || cp.Sequence == ShardEnd {
		return fmt.Errorf("checkpoint %s: invalid checkpoint %q", c.key, cp.String())
	}
	start := time.Now()
	c.writeMu.Lock()
	if cur := c.Lease().Checkpoint; cp.Compare(cur) < 0 {
		c.writeMu.Unlock()
		return fmt.Errorf("checkpoint %s at %v (current %v): %w", c.key, cp, cur, ErrBackwards)
	}
	_, err := c.write(ctx, "checkpoint", false, func(e Expect) (Lease, error) {
		return c.env.store().Checkpoint(ctx, c.key, e, cp)
	})
	c.writeMu.Unlock()
	if err != nil {
		c.env.changed()
		return err
	}
	c.env.checkpointed(c.key, cp, time.Since(start))
	return nil
}

// Finish marks the lease's shard as completely processed: it writes checkpoint SHARD_END and the
// child shard ids, and gives the lease up (a finished lease is nobody's load). It ends the claim.
// It blocks until the store answers; errors are as for Checkpoint.
func (c *Claim) Finish(ctx context.Context, children []string) error {
	c.writeMu.Lock()
	_, err := c.write(ctx, "finish", true, func(e Expect) (Lease, error) {
		return c.env.store().Finish(ctx, c.key, e, children)
	})
	c.end(err == nil)
	c.writeMu.Unlock()
	c.env.changed()
	return err
}

// Release ends the claim and gives the lease up: if another worker asked for it, the handoff is
// completed (that worker starts from the last checkpoint at once); otherwise the lease becomes
// unowned. After the claim was lost it only acknowledges (no store write) and returns nil. It
// blocks until the store answers. If the write fails, the claim still ends; the lease then stays
// owned by this worker in the table, which acquires it again (or, when shutting down, lets it
// expire).
func (c *Claim) Release(ctx context.Context) error {
	c.writeMu.Lock()
	c.mu.Lock()
	acked, handoff := c.acked, c.handoff
	c.mu.Unlock()
	var err error
	if c.ctx.Err() == nil && !acked {
		if handoff {
			_, err = c.write(ctx, "complete handoff", true, func(e Expect) (Lease, error) {
				return c.env.store().CompleteHandoff(ctx, c.key, e)
			})
		} else {
			_, err = c.write(ctx, "release", true, func(e Expect) (Lease, error) {
				l, err := c.env.store().Release(ctx, c.key, e)
				if errors.Is(err, ErrConflict) {
					// A taker may have asked for the lease meanwhile (which does not move the
					// counter): complete its handoff.
					if cur, gerr := c.env.store().Get(ctx, c.key); gerr == nil && cur.CheckpointOwner == e.Owner && cur.Counter == e.Counter {
						return c.env.store().CompleteHandoff(ctx, c.key, Expect{Owner: e.Owner, Counter: cur.Counter})
					}
				}
				return l, err
			})
		}
	}
	taker := ""
	if o := c.Lease().Owner; err == nil && o != "" && o != c.env.workerID() {
		taker = o
	}
	c.end(err == nil)
	c.writeMu.Unlock()
	if taker != "" {
		wctx, cancel := context.WithTimeout(ctx, c.env.wakeTimeout())
		_ = c.env.store().Wake(wctx, taker) // best effort: the taker also rescans periodically
		cancel()
	}
	c.env.changed()
	if errors.Is(err, ErrLeaseLost) {
		return nil
	}
	return err
}

// end marks the claim acknowledged; called with c.writeMu held.
func (c *Claim) end(released bool) {
	c.mu.Lock()
	c.acked = true
	c.mu.Unlock()
	if released && c.ctx.Err() == nil {
		c.cancel(errReleased)
	} else {
		c.cancel(ErrLeaseLost)
	}
}

// released reports whether the claim ended by a successful release, handoff or finish, by the
// holder or forced by the coordinator.
func (c *Claim) released() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handedOver || (c.giving && !c.releaseFailed && errors.Is(context.Cause(c.ctx), errReleased))
}

// stopDeadline returns when a requested stop turns into a forced handoff (zero: none).
func (c *Claim) stopDeadline() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.acked || c.forced {
		return time.Time{}
	}
	return c.stopAt
}

func (c *Claim) isGiving() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.giving
}

func (c *Claim) isAcked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acked
}

// stopDue reports whether a requested stop has passed its deadline.
func (c *Claim) stopDue(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.acked && !c.stopAt.IsZero() && !now.Before(c.stopAt)
}
