package kcl

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/lease"
)

// Errors a processor sees through Shard.Err and Shard.Checkpoint.
var (
	// ErrLeaseLost: another worker owns the shard now (or this worker fenced itself after losing
	// contact with the lease table). Checkpoints are refused; stop processing.
	ErrLeaseLost = lease.ErrLeaseLost
	// ErrShutdown: the consumer stopped hard (Run's context was cancelled).
	ErrShutdown = lease.ErrShutdown
	// ErrStopping: the shard is being handed to another worker, or the consumer is shutting down
	// gracefully. The processor should checkpoint what it has processed and return; the lease is
	// then released and the next owner starts from that checkpoint.
	ErrStopping = errors.New("kcl: shard stopping (handoff or shutdown)")
	// ErrCheckpointAhead: a checkpoint beyond the last record delivered was refused.
	ErrCheckpointAhead = errors.New("kcl: checkpoint beyond the last delivered record")
)

// fetcher reads pages of one shard; poller and subscriber implement it.
type fetcher interface {
	fetch(ctx context.Context) (page, error)
}

// Shard is one owned shard as its processor sees it: an iterator over batches, and
// checkpoints. Next, Batch and Err are for the processor's goroutine; Checkpoint and Flush are
// also safe to call from other goroutines of the processor, also while Next runs.
type Shard struct {
	id      string
	claim   *lease.Claim
	pages   <-chan pageResult
	dec     *decoder
	hooks   *Hooks
	ctx     context.Context // the claim's context
	stop    <-chan struct{}
	batch   Batch
	err     error
	ended   bool
	end     page     // the final page, when ended
	endNext *page    // the final page, delivered with records: ended at the next Next
	buf     []Record // reused for each batch's records
	last    time.Time
	bytes   int

	cpw *checkpointer // writes recorded checkpoints (checkpoint.go)

	mu       sync.Mutex       // guards the fields below: Checkpoint may run on other goroutines
	recorded lease.Checkpoint // last checkpoint the processor recorded, or where this Shard resumed
	written  lease.Checkpoint // last checkpoint written (or resumed from): recorded == written when clean
	ahead    lease.Checkpoint // last record delivered (Sequence "" before the first)
	first    lease.Checkpoint // first record delivered (Sequence "" before the first)
	progress bool             // a checkpoint was written through this Shard
}

type pageResult struct {
	pg  page
	err error
}

// ID returns the shard id.
func (s *Shard) ID() string { return s.id }

// Context is cancelled when the shard is lost (cause ErrLeaseLost) or the consumer stops hard
// (cause ErrShutdown).
func (s *Shard) Context() context.Context { return s.ctx }

// Next waits for the next batch and reports whether there is one. It returns false at the end of
// the shard (Err returns nil: return nil and the library records SHARD_END), when the shard is
// stopping (ErrStopping: checkpoint and return), when it is lost (ErrLeaseLost) or on a read
// error. Empty reads are not delivered. Next blocks until a batch arrives or one of those happens.
func (s *Shard) Next(ctx context.Context) bool {
	if s.err != nil || s.ended {
		return false
	}
	s.report()
	if s.endNext != nil {
		s.ended, s.end = true, *s.endNext
		return false
	}
	for {
		if err := s.ctx.Err(); err != nil {
			s.err = context.Cause(s.ctx)
			return false
		}
		select {
		case <-s.stop:
			s.err = ErrStopping
			return false
		default:
		}
		var res pageResult
		select {
		case res = <-s.pages:
		case <-s.stop:
			s.err = ErrStopping
			return false
		case <-s.ctx.Done():
			s.err = context.Cause(s.ctx)
			return false
		case <-ctx.Done():
			s.err = context.Cause(ctx)
			return false
		}
		if res.err != nil {
			s.err = res.err
			return false
		}
		// The slice is reused: a batch is valid until the next call to Next (as documented).
		recs := s.dec.decode(s.buf[:0], res.pg.records)
		s.buf = recs
		if res.pg.end {
			if len(recs) == 0 {
				s.ended, s.end = true, res.pg
				return false
			}
			// Deliver the last records first; the following Next reports the end.
			s.endNext = &res.pg
		}
		if len(recs) == 0 {
			continue
		}
		s.batch = Batch{ShardID: s.id, Records: recs, MillisBehindLatest: res.pg.millisBehind}
		last := recs[len(recs)-1]
		s.mu.Lock()
		if s.first.Sequence == "" {
			s.first = lease.Checkpoint{Sequence: recs[0].SequenceNumber, SubSequence: recs[0].SubSequenceNumber}
		}
		s.ahead = lease.Checkpoint{Sequence: last.SequenceNumber, SubSequence: last.SubSequenceNumber}
		s.mu.Unlock()
		s.bytes = 0
		for _, r := range recs {
			s.bytes += len(r.Data)
		}
		s.last = time.Now()
		return true
	}
}

