package kcl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/internal/datadriven"
	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/leasetest"
	"github.com/shoal-go/shoal/lease/memlease"
)

// TestScenarios runs the shard-sync and start-position scenarios in testdata/scenarios.
// Commands (each prints the lease table after it unless noted):
//
//	consumer position=TRIM_HORIZON|LATEST|AT_TIMESTAMP
//	    a fresh consumer over the same table and stream (prints nothing)
//	shards
//	s00 closed
//	s02 parents=(s00)
//	    replaces the stream's shard list (prints nothing)
//	fail-create keys=(s00,...) [times=N]
//	    the next N (default 1) Creates of each key fail as throttled (prints nothing)
//	sync
//	    one shard sync: prints its errors, then the table
//	checkpoint shard=s01 seq=17 [ts=2026-01-01T00:00:00Z]
//	    a worker takes the lease, checkpoints it (seq may be a sentinel, with a time) and
//	    releases it
//	start shard=s01 [first=SEQ[/SUB]] [fresh]
//	    where a reader of the lease starts (startPosition): first is the first record an
//	    earlier attempt of the same claim delivered; fresh, the attempt that recorded a LATEST
//	    start. Prints the iterator type and position, and the resume point (prints no table)
//	finish shard=s00
//	    a worker reads s00 to its end: creates its children's leases, writes SHARD_END
//	delete shard=s00
//	    removes a finished lease by hand (as cleanup would)
//	table
//	reset
//	    an empty lease table (prints nothing)
//
// Table lines: key, checkpoint, parents, children, and "takeable" when lease.Countable says a
// worker may start it now.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/scenarios", func(t *testing.T, path string) {
		h := newHarness(t)
		datadriven.RunTest(t, path, h.run)
	})
}

type harness struct {
	t      *testing.T
	kin    *fakeKinesis
	mem    lease.Store
	store  *leasetest.Faulty
	c      *Consumer
	failMu sync.Mutex
	fail   map[string]int // key -> Creates left to fail
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, kin: &fakeKinesis{}, fail: map[string]int{}}
	h.reset()
	h.newConsumer(TrimHorizon)
	return h
}

// reset gives the harness an empty table; the consumer keeps its position.
func (h *harness) reset() {
	h.mem = memlease.New()
	h.store = leasetest.NewFaulty(h.mem)
	h.store.Set(leasetest.Rule{Op: "Create", Err: leasetest.ErrThrottle, Match: func(key string) bool {
		h.failMu.Lock()
		defer h.failMu.Unlock()
		if h.fail[key] > 0 {
			h.fail[key]--
			return true
		}
		return false
	}})
	if h.c != nil {
		h.newConsumer(h.c.cfg.InitialPosition)
	}
}

