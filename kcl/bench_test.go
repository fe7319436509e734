package kcl_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease/memlease"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fill creates a stream with shards shards and n records of 100 bytes.
func fill(b *testing.B, kc *kinesis.Client, stream string, shards, n int) {
	b.Helper()
	ctx := context.Background()
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(int32(shards))}); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 100)
	for i := 0; i < n; i += 500 {
		entries := make([]types.PutRecordsRequestEntry, 0, 500)
		for j := i; j < i+500 && j < n; j++ {
			entries = append(entries, types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(strconv.Itoa(j))})
		}
		if _, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries}); err != nil {
			b.Fatal(err)
		}
	}
}

// bareDrain reads every shard from TRIM_HORIZON to the tip with GetRecords, one goroutine per
// shard: the least a consumer can do.
func bareDrain(b *testing.B, kc *kinesis.Client, stream string) int64 {
	ctx := context.Background()
	ls, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		b.Fatal(err)
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	for _, sh := range ls.Shards {
		wg.Go(func() {
			it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: sh.ShardId,
				ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			if err != nil {
				b.Error(err)
				return
			}
			iter := it.ShardIterator
			for {
				out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
				if err != nil {
					b.Error(err)
					return
				}
				total.Add(int64(len(out.Records)))
				if aws.ToInt64(out.MillisBehindLatest) == 0 && len(out.Records) == 0 {
					return
				}
				iter = out.NextShardIterator
			}
		})
	}
	wg.Wait()
	return total.Load()
}

// consumerDrain runs a kcl.Consumer (BatchProcessor, a checkpoint per batch) until it processed n
// records.
func consumerDrain(b *testing.B, kc *kinesis.Client, stream string, n int64) {
	var got atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: memlease.New(), WorkerID: "bench",
		InitialPosition: kcl.TrimHorizon},
		kcl.BatchProcessor(func(ctx context.Context, bt kcl.Batch) error {
			if got.Add(int64(len(bt.Records))) >= n {
				once.Do(func() { close(done) })
			}
			return nil
		}))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("consumer processed %d of %d records", got.Load(), n)
	}
	cancel()
	<-errc
}

// BenchmarkConsumerOverhead compares the CPU per record of a kcl.Consumer with a bare GetRecords
// loop over the same in-process server and the same records, in one run. Both figures include
// the server's and the SDK's CPU; the difference is the library's. Reported metrics:
// bare-cpu-ns/rec, kcl-cpu-ns/rec and overhead-% ((kcl - bare) / bare).
func BenchmarkConsumerOverhead(b *testing.B) {
	const shards, n = 4, 200_000
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	kc := kinesis.NewFromConfig(srv.AWSConfig())
	var bare, lib, libWall time.Duration
	for i := 0; b.Loop(); i++ {
		stream := fmt.Sprintf("bench-%d", i)
		fill(b, kc, stream, shards, n)
		runBare := func() {
			t0 := cpuTime()
			if got := bareDrain(b, kc, stream); got != n {
				b.Fatalf("bare loop read %d of %d", got, n)
			}
			bare += cpuTime() - t0
		}
		runLib := func() {
			t0, w0 := cpuTime(), time.Now()
			consumerDrain(b, kc, stream, n)
			lib += cpuTime() - t0
			libWall += time.Since(w0)
		}
		if i%2 == 0 { // alternate the order so neither side always pays the other's garbage
			runBare()
			runLib()
		} else {
			runLib()
			runBare()
		}
	}
	recs := float64(b.N) * n
	b.ReportMetric(float64(bare.Nanoseconds())/recs, "bare-cpu-ns/rec")
	b.ReportMetric(float64(lib.Nanoseconds())/recs, "kcl-cpu-ns/rec")
	b.ReportMetric(100*float64(lib-bare)/float64(bare), "overhead-%")
	b.ReportMetric(recs/libWall.Seconds(), "kcl-rec/s")
}

// BenchmarkMemoryPerShard reports the heap one consumer uses per owned, idle shard (reader,
// prefetch goroutine, lease claim), from 64 shards.
func BenchmarkMemoryPerShard(b *testing.B) {
	const shards = 64
	for i := 0; b.Loop(); i++ {
		srv, err := kinesislocal.New(kinesislocal.Options{})
		if err != nil {
			b.Fatal(err)
		}
		kc := kinesis.NewFromConfig(srv.AWSConfig())
		stream := fmt.Sprintf("mem-%d", i)
		fill(b, kc, stream, shards, 0)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: memlease.New(), WorkerID: "mem",
			InitialPosition: kcl.TrimHorizon},
			kcl.BatchProcessor(func(context.Context, kcl.Batch) error { return nil }))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.Run(ctx) }()
		for c.Stats().Leases.Held < shards {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // every reader has polled at least once
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/shards, "heap-bytes/shard")
		b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
		cancel()
		<-errc
		srv.Close()
	}
}
