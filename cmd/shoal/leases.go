package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/dynamolease"
)

// workerSample is one read of the worker table, with when it was taken.
type workerSample struct {
	at    time.Time
	beats map[string]int64
}

// liveWorkers compares two samples of the worker table: a worker is live if its heartbeat
// counter advanced between them. It returns nil if either sample is missing (liveness unknown).
func liveWorkers(prev, cur *workerSample) map[string]bool {
	if prev == nil || cur == nil {
		return nil
	}
	live := map[string]bool{}
	for id, hb := range cur.beats {
		old, seen := prev.beats[id]
		live[id] = !seen || hb != old // a new row was just written: live
	}
	return live
}

// leaseStatus describes a lease's state for an operator: finished, blocked on a parent that
// has not finished, in a handoff, unassigned, owned by a worker that is not live, or owned.
// byKey holds every lease of the table; live is nil when liveness is unknown.
func leaseStatus(l lease.Lease, byKey map[string]lease.Lease, live map[string]bool) string {
	if l.Finished() {
		if len(l.ChildShardIDs) > 0 {
			return "finished, children " + strings.Join(l.ChildShardIDs, ",")
		}
		return "finished"
	}
	var blocked []string
	for _, p := range l.ParentShardIDs {
		if pl, ok := byKey[p]; ok && !pl.Finished() {
			blocked = append(blocked, p)
		}
	}
	switch {
	case len(blocked) > 0:
		return "blocked on parent " + strings.Join(blocked, ",")
	case l.CheckpointOwner != "":
		return "handoff " + l.CheckpointOwner + " -> " + l.Owner
	case l.Owner == "":
		return "unassigned"
	case live != nil && !live[l.Owner]:
		return "owner not live"
	}
	return "owned"
}

// leaseViewer reads a lease table (and optionally the stream, for the lag column).
type leaseViewer struct {
	store  *dynamolease.Store
	kc     *kinesis.Client // nil without --stream
	cf     *clientFlags
	app    string
	stream string
}

func runLeases(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCmdFlags("leases", "leases APP [--stream NAME] [--watch] [--interval 2s] [--liveness 1.5s]", `
Shows the lease table of a consumer application (the DynamoDB table APP, in the Java KCL's format,
and its worker table APP-workers): for each shard its owner, checkpoint, lag and status
(finished, blocked on parent, handoff, unassigned, owner not live, owned), then the workers and
whether each is live (its heartbeat counter advanced within --liveness).

With --stream, the lag of each lease is measured by reading one record after its checkpoint
(GetShardIterator AFTER_SEQUENCE_NUMBER, or TRIM_HORIZON, then GetRecords with Limit 1):
"caught up" when there is none, else "pending, Nms behind" (MillisBehindLatest); "-" for
finished leases and LATEST or AT_TIMESTAMP checkpoints.

--watch redraws every --interval on a terminal (plain successive tables otherwise) until Ctrl-C.

Examples:
  shoal leases orders-app --endpoint http://127.0.0.1:4567
  shoal leases orders-app --stream orders --watch`, stderr)
	cf := addClientFlags(fs)
	stream := fs.String("stream", "", "the application's stream, to show each lease's lag")
	workerTable := fs.String("worker-table", "", "worker heartbeat table (default APP-workers)")
	watch := fs.Bool("watch", false, "refresh every --interval until Ctrl-C")
	interval := fs.Duration("interval", 2*time.Second, "refresh interval of --watch")
	liveness := fs.Duration("liveness", 1500*time.Millisecond, "how long to watch heartbeats before judging workers live (0: do not judge)")
	plain := fs.Bool("plain", false, "with --watch, print successive tables even on a terminal")
	pos, err := parseArgs(fs, args, "APP")
	if err != nil {
		return err
	}
	if *interval <= 0 || *liveness < 0 {
		return usageError(fs, "--interval must be positive and --liveness not negative")
	}
	cfg, err := cf.config()
	if err != nil {
		return err
	}
	store, err := dynamolease.New(dynamodb.NewFromConfig(cfg), dynamolease.Options{Table: pos[0], WorkerTable: *workerTable})
	if err != nil {
		return err
	}
	v := &leaseViewer{store: store, cf: cf, app: pos[0], stream: *stream}
	if *stream != "" {
		v.kc = kinesis.NewFromConfig(cfg)
		if _, err := v.kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: stream}); err != nil {
			return cf.explain(err, "describe stream", *stream)
		}
	}
	if _, err := store.List(ctx); err != nil { // the lease table first: its name is the one users know
		return v.explain(err, store.Table())
	}
	prev, err := v.sample(ctx)
	if err != nil {
		return err
	}
	if *liveness > 0 && !sleepCtx(ctx, *liveness) {
		return nil
	}
	terminal := *watch && !*plain && isTerminal(stdout)
	for {
		var buf bytes.Buffer
		cur, err := v.render(ctx, &buf, prev, *liveness > 0)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		switch {
		case terminal:
			fmt.Fprint(stdout, "\x1b[H\x1b[2J"+time.Now().Format("15:04:05")+"  (Ctrl-C to stop)\n\n")
		case *watch:
			fmt.Fprintf(stdout, "--- %s\n", time.Now().Format(time.RFC3339))
		}
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			return err
		}
		if !*watch || !sleepCtx(ctx, *interval) {
			return nil
		}
		prev = cur
	}
}

