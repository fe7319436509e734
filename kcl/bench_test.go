package kcl_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/internal/clientbench"
	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease/memlease"
)

// BenchmarkConsumerOverhead compares the CPU per record of a kcl.Consumer with a bare GetRecords
// loop over the same in-process server and the same records, in one run (internal/clientbench).
// Both figures include the server's and the SDK's CPU; the difference is the library's.
// Reported: bare-cpu-ns/rec, kcl-cpu-ns/rec, overhead-% ((kcl - bare) / bare), kcl-rec/s.
func BenchmarkConsumerOverhead(b *testing.B) {
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	kc := kinesis.NewFromConfig(srv.AWSConfig())
	var total clientbench.ConsumerResult
	for i := 0; b.Loop(); i++ {
		r, err := clientbench.Consumer(context.Background(), kc, 4, 200_000, 1, fmt.Sprintf("bench-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		total.Records += r.Records
		total.BareCPUPerRec += r.BareCPUPerRec * time.Duration(r.Records)
		total.KCLCPUPerRec += r.KCLCPUPerRec * time.Duration(r.Records)
		total.KCLWall += r.KCLWall
	}
	total.BareCPUPerRec /= time.Duration(total.Records)
	total.KCLCPUPerRec /= time.Duration(total.Records)
	b.ReportMetric(float64(total.BareCPUPerRec), "bare-cpu-ns/rec")
	b.ReportMetric(float64(total.KCLCPUPerRec), "kcl-cpu-ns/rec")
	b.ReportMetric(total.Overhead(), "overhead-%")
	b.ReportMetric(float64(total.Records)/total.KCLWall.Seconds(), "kcl-rec/s")
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
		if err := clientbench.Fill(context.Background(), kc, stream, shards, 0); err != nil {
			b.Fatal(err)
		}
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
