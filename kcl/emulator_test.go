package kcl_test

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease/dynamolease"
)

// endpointOrSkip returns the endpoint in env var name, or skips loudly (fails when
// SHOAL_REQUIRE_EMULATORS=1, as ./test.sh sets).
func endpointOrSkip(t *testing.T, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	msg := fmt.Sprintf("!!! %s is not set: start the emulators with test/emulators/start.sh (./test.sh does)", name)
	if os.Getenv("SHOAL_REQUIRE_EMULATORS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func socketConfig(endpoint string) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:  &http.Client{Transport: kinesislocal.BufferedTransport(nil)}}
}

// TestEmulators runs consumers through real sockets against Kinesis servers we did not write
// (kinesalite: no ChildShards, so children are found with ListShards; kinesis-local: ChildShards)
// with the lease table in dynalite: two workers share the stream, a shard splits mid-stream, a
// worker is killed; nothing is lost and per-key order holds.
func TestEmulators(t *testing.T) {
	dyn := endpointOrSkip(t, "DYNALITE_ENDPOINT")
	for _, target := range []string{"KINESALITE_ENDPOINT", "KINESIS_LOCAL_ENDPOINT"} {
		t.Run(target, func(t *testing.T) {
			emulatorRun(t, endpointOrSkip(t, target), dyn)
		})
	}
}

func emulatorRun(t *testing.T, kinesisEndpoint, dynamoEndpoint string) {
	ctx := context.Background()
	kc := kinesis.NewFromConfig(socketConfig(kinesisEndpoint))
	db := dynamodb.NewFromConfig(socketConfig(dynamoEndpoint))
	stream := fmt.Sprintf("kcl-emu-%d", time.Now().UnixNano())
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	defer kc.DeleteStream(context.WithoutCancel(ctx), &kinesis.DeleteStreamInput{StreamName: &stream})
	waitActive(t, kc, stream)
	store, err := dynamolease.New(db, dynamolease.Options{Table: stream + "-leases"})
	if err != nil {
		t.Fatal(err)
	}
	led := newLedger()
	prod := &producer{kc: kc, stream: stream, keys: 16}
	start := func(id string) *worker {
		c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: store, WorkerID: id,
			InitialPosition: kcl.TrimHorizon, Retrieval: kcl.Polling{Interval: 100 * time.Millisecond},
			ShardSyncInterval: 2 * time.Second},
			kcl.BatchProcessor(func(ctx context.Context, b kcl.Batch) error { return led.add(id, b) }))
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		w := &worker{c: c, cancel: cancel, done: make(chan error, 1)}
		go func() { w.done <- c.Run(rctx) }()
		return w
	}
	w1, w2 := start("w1"), start("w2")
	defer func() {
		for _, w := range []*worker{w1, w2} {
			w.cancel()
			<-w.done
		}
	}()
	prod.put(t, 300)
	waitFor(t, "300 records", 60*time.Second, func() bool { return led.count() == 300 })

	ls, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		t.Fatal(err)
	}
	s := ls.Shards[0]
	a, b := mustBig(t, aws.ToString(s.HashKeyRange.StartingHashKey)), mustBig(t, aws.ToString(s.HashKeyRange.EndingHashKey))
	mid := new(big.Int).Add(a, b)
	mid.Rsh(mid, 1)
	if _, err := kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: &stream, ShardToSplit: s.ShardId,
		NewStartingHashKey: aws.String(mid.String())}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, kc, stream)
	prod.put(t, 200)
	waitFor(t, "500 records across the split", 60*time.Second, func() bool { return led.count() == 500 })

	w1.cancel() // a hard stop: w2 takes w1's shards after the lease duration
	<-w1.done
	w1.done <- nil // keep the deferred cleanup simple
	prod.put(t, 100)
	waitFor(t, "600 records after a kill", 60*time.Second, func() bool { return led.count() == 600 })

	led.mu.Lock()
	defer led.mu.Unlock()
	for key, ids := range led.byKey {
		maxSeen := -1
		for _, id := range ids {
			if id < maxSeen && led.seen[id] < 2 {
				t.Errorf("key %s: id %d after %d and not a replay", key, id, maxSeen)
			}
			maxSeen = max(maxSeen, id)
		}
	}
	if w1.c.Stats().ShardsEnded+w2.c.Stats().ShardsEnded == 0 {
		t.Errorf("no worker recorded the split parent's SHARD_END")
	}
}

func waitActive(t *testing.T, kc *kinesis.Client, stream string) {
	t.Helper()
	waitFor(t, "stream ACTIVE", 30*time.Second, func() bool {
		out, err := kc.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: &stream})
		return err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive
	})
}

// TestEmulatorsLatestHandoff: at LATEST, w1 reads (never checkpointing) and is killed; records
// written after that reach w2, which starts from the lease's recorded start (AT_TIMESTAMP), on
// Kinesis servers we did not write, with the lease table in dynalite. (Defect 3 over sockets.)
func TestEmulatorsLatestHandoff(t *testing.T) {
	dyn := endpointOrSkip(t, "DYNALITE_ENDPOINT")
	for _, target := range []string{"KINESALITE_ENDPOINT", "KINESIS_LOCAL_ENDPOINT"} {
		t.Run(target, func(t *testing.T) { latestHandoffRun(t, endpointOrSkip(t, target), dyn) })
	}
}

func latestHandoffRun(t *testing.T, kinesisEndpoint, dynamoEndpoint string) {
	ctx := context.Background()
	kc := kinesis.NewFromConfig(socketConfig(kinesisEndpoint))
	db := dynamodb.NewFromConfig(socketConfig(dynamoEndpoint))
	stream := fmt.Sprintf("kcl-latest-%d", time.Now().UnixNano())
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	defer kc.DeleteStream(context.WithoutCancel(ctx), &kinesis.DeleteStreamInput{StreamName: &stream})
	waitActive(t, kc, stream)
	store, err := dynamolease.New(db, dynamolease.Options{Table: stream + "-leases"})
	if err != nil {
		t.Fatal(err)
	}
	start := func(id string, col *collector) (context.CancelFunc, chan error) {
		c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: store, WorkerID: id,
			InitialPosition: kcl.Latest, Retrieval: kcl.Polling{Interval: 100 * time.Millisecond}},
			kcl.ProcessorFunc(func(ctx context.Context, s *kcl.Shard) error {
				for s.Next(ctx) { // never checkpoints
					col.add(s.Batch())
				}
				return s.Err()
			}))
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(rctx) }()
		return cancel, done
	}
	var col1, col2 collector
	stop1, done1 := start("w1", &col1)
	// Probe records (ids from 1000) until w1 delivers one: its LATEST iterator is open.
	probe := 1000
	waitFor(t, "w1 reading", 60*time.Second, func() bool {
		col1.mu.Lock()
		n := len(col1.seen)
		col1.mu.Unlock()
		if n > 0 {
			return true
		}
		putN(t, kc, stream, probe, 1)
		probe++
		return false
	})
	stop1()
	<-done1
	putN(t, kc, stream, 0, 20) // nobody holds the lease
	stop2, done2 := start("w2", &col2)
	defer func() { stop2(); <-done2 }()
	waitFor(t, "w2 delivers what was written while nobody held the lease", 60*time.Second,
		func() bool { return len(col2.missing(0, 20)) == 0 })
}
