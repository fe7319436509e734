package kcl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shoal-go/shoal/lease"
)

// Checkpoint policy. Shard.Checkpoint records a position and validates it at once; a per-shard
// checkpointer goroutine writes the recorded position to the lease table at most once per
// Config.CheckpointInterval, at once after the shard was asked to stop (handoff, Shutdown), and
// the runShard loop writes it before it releases, finishes (SHARD_END) or retries the shard.
// Every write of a Shard's checkpoints goes through that goroutine, so writes are serial and no
// lock is held during one.

// CheckpointWriteThrough, as Config.CheckpointInterval, turns coalescing off: every
// Shard.Checkpoint writes at once and returns when the lease table has answered (the Java KCL's
// habit: one write per checkpoint call, usually per batch).
const CheckpointWriteThrough time.Duration = -1

// errShardClosed: Flush was called after the processor of the shard returned.
var errShardClosed = errors.New("kcl: shard closed")

// checkpointer owns the store writes of one Shard's checkpoints.
type checkpointer struct {
	s        *Shard
	interval time.Duration // < 0: write through
	wake     chan struct{} // capacity 1: a position was recorded
	reqs     chan flushReq // Flush: write now and answer
	stopping <-chan struct{}
	log      *slog.Logger
	done     chan struct{} // closed when run has returned
}

type flushReq struct {
	ctx  context.Context
	errc chan error // capacity 1: the requester may have given up
}

func newCheckpointer(s *Shard, interval time.Duration, stopping <-chan struct{}, log *slog.Logger) *checkpointer {
	return &checkpointer{s: s, interval: interval, wake: make(chan struct{}, 1), reqs: make(chan flushReq),
		stopping: stopping, log: log, done: make(chan struct{})}
}

// run writes recorded checkpoints until ctx ends: a recorded position is written when
// CheckpointInterval has passed since the previous write (at once if it has already), or at once
// after the shard was asked to stop; Flush requests are answered in order.
func (w *checkpointer) run(ctx context.Context) {
	defer close(w.done)
	var last time.Time // when the previous write started
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	stopC, urgent := w.stopping, false
	bo := backoff{base: 100 * time.Millisecond, max: max(w.interval, time.Second)}
	retryAt := time.Time{} // after a failed write: not before
	for {
		if !armed && w.s.dirty() {
			wait := time.Until(last.Add(w.interval))
			if urgent || w.interval < 0 {
				wait = 0
			}
			wait = max(wait, time.Until(retryAt), 0)
			timer.Reset(wait)
			armed = true
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-w.wake:
		case <-stopC:
			// A handoff or shutdown is under way: the lease may move soon (at the latest after
			// HandoffTimeout), so every recorded position is written at once from now on.
			stopC, urgent = nil, true
			timer.Stop()
			armed = false
		case <-timer.C:
			armed = false
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			wrote, err := w.s.writeRecorded(wctx)
			cancel()
			if wrote {
				last = time.Now()
			}
			switch {
			case err == nil:
				bo.reset()
				retryAt = time.Time{}
			case ctx.Err() != nil || errors.Is(err, ErrLeaseLost):
				// The claim's context is cancelled: the next loop returns.
			default:
				retryAt = time.Now().Add(bo.next())
				w.log.Warn("checkpoint write failed; retrying", "err", err, "retry_at", retryAt)
			}
		case r := <-w.reqs:
			wrote, err := w.s.writeRecorded(r.ctx)
			if wrote {
				last = time.Now()
			}
			if err == nil {
				retryAt = time.Time{}
			}
			r.errc <- err
		}
	}
}

// dirty reports whether a recorded position is not yet written.
func (s *Shard) dirty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return newer(s.recorded, s.written)
}

// newer reports whether a is a position after b (b "" = none).
func newer(a, b lease.Checkpoint) bool {
	return a.Sequence != "" && (b.Sequence == "" || a.Compare(b) > 0)
}

// writeRecorded writes the recorded position if it is newer than the last one written; wrote
// says whether a write was sent. Only the checkpointer goroutine calls it. No lock is held
// during the write.
func (s *Shard) writeRecorded(ctx context.Context) (wrote bool, err error) {
	s.mu.Lock()
	pos, done := s.recorded, s.written
	s.mu.Unlock()
	if !newer(pos, done) {
		return false, nil
	}
	start := time.Now()
	if err := s.claim.Checkpoint(ctx, pos); err != nil {
		return true, err
	}
	s.mu.Lock()
	if newer(pos, s.written) {
		s.written = pos
	}
	s.progress = true
	s.mu.Unlock()
	if h := s.hooks.Checkpointed; h != nil {
		h(s.id, time.Since(start))
	}
	return true, nil
}

