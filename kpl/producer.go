package kpl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-go/shoal/aggregate"
)

// Producer writes records to one Kinesis stream: it batches them into
// PutRecords requests, aggregates them per predicted shard, paces each shard
// to its limits and retries failures until each record's TTL. Create it with
// New; all methods are safe for concurrent use.
type Producer struct {
	cfg  settings
	gz   gzipPool
	keys keyCache // hash keys of recently put partition keys
	// members recycles the member slices of written aggregates.
	members memberPool

	// mu guards the accounting below, shared by Put, the completer and Flush.
	mu         sync.Mutex
	closed     bool
	buffered   int // records accepted and not completed
	bufBytes   int
	epoch      uint64         // current Flush epoch
	epochCount map[uint64]int // records outstanding per past epoch
	curCount   int            // records outstanding of the current epoch
	spaceCh    chan struct{}  // closed when buffer space frees; nil if nobody waits
	doneCh     chan struct{}  // closed when an epoch empties; nil if nobody waits
	intake     [][]pending    // accepted, not yet taken by the dispatcher, in chunks
	spare      [][]pending    // empty intake chunks for reuse
	// stamp is the Put time of the records of the intake batch being built,
	// read once per stampReuse records.
	stamp     time.Time
	stampUses int

	intakeSig chan struct{} // cap 1: intake is non-empty
	flushing  atomic.Int32  // Flush calls in progress: ignore Linger
	closing   atomic.Bool   // Close called: ignore Linger, exit when drained
	abortOnce sync.Once
	abortCh   chan struct{}   // closed when Close's ctx ended: fail everything
	sendCtx   context.Context // parent of every request; cancelled on abort
	cancel    context.CancelFunc
	loopDone  chan struct{} // closed when the dispatcher returned

	done  completer
	stats counters
}

// New validates cfg and starts the producer's goroutines (a dispatcher and a
// completer; PutRecords calls run on short-lived goroutines, at most
// Config.MaxInFlight at once). It does no I/O itself: the shard map is read in
// the background, and records wait for it (bounded by their TTL). Close
// stops everything New started. Every problem in cfg is reported at once.
func New(cfg Config) (*Producer, error) {
	s, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Producer{
		cfg:        s,
		epochCount: make(map[uint64]int),
		intakeSig:  make(chan struct{}, 1),
		abortCh:    make(chan struct{}),
		loopDone:   make(chan struct{}),
	}
	p.keys.init()
	p.sendCtx, p.cancel = context.WithCancel(context.Background())
	p.done.init(p.release)
	d := newDispatcher(p)
	go func() {
		defer close(p.loopDone)
		d.run()
	}()
	return p, nil
}

// Put hands a record to the producer and returns at once, unless the buffer
// is full (Config.MaxBufferedRecords or MaxBufferedBytes): then it blocks
// until there is room or ctx ends. If Put returns nil, cb (which may be nil)
// will be called exactly once with the record's Result or error; if Put
// returns an error, cb is never called. Errors: ErrInvalidRecord (wrapped),
// ErrClosed, or ctx's error. The producer keeps r.Data until cb is called;
// the caller must not modify it meanwhile.
func (p *Producer) Put(ctx context.Context, r Record, cb Callback) error {
	m, err := p.prepare(r, cb)
	if err != nil {
		return err
	}
	return p.enqueue(ctx, m)
}

func (p *Producer) prepare(r Record, cb Callback) (pending, error) {
	if p.cfg.Compression == CompressionGzip {
		r.Data = p.gz.compress(r.Data)
	}
	size := len(r.PartitionKey) + len(r.Data)
	if r.ExplicitHashKey == "" && size <= p.cfg.MaxRecordSize {
		// A cached key was validated when it was first put.
		if h, ok := p.keys.lookup(r.PartitionKey); ok {
			return pending{rec: r, hash: h, size: size, cb: cb}, nil
		}
	}
	h, err := validateRecord(&r, p.cfg.MaxRecordSize)
	if err != nil {
		return pending{}, err
	}
	if r.ExplicitHashKey == "" {
		p.keys.add(r.PartitionKey, h)
	}
	return pending{rec: r, hash: h, size: size, cb: cb}, nil
}