func (h *harness) newConsumer(pos InitialPosition) {
	c, err := New(Config{StreamName: "s", Kinesis: h.kin, Leases: h.store, WorkerID: "w", InitialPosition: pos},
		ProcessorFunc(func(context.Context, *Shard) error { return nil }))
	if err != nil {
		h.t.Fatal(err)
	}
	h.c = c
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) string {
	ctx := context.Background()
	switch d.Cmd {
	case "consumer":
		switch p := d.Val("position", ""); p {
		case lease.TrimHorizon:
			h.newConsumer(TrimHorizon)
		case lease.Latest:
			h.newConsumer(Latest)
		case lease.AtTimestamp:
			h.newConsumer(AtTimestamp(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
		default:
			d.Fatalf(t, "unknown position %q", p)
		}
		return ""
	case "shards":
		h.kin.set(parseShards(t, d))
		return ""
	case "fail-create":
		a, _ := d.Arg("keys")
		n, _ := strconv.Atoi(d.Val("times", "1"))
		h.failMu.Lock()
		for _, k := range a.Vals {
			h.fail[k] += n
		}
		h.failMu.Unlock()
		return ""
	case "sync":
		var b strings.Builder
		if err := h.c.syncOnce(ctx); err != nil {
			lines := strings.Split(err.Error(), "\n")
			sort.Strings(lines)
			for _, l := range lines {
				fmt.Fprintf(&b, "error: %s\n", l)
			}
		}
		b.WriteString(h.table(t))
		return b.String()
	case "checkpoint":
		id := d.Val("shard", "")
		l := h.get(t, d, id)
		l, err := h.mem.Take(ctx, id, lease.Expect{Owner: l.Owner, Counter: l.Counter}, "w")
		if err == nil {
			cp := lease.Checkpoint{Sequence: d.Val("seq", "")}
			if ts := d.Val("ts", ""); ts != "" {
				if cp.Timestamp, err = time.Parse(time.RFC3339, ts); err != nil {
					d.Fatalf(t, "%v", err)
				}
			}
			l, err = h.mem.Checkpoint(ctx, id, lease.Expect{Owner: "w", Counter: l.Counter}, cp)
		}
		if err == nil {
			_, err = h.mem.Release(ctx, id, lease.Expect{Owner: "w", Counter: l.Counter})
		}
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		return h.table(t)
	case "finish":
		id := d.Val("shard", "")
		var b strings.Builder
		children, err := h.c.children(ctx, id, nil)
		if err == nil {
			err = h.c.createChildLeases(ctx, id, children)
		}
		if err != nil {
			fmt.Fprintf(&b, "error: %v\n", err)
		} else {
			l := h.get(t, d, id)
			l, err = h.mem.Take(ctx, id, lease.Expect{Owner: l.Owner, Counter: l.Counter}, "w")
			ids := make([]string, len(children))
			for i, ch := range children {
				ids[i] = ch.id
			}
			if err == nil {
				_, err = h.mem.Finish(ctx, id, lease.Expect{Owner: "w", Counter: l.Counter}, ids)
			}
			if err != nil {
				d.Fatalf(t, "%v", err)
			}
		}
		b.WriteString(h.table(t))
		return b.String()
	case "start":
		l := h.get(t, d, d.Val("shard", ""))
		var first lease.Checkpoint
		if f := d.Val("first", ""); f != "" {
			seq, sub, _ := strings.Cut(f, "/")
			first.Sequence = seq
			first.SubSequence, _ = strconv.ParseInt(sub, 10, 64)
		}
		pos, after := startPosition(l.Checkpoint, h.c.cfg.InitialPosition, first, d.Has("fresh"))
		out := string(pos.typ)
		if pos.seq != "" {
			out += " " + pos.seq
		}
		if pos.ts != nil {
			out += " " + pos.ts.UTC().Format(time.RFC3339)
		}
		if after.Sequence != "" {
			out += ", dropping records up to " + after.String()
		}
		return out + "\n"
	case "delete":
		if err := h.mem.Delete(ctx, d.Val("shard", "")); err != nil {
			d.Fatalf(t, "%v", err)
		}
		return h.table(t)
	case "table":
		return h.table(t)
	case "reset":
		h.reset()
		return ""
	}
	d.Fatalf(t, "unknown command")
	return ""
}

func (h *harness) get(t *testing.T, d *datadriven.TestData, id string) lease.Lease {
	l, err := h.mem.Get(context.Background(), id)
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	return l
}

func (h *harness) table(t *testing.T) string {
	ls, err := h.mem.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ls, func(a, b lease.Lease) int { return strings.Compare(a.Key, b.Key) })
	byKey := map[string]lease.Lease{}
	for _, l := range ls {
		byKey[l.Key] = l
	}
	var b strings.Builder
	if len(ls) == 0 {
		return "(no leases)\n"
	}
	for _, l := range ls {
		fmt.Fprintf(&b, "%s %s", l.Key, l.Checkpoint)
		if len(l.ParentShardIDs) > 0 {
			fmt.Fprintf(&b, " parents=(%s)", strings.Join(l.ParentShardIDs, ","))
		}
		if len(l.ChildShardIDs) > 0 {
			fmt.Fprintf(&b, " children=(%s)", strings.Join(l.ChildShardIDs, ","))
		}
		if lease.Countable(l, byKey) {
			b.WriteString(" takeable")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// parseShards reads "s02 closed parents=(s00)" lines.
func parseShards(t *testing.T, d *datadriven.TestData) []shardInfo {
	var out []shardInfo
	for _, line := range strings.Split(d.Input, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		s := shardInfo{id: f[0]}
		for _, w := range f[1:] {
			switch {
			case w == "closed":
				s.closed = true
			case strings.HasPrefix(w, "parents=(") && strings.HasSuffix(w, ")"):
				s.parents = strings.Split(w[len("parents=("):len(w)-1], ",")
			default:
				d.Fatalf(t, "bad shard word %q", w)
			}
		}
		out = append(out, s)
	}
	return out
}

// fakeKinesis answers ListShards from a settable shard list; nothing else is used by shard sync.
type fakeKinesis struct {
	mu     sync.Mutex
	shards []shardInfo
}

func (f *fakeKinesis) set(s []shardInfo) {
	f.mu.Lock()
	f.shards = s
	f.mu.Unlock()
}

func (f *fakeKinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &kinesis.ListShardsOutput{}
	for _, s := range f.shards {
		sh := types.Shard{ShardId: aws.String(s.id), SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")}}
		if len(s.parents) > 0 {
			sh.ParentShardId = aws.String(s.parents[0])
		}
		if len(s.parents) > 1 {
			sh.AdjacentParentShardId = aws.String(s.parents[1])
		}
		if s.closed {
			sh.SequenceNumberRange.EndingSequenceNumber = aws.String("2")
		}
		out.Shards = append(out.Shards, sh)
	}
	return out, nil
}

var errUnused = errors.New("fakeKinesis: not used by shard sync")

func (f *fakeKinesis) GetShardIterator(context.Context, *kinesis.GetShardIteratorInput, ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	return nil, errUnused
}

func (f *fakeKinesis) GetRecords(context.Context, *kinesis.GetRecordsInput, ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	return nil, errUnused
}
