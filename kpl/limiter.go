package kpl

import (
	"math/rand/v2"
	"time"
)

// bucket is a token bucket holding at most one second of its rate, full at
// first use, refilled continuously, like a Kinesis shard's. It keeps a
// reserve of reserveFraction of a second's tokens unused: Kinesis charges a
// request when it arrives, not when it was sent, so when both buckets start
// full (at first use, or after an idle spell) Kinesis's refill clock starts
// one request latency after ours and ours would run ahead of it by that
// latency's worth of tokens. The reserve covers latencies up to 250 ms;
// the long-run rate stays the full rate, only bursts are smaller. It is a pure value: callers pass the
// time. Not safe for concurrent use (the dispatcher owns every bucket).
type bucket struct {
	rate   float64 // tokens per second
	tokens float64
	last   time.Time
}

func newBucket(rate float64) bucket { return bucket{rate: rate, tokens: rate} }

func (b *bucket) refill(now time.Time) {
	if b.last.IsZero() {
		b.last = now
		return
	}
	if dt := now.Sub(b.last); dt > 0 {
		b.tokens = min(b.rate, b.tokens+dt.Seconds()*b.rate)
		b.last = now
	}
}

// allows reports whether cost tokens can be taken now. A cost larger than the
// bucket is allowed when the bucket is full (it then goes into debt), as
// Kinesis does for a record larger than a shard's byte rate.
func (b *bucket) allows(now time.Time, cost float64) bool {
	b.refill(now)
	return b.tokens-b.rate*reserveFraction >= cost || (cost > b.rate*(1-reserveFraction) && b.tokens >= b.rate)
}

// reserveFraction is the share of a second's tokens a bucket keeps unused.
const reserveFraction = 0.25

func (b *bucket) take(cost float64) { b.tokens -= cost }

// wait returns how long until allows(cost) becomes true (0 if it is now).
func (b *bucket) wait(now time.Time, cost float64) time.Duration {
	b.refill(now)
	need := min(cost+b.rate*reserveFraction, b.rate) - b.tokens
	if need <= 0 {
		return 0
	}
	return time.Duration(need/b.rate*float64(time.Second)) + time.Millisecond
}

// shardLimiter paces one shard's writes to its records and bytes limits.
type shardLimiter struct {
	recs, bytes bucket
}

func newShardLimiter(recsPerSec, bytesPerSec float64) shardLimiter {
	return shardLimiter{recs: newBucket(recsPerSec), bytes: newBucket(bytesPerSec)}
}

func (l *shardLimiter) allows(now time.Time, size int) bool {
	return l.recs.allows(now, 1) && l.bytes.allows(now, float64(size))
}

func (l *shardLimiter) take(size int) {
	l.recs.take(1)
	l.bytes.take(float64(size))
}

func (l *shardLimiter) wait(now time.Time, size int) time.Duration {
	return max(l.recs.wait(now, 1), l.bytes.wait(now, float64(size)))
}

// backoff returns the delay before attempt n+1 after n consecutive failures
// (n >= 1): base*2^(n-1) capped at max, with "equal jitter" (a uniformly
// random value in [d/2, d]) so retries of many shards do not align.
func backoff(n int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}
