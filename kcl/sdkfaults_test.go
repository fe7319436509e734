package kcl_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease/dynamolease"
	"github.com/shoal-go/shoal/lease/memlease"
)

// faultyServer starts kinesislocal with faults and a stream "s" of one shard.
func faultyServer(t *testing.T, faults ...kinesislocal.Fault) (*kinesislocal.Server, *kinesis.Client) {
	t.Helper()
	srv, err := kinesislocal.New(kinesislocal.Options{Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	kc := kinesis.NewFromConfig(srv.AWSConfig())
	if _, err := kc.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	return srv, kc
}

// TestParentCreateFailureOverDynamoDB is TestParentCreateFailureSkipsNothing through the real SDK
// path: dynamolease over kinesislocal's DynamoDB API, whose PutItem creating the split parent's
// lease fails (500, every SDK attempt of the first Create). (Defect 1.)
func TestParentCreateFailureOverDynamoDB(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent := "shardId-000000000000"
		srv, kc := faultyServer(t, kinesislocal.Fault{Operation: "PutItem", Table: "app",
			Key: map[string]string{"leaseKey": parent}, Calls: kinesislocal.FirstCalls(3), ErrorCode: "InternalServerError"})
		putN(t, kc, "s", 0, 100)
		if got := split(t, kc, "s"); got != parent {
			t.Fatalf("split %s, want %s", got, parent)
		}
		putN(t, kc, "s", 100, 100)
		store, err := dynamolease.New(dynamodb.NewFromConfig(srv.AWSConfig()), dynamolease.Options{Table: "app"})
		if err != nil {
			t.Fatal(err)
		}
		var col collector
		c, err := kcl.New(kcl.Config{StreamName: "s", Kinesis: kc, Leases: store, WorkerID: "w",
			InitialPosition: kcl.TrimHorizon, ShardSyncInterval: 2 * time.Second},
			kcl.BatchProcessor(func(_ context.Context, b kcl.Batch) error { col.add(b); return nil }))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		waitFor(t, "every record", time.Minute, func() bool { return len(col.missing(0, 200)) == 0 })
		cancel()
		<-done
	})
}

// TestReadFailureRetryAtLatestOverSDK: at LATEST, a processor that has not checkpointed yet
// gets records 0-4; then GetRecords fails (500, 12 requests: the SDK's attempts and the reader's
// retries) until the reader gives up, so the processor returns the read error and is run again,
// while records 5-14 arrive. All are delivered. (Defect 2 through the real SDK path: before the
// fix the retry opened a new LATEST iterator and skipped what arrived before it.)
func TestReadFailureRetryAtLatestOverSDK(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var failing atomic.Bool
		_, kc := faultyServer(t, kinesislocal.Fault{Operation: "GetRecords", ErrorCode: "InternalFailure",
			Where: func(kinesislocal.Request) bool { return failing.Load() }, Calls: kinesislocal.FirstCalls(12)})
		var col collector
		c, err := kcl.New(kcl.Config{StreamName: "s", Kinesis: kc, Leases: memlease.New(), WorkerID: "w",
			InitialPosition: kcl.Latest, RetryBase: time.Second, RetryMax: time.Second,
			Retrieval: kcl.Polling{MaxRetries: 1, Interval: 200 * time.Millisecond}},
			kcl.ProcessorFunc(func(ctx context.Context, s *kcl.Shard) error {
				for s.Next(ctx) { // never checkpoints
					col.add(s.Batch())
				}
				return s.Err()
			}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		waitFor(t, "the lease held", time.Minute, func() bool { return c.Stats().Leases.Held == 1 })
		time.Sleep(2 * time.Second) // the LATEST iterator is open
		putN(t, kc, "s", 0, 5)
		waitFor(t, "records 0-4", time.Minute, func() bool { return len(col.missing(0, 5)) == 0 })
		failing.Store(true)
		for i := 5; i < 15; i++ { // one record every 500 ms, across the failures
			putN(t, kc, "s", i, 1)
			time.Sleep(500 * time.Millisecond)
		}
		waitFor(t, "every record", time.Minute, func() bool { return len(col.missing(0, 15)) == 0 })
		if c.Stats().ProcessorErrors == 0 {
			t.Fatal("the read failures never reached the processor: the test did not exercise a retry")
		}
		cancel()
		<-done
	})
}