// sample reads the worker table's heartbeat counters.
func (v *leaseViewer) sample(ctx context.Context) (*workerSample, error) {
	ws, err := v.store.Workers(ctx)
	if err != nil {
		return nil, v.explain(err, v.store.WorkerTable())
	}
	s := &workerSample{at: time.Now(), beats: map[string]int64{}}
	for _, w := range ws {
		s.beats[w.ID] = w.Heartbeat
	}
	return s, nil
}

func (v *leaseViewer) explain(err error, table string) error {
	if errors.Is(err, lease.ErrNoTable) {
		return fmt.Errorf("lease table %s not found at %s", table, v.cf.where())
	}
	return v.cf.explain(err, "read table "+table, "")
}

// render reads the tables once and writes the lease and worker tables to w. It returns the
// worker sample it took, for the next refresh's liveness.
func (v *leaseViewer) render(ctx context.Context, w io.Writer, prev *workerSample, judge bool) (*workerSample, error) {
	leases, invalid, err := v.store.Scan(ctx)
	if err != nil {
		return nil, v.explain(err, v.store.Table())
	}
	cur, err := v.sample(ctx)
	if err != nil {
		return nil, err
	}
	var live map[string]bool
	if judge {
		live = liveWorkers(prev, cur)
	}
	sort.Slice(leases, func(i, j int) bool { return leases[i].Key < leases[j].Key })
	byKey := map[string]lease.Lease{}
	owned := map[string]int{}
	for _, l := range leases {
		byKey[l.Key] = l
		if l.Owner != "" && !l.Finished() {
			owned[l.Owner]++
		}
	}
	bad := ""
	if len(invalid) > 0 {
		bad = fmt.Sprintf(", %d invalid items", len(invalid))
	}
	fmt.Fprintf(w, "Lease table %s: %d leases%s, %d workers\n\n", v.app, len(leases), bad, len(cur.beats))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tOWNER\tCHECKPOINT\tLAG\tPARENTS\tSTATUS")
	// Invalid items are listed among the leases, in key order, with the reason; the table's raw
	// attributes are not shown (they may be anything), so nothing invites copying them.
	rows := make(map[string]string, len(leases)+len(invalid))
	for _, l := range leases {
		cp := l.Checkpoint.String()
		if cp == "" {
			cp = "-"
		}
		rows[l.Key] = fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\n", l.Key, dashIfEmpty(l.Owner), cp, v.lag(ctx, l),
			dashIfEmpty(strings.Join(l.ParentShardIDs, ",")), leaseStatus(l, byKey, live))
	}
	for _, inv := range invalid {
		rows[inv.Key] = fmt.Sprintf("%s\t-\t-\t-\t-\tINVALID (skipped by every worker): %s\n", inv.Key, inv.Reason())
	}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprint(tw, rows[k])
	}
	tw.Flush()
	fmt.Fprintln(w)
	ids := make([]string, 0, len(cur.beats))
	for id := range cur.beats {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tLIVE\tLEASES")
	for _, id := range ids {
		state := "?"
		if live != nil {
			state = "no"
			if live[id] {
				state = "yes"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\n", id, state, owned[id])
	}
	return cur, tw.Flush()
}

// lag measures how far a lease's checkpoint is behind its shard's tip, or "-".
func (v *leaseViewer) lag(ctx context.Context, l lease.Lease) string {
	if v.kc == nil || l.Finished() {
		return "-"
	}
	shard := l.Key[strings.LastIndex(l.Key, ":")+1:] // multi-stream keys end with the shard id
	in := &kinesis.GetShardIteratorInput{StreamName: &v.stream, ShardId: &shard}
	switch {
	case l.Checkpoint.Sequence == lease.TrimHorizon:
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	case !l.Checkpoint.IsSentinel() && l.Checkpoint.Valid():
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(l.Checkpoint.Sequence)
	default:
		return "-"
	}
	it, err := v.kc.GetShardIterator(ctx, in)
	if err != nil {
		return "? (" + errorCode(err) + ")"
	}
	out, err := v.kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(1)})
	if err != nil {
		return "? (" + errorCode(err) + ")"
	}
	if len(out.Records) == 0 {
		return "caught up"
	}
	return fmt.Sprintf("pending, %dms behind", aws.ToInt64(out.MillisBehindLatest))
}

// errorCode returns an SDK error's AWS code, or a short message.
func errorCode(err error) string {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "shard not found"
	}
	msg := rootCause(err)
	if len(msg) > 60 {
		msg = msg[:60] + "..."
	}
	return msg
}
