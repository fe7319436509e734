package kpl

import "time"

// shardQ is the buffer of one predicted shard (or, without a shard map, of
// the whole stream): records in Put order, retried records first, and the
// shard's limiter and backoff state. Owned by the dispatcher.
type shardQ struct {
	info    shardInfo // id "" when there is no shard map
	items   []pending
	head    int
	bytes   int
	limited bool
	lim     shardLimiter
	// backoffUntil holds the shard back after throttling or failures;
	// failures counts consecutive failed attempts.
	backoffUntil time.Time
	failures     int
}

func (q *shardQ) len() int { return len(q.items) - q.head }

// at returns the i-th queued record; the pointer is valid until the queue
// changes.
func (q *shardQ) at(i int) *pending { return &q.items[q.head+i] }
func (q *shardQ) front() *pending   { return &q.items[q.head] }
func (q *shardQ) all() []pending    { return q.items[q.head:] }
func (q *shardQ) reset()            { clear(q.items); q.items, q.head, q.bytes = q.items[:0], 0, 0 }

// push appends a copy of m. When the array is full and at least half of it
// was popped, the queued records move to its front instead of growing it.
func (q *shardQ) push(m *pending) {
	if len(q.items) == cap(q.items) && q.head > 0 && q.head >= len(q.items)/2 {
		k := copy(q.items, q.items[q.head:])
		clear(q.items[k:])
		q.items, q.head = q.items[:k], 0
	}
	q.items = append(q.items, *m)
	q.bytes += m.size
}

// popN removes the first n records, whose sizes add up to bytes, and
// returns them appended to into[:0].
func (q *shardQ) popN(n, bytes int, into []pending) []pending {
	out := append(into[:0], q.items[q.head:q.head+n]...)
	clear(q.items[q.head : q.head+n])
	q.bytes -= bytes
	q.head += n
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head > len(q.items)/2 {
		k := copy(q.items, q.items[q.head:])
		clear(q.items[k:])
		q.items, q.head = q.items[:k], 0
	}
	return out
}

// pushFront puts ms (in order) before every queued record.
func (q *shardQ) pushFront(ms []pending) {
	if len(ms) == 0 {
		return
	}
	for i := range ms {
		q.bytes += ms[i].size
	}
	if q.head >= len(ms) {
		q.head -= len(ms)
		copy(q.items[q.head:], ms)
		return
	}
	items := make([]pending, 0, len(ms)+q.len()+16)
	items = append(items, ms...)
	items = append(items, q.items[q.head:]...)
	q.items, q.head = items, 0
}

// removeExpired removes the records whose TTL ended and returns them.
func (q *shardQ) removeExpired(now time.Time, ttl time.Duration) []pending {
	var out []pending
	keep := q.items[:q.head]
	for i := q.head; i < len(q.items); i++ {
		m := &q.items[i]
		if m.expired(now, ttl) {
			out = append(out, *m)
			q.bytes -= m.size
			continue
		}
		keep = append(keep, *m)
	}
	clear(q.items[len(keep):])
	q.items = keep
	if q.len() == 0 {
		q.items, q.head = q.items[:0], 0
	}
	return out
}
