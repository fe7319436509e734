package kcl_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease/memlease"
)

// A consumer that processes every record of a stream, checkpointing after each batch.
func Example() {
	srv, _ := kinesislocal.New(kinesislocal.Options{}) // a local Kinesis; use kinesis.NewFromConfig(cfg) on AWS
	defer srv.Close()
	kc := kinesis.NewFromConfig(srv.AWSConfig())
	ctx := context.Background()
	kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(2)})
	for _, id := range []string{"order-1", "order-2", "order-3"} {
		kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("customer-7"), Data: []byte(id)})
	}

	var mu sync.Mutex
	var got []string
	c, err := kcl.New(kcl.Config{
		StreamName:      "orders",
		Kinesis:         kc,
		Leases:          memlease.New(), // dynamolease.New(...) to share the stream between processes
		InitialPosition: kcl.TrimHorizon,
	}, kcl.BatchProcessor(func(ctx context.Context, b kcl.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range b.Records {
			got = append(got, string(r.Data))
		}
		return nil
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 3 {
			break
		}
	}
	c.Shutdown(ctx) // graceful: checkpoints are kept, leases released
	stop()
	<-done
	fmt.Println(got)
	// Output: [order-1 order-2 order-3]
}

// A processor that controls its own loop: it checkpoints every 100 records and when the shard
// stops (handoff or shutdown).
func ExampleProcessorFunc() {
	p := kcl.ProcessorFunc(func(ctx context.Context, s *kcl.Shard) error {
		n := 0
		var last kcl.Record
		for s.Next(ctx) {
			for _, r := range s.Batch().Records {
				_ = r // process r
				last = r
				if n++; n%100 == 0 {
					if err := s.Checkpoint(ctx, r); err != nil {
						return err // kcl.ErrLeaseLost: another worker owns the shard now
					}
				}
			}
		}
		if errors.Is(s.Err(), kcl.ErrStopping) && last.SequenceNumber != "" {
			if err := s.Checkpoint(ctx, last); err != nil {
				return err
			}
		}
		return s.Err() // nil at the end of the shard: the library records SHARD_END
	})
	_ = p
	fmt.Println("ok")
	// Output: ok
}
