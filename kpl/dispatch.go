package kpl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/shoal-go/shoal/aggregate"
)

// errAborted is the cause of records Close gave up on.
var errAborted = fmt.Errorf("%w: Close's context ended before the record was written", ErrClosed)

const (
	sweepInterval = 250 * time.Millisecond
	mapRetryFirst = time.Second
	mapRetryMax   = 30 * time.Second
	idleWake      = time.Hour
)

// dispatcher owns every buffered record, the shard map, the per-shard queues
// and limiters; it runs on one goroutine (run) and talks to the PutRecords
// goroutines and the shard map reader by channel.
type dispatcher struct {
	p   *Producer
	cfg *settings

	smap      *shardMap // nil: unknown or unreadable
	mapKnown  bool      // the first read finished, successfully or not
	fetching  bool
	wantMap   bool
	nextMapAt time.Time
	mapFails  int
	mapCh     chan mapResult
	parked    []parkedEntry // aggregates stored on an unexpected shard

	queues  []*shardQ
	byID    map[string]*shardQ
	agg     bool      // shard-predicted aggregation in use
	waiting []pending // accepted before the first shard map read finished
	queued  int       // records in queues and waiting
	qBytes  int

	results  chan *response
	inflight int
	busy     map[string]int // Ordered: partition keys in flight
	rr       int            // round-robin start over queues
	enc      aggregate.Encoder
	out      []completion // outcomes of this iteration, pushed to the completer
	okRecs   int64        // successes in out, added to the stats with it
	okBytes  int64
	intake   [][]pending // emptied intake chunks, handed back on the next take
	dataBufs [][]byte    // aggregate buffers free for reuse
	swept    time.Time
	aborting bool

	wg sync.WaitGroup // PutRecords and shard map goroutines
}

type mapResult struct {
	m   *shardMap
	err error
}

func newDispatcher(p *Producer) *dispatcher {
	d := &dispatcher{
		p: p, cfg: &p.cfg,
		mapCh:   make(chan mapResult, 1),
		results: make(chan *response, p.cfg.MaxInFlight),
		busy:    make(map[string]int),
	}
	return d
}

