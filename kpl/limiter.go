package kpl

import (
	"math/rand/v2"
	"time"
)

// bucket is a token bucket holding at most one second of its rate, full at
// first use, refilled continuously, like a Kinesis shard's. Kinesis charges a
// request when it arrives, we when we send it, so ours must never hold more
// than Kinesis's. Two rules keep it so:
//
//   - held counts the tokens of requests in flight: Kinesis has not charged
//     them yet, and while they travel its bucket may sit at its cap and waste
//     refill that ours counts. Ours is capped at rate-held, so ours plus what
//     is in flight never exceeds Kinesis's cap.
//   - a reserve of reserveFraction of a second's tokens stays unused, against
//     rounding and clock granularity (Kinesis refills by the millisecond).
//
// The long-run rate stays the full rate; only bursts are smaller. It is a
// pure value: callers pass the time. Not safe for concurrent use (the
// dispatcher owns every bucket).
type bucket struct {
	rate   float64 // tokens per second
	tokens float64
	held   float64 // charged to requests in flight
	last   time.Time
}

func newBucket(rate float64) bucket { return bucket{rate: rate, tokens: rate} }

func (b *bucket) refill(now time.Time) {
	if b.last.IsZero() {
		b.last = now
	} else if dt := now.Sub(b.last); dt > 0 {
		b.tokens += dt.Seconds() * b.rate
		b.last = now
	}
	b.tokens = min(b.tokens, b.rate-b.held)
}

// allows reports whether cost tokens can be taken now. A cost larger than the
// bucket is allowed when the bucket is full (it then goes into debt), as
// Kinesis does for a record larger than a shard's byte rate.
func (b *bucket) allows(now time.Time, cost float64) bool {
	b.refill(now)
	return b.tokens-b.rate*reserveFraction >= cost || (cost > b.rate*(1-reserveFraction) && b.tokens >= b.rate && b.held == 0)
}

// reserveFraction is the share of a second's tokens a bucket keeps unused.
const reserveFraction = 0.05

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

// take charges one record of size bytes and holds it until settle.
func (l *shardLimiter) take(size int) {
	l.recs.take(1)
	l.bytes.take(float64(size))
	l.recs.held++
	l.bytes.held += float64(size)
}

// settle releases the hold of a record take charged, once Kinesis answered.
func (l *shardLimiter) settle(size int) {
	l.recs.held--
	l.bytes.held -= float64(size)
}

// throttled resynchronises the buckets with Kinesis after it throttled the
// shard: Kinesis's buckets are empty, so ours must not hold more (it happens
// when our clock ran ahead of Kinesis's, e.g. a first request that took
// longer than the reserve covers).
func (l *shardLimiter) throttled(now time.Time) {
	for _, b := range []*bucket{&l.recs, &l.bytes} {
		b.refill(now)
		b.tokens = min(b.tokens, 0)
	}
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
