package kcl_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/aggregate"
	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/memlease"
)

// oneShard starts a 1-shard stream holding one KPL aggregate of 10 sub-records ("r0".."r9")
// followed by two plain records ("p0", "p1"), and runs p on it until stop is called.
func oneShard(t *testing.T, p kcl.Processor, hooks kcl.Hooks) (stop func()) {
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kc := kinesis.NewFromConfig(srv.AWSConfig())
	ctx := context.Background()
	stream := "one"
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	var enc aggregate.Encoder
	for i := range 10 {
		if err := enc.Add(aggregate.Record{PartitionKey: fmt.Sprintf("k%d", i), Data: []byte(fmt.Sprintf("r%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	outer, err := enc.Outer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: &stream, PartitionKey: &outer.PartitionKey,
		ExplicitHashKey: aws.String(outer.ExplicitHashKey), Data: outer.Data}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"p0", "p1"} {
		if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: &stream, PartitionKey: aws.String("k"), Data: []byte(d)}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: memlease.New(), WorkerID: "w",
		InitialPosition: kcl.TrimHorizon, Hooks: hooks, RetryBase: 100 * time.Millisecond, RetryMax: time.Second}, p)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(rctx) }()
	return func() { cancel(); <-done; srv.Close() }
}

// TestProcessorErrorRetriesFromCheckpointInsideAggregate: the processor checkpoints at r4 (inside
// the aggregate) and fails; it runs again from r5, with the failure reported, nothing skipped.
func TestProcessorErrorRetriesFromCheckpointInsideAggregate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var runs [][]string
		var failures []int
		fail := errors.New("downstream unavailable")
		p := kcl.ProcessorFunc(func(ctx context.Context, s *kcl.Shard) error {
			mu.Lock()
			runs = append(runs, nil)
			run := len(runs)
			mu.Unlock()
			for s.Next(ctx) {
				for _, r := range s.Batch().Records {
					mu.Lock()
					runs[run-1] = append(runs[run-1], string(r.Data))
					mu.Unlock()
					if run == 1 && string(r.Data) == "r4" {
						if !r.Aggregated || r.SubSequenceNumber != 4 {
							t.Errorf("r4: aggregated %v, sub-sequence %d", r.Aggregated, r.SubSequenceNumber)
						}
						if err := s.Checkpoint(ctx, r); err != nil {
							return err
						}
						return fail
					}
				}
				if err := s.Checkpoint(ctx, s.Batch().Last()); err != nil {
					return err
				}
			}
			return s.Err()
		})
		stop := oneShard(t, p, kcl.Hooks{ProcessorFailed: func(_ string, err error, attempt int, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if errors.Is(err, fail) {
				failures = append(failures, attempt)
			}
		}})
		defer stop()
		time.Sleep(10 * time.Second)
		mu.Lock()
		defer mu.Unlock()
		if len(runs) < 2 || len(failures) != 1 {
			t.Fatalf("runs %v, failures %v", runs, failures)
		}
		want := "[r5 r6 r7 r8 r9 p0 p1]"
		if got := fmt.Sprint(runs[1]); got != want {
			t.Fatalf("second run delivered %s, want %s", got, want)
		}
	})
}

// TestCheckpointValidation: a checkpoint beyond the last delivered record, or before the current
// checkpoint, is refused.
func TestCheckpointValidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errs := make(chan error, 3)
		p := kcl.ProcessorFunc(func(ctx context.Context, s *kcl.Shard) error {
			if !s.Next(ctx) {
				return s.Err()
			}
			b := s.Batch()
			ahead := b.Last()
			ahead.SubSequenceNumber += 100
			errs <- s.Checkpoint(ctx, ahead)
			errs <- s.Checkpoint(ctx, b.Last())
			errs <- s.Checkpoint(ctx, b.Records[0])
			<-ctx.Done()
			return s.Err()
		})
		stop := oneShard(t, p, kcl.Hooks{})
		defer stop()
		if err := <-errs; !errors.Is(err, kcl.ErrCheckpointAhead) {
			t.Errorf("checkpoint ahead: %v", err)
		}
		if err := <-errs; err != nil {
			t.Errorf("checkpoint at the last record: %v", err)
		}
		if err := <-errs; !errors.Is(err, lease.ErrBackwards) {
			t.Errorf("checkpoint backwards: %v", err)
		}
	})
}