func (d *dispatcher) run() {
	defer func() {
		// Nothing is in flight but, perhaps, a shard map read nobody needs.
		d.p.cancel()
		d.wg.Wait()
	}()
	d.startMapFetch()
	timer := time.NewTimer(idleWake)
	defer timer.Stop()
	for {
		now := time.Now()
		closing := d.p.closing.Load() // read before taking the intake: see Close
		d.absorb(d.p.takeIntake(d.intake))
		if d.aborting {
			d.failQueued(errAborted)
			d.settleParked(nil)
		} else {
			if d.wantMap && !d.fetching && !now.Before(d.nextMapAt) {
				d.startMapFetch()
			}
			if now.Sub(d.swept) >= sweepInterval {
				d.sweep(now)
			}
		}
		wake := now.Add(idleWake)
		if !d.aborting && d.mapKnown {
			wake = d.dispatch(now, closing || d.p.flushing.Load() > 0)
		}
		if d.wantMap && !d.fetching && d.nextMapAt.Before(wake) {
			wake = d.nextMapAt
		}
		d.flushOut()
		if (closing && d.queued == 0 && len(d.parked) == 0 || d.aborting) && d.inflight == 0 {
			return
		}
		timer.Reset(max(time.Until(wake), 0))
		abort := d.p.abortCh
		if d.aborting {
			abort = nil
		}
		select {
		case <-d.p.intakeSig:
		case r := <-d.results:
			d.handleResponse(r, time.Now())
		case r := <-d.mapCh:
			d.handleMap(r, time.Now())
		case <-timer.C:
		case <-abort:
			d.aborting = true
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

func (d *dispatcher) flushOut() {
	if d.okRecs > 0 {
		d.p.stats.userRecords.Add(d.okRecs)
		d.p.stats.bytes.Add(d.okBytes)
		d.okRecs, d.okBytes = 0, 0
	}
	d.p.done.push(d.out...)
	clear(d.out)
	d.out = d.out[:0]
}

func (d *dispatcher) succeed(m *pending, res Result) {
	d.okRecs++
	d.okBytes += int64(m.size)
	d.out = append(d.out, completion{m: *m, res: res})
}

func (d *dispatcher) fail(m *pending, err error) {
	d.p.stats.failed.Add(1)
	d.out = append(d.out, completion{m: *m, err: err})
}

// expire fails a record whose TTL passed.
func (d *dispatcher) expire(m *pending) {
	if m.lastErr != nil {
		d.fail(m, fmt.Errorf("%w after %d attempts: %w", ErrExpired, m.attempts, m.lastErr))
	} else {
		d.fail(m, fmt.Errorf("%w after %d attempts", ErrExpired, m.attempts))
	}
}

func (d *dispatcher) absorb(chunks [][]pending) {
	for _, in := range chunks {
		for i := range in {
			m := &in[i]
			d.queued++
			d.qBytes += m.size
			if !d.mapKnown {
				d.waiting = append(d.waiting, *m)
				continue
			}
			d.route(m).push(m)
		}
		clear(in)
	}
	d.intake = chunks
}

// route returns the queue of m's predicted shard.
func (d *dispatcher) route(m *pending) *shardQ {
	if d.smap == nil || d.smap.auto {
		return d.queues[0]
	}
	if i := d.smap.lookup(m.hash); i >= 0 {
		return d.queues[i]
	}
	return d.queues[0]
}

// dequeued updates the totals after records left the queues.
func (d *dispatcher) dequeued(ms []pending) {
	for i := range ms {
		d.queued--
		d.qBytes -= ms[i].size
	}
}

func (d *dispatcher) failQueued(err error) {
	for i := range d.waiting {
		d.fail(&d.waiting[i], err)
	}
	d.dequeued(d.waiting)
	d.waiting = nil
	for _, q := range d.queues {
		ms := q.all()
		for i := range ms {
			d.fail(&ms[i], err)
		}
		d.dequeued(ms)
		q.reset()
	}
}

func (d *dispatcher) sweep(now time.Time) {
	d.swept = now
	for _, q := range d.queues {
		ms := q.removeExpired(now, d.cfg.RecordTTL)
		for i := range ms {
			d.expire(&ms[i])
		}
		d.dequeued(ms)
	}
	keep := d.waiting[:0]
	for i := range d.waiting {
		m := d.waiting[i]
		if !m.expired(now, d.cfg.RecordTTL) {
			keep = append(keep, m)
			continue
		}
		d.expire(&m)
		d.dequeued([]pending{m})
	}
	clear(d.waiting[len(keep):])
	d.waiting = keep
}

func (d *dispatcher) startMapFetch() {
	d.fetching, d.wantMap = true, false
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ctx, cancel := context.WithTimeout(d.p.sendCtx, d.cfg.RequestTimeout)
		defer cancel()
		m, err := fetchShardMap(ctx, d.cfg.Client, d.cfg.StreamName, d.cfg.StreamARN)
		d.mapCh <- mapResult{m, err}
	}()
}

func (d *dispatcher) handleMap(r mapResult, now time.Time) {
	d.fetching = false
	if r.err != nil {
		d.mapFails++
		d.wantMap = true
		d.nextMapAt = now.Add(backoff(d.mapFails, mapRetryFirst, mapRetryMax))
		d.cfg.logger.Warn("kpl: shard map unavailable; sending without aggregation or shard rate limits until it is read",
			"stream", d.cfg.StreamName, "err", r.err)
		if !d.mapKnown {
			d.install(nil)
		}
		d.settleParked(nil)
		return
	}
	d.mapFails = 0
	d.p.stats.mapRefreshes.Add(1)
	d.install(r.m)
	d.settleParked(r.m)
	d.cfg.logger.Info("kpl: shard map read", "stream", d.cfg.StreamName, "open_shards", len(r.m.shards), "aggregating", d.agg)
	if h := d.cfg.Hooks.ShardMapUpdated; h != nil {
		h(len(r.m.shards), d.agg)
	}
}

// install switches to shard map m (nil: none) and re-routes every queued
// record, keeping each key's records in order.
func (d *dispatcher) install(m *shardMap) {
	var all []pending
	all = append(all, d.waiting...)
	d.waiting = nil
	for _, q := range d.queues {
		all = append(all, q.all()...)
		q.reset()
	}
	old := d.byID
	d.smap, d.mapKnown = m, true
	d.agg = d.cfg.aggregate && m != nil && !m.auto
	d.byID = make(map[string]*shardQ)
	d.queues = d.queues[:0]
	if m == nil || m.auto {
		d.queues = append(d.queues, &shardQ{info: shardInfo{rng: aggregate.FullHashRange}})
	} else {
		limited := !d.cfg.DisableRateLimit
		pct := float64(d.cfg.RateLimit) / 100
		for _, s := range m.shards {
			// A shard still open keeps its queue object: requests in flight
			// hold its limiter's tokens and release them there.
			q := old[s.id]
			if q == nil {
				q = &shardQ{limited: limited,
					lim: newShardLimiter(float64(d.cfg.ShardRecordsPerSec)*pct, float64(d.cfg.ShardBytesPerSec)*pct)}
			}
			q.info = s
			d.queues = append(d.queues, q)
			d.byID[s.id] = q
		}
	}
	for i := range all {
		d.route(&all[i]).push(&all[i])
	}
}

// handleResponse settles every record of a finished PutRecords call:
// success, retry (at the front of its shard's queue, so it goes before newer
// records) or failure.
func (d *dispatcher) handleResponse(r *response, now time.Time) {
	select {
	case <-d.p.abortCh: // the request may have failed because Close cancelled it
		d.aborting = true
	default:
	}
	d.inflight--
	d.p.stats.requests.Add(1)
	if d.cfg.Ordered {
		for _, e := range r.req.entries {
			for i := range e.members {
				k := e.members[i].rec.PartitionKey
				if n := d.busy[k] - 1; n > 0 {
					d.busy[k] = n
				} else {
					delete(d.busy, k)
				}
			}
		}
	}
	retry := make(map[*shardQ][]pending)
	var order []*shardQ
	requeue := func(m *pending, err error) {
		m.lastErr = err
		if d.aborting {
			d.fail(m, fmt.Errorf("%w (last attempt: %w)", errAborted, err))
			return
		}
		if m.expired(now, d.cfg.RecordTTL) {
			d.expire(m)
			return
		}
		d.p.stats.retries.Add(1)
		q := d.queues[0]
		if d.mapKnown {
			q = d.route(m)
		}
		if _, ok := retry[q]; !ok {
			order = append(order, q)
		}
		retry[q] = append(retry[q], *m)
	}
	penalize := func(q *shardQ) {
		if q.backoffUntil.After(now) {
			return // one penalty per shard per response
		}
		q.failures++
		q.backoffUntil = now.Add(backoff(q.failures, d.cfg.RetryBackoff, d.cfg.MaxRetryBackoff))
	}
	for _, e := range r.req.entries {
		if e.charged {
			e.q.lim.settle(e.size)
		}
	}
	callErr := r.err
	if callErr == nil && (r.out == nil || len(r.out.Records) != len(r.req.entries)) {
		callErr = errors.New("kpl: PutRecords response does not match the request")
	}
	if callErr != nil {
		pe := callError(callErr)
		final := !retryable(pe.Code) || d.aborting
		if !final {
			d.cfg.logger.Warn("kpl: put records failed; retrying", "stream", d.cfg.StreamName, "err", callErr)
		}
		for _, e := range r.req.entries {
			if !final {
				penalize(e.q)
			}
			if isThrottleCode(pe.Code) {
				d.p.stats.throttles.Add(1)
				if h := d.cfg.Hooks.Throttled; h != nil {
					h(e.q.info.id)
				}
			}
			for i := range e.members {
				m := &e.members[i]
				switch {
				case d.aborting:
					d.fail(m, fmt.Errorf("%w (last attempt: %w)", errAborted, pe))
				case final:
					d.fail(m, pe)
				default:
					requeue(m, pe)
				}
			}
		}
	} else {
		for i, e := range r.req.entries {
			res := &r.out.Records[i]
			if res.ErrorCode != nil && *res.ErrorCode != "" {
				pe := &PutError{Code: *res.ErrorCode, Message: deref(res.ErrorMessage)}
				if isThrottleCode(pe.Code) {
					d.p.stats.throttles.Add(1)
					e.q.lim.throttled(now)
					if h := d.cfg.Hooks.Throttled; h != nil {
						h(e.q.info.id)
					}
				}
				retryIt := retryable(pe.Code)
				if retryIt {
					penalize(e.q)
				}
				for i := range e.members {
					m := &e.members[i]
					if retryIt {
						requeue(m, pe)
					} else {
						d.fail(m, pe)
					}
				}
				continue
			}
			d.p.stats.entries.Add(1)
			d.p.stats.entryBytes.Add(int64(e.size))
			if e.q.backoffUntil.Before(now) {
				e.q.failures = 0
			}
			shardID, seq := deref(res.ShardId), deref(res.SequenceNumber)
			if d.agg && e.q.info.id != "" && shardID != e.q.info.id {
				d.wantMap = true
				d.cfg.logger.Info("kpl: record landed on an unexpected shard; refreshing the shard map",
					"stream", d.cfg.StreamName, "predicted", e.q.info.id, "shard", shardID)
				if e.aggregated {
					d.park(e, shardID, seq)
					continue
				}
			}
			d.okRecs += int64(len(e.members))
			d.okBytes += int64(e.sum.bytes)
			d.out = append(d.out, completion{group: e.members, sum: e.sum, pooled: e.pooled,
				res: Result{ShardID: shardID, SequenceNumber: seq, Aggregated: e.aggregated}})
		}
	}
	for _, q := range order {
		q.pushFront(retry[q])
		d.queued += len(retry[q])
		for i := range retry[q] {
			d.qBytes += retry[q][i].size
		}
	}
	d.recycleData(r.req)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// response is the outcome of one PutRecords call.
type response struct {
	req *request
	out *kinesis.PutRecordsOutput
	err error
}
