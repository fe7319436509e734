package kcl_test

import (
	"context"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/memlease"
)

// ledger records what processors saw: per record id, how many times and by whom; per key the
// order of ids.
type ledger struct {
	mu       sync.Mutex
	seen     map[int]int
	byKey    map[string][]int
	byWorker map[string]int
	shardsOf map[string]map[string]bool // worker -> shards it processed
}

func newLedger() *ledger {
	return &ledger{seen: map[int]int{}, byKey: map[string][]int{}, byWorker: map[string]int{}, shardsOf: map[string]map[string]bool{}}
}

func (l *ledger) add(worker string, b kcl.Batch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range b.Records {
		key, idText, ok := strings.Cut(string(r.Data), "/")
		if !ok || key != r.PartitionKey {
			return fmt.Errorf("record %q has partition key %q", r.Data, r.PartitionKey)
		}
		id, err := strconv.Atoi(idText)
		if err != nil {
			return err
		}
		l.seen[id]++
		l.byKey[key] = append(l.byKey[key], id)
		l.byWorker[worker]++
	}
	if l.shardsOf[worker] == nil {
		l.shardsOf[worker] = map[string]bool{}
	}
	l.shardsOf[worker][b.ShardID] = true
	return nil
}

func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

// producer writes records "key/id" with ids from next upward, keys k0..k(keys-1).
type producer struct {
	kc     *kinesis.Client
	stream string
	next   int
	keys   int
}

func (p *producer) put(t *testing.T, n int) {
	t.Helper()
	for n > 0 {
		batch := min(n, 500)
		var entries []types.PutRecordsRequestEntry
		for range batch {
			key := "k" + strconv.Itoa(p.next%p.keys)
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: []byte(key + "/" + strconv.Itoa(p.next))})
			p.next++
		}
		out, err := p.kc.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: &p.stream, Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("PutRecords: %v (failed %d)", err, aws.ToInt32(out.FailedRecordCount))
		}
		n -= batch
	}
}

type worker struct {
	c      *kcl.Consumer
	cancel context.CancelFunc
	done   chan error
}

func startWorker(t *testing.T, id string, kc *kinesis.Client, store lease.Store, stream string, led *ledger) *worker {
	return startWorkerWith(t, id, kc, store, stream, led, kcl.Polling{Interval: 100 * time.Millisecond})
}

func startWorkerWith(t *testing.T, id string, kc *kinesis.Client, store lease.Store, stream string, led *ledger, r kcl.Retrieval) *worker {
	t.Helper()
	c, err := kcl.New(kcl.Config{
		StreamName: stream, Kinesis: kc, Leases: store, WorkerID: id,
		InitialPosition:   kcl.TrimHorizon,
		Retrieval:         r,
		ShardSyncInterval: 2 * time.Second,
	}, kcl.BatchProcessor(func(ctx context.Context, b kcl.Batch) error { return led.add(id, b) }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- c.Run(ctx) }()
	return w
}

// waitFor polls cond every 100ms (fake time under synctest) until it holds or limit passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestConsumersShareStreamThroughReshardKillAndShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := kinesislocal.New(kinesislocal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		kc := kinesis.NewFromConfig(srv.AWSConfig())
		stream := "orders"
		if _, err := kc.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(4)}); err != nil {
			t.Fatal(err)
		}
		store := memlease.New()
		led := newLedger()
		prod := &producer{kc: kc, stream: stream, keys: 40}

		workers := map[string]*worker{}
		for _, id := range []string{"w1", "w2", "w3"} {
			workers[id] = startWorker(t, id, kc, store, stream, led)
		}
		prod.put(t, 1500)
		waitFor(t, "first 1500 records", time.Minute, func() bool { return led.count() == 1500 })
		waitFor(t, "every worker holds a shard", time.Minute, func() bool {
			for _, w := range workers {
				if w.c.Stats().Leases.Held == 0 {
					return false
				}
			}
			return true
		})

		// Split shard 0 mid-stream; its children start only after it ends.
		ls, err := kc.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: &stream})
		if err != nil {
			t.Fatal(err)
		}
		s0 := ls.Shards[0]
		start, _ := new(big.Int).SetString(aws.ToString(s0.HashKeyRange.StartingHashKey), 10)
		end, _ := new(big.Int).SetString(aws.ToString(s0.HashKeyRange.EndingHashKey), 10)
		mid := new(big.Int).Add(start, end)
		mid.Rsh(mid, 1)
		if _, err := kc.SplitShard(context.Background(), &kinesis.SplitShardInput{StreamName: &stream,
			ShardToSplit: s0.ShardId, NewStartingHashKey: aws.String(mid.String())}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		prod.put(t, 1500)
		waitFor(t, "3000 records across the split", time.Minute, func() bool { return led.count() == 3000 })

		// Kill w1 hard: its shards move after the lease duration.
		workers["w1"].cancel()
		<-workers["w1"].done
		prod.put(t, 1000)
		waitFor(t, "4000 records after a kill", time.Minute, func() bool { return led.count() == 4000 })

		// Shut w2 down gracefully: w3 continues from its checkpoints.
		if err := workers["w2"].c.Shutdown(context.Background()); err != nil {
			t.Fatalf("graceful shutdown: %v", err)
		}
		if err := <-workers["w2"].done; err != nil {
			t.Fatalf("Run after Shutdown: %v", err)
		}
		prod.put(t, 1000)
		waitFor(t, "5000 records after a shutdown", time.Minute, func() bool { return led.count() == 5000 })
		if held := workers["w3"].c.Stats().Leases.Held; held < 4 {
			t.Fatalf("the survivor holds %d leases, want every open shard (>= 4)", held)
		}

		// Per key, ids arrive in increasing order (duplicates after the kill may repeat a suffix).
		led.mu.Lock()
		for key, ids := range led.byKey {
			maxSeen := -1
			for i, id := range ids {
				if id < maxSeen && led.seen[id] < 2 {
					t.Errorf("key %s: id %d after %d (position %d) and it is not a replay", key, id, maxSeen, i)
				}
				maxSeen = max(maxSeen, id)
			}
		}
		for id := range 5000 {
			if led.seen[id] == 0 {
				t.Errorf("record %d never processed", id)
			}
		}

		dups := 0
		for _, n := range led.seen {
			dups += n - 1
		}
		t.Logf("records per worker %v, shards per worker %v, duplicates %d, w3 stats %+v",
			led.byWorker, led.shardsOf, dups, workers["w3"].c.Stats().Leases)
		led.mu.Unlock()

		workers["w3"].cancel()
		<-workers["w3"].done
	})
}

