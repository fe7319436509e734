package workerproc

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// The worker-to-parent protocol: one event per stdout line, the kind first.
//
//	ready <worker>
//	batch <shard> <id>,<id>,...      a batch handed to the processor, before its checkpoint
//	gained <shard>                    a lease acquired
//	lost <shard> <cause>              a lease lost without a release (cause lease-lost or shutdown)
//	owned <shard>,<shard>,...         the shards being processed now, after every change ("-": none)
//	failed <shard> <attempt>          the processor (or its checkpoint) failed; it will retry
//
// Record ids are the records' data: decimal integers written by the parent's producer.

// Event kinds.
const (
	Ready  = "ready"
	Batch  = "batch"
	Gained = "gained"
	Lost   = "lost"
	Owned  = "owned"
	Failed = "failed"
)

// Causes of a Lost event.
const (
	CauseLeaseLost = "lease-lost"
	CauseShutdown  = "shutdown"
)

// Event is one parsed line.
type Event struct {
	Kind   string
	Shard  string   // batch, gained, lost, failed
	Worker string   // ready
	IDs    []int    // batch: the record ids that parsed as integers
	Cause  string   // lost
	Shards []string // owned
}

// ParseEvent parses one line of the protocol.
func ParseEvent(line string) (Event, error) {
	kind, rest, _ := strings.Cut(line, " ")
	e := Event{Kind: kind}
	switch kind {
	case Ready:
		e.Worker = rest
	case Batch:
		shard, ids, _ := strings.Cut(rest, " ")
		e.Shard = shard
		if ids != "" {
			for s := range strings.SplitSeq(ids, ",") {
				if id, err := strconv.Atoi(s); err == nil {
					e.IDs = append(e.IDs, id)
				}
			}
		}
	case Gained:
		e.Shard = rest
	case Lost:
		e.Shard, e.Cause, _ = strings.Cut(rest, " ")
	case Failed:
		e.Shard, _, _ = strings.Cut(rest, " ")
	case Owned:
		if rest != "-" && rest != "" {
			e.Shards = strings.Split(rest, ",")
		}
	default:
		return e, fmt.Errorf("workerproc: unknown event %q", line)
	}
	return e, nil
}

// Reporter writes events for the parent; it is safe for concurrent use.
type Reporter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewReporter returns a Reporter writing to w (the worker's stdout).
func NewReporter(w io.Writer) *Reporter { return &Reporter{w: w} }

func (r *Reporter) emit(format string, a ...any) {
	r.mu.Lock()
	fmt.Fprintf(r.w, format+"\n", a...)
	r.mu.Unlock()
}

// Ready reports that the worker is running.
func (r *Reporter) Ready(worker string) { r.emit("ready %s", worker) }

// Batch reports the records of a batch by their data (record ids).
func (r *Reporter) Batch(shard string, data [][]byte) {
	var b strings.Builder
	b.Grow(len(shard) + 8 + 8*len(data))
	b.WriteString("batch ")
	b.WriteString(shard)
	b.WriteByte(' ')
	for i, d := range data {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(d)
	}
	r.emit("%s", b.String())
}

// Gained reports a lease acquired.
func (r *Reporter) Gained(shard string) { r.emit("gained %s", shard) }

// Lost reports a lease lost without a release.
func (r *Reporter) Lost(shard, cause string) { r.emit("lost %s %s", shard, cause) }

// Failed reports a failed processor run.
func (r *Reporter) Failed(shard string, attempt int) { r.emit("failed %s %d", shard, attempt) }

// Owned reports the shards being processed now.
func (r *Reporter) Owned(shards []string) {
	if len(shards) == 0 {
		r.emit("owned -")
		return
	}
	r.emit("owned %s", strings.Join(shards, ","))
}
