package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/aggregate"
)

// tailStart is where tail begins reading: LATEST, TRIM_HORIZON or AT_TIMESTAMP at.
type tailStart struct {
	kind types.ShardIteratorType
	at   time.Time
}

// parseFrom parses --from: latest, trim-horizon, an RFC 3339 time, or a negative duration
// relative to now (e.g. -10m).
func parseFrom(s string, now time.Time) (tailStart, error) {
	switch strings.ToLower(strings.ReplaceAll(s, "_", "-")) {
	case "latest":
		return tailStart{kind: types.ShardIteratorTypeLatest}, nil
	case "trim-horizon":
		return tailStart{kind: types.ShardIteratorTypeTrimHorizon}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return tailStart{kind: types.ShardIteratorTypeAtTimestamp, at: t}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d < 0 {
		return tailStart{kind: types.ShardIteratorTypeAtTimestamp, at: now.Add(d)}, nil
	}
	return tailStart{}, fmt.Errorf("--from %q: want latest, trim-horizon, an RFC 3339 time (2026-11-22T05:00:00Z) or a negative duration (-10m)", s)
}

// tailShard is what tail knows of a shard: its parents and hash range (nil if unknown).
type tailShard struct {
	parents []string
	keep    *aggregate.HashRange
}

// readyShards returns, sorted, the shards not yet started whose parents have all ended or are
// unknown (expired or never listed): a child is read only after its parents, so each partition
// key's records come out in order across a reshard.
func readyShards(known map[string]tailShard, started, ended map[string]bool) []string {
	var ready []string
	for id, s := range known {
		if started[id] {
			continue
		}
		ok := true
		for _, p := range s.parents {
			if _, isKnown := known[p]; isKnown && !ended[p] {
				ok = false
			}
		}
		if ok {
			ready = append(ready, id)
		}
	}
	sort.Strings(ready)
	return ready
}

// tailRecord is one user record read by tail.
type tailRecord struct {
	Shard      string    `json:"shard"`
	Sequence   string    `json:"sequenceNumber"`
	Sub        uint64    `json:"subSequenceNumber"`
	Aggregated bool      `json:"aggregated"`
	Key        string    `json:"partitionKey"`
	HashKey    string    `json:"explicitHashKey,omitempty"`
	Arrival    time.Time `json:"arrival"`
	Data       *string   `json:"data,omitempty"`
	DataBase64 []byte    `json:"dataBase64,omitempty"`
	raw        []byte
}

// shardEvent is what a shard reader reports: records, or the shard's end, or an error.
type shardEvent struct {
	shard    string
	records  []tailRecord
	ended    bool
	children []types.ChildShard
	err      error
}

type tailer struct {
	kc     *kinesis.Client
	cf     *clientFlags
	stream string
	start  tailStart
	poll   time.Duration
}

func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCmdFlags("tail", "tail STREAM [--from latest|trim-horizon|TIME] [--json] [--count N]", `
Follows every open shard of a stream and prints its records, de-aggregating KPL aggregates.
After a reshard it follows the children, each only once its parents have been read to their
end (parent-before-child order, as a consumer must). Stops after --count records, or on Ctrl-C.

Text output is one tab-separated line per record: shard, sequence number (SEQ/SUB for a
record from an aggregate), partition key, data (quoted if not printable text). --json prints one
object per line with shard, sequenceNumber, subSequenceNumber, aggregated, partitionKey,
explicitHashKey, arrival and data (or dataBase64 when not UTF-8).

Examples:
  shoal tail orders --endpoint http://127.0.0.1:4567
  shoal tail orders --from trim-horizon --count 10
  shoal tail orders --from 2026-11-22T05:00:00Z --json
  shoal tail orders --from -15m`, stderr)
	cf := addClientFlags(fs)
	from := fs.String("from", "latest", "where to start: latest, trim-horizon, an RFC 3339 time, or a negative duration like -10m")
	asJSON := fs.Bool("json", false, "print JSON lines")
	count := fs.Int("count", 0, "stop after this many records (0: follow until Ctrl-C)")
	poll := fs.Duration("poll", time.Second, "wait between GetRecords calls on a shard that is caught up")
	pos, err := parseArgs(fs, args, "STREAM")
	if err != nil {
		return err
	}
	start, err := parseFrom(*from, time.Now())
	if err != nil {
		return usageError(fs, "%v", err)
	}
	if *count < 0 || *poll <= 0 {
		return usageError(fs, "--count must be >= 0 and --poll positive")
	}
	kc, err := cf.kinesisClient()
	if err != nil {
		return err
	}
	t := &tailer{kc: kc, cf: cf, stream: pos[0], start: start, poll: *poll}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	err = t.run(ctx, *count, func(r tailRecord) error { return writeRecord(w, r, *asJSON) }, w.Flush)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil // Ctrl-C: a normal end of tail
	}
	return err
}