// Checkpoint records that every record up to and including r has been processed. It checks r at
// once and returns an error if r is beyond the last record delivered (ErrCheckpointAhead), before
// a position already recorded (lease.ErrBackwards), or the shard is no longer this worker's
// (ErrLeaseLost, ErrShutdown). The write to the lease table is coalesced per shard
// (Config.CheckpointInterval, 5s by default): it follows within the interval, and the last
// position recorded is always written before the lease is released (handoff, Shutdown), before
// SHARD_END, and before a processor that returned an error runs again; after a handoff or
// shutdown was requested, every position is written at once. What coalescing can lose is a
// crash's or a hard stop's last interval: those records are delivered again (at-least-once). A
// write is fenced like every checkpoint: it fails if another worker owns the shard. Use Flush to
// make the position durable before returning (e.g. before an effect that must happen once);
// with CheckpointInterval CheckpointWriteThrough, Checkpoint itself waits for the write.
func (s *Shard) Checkpoint(ctx context.Context, r Record) error {
	pos := lease.Checkpoint{Sequence: r.SequenceNumber, SubSequence: r.SubSequenceNumber}
	if !pos.Valid() || pos.IsSentinel() {
		return fmt.Errorf("checkpoint %s: invalid sequence number %q", s.id, r.SequenceNumber)
	}
	if s.ctx.Err() != nil {
		return fmt.Errorf("checkpoint %s at %s/%d: %w", s.id, r.SequenceNumber, r.SubSequenceNumber, context.Cause(s.ctx))
	}
	s.mu.Lock()
	ahead, rec := s.ahead, s.recorded
	if ahead.Sequence == "" || pos.Compare(ahead) > 0 {
		s.mu.Unlock()
		return fmt.Errorf("checkpoint %s at %s/%d: %w", s.id, r.SequenceNumber, r.SubSequenceNumber, ErrCheckpointAhead)
	}
	if rec.Sequence != "" && pos.Compare(rec) < 0 {
		s.mu.Unlock()
		return fmt.Errorf("checkpoint %s at %s/%d (recorded %v): %w", s.id, r.SequenceNumber, r.SubSequenceNumber, rec, lease.ErrBackwards)
	}
	s.recorded = pos
	s.mu.Unlock()
	if s.cpw.interval < 0 {
		return s.Flush(ctx)
	}
	select {
	case s.cpw.wake <- struct{}{}:
	default:
	}
	return nil
}

// Flush writes the last position recorded with Checkpoint to the lease table now, unless it is
// already written, and returns when the write (and any write of the same shard in flight) has
// been answered: nil means every position recorded before the call is durable. Errors are those
// of the write: ErrLeaseLost (another worker owns the shard), lease.ErrThrottled or
// lease.ErrUnknownOutcome (call Flush again). Safe to call from any goroutine of the processor
// while it runs.
func (s *Shard) Flush(ctx context.Context) error {
	if !s.dirty() {
		return nil
	}
	req := flushReq{ctx: ctx, errc: make(chan error, 1)}
	closed := func() error {
		if s.ctx.Err() != nil {
			return fmt.Errorf("flush %s: %w", s.id, context.Cause(s.ctx))
		}
		return fmt.Errorf("flush %s: %w", s.id, errShardClosed)
	}
	select {
	case s.cpw.reqs <- req:
	case <-s.cpw.done:
		return closed()
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	select {
	case err := <-req.errc:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// finalFlush writes the recorded position before the shard is released, finished or run again,
// retrying throttling and unknown outcomes a few times. It returns nil if there was nothing to
// write, and the claim's cause if the claim is gone (nothing can be written then).
func (s *Shard) finalFlush(log *slog.Logger) error {
	if s.cpw == nil {
		return nil
	}
	bo := backoff{base: 100 * time.Millisecond, max: time.Second}
	var err error
	for range 5 {
		if s.ctx.Err() != nil {
			return context.Cause(s.ctx)
		}
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		err = s.Flush(ctx)
		cancel()
		if err == nil || errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrShutdown) {
			return err
		}
		log.Warn("final checkpoint write failed; retrying", "err", err)
		if serr := sleep(s.ctx, bo.next()); serr != nil {
			return context.Cause(s.ctx)
		}
	}
	return err
}

// progressed reports whether a checkpoint was written through s.
func (s *Shard) progressed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.progress
}