// TestFanOutConsumers reads through SubscribeToShard: two workers share four shards, a split's
// children are found through the ChildShards of the parent's last event, nothing is lost.
func TestFanOutConsumers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := kinesislocal.New(kinesislocal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		kc := kinesis.NewFromConfig(srv.AWSConfig())
		stream := "efo"
		if _, err := kc.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(4)}); err != nil {
			t.Fatal(err)
		}
		store := memlease.New()
		led := newLedger()
		prod := &producer{kc: kc, stream: stream, keys: 20}
		w1 := startWorkerWith(t, "w1", kc, store, stream, led, kcl.FanOut{ConsumerName: "app"})
		w2 := startWorkerWith(t, "w2", kc, store, stream, led, kcl.FanOut{ConsumerName: "app"})
		prod.put(t, 800)
		waitFor(t, "800 records over EFO", time.Minute, func() bool { return led.count() == 800 })

		ls, err := kc.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: &stream})
		if err != nil {
			t.Fatal(err)
		}
		mid := new(big.Int).Add(mustBig(t, aws.ToString(ls.Shards[1].HashKeyRange.StartingHashKey)),
			mustBig(t, aws.ToString(ls.Shards[1].HashKeyRange.EndingHashKey)))
		mid.Rsh(mid, 1)
		if _, err := kc.SplitShard(context.Background(), &kinesis.SplitShardInput{StreamName: &stream,
			ShardToSplit: ls.Shards[1].ShardId, NewStartingHashKey: aws.String(mid.String())}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		prod.put(t, 800)
		waitFor(t, "1600 records across the split", time.Minute, func() bool { return led.count() == 1600 })
		ended := w1.c.Stats().ShardsEnded + w2.c.Stats().ShardsEnded
		if ended != 1 {
			t.Errorf("%d shards ended, want 1 (the split parent)", ended)
		}
		for _, w := range []*worker{w1, w2} {
			w.cancel()
			<-w.done
		}
	})
}

func mustBig(t *testing.T, s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// TestMergeAndUpdateShardCount: a merge (one child of two parents) and UpdateShardCount (several
// generations of short-lived shards) mid-stream lose nothing and keep per-key order.
func TestMergeAndUpdateShardCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := kinesislocal.New(kinesislocal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		kc := kinesis.NewFromConfig(srv.AWSConfig())
		ctx := context.Background()
		stream := "reshard"
		if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(4)}); err != nil {
			t.Fatal(err)
		}
		store := memlease.New()
		led := newLedger()
		prod := &producer{kc: kc, stream: stream, keys: 25}
		w1 := startWorker(t, "w1", kc, store, stream, led)
		w2 := startWorker(t, "w2", kc, store, stream, led)
		prod.put(t, 500)
		waitFor(t, "500 records", time.Minute, func() bool { return led.count() == 500 })

		ls, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kc.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: &stream,
			ShardToMerge: ls.Shards[0].ShardId, AdjacentShardToMerge: ls.Shards[1].ShardId}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		prod.put(t, 500)
		waitFor(t, "1000 records across the merge", time.Minute, func() bool { return led.count() == 1000 })

		if _, err := kc.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: &stream,
			TargetShardCount: aws.Int32(6), ScalingType: types.ScalingTypeUniformScaling}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		prod.put(t, 1000)
		waitFor(t, "2000 records across UpdateShardCount", 2*time.Minute, func() bool { return led.count() == 2000 })

		led.mu.Lock()
		for key, ids := range led.byKey {
			for i := 1; i < len(ids); i++ {
				if ids[i] < ids[i-1] && led.seen[ids[i]] < 2 {
					t.Errorf("key %s: id %d after %d", key, ids[i], ids[i-1])
				}
			}
		}
		led.mu.Unlock()
		ended := w1.c.Stats().ShardsEnded + w2.c.Stats().ShardsEnded
		if ended < 3 {
			t.Errorf("%d shards ended; want the two merged parents and at least one scaled shard", ended)
		}
		for _, w := range []*worker{w1, w2} {
			w.cancel()
			<-w.done
		}
	})
}