// run reads the stream until count records were emitted (0: until ctx ends), calling emit for
// each record and flush after each batch. It owns one reader goroutine per shard being read and
// waits for all of them before returning.
func (t *tailer) run(ctx context.Context, count int, emit func(tailRecord) error, flush func() error) error {
	shards, err := listShards(ctx, t.kc, t.cf, t.stream)
	if err != nil {
		return err
	}
	known := map[string]tailShard{}
	started, ended := map[string]bool{}, map[string]bool{}
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		ts := tailShard{keep: hashRange(s.HashKeyRange)}
		for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if p != nil {
				ts.parents = append(ts.parents, *p)
			}
		}
		known[id] = ts
		if t.start.kind == types.ShardIteratorTypeLatest && !shardOpen(s) {
			started[id], ended[id] = true, true // nothing new will come from a closed shard
		}
	}

	rctx, cancel := context.WithCancel(ctx)
	events := make(chan shardEvent)
	var wg sync.WaitGroup
	defer wg.Wait() // runs after cancel: deferred calls run last-in first-out
	defer cancel()
	running := 0
	launch := func(start tailStart) {
		for _, id := range readyShards(known, started, ended) {
			started[id] = true
			running++
			keep := known[id].keep
			wg.Go(func() { t.readShard(rctx, id, start, keep, events) })
		}
	}
	// The shards found at start begin at --from; children whose parents tail has read to
	// their end begin at TRIM_HORIZON (or at --from's time).
	launch(t.start)
	childStart := t.start
	if childStart.kind == types.ShardIteratorTypeLatest {
		childStart = tailStart{kind: types.ShardIteratorTypeTrimHorizon}
	}
	emitted := 0
	for running > 0 {
		var ev shardEvent
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev = <-events:
		}
		if ev.err != nil {
			return ev.err
		}
		for _, r := range ev.records {
			if err := emit(r); err != nil {
				return err
			}
			emitted++
			if count > 0 && emitted >= count {
				return flush()
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if ev.ended {
			running--
			ended[ev.shard] = true
			for _, c := range ev.children {
				id := aws.ToString(c.ShardId)
				if _, ok := known[id]; !ok {
					known[id] = tailShard{parents: c.ParentShards, keep: hashRange(c.HashKeyRange)}
				}
			}
			launch(childStart)
		}
	}
	return nil // every shard followed has ended and has no children: the stream is fully closed
}

func hashRange(r *types.HashKeyRange) *aggregate.HashRange {
	if r == nil {
		return nil
	}
	hr, err := aggregate.ParseHashRange(aws.ToString(r.StartingHashKey), aws.ToString(r.EndingHashKey))
	if err != nil {
		return nil
	}
	return &hr
}

