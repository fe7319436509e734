package streams

// shardLimiter holds a shard's token buckets, guarded by the shard's lock. Each bucket holds at
// most one second of its rate and refills continuously.
type shardLimiter struct {
	init         bool
	last         int64 // ms of the last refill
	wBytes       float64
	wRecs        float64
	rBytes       float64
	rCalls       float64
	iterCalls    float64
	blockedUntil int64 // ms; reads fail until then (after a 10 MiB read)
}

// maxReadBytes caps one GetRecords response (key + data bytes), like AWS's 10 MiB.
const maxReadBytes = 10 << 20

// readPenaltyMs is how long reads of a shard fail after a call returned maxReadBytes.
const readPenaltyMs = 5000

func (l *shardLimiter) refill(nowMs int64, c *Limits) {
	if !l.init {
		l.init = true
		l.last = nowMs
		l.wBytes, l.wRecs = float64(c.WriteBytesPerSec), float64(c.WriteRecordsPerSec)
		l.rBytes, l.rCalls = float64(c.ReadBytesPerSec), float64(c.GetRecordsPerSec)
		l.iterCalls = float64(c.GetShardIteratorPerSec)
		return
	}
	dt := float64(nowMs-l.last) / 1000
	if dt <= 0 {
		return
	}
	l.last = nowMs
	l.wBytes = min(float64(c.WriteBytesPerSec), l.wBytes+dt*float64(c.WriteBytesPerSec))
	l.wRecs = min(float64(c.WriteRecordsPerSec), l.wRecs+dt*float64(c.WriteRecordsPerSec))
	l.rBytes = min(float64(c.ReadBytesPerSec), l.rBytes+dt*float64(c.ReadBytesPerSec))
	l.rCalls = min(float64(c.GetRecordsPerSec), l.rCalls+dt*float64(c.GetRecordsPerSec))
	l.iterCalls = min(float64(c.GetShardIteratorPerSec), l.iterCalls+dt*float64(c.GetShardIteratorPerSec))
}

// allowIterator takes a GetShardIterator call token, or reports false.
func (l *shardLimiter) allowIterator(nowMs int64, c *Limits) bool {
	l.refill(nowMs, c)
	if l.iterCalls < 1 {
		return false
	}
	l.iterCalls--
	return true
}

// allowWrite takes tokens for one record of size bytes (key + data), or reports false. A record
// larger than the byte bucket passes when the bucket is full, leaving it in debt.
func (l *shardLimiter) allowWrite(nowMs int64, c *Limits, size int) bool {
	l.refill(nowMs, c)
	if l.wRecs < 1 {
		return false
	}
	sz := float64(size)
	if l.wBytes < sz && !(sz > float64(c.WriteBytesPerSec) && l.wBytes >= float64(c.WriteBytesPerSec)) {
		return false
	}
	l.wRecs--
	l.wBytes -= sz
	return true
}

// allowRead takes a GetRecords call token, or reports false if the call rate, the read bytes or
// the penalty after a 10 MiB read forbid a read now.
func (l *shardLimiter) allowRead(nowMs int64, c *Limits) bool {
	l.refill(nowMs, c)
	if nowMs < l.blockedUntil || l.rCalls < 1 || l.rBytes <= 0 {
		return false
	}
	l.rCalls--
	return true
}

// readDone charges n bytes read; full reports that the read stopped at the 10 MiB cap.
func (l *shardLimiter) readDone(nowMs int64, n int, full bool) {
	l.rBytes -= float64(n)
	if full {
		l.blockedUntil = nowMs + readPenaltyMs
	}
}
