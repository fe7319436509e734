package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/dynamolease"
)

// normalize masks sequence numbers and milliseconds and collapses runs of spaces, so golden
// tables do not depend on column widths.
func normalize(s string) string {
	s = regexp.MustCompile(`\d+ms`).ReplaceAllString(maskSeq(s), "Nms")
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

// TestLeasesGolden builds a stream with a split and a merge and a lease table in every state:
// finished, checkpointed with records pending, caught up, in a handoff, blocked on a parent;
// one worker heartbeats during the command and one does not.
func TestLeasesGolden(t *testing.T) {
	ep := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	mustShoal(t, ep, "stream", "create", "orders", "--shards", "2")
	kc := kinesis.NewFromConfig(endpointConfig(ep))
	var seqs []string
	for _, d := range []string{"a", "b", "c"} { // into shard 1 (upper half of the key space)
		out, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("k"),
			ExplicitHashKey: aws.String("200000000000000000000000000000000000000"), Data: []byte(d)})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, aws.ToString(out.SequenceNumber))
	}
	mustShoal(t, ep, "stream", "split", "orders", "--shard", "shardId-000000000000")                                       // -> 2, 3
	mustShoal(t, ep, "stream", "merge", "orders", "--shard", "shardId-000000000003", "--adjacent", "shardId-000000000001") // -> 4

	store, err := dynamolease.New(dynamodb.NewFromConfig(endpointConfig(ep)), dynamolease.Options{Table: "orders-app", PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Init(ctx); err != nil {
		t.Fatal(err)
	}
	for _, l := range []lease.Lease{
		{Key: "shardId-000000000000", Checkpoint: lease.Checkpoint{Sequence: lease.ShardEnd}, ChildShardIDs: []string{"shardId-000000000002", "shardId-000000000003"}},
		{Key: "shardId-000000000001", Owner: "worker-1", Checkpoint: lease.Checkpoint{Sequence: seqs[0]}},
		{Key: "shardId-000000000002", Owner: "worker-2", Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}, ParentShardIDs: []string{"shardId-000000000000"}},
		{Key: "shardId-000000000003", Owner: "worker-2", CheckpointOwner: "worker-1", Checkpoint: lease.Checkpoint{Sequence: lease.Latest}, ParentShardIDs: []string{"shardId-000000000000"}},
		{Key: "shardId-000000000004", Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}, ParentShardIDs: []string{"shardId-000000000003", "shardId-000000000001"}},
	} {
		if err := store.Create(ctx, l); err != nil {
			t.Fatalf("create %s: %v", l.Key, err)
		}
	}
	if _, err := store.Heartbeat(ctx, "worker-2", "i2"); err != nil { // once: not live
		t.Fatal(err)
	}
	hbCtx, stopHB := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { // worker-1 heartbeats throughout: live
		for hbCtx.Err() == nil {
			store.Heartbeat(hbCtx, "worker-1", "i1")
			sleepCtx(hbCtx, 50*time.Millisecond)
		}
	})
	defer func() { stopHB(); wg.Wait() }()
	time.Sleep(100 * time.Millisecond) // worker-1's row exists before the first sample

	out := mustShoal(t, ep, "leases", "orders-app", "--stream", "orders", "--liveness", "400ms")
	t.Logf("shoal leases:\n%s", out)
	diffGolden(t, "leases", normalize(out), normalize(`
Lease table orders-app: 5 leases, 2 workers

SHARD                 OWNER     CHECKPOINT    LAG                   PARENTS                                    STATUS
shardId-000000000000  -         SHARD_END     -                     -                                          finished, children shardId-000000000002,shardId-000000000003
shardId-000000000001  worker-1  SEQ           pending, Nms behind   -                                          owned
shardId-000000000002  worker-2  TRIM_HORIZON  caught up             shardId-000000000000                       owner not live
shardId-000000000003  worker-2  LATEST        -                     shardId-000000000000                       handoff worker-1 -> worker-2
shardId-000000000004  -         TRIM_HORIZON  caught up             shardId-000000000003,shardId-000000000001  blocked on parent shardId-000000000003,shardId-000000000001

WORKER    LIVE  LEASES
worker-1  yes   1
worker-2  no    2
`))

	// Without --stream and --liveness: no lag, liveness unknown.
	out = mustShoal(t, ep, "leases", "orders-app", "--liveness", "0")
	if !strings.Contains(normalize(out), "shardId-000000000001 worker-1 SEQ - - owned") || !strings.Contains(normalize(out), "worker-2 ? 2") {
		t.Errorf("leases without --stream:\n%s", out)
	}

	// --watch refreshes until the context ends, printing plain tables when not on a terminal.
	wctx, wcancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer wcancel()
	var wout, werr bytes.Buffer
	if code := run(wctx, []string{"leases", "orders-app", "--watch", "--interval", "200ms", "--liveness", "0", "--endpoint", ep}, &wout, &werr); code != 0 {
		t.Fatalf("leases --watch: exit %d: %s", code, werr.String())
	}
	if n := strings.Count(wout.String(), "--- "); n < 2 {
		t.Errorf("leases --watch printed %d tables in 700ms at 200ms intervals:\n%s", n, wout.String())
	}
}