// report calls BatchProcessed for the batch the processor just finished.
func (s *Shard) report() {
	if s.last.IsZero() {
		return
	}
	if h := s.hooks.BatchProcessed; h != nil {
		h(s.id, len(s.batch.Records), s.bytes, s.batch.MillisBehindLatest, time.Since(s.last))
	}
	s.last = time.Time{}
}

// Batch returns the batch Next reported. Its Records slice is reused by the next call to Next:
// copy the records (not just the slice) to keep them longer. Record.Data is never reused.
func (s *Shard) Batch() Batch { return s.batch }

// Err returns why Next returned false: nil at the end of the shard, ErrStopping, ErrLeaseLost,
// ErrShutdown, or a read error.
func (s *Shard) Err() error {
	if s.ended {
		return nil
	}
	return s.err
}

// startPosition turns a lease checkpoint into a reader position and a decoder resume point
// (records at or before it are dropped). first, when set, is the first record an earlier attempt
// of the same claim delivered: at a starting sentinel the reader resumes AT it. fresh says this
// is the attempt that recorded a LATEST lease's start: it reads at LATEST itself.
func startPosition(cp lease.Checkpoint, initial InitialPosition, first lease.Checkpoint, fresh bool) (position, lease.Checkpoint) {
	if started(cp) {
		// AT the checkpointed record, dropping sub-records up to the checkpointed one: resumes
		// correctly in the middle of an aggregate.
		return position{typ: types.ShardIteratorTypeAtSequenceNumber, seq: cp.Sequence}, cp
	}
	if first.Sequence != "" {
		// AT the first record delivered, dropping the sub-records before it.
		before := lease.Checkpoint{}
		if first.SubSequence > 0 {
			before = lease.Checkpoint{Sequence: first.Sequence, SubSequence: first.SubSequence - 1}
		}
		return position{typ: types.ShardIteratorTypeAtSequenceNumber, seq: first.Sequence}, before
	}
	at := func(ts time.Time) (position, lease.Checkpoint) {
		return position{typ: types.ShardIteratorTypeAtTimestamp, ts: &ts}, lease.Checkpoint{}
	}
	switch cp.Sequence {
	case lease.Latest:
		if fresh || cp.Timestamp.IsZero() {
			return position{typ: types.ShardIteratorTypeLatest}, lease.Checkpoint{}
		}
		return at(cp.Timestamp)
	case lease.AtTimestamp:
		switch {
		case !cp.Timestamp.IsZero():
			return at(cp.Timestamp)
		case initial.sentinel == lease.AtTimestamp:
			return at(initial.ts)
		}
		// Written by another application configuration: without its timestamp, reading from the
		// oldest record loses nothing.
	}
	return position{typ: types.ShardIteratorTypeTrimHorizon}, lease.Checkpoint{}
}

// firstDelivered returns the first record Next delivered (Sequence "" if none).
func (s *Shard) firstDelivered() lease.Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// prefetch runs f in a goroutine that keeps at most one page ready ahead of the processor. It
// stops when ctx ends or the shard ends; done is closed when it has returned.
func prefetch(ctx context.Context, f fetcher) (<-chan pageResult, <-chan struct{}) {
	ch := make(chan pageResult, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			pg, err := f.fetch(ctx)
			if err != nil && ctx.Err() != nil {
				return
			}
			select {
			case ch <- pageResult{pg: pg, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil || pg.end {
				return
			}
		}
	}()
	return ch, done
}
