package streams

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Stream status values.
const (
	statusCreating = "CREATING"
	statusActive   = "ACTIVE"
	statusUpdating = "UPDATING"
	statusDeleting = "DELETING"
)

// Stream modes.
const (
	modeProvisioned = "PROVISIONED"
	modeOnDemand    = "ON_DEMAND"
)

// stream is one Kinesis stream. Its shard list and metadata are guarded by mu; each shard's
// records by the shard's own lock (taken after mu, never before).
type stream struct {
	name    string
	arn     string
	created int64 // ms since epoch; also identifies this incarnation of the name

	mu             sync.RWMutex
	mode           string
	shards         []*shard // every shard ever created, by index
	open           []*shard // open shards sorted by start hash key
	retentionHours int
	maxRecordKiB   int // MaxRecordSizeInKiB: 1024..10240
	tags           map[string]string
	monitoring     map[string]bool // enabled shard-level metrics
	consumers      map[string]*consumer
	pendingStatus  string // CREATING or UPDATING until pendingUntil
	pendingUntil   int64  // ms
	deletingAt     int64  // ms; 0 if not being deleted
	scaleOps       []int64
	encryption     string        // "" (NONE) or KMS
	keyID          string        // the KMS key id while encrypted
	openCount      *atomic.Int64 // the engine's count of open shards in the account
}

// shard is one shard: immutable identity and hash range, and a record log guarded by mu.
type shard struct {
	idx       int
	id        string
	parent    string
	adjParent string
	start     u128
	end       u128
	created   int64 // ms
	closedAt  int64 // ms; 0 while open; guarded by stream.mu

	mu     sync.Mutex
	log    recLog
	notify chan struct{} // closed and replaced when records are appended or the shard closes
	limit  shardLimiter
	// trimAt is when the oldest visible record passes retention; valid unless retention changed.
	trimAt    int64
	trimValid bool
}

func shardID(idx int) string { return fmt.Sprintf("shardId-%012d", idx) }

func newShard(idx int, start, end u128, created int64) *shard {
	return &shard{idx: idx, id: shardID(idx), start: start, end: end, created: created,
		log: newRecLog(), notify: make(chan struct{})}
}

// status returns the stream's status at nowMs, and gone once a deletion has completed.
func (s *stream) status(nowMs, delayMs int64) (status string, gone bool) {
	if s.deletingAt != 0 {
		if nowMs >= s.deletingAt+delayMs {
			return statusDeleting, true
		}
		return statusDeleting, false
	}
	if nowMs < s.pendingUntil {
		return s.pendingStatus, false
	}
	return statusActive, false
}

func (s *stream) retentionMs() int64 { return int64(s.retentionHours) * 3600_000 }

// expired reports whether a closed shard has passed the retention period (EXPIRED: hidden).
func (s *stream) expired(sh *shard, nowMs int64) bool {
	return sh.closedAt != 0 && sh.closedAt < nowMs-s.retentionMs()
}

// rebuildOpen recomputes the sorted list of open shards.
func (s *stream) rebuildOpen() {
	before := len(s.open)
	s.open = s.open[:0]
	for _, sh := range s.shards {
		if sh.closedAt == 0 {
			s.open = append(s.open, sh)
		}
	}
	sort.Slice(s.open, func(i, j int) bool { return s.open[i].start.cmp(s.open[j].start) < 0 })
	s.openCount.Add(int64(len(s.open) - before))
}

// route returns the open shard whose range holds key. The open shards always cover the whole
// hash space.
func (s *stream) route(key u128) *shard {
	i := sort.Search(len(s.open), func(i int) bool { return s.open[i].end.cmp(key) >= 0 })
	if i == len(s.open) {
		return nil
	}
	return s.open[i]
}

// shardByID returns the shard with the given id (in the canonical shardId-%012d form), or nil.
func (s *stream) shardByID(id string) *shard {
	idx, ok := parseShardID(id)
	if !ok || idx >= len(s.shards) {
		return nil
	}
	return s.shards[idx]
}

func parseShardID(id string) (int, bool) {
	const p = "shardId-"
	if len(id) != len(p)+12 || id[:len(p)] != p {
		return 0, false
	}
	n := 0
	for _, c := range id[len(p):] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// closeShard marks sh closed at nowMs and wakes its waiters. Callers hold s.mu for writing.
func (sh *shard) closeAt(nowMs int64) {
	sh.mu.Lock()
	sh.closedAt = nowMs
	sh.wake()
	sh.mu.Unlock()
}

// seq returns the sequence number of record seqIx of this shard, written at arrivalMs.
func (sh *shard) seq(seqIx uint64, arrivalMs int64) seqNum {
	return seqNum{shardIdx: uint32(sh.idx), shardTime: uint64(sh.created / 1000), seqIx: seqIx,
		recordTime: uint64(arrivalMs / 1000)}
}

// startSeq is the shard's StartingSequenceNumber (seqIx 0, below every record).
func (sh *shard) startSeq() seqNum { return sh.seq(0, sh.created) }

// endSeq is a closed shard's EndingSequenceNumber: an upper bound above every record.
func (sh *shard) endSeq() seqNum { return sh.seq(1<<63-1, sh.closedAt) }

// consumer is a registered enhanced fan-out consumer.
type consumer struct {
	name       string
	arn        string
	created    int64 // ms
	deletingAt int64 // ms, 0 if not being deregistered
}

func (c *consumer) status(nowMs, delayMs int64) (status string, gone bool) {
	if c.deletingAt != 0 {
		return "DELETING", nowMs >= c.deletingAt+delayMs
	}
	if nowMs < c.created+delayMs {
		return "CREATING", false
	}
	return "ACTIVE", false
}

// timeMs converts a time to ms since epoch.
func timeMs(t time.Time) int64 { return t.UnixMilli() }

// maybeTrim hides records older than the retention period. It is cheap when nothing is due.
// Callers hold sh.mu.
func (sh *shard) maybeTrim(nowMs, retentionMs int64) {
	if sh.trimValid && nowMs < sh.trimAt {
		return
	}
	sh.log.trim(nowMs - retentionMs)
	sh.trimValid = true
	if a, ok := sh.log.oldestArrival(); ok {
		sh.trimAt = a + retentionMs + 1
	} else {
		sh.trimAt = 1<<63 - 1
	}
}

// appended keeps the trim deadline right after a record arrived at arrivalMs. Callers hold sh.mu.
func (sh *shard) appended(arrivalMs, retentionMs int64) {
	if sh.trimValid && sh.trimAt == 1<<63-1 {
		sh.trimAt = arrivalMs + retentionMs + 1
	}
}

// wake tells waiting subscribers that the shard changed. Callers hold sh.mu.
func (sh *shard) wake() {
	close(sh.notify)
	sh.notify = make(chan struct{})
}