func (p *Producer) enqueue(ctx context.Context, m pending) error {
	p.mu.Lock()
	for !p.closed && (p.buffered >= p.cfg.MaxBufferedRecords || p.bufBytes+m.size > p.cfg.MaxBufferedBytes) {
		if p.spaceCh == nil {
			p.spaceCh = make(chan struct{})
		}
		ch := p.spaceCh
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.mu.Lock()
	}
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	// One clock read serves a run of records: the first of an intake batch
	// and every stampReuse-th after it read the clock, the others share its
	// time. A shared time is never later than the record's Put, so Linger
	// and RecordTTL can only end early, by at most the dispatcher's reaction
	// time, never late.
	if len(p.intake) == 0 || p.stampUses >= stampReuse {
		p.stamp = time.Now()
		p.stampUses = 0
	}
	p.stampUses++
	m.put, m.epoch = p.stamp, p.epoch
	p.buffered++
	p.bufBytes += m.size
	p.curCount++
	if k := len(p.intake); k == 0 || len(p.intake[k-1]) == intakeChunk {
		var c []pending
		if n := len(p.spare); n > 0 {
			c, p.spare[n-1] = p.spare[n-1], nil
			p.spare = p.spare[:n-1]
		} else {
			c = make([]pending, 0, intakeChunk)
		}
		p.intake = append(p.intake, c)
	}
	last := &p.intake[len(p.intake)-1]
	*last = append(*last, m)
	p.mu.Unlock()
	select {
	case p.intakeSig <- struct{}{}:
	default:
	}
	return nil
}

// stampReuse is how many records of one intake batch share a clock read.
const stampReuse = 64

// intakeChunk is the number of records of one intake chunk. Chunks are
// reused, so a busy intake never grows (and copies) one large slice.
const intakeChunk = 256

// takeIntake returns the records accepted since the last call, in chunks.
// It takes back done, the emptied chunks and chunk list of the previous call.
func (p *Producer) takeIntake(done [][]pending) [][]pending {
	p.mu.Lock()
	in := p.intake
	for _, c := range done {
		p.spare = append(p.spare, c[:0])
	}
	clear(done)
	p.intake = done[:0]
	p.mu.Unlock()
	return in
}

// release is called by the completer after the callbacks of done returned.
func (p *Producer) release(done []completion) {
	p.mu.Lock()
	for i := range done {
		c := &done[i]
		switch {
		case c.group == nil:
			p.releaseLocked(c.m.epoch, 1, c.m.size)
		case c.sum.oneEpoch:
			p.releaseLocked(c.sum.epoch, len(c.group), c.sum.bytes)
		default:
			for j := range c.group {
				p.releaseLocked(c.group[j].epoch, 1, c.group[j].size)
			}
		}
	}
	if p.spaceCh != nil {
		close(p.spaceCh)
		p.spaceCh = nil
	}
	p.mu.Unlock()
	for i := range done {
		if done[i].pooled {
			p.members.put(done[i].group)
		}
	}
}

// releaseLocked gives back the buffer space of n completed records of Flush
// epoch e holding size bytes, and wakes Flush if e's last record completed.
func (p *Producer) releaseLocked(e uint64, n, size int) {
	p.buffered -= n
	p.bufBytes -= size
	if e == p.epoch {
		p.curCount -= n
	} else if left := p.epochCount[e] - n; left > 0 {
		p.epochCount[e] = left
	} else {
		delete(p.epochCount, e)
		if p.doneCh != nil {
			close(p.doneCh)
			p.doneCh = nil
		}
	}
}

// PutSync puts records and blocks until each has completed or ctx ends. It
// returns one Result per record (the zero Result for a record that failed)
// and, if any record failed, an error joining one *RecordError per failed
// record. If ctx ends first, the records not yet completed are reported with
// ctx's error; they stay in the producer and are still written or failed
// later, unseen by this call.
func (p *Producer) PutSync(ctx context.Context, records ...Record) ([]Result, error) {
	type outcome struct {
		i   int
		res Result
		err error
	}
	ch := make(chan outcome, len(records))
	results := make([]Result, len(records))
	errs := make([]error, len(records))
	waiting := 0
	for i, r := range records {
		err := p.Put(ctx, r, func(res Result, err error) { ch <- outcome{i, res, err} })
		if err != nil {
			errs[i] = err
			continue
		}
		waiting++
	}
	if waiting > 0 {
		p.flushing.Add(1)
		p.wake()
		defer p.flushing.Add(-1)
	}
	for ; waiting > 0; waiting-- {
		select {
		case o := <-ch:
			results[o.i], errs[o.i] = o.res, o.err
		case <-ctx.Done():
			for i := range errs {
				if errs[i] == nil && results[i].SequenceNumber == "" {
					errs[i] = ctx.Err()
				}
			}
			waiting = 0
			// Drain what already arrived so results are as complete as possible.
			for {
				select {
				case o := <-ch:
					results[o.i], errs[o.i] = o.res, o.err
					continue
				default:
				}
				break
			}
			return results, joinRecordErrors(errs)
		}
	}
	return results, joinRecordErrors(errs)
}

// RecordError is the error of one record of a PutSync call.
type RecordError struct {
	Index int // position in PutSync's arguments
	Err   error
}

func (e *RecordError) Error() string { return fmt.Sprintf("record %d: %v", e.Index, e.Err) }

// Unwrap returns the record's error.
func (e *RecordError) Unwrap() error { return e.Err }

