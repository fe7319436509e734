package kpl

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shoal-go/shoal/aggregate"
)

// entry is one Kinesis record of a request: a raw user record or an
// aggregate of several, all predicted for the shard of q.
type entry struct {
	q          *shardQ
	rec        Record // what is sent
	size       int    // len(PartitionKey) + len(Data) of rec
	members    []pending
	aggregated bool
	charged    bool      // the shard's limiter was charged (and holds it)
	sum        memberSum // of members
	pooled     bool      // members came from Producer.members
	ownsData   bool      // rec.Data is the producer's buffer, reused after the call
	one        [1]pending
}

// request is one PutRecords call being built or in flight.
type request struct {
	entries []*entry
	bytes   int
	users   int
	keys    map[string]*entry // Ordered: which entry of this request holds a key
}

// takeResult says why take returned no entry.
type takeResult int

const (
	took     takeResult = iota
	empty               // the queue is empty
	reqFull             // the next entry does not fit this request
	waitRate            // the shard's limiter has no room yet
	blocked             // Ordered: the next record's key is busy
	notFull             // only full aggregates were wanted
)

// overheadPerRecord is a generous estimate of the aggregate bytes a user
// record adds beyond its key and data (field tags, lengths, indexes).
const overheadPerRecord = 12

// dispatch builds requests from the queues that are due and starts them, up
// to MaxInFlight. A queue is due when its oldest record has waited Linger,
// when force is set (Flush, Close), or when it holds enough for a full
// aggregate (or, without aggregation, when the buffer holds a full request).
// It returns when it next needs to run if nothing else happens.
func (d *dispatcher) dispatch(now time.Time, force bool) time.Time {
	wake := now.Add(idleWake)
	var cur *request
	n := len(d.queues)
	full := d.qBytes >= d.cfg.BatchMaxBytes || (!d.agg && d.queued >= d.cfg.BatchMaxRecords)
	start := d.rr
	d.rr++
	for k := 0; k < n; k++ {
		q := d.queues[(start+k)%n]
		if q.len() == 0 {
			continue
		}
		if now.Before(q.backoffUntil) {
			wake = earlier(wake, q.backoffUntil)
			continue
		}
		fullOnly := false
		if due := q.front().put.Add(d.cfg.Linger); !force && !full && now.Before(due) {
			if !d.agg || q.bytes < d.cfg.AggregationMaxSize {
				wake = earlier(wake, due)
				continue
			}
			fullOnly = true
		}
	fill:
		for q.len() > 0 {
			if cur == nil {
				if d.inflight >= d.cfg.MaxInFlight {
					return wake // a response will wake the loop
				}
				cur = &request{}
			}
			e, why, at := d.take(q, cur, now, fullOnly)
			switch why {
			case took:
				cur.entries = append(cur.entries, e)
				cur.bytes += e.size
				cur.users += len(e.members)
				if len(cur.entries) >= d.cfg.BatchMaxRecords || cur.bytes >= d.cfg.BatchMaxBytes {
					d.launch(cur)
					cur = nil
				}
			case reqFull:
				if len(cur.entries) == 0 {
					break fill // unreachable: every record fits an empty request
				}
				d.launch(cur)
				cur = nil
			case waitRate:
				wake = earlier(wake, at)
				break fill
			case notFull:
				wake = earlier(wake, q.front().put.Add(d.cfg.Linger))
				break fill
			default: // empty, blocked: a response or new records wake us
				break fill
			}
		}
	}
	if cur != nil && len(cur.entries) > 0 {
		d.launch(cur)
	}
	return wake
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// keyBusy reports whether, in Ordered mode, key may not join request cur: it
// is in flight, or in another entry of cur.
func (d *dispatcher) keyBusy(key string, cur *request) bool {
	if !d.cfg.Ordered {
		return false
	}
	if d.busy[key] > 0 {
		return true
	}
	_, used := cur.keys[key]
	return used
}

// take removes the next entry of q for request cur: the head record alone,
// or, when aggregating, an aggregate of as many records from the head as fit
// AggregationMaxSize, the request's remaining bytes and the shard's byte
// tokens.
func (d *dispatcher) take(q *shardQ, cur *request, now time.Time, fullOnly bool) (*entry, takeResult, time.Time) {
	for q.len() > 0 && q.front().expired(now, d.cfg.RecordTTL) {
		var one [1]pending
		ms := q.popN(1, q.front().size, one[:])
		d.dequeued(ms)
		d.expire(&ms[0])
	}
	if q.len() == 0 {
		return nil, empty, time.Time{}
	}
	head := q.front()
	if d.keyBusy(head.rec.PartitionKey, cur) {
		return nil, blocked, time.Time{}
	}
	budget := d.cfg.BatchMaxBytes - cur.bytes
	if !d.agg || head.size+overheadPerRecord+aggregate.Overhead > d.cfg.AggregationMaxSize {
		return d.takeRaw(q, cur, now, budget)
	}
	e, why, at := d.takeAggregate(q, cur, now, fullOnly, budget)
	if why == reqFull && len(cur.entries) == 0 {
		// The estimate of the head's aggregate size was short (long explicit
		// hash keys); send it alone rather than stall.
		return d.takeRaw(q, cur, now, budget)
	}
	return e, why, at
}

// takeRaw removes the head record as an entry of its own.
func (d *dispatcher) takeRaw(q *shardQ, cur *request, now time.Time, budget int) (*entry, takeResult, time.Time) {
	head := q.front()
	{
		if head.size > budget {
			return nil, reqFull, time.Time{}
		}
		if q.limited && !q.lim.allows(now, head.size) {
			return nil, waitRate, now.Add(q.lim.wait(now, head.size))
		}
		if q.limited {
			q.lim.take(head.size)
		}
		e := &entry{}
		ms := q.popN(1, head.size, e.one[:]) // head is cleared
		d.dequeued(ms)
		d.newEntry(e, q, cur, ms[0].rec, ms[0].size, ms, false)
		e.charged = q.limited
		return e, took, time.Time{}
	}
}

// takeAggregate removes an aggregate of records from the head of q.
func (d *dispatcher) takeAggregate(q *shardQ, cur *request, now time.Time, fullOnly bool, budget int) (*entry, takeResult, time.Time) {
	limit := min(d.cfg.AggregationMaxSize, budget-len(aggregate.OuterPartitionKey))
	if q.limited {
		need := min(limit, q.bytes+q.len()*overheadPerRecord+aggregate.Overhead+len(aggregate.OuterPartitionKey))
		if !q.lim.allows(now, need) {
			return nil, waitRate, now.Add(q.lim.wait(now, need))
		}
		if avail := int(q.lim.bytes.tokens - q.lim.bytes.rate*reserveFraction); avail < limit {
			limit = max(avail, need)
		}
	}
	d.enc.Reset()
	n, bytes, sizeStop := 0, 0, false
	ordered := d.cfg.Ordered
	limit -= len(aggregate.OuterPartitionKey)
	for ; n < q.len(); n++ {
		m := q.at(n)
		if ordered && n > 0 && d.keyBusy(m.rec.PartitionKey, cur) {
			break
		}
		if m.size+overheadPerRecord+aggregate.Overhead > d.cfg.AggregationMaxSize {
			break // goes alone, next
		}
		// The exact size costs a table lookup; it is needed only near the
		// limit.
		if d.enc.Size()+addedAtMost(m.rec, n) > limit && d.enc.SizeWith(m.rec) > limit {
			sizeStop = true
			break
		}
		if err := d.enc.Add(m.rec); err != nil {
			break // validated at Put; unreachable
		}
		bytes += m.size
	}
	if n == 0 {
		return nil, reqFull, time.Time{}
	}
	if fullOnly && !sizeStop {
		return nil, notFull, time.Time{}
	}
	rec, _ := d.enc.Outer(d.dataBuf())
	size := d.enc.OuterSize()
	if q.limited {
		q.lim.take(size)
	}
	e := &entry{ownsData: true}
	var ms []pending
	if n == 1 {
		ms = q.popN(1, bytes, e.one[:])
	} else {
		ms = q.popN(n, bytes, d.p.members.get(n))
		e.pooled = true
	}
	d.newEntry(e, q, cur, rec, size, ms, n > 1)
	d.queued -= n
	d.qBytes -= bytes
	e.charged = q.limited
	return e, took, time.Time{}
}

// addedAtMost bounds what adding r to an Encoder holding n records adds to
// its Size: both key table entries as if new, and index varints as if the
// largest possible (n).
func addedAtMost(r Record, n int) int {
	add := 1 + varintLen(len(r.PartitionKey)) + len(r.PartitionKey)
	body := 1 + varintLen(n) + 1 + varintLen(len(r.Data)) + len(r.Data)
	if r.ExplicitHashKey != "" {
		add += 1 + varintLen(len(r.ExplicitHashKey)) + len(r.ExplicitHashKey)
		body += 1 + varintLen(n)
	}
	return add + 1 + varintLen(body) + body
}

// varintLen is the length of the protobuf varint encoding of v >= 0.
func varintLen(v int) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// newEntry fills e, the entry of records ms taken for request cur, which is
// always launched: it counts the attempt.
func (d *dispatcher) newEntry(e *entry, q *shardQ, cur *request, rec Record, size int, ms []pending, aggregated bool) *entry {
	e.q, e.rec, e.size, e.members, e.aggregated, e.sum = q, rec, size, ms, aggregated, summarize(ms)
	for i := range ms {
		ms[i].attempts++
	}
	if d.cfg.Ordered {
		if cur.keys == nil {
			cur.keys = make(map[string]*entry)
		}
		for i := range ms {
			cur.keys[ms[i].rec.PartitionKey] = e
		}
	}
	return e
}

// launch starts a PutRecords call for req on its own goroutine.
func (d *dispatcher) launch(req *request) {
	d.inflight++
	if d.cfg.Ordered {
		for _, e := range req.entries {
			for i := range e.members {
				d.busy[e.members[i].rec.PartitionKey]++
			}
		}
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.results <- d.p.send(req)
	}()
}

// send makes one PutRecords call. It runs on its own goroutine and touches
// nothing but req (read-only) and the hooks.
func (p *Producer) send(req *request) *response {
	in := &kinesis.PutRecordsInput{
		StreamName: nonEmpty(p.cfg.StreamName),
		StreamARN:  nonEmpty(p.cfg.StreamARN),
		Records:    make([]types.PutRecordsRequestEntry, len(req.entries)),
	}
	for i, e := range req.entries {
		pk := e.rec.PartitionKey
		data := e.rec.Data
		if data == nil {
			data = []byte{} // the SDK rejects a nil Data
		}
		in.Records[i] = types.PutRecordsRequestEntry{PartitionKey: &pk, Data: data}
		if e.rec.ExplicitHashKey != "" {
			ehk := e.rec.ExplicitHashKey
			in.Records[i].ExplicitHashKey = &ehk
		}
	}
	ctx, cancel := context.WithTimeout(p.sendCtx, p.cfg.RequestTimeout)
	start := time.Now()
	out, err := p.cfg.Client.PutRecords(ctx, in)
	cancel()
	if h := p.cfg.Hooks.RequestDone; h != nil {
		info := RequestInfo{Entries: len(req.entries), UserRecords: req.users, Bytes: req.bytes, Latency: time.Since(start), Err: err}
		if err != nil {
			info.Failed = len(req.entries)
		} else if out != nil {
			for _, r := range out.Records {
				if r.ErrorCode != nil && *r.ErrorCode != "" {
					info.Failed++
					if isThrottleCode(*r.ErrorCode) {
						info.Throttled++
					}
				}
			}
		}
		h(info)
	}
	return &response{req: req, out: out, err: err}
}

// maxDataBufs bounds the aggregate buffers the dispatcher keeps for reuse.
const maxDataBufs = 64

// dataBuf returns an empty buffer for an aggregate, reused if one is free.
func (d *dispatcher) dataBuf() []byte {
	k := len(d.dataBufs)
	if k == 0 {
		return nil
	}
	b := d.dataBufs[k-1]
	d.dataBufs[k-1] = nil
	d.dataBufs = d.dataBufs[:k-1]
	return b
}

// recycleData keeps the aggregate buffers of a finished request's entries.
// The SDK does not keep a request's data after PutRecords returns (see
// KinesisAPI).
func (d *dispatcher) recycleData(req *request) {
	for _, e := range req.entries {
		if e.ownsData && len(d.dataBufs) < maxDataBufs {
			d.dataBufs = append(d.dataBufs, e.rec.Data[:0])
		}
		e.rec.Data, e.ownsData = nil, false
	}
}