func TestLeasesErrors(t *testing.T) {
	ep := startServer(t)
	code, _, errs := shoal(t, ep, "leases", "no-such-app", "--liveness", "0")
	if want := "shoal leases: lease table no-such-app not found at " + ep + "\n"; code != 1 || errs != want {
		t.Errorf("missing table: exit %d, stderr %q, want %q", code, errs, want)
	}
	code, _, errs = shoal(t, ep, "leases", "app", "--stream", "nope")
	if code != 1 || errs != "shoal leases: stream nope not found at "+ep+"\n" {
		t.Errorf("unknown stream: exit %d, stderr %q", code, errs)
	}
	code, _, errs = shoal(t, "http://127.0.0.1:1", "leases", "app", "--liveness", "0")
	if code != 1 || !strings.HasPrefix(errs, "shoal leases: cannot reach http://127.0.0.1:1: is `shoal local` running?") {
		t.Errorf("unreachable: exit %d, stderr %q", code, errs)
	}
}

func TestLeaseStatus(t *testing.T) {
	done := lease.Lease{Key: "p", Checkpoint: lease.Checkpoint{Sequence: lease.ShardEnd}}
	open := lease.Lease{Key: "q", Owner: "w1", Checkpoint: lease.Checkpoint{Sequence: "1"}}
	byKey := map[string]lease.Lease{"p": done, "q": open}
	tests := []struct {
		l    lease.Lease
		live map[string]bool
		want string
	}{
		{done, nil, "finished"},
		{lease.Lease{Owner: "w1", ParentShardIDs: []string{"p"}}, nil, "owned"},
		{lease.Lease{ParentShardIDs: []string{"p", "q"}}, nil, "blocked on parent q"},
		{lease.Lease{ParentShardIDs: []string{"gone"}}, nil, "unassigned"},
		{lease.Lease{Owner: "w2", CheckpointOwner: "w1"}, nil, "handoff w1 -> w2"},
		{open, map[string]bool{"w1": false}, "owner not live"},
		{open, map[string]bool{"w1": true}, "owned"},
	}
	for _, tt := range tests {
		if got := leaseStatus(tt.l, byKey, tt.live); got != tt.want {
			t.Errorf("leaseStatus(%+v) = %q, want %q", tt.l, got, tt.want)
		}
	}
}

func TestLiveWorkers(t *testing.T) {
	prev := &workerSample{beats: map[string]int64{"a": 1, "b": 5}}
	cur := &workerSample{beats: map[string]int64{"a": 2, "b": 5, "c": 1}}
	got := liveWorkers(prev, cur)
	if !got["a"] || got["b"] || !got["c"] || len(got) != 3 {
		t.Errorf("liveWorkers = %v, want a and c live, b not", got)
	}
	if liveWorkers(nil, cur) != nil {
		t.Error("liveness judged from one sample")
	}
}

// Items that are not leases are shown, marked invalid with the reason, instead of failing the
// whole command (before: "shoal leases" refused to show the table).
func TestLeasesInvalidItems(t *testing.T) {
	ep := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	db := dynamodb.NewFromConfig(endpointConfig(ep))
	store, err := dynamolease.New(db, dynamolease.Options{Table: "app", PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.Create(ctx, lease.Lease{Key: "shardId-000000000000", Owner: "w1", Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}}); err != nil {
		t.Fatal(err)
	}
	for _, item := range []map[string]types.AttributeValue{
		{"leaseKey": &types.AttributeValueMemberS{Value: "unrelated-junk"}},
		{"leaseKey": &types.AttributeValueMemberS{Value: "shardId-000000000001"}, "leaseCounter": &types.AttributeValueMemberN{Value: "1"},
			"checkpoint": &types.AttributeValueMemberS{Value: "banana"}},
	} {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("app"), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	out := mustShoal(t, ep, "leases", "app", "--liveness", "0")
	diffGolden(t, "leases invalid", normalize(out), normalize(`
Lease table app: 1 leases, 2 invalid items, 0 workers

SHARD                 OWNER  CHECKPOINT    LAG  PARENTS  STATUS
shardId-000000000000  w1     TRIM_HORIZON  -    -        owned
shardId-000000000001  -      -             -    -        INVALID (skipped by every worker): checkpoint: want digits or TRIM_HORIZON/LATEST/AT_TIMESTAMP/SHARD_END, got "banana"
unrelated-junk        -      -             -    -        INVALID (skipped by every worker): leaseCounter: missing

WORKER  LIVE  LEASES
`))
}