func joinRecordErrors(errs []error) error {
	var out []error
	for i, err := range errs {
		if err != nil {
			out = append(out, &RecordError{Index: i, Err: err})
		}
	}
	return errors.Join(out...)
}

// Flush sends every buffered record without waiting for Linger and blocks
// until all records accepted before the call have completed (their callbacks
// returned), or ctx ends. Rate limits and retries still apply, so Flush can
// take up to Config.RecordTTL.
func (p *Producer) Flush(ctx context.Context) error {
	p.flushing.Add(1)
	defer p.flushing.Add(-1)
	p.mu.Lock()
	e := p.epoch
	if p.curCount > 0 {
		p.epochCount[e] = p.curCount
	}
	p.curCount = 0
	p.epoch++
	p.mu.Unlock()
	p.wake()
	return p.waitEpoch(ctx, e)
}

// waitEpoch blocks until no record of epoch <= e is outstanding.
func (p *Producer) waitEpoch(ctx context.Context, e uint64) error {
	for {
		p.mu.Lock()
		busy := false
		for k := range p.epochCount {
			if k <= e {
				busy = true
				break
			}
		}
		if !busy {
			p.mu.Unlock()
			return nil
		}
		if p.doneCh == nil {
			p.doneCh = make(chan struct{})
		}
		ch := p.doneCh
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *Producer) wake() {
	select {
	case p.intakeSig <- struct{}{}:
	default:
	}
}

// Close stops accepting records (Put returns ErrClosed), sends everything
// buffered and blocks until every record has completed and every goroutine
// of the producer has returned. If ctx ends first, in-flight requests are
// cancelled and every record not yet written completes with an error
// wrapping ErrClosed; Close then still waits for the goroutines (which return
// promptly) and returns ctx's error. Calling Close again waits the same way.
func (p *Producer) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	if p.spaceCh != nil { // wake blocked Puts so they see closed
		close(p.spaceCh)
		p.spaceCh = nil
	}
	p.mu.Unlock()
	p.closing.Store(true)
	p.wake()
	var err error
	select {
	case <-p.loopDone:
	case <-ctx.Done():
		err = ctx.Err()
		p.abortOnce.Do(func() {
			close(p.abortCh)
			p.cancel()
		})
		<-p.loopDone
	}
	p.done.close()
	p.cancel()
	return err
}

// Stats is a snapshot of the producer's counters since New.
type Stats struct {
	UserRecordsPut    int64 // user records written
	KinesisRecordsPut int64 // Kinesis records (entries) written
	BytesPut          int64 // user data plus partition keys written (after compression)
	KinesisBytesPut   int64 // Kinesis record bytes written (what the shard limits count)
	Requests          int64 // PutRecords calls
	Retries           int64 // user records re-queued after a failed attempt
	Throttles         int64 // entries throttled, alone or by a throttled call
	Failed            int64 // user records completed with an error
	ShardMapRefreshes int64 // shard map reads that succeeded
	BufferedRecords   int   // accepted and not completed, now
	BufferedBytes     int
	// AggregationRatio is UserRecordsPut / KinesisRecordsPut (1 without
	// aggregation; 0 before the first write).
	AggregationRatio float64
}

// Stats returns a snapshot of the counters. It does not block on I/O.
func (p *Producer) Stats() Stats {
	s := Stats{
		UserRecordsPut:    p.stats.userRecords.Load(),
		KinesisRecordsPut: p.stats.entries.Load(),
		BytesPut:          p.stats.bytes.Load(),
		KinesisBytesPut:   p.stats.entryBytes.Load(),
		Requests:          p.stats.requests.Load(),
		Retries:           p.stats.retries.Load(),
		Throttles:         p.stats.throttles.Load(),
		Failed:            p.stats.failed.Load(),
		ShardMapRefreshes: p.stats.mapRefreshes.Load(),
	}
	p.mu.Lock()
	s.BufferedRecords, s.BufferedBytes = p.buffered, p.bufBytes
	p.mu.Unlock()
	if s.KinesisRecordsPut > 0 {
		s.AggregationRatio = float64(s.UserRecordsPut) / float64(s.KinesisRecordsPut)
	}
	return s
}

type counters struct {
	userRecords, entries, bytes, entryBytes, requests, retries, throttles, failed, mapRefreshes atomic.Int64
}

// pending is one accepted user record, owned by the dispatcher until it is
// handed to the completer.
type pending struct {
	rec      Record
	hash     aggregate.Hash128
	size     int // len(PartitionKey) + len(Data)
	cb       Callback
	epoch    uint64
	put      time.Time // Put time (see enqueue); the TTL runs from it
	attempts int
	lastErr  error
}

// expired reports whether m's TTL ended at now.
func (m *pending) expired(now time.Time, ttl time.Duration) bool {
	return !now.Before(m.put.Add(ttl))
}