// readShard reads one shard from start to its end (or until ctx ends) and reports to events.
func (t *tailer) readShard(ctx context.Context, shard string, start tailStart, keep *aggregate.HashRange, events chan<- shardEvent) {
	send := func(ev shardEvent) bool {
		ev.shard = shard
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	last := "" // sequence number of the last record read, to resume after an expired iterator
	iter, err := t.iterator(ctx, shard, start, last)
	if err != nil {
		send(shardEvent{err: err})
		return
	}
	backoff := t.poll
	for {
		out, err := t.kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			var expired *types.ExpiredIteratorException
			var throttled *types.ProvisionedThroughputExceededException
			switch {
			case ctx.Err() != nil:
				return
			case errors.As(err, &expired):
				if iter, err = t.iterator(ctx, shard, start, last); err != nil {
					send(shardEvent{err: err})
					return
				}
				continue
			case errors.As(err, &throttled):
				if !sleepCtx(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, 10*time.Second)
				continue
			}
			send(shardEvent{err: t.cf.explain(err, "get records from "+shard, t.stream)})
			return
		}
		backoff = t.poll
		ev := shardEvent{records: toTailRecords(shard, out.Records, keep)}
		if n := len(out.Records); n > 0 {
			last = aws.ToString(out.Records[n-1].SequenceNumber)
		}
		if out.NextShardIterator == nil {
			ev.ended, ev.children = true, out.ChildShards
			send(ev)
			return
		}
		if len(ev.records) > 0 && !send(ev) {
			return
		}
		iter = out.NextShardIterator
		// Caught up: wait --poll. Catching up: at most 5 calls a second, the per-shard limit.
		wait := min(t.poll, 200*time.Millisecond)
		if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
			wait = t.poll
		}
		if !sleepCtx(ctx, wait) {
			return
		}
	}
}

// iterator returns a shard iterator at start, or after the sequence number last if set.
func (t *tailer) iterator(ctx context.Context, shard string, start tailStart, last string) (*string, error) {
	in := &kinesis.GetShardIteratorInput{StreamName: &t.stream, ShardId: &shard, ShardIteratorType: start.kind}
	switch {
	case last != "":
		in.ShardIteratorType, in.StartingSequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, &last
	case start.kind == types.ShardIteratorTypeAtTimestamp:
		in.Timestamp = aws.Time(start.at)
	}
	out, err := t.kc.GetShardIterator(ctx, in)
	if err != nil {
		return nil, t.cf.explain(err, "get shard iterator for "+shard, t.stream)
	}
	return out.ShardIterator, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// toTailRecords de-aggregates Kinesis records, dropping sub-records outside keep (strays a
// KPL-style producer re-put to the right shard after a reshard).
func toTailRecords(shard string, recs []types.Record, keep *aggregate.HashRange) []tailRecord {
	var out []tailRecord
	var users []aggregate.UserRecord
	for _, r := range recs {
		var oc aggregate.Outcome
		users, oc = aggregate.Deaggregate(users[:0], aws.ToString(r.PartitionKey), r.Data, keep)
		for _, u := range users {
			tr := tailRecord{Shard: shard, Sequence: aws.ToString(r.SequenceNumber), Sub: u.SubSequenceNumber,
				Aggregated: oc.Aggregated, Key: u.PartitionKey, HashKey: u.ExplicitHashKey,
				Arrival: aws.ToTime(r.ApproximateArrivalTimestamp), raw: append([]byte(nil), u.Data...)}
			out = append(out, tr)
		}
	}
	return out
}

// writeRecord prints one record as a text line or a JSON line.
func writeRecord(w io.Writer, r tailRecord, asJSON bool) error {
	if asJSON {
		if utf8.Valid(r.raw) {
			s := string(r.raw)
			r.Data = &s
		} else {
			r.DataBase64 = r.raw
		}
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	seq := r.Sequence
	if r.Aggregated {
		seq += "/" + strconv.FormatUint(r.Sub, 10)
	}
	_, err := fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Shard, seq, printable(r.Key), printable(string(r.raw)))
	return err
}

// printable returns s as is if it is valid UTF-8 without control characters (tabs and newlines
// included, which would break the line format), else quoted.
func printable(s string) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return strconv.Quote(s)
		}
	}
	return s
}
