// Package clientbench measures Shoal's consumer and producer against bare SDK loops over the same
// in-process kinesislocal in the same run, so results are ratios that survive a noisy machine.
// `shoal bench consumer|producer` and the kcl benchmarks use it.
package clientbench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/kpl"
	"github.com/shoal-go/shoal/lease/memlease"
)

// CPU returns the process's user+system CPU time so far.
func CPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Fill creates stream with shards shards and n records of 100 bytes (distinct partition keys).
func Fill(ctx context.Context, kc *kinesis.Client, stream string, shards, n int) error {
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(int32(shards))}); err != nil {
		return err
	}
	data := make([]byte, 100)
	for i := 0; i < n; i += 500 {
		entries := make([]types.PutRecordsRequestEntry, 0, 500)
		for j := i; j < i+500 && j < n; j++ {
			entries = append(entries, types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(strconv.Itoa(j))})
		}
		if _, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries}); err != nil {
			return err
		}
	}
	return nil
}

// BareDrain reads every shard from TRIM_HORIZON to the tip with GetRecords (Limit 10000), one
// goroutine per shard: the least a consumer can do. It returns the records read.
func BareDrain(ctx context.Context, kc *kinesis.Client, stream string) (int64, error) {
	ls, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		return 0, err
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, len(ls.Shards))
	for i, sh := range ls.Shards {
		wg.Go(func() {
			it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: sh.ShardId,
				ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			if err != nil {
				errs[i] = err
				return
			}
			iter := it.ShardIterator
			for {
				out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
				if err != nil {
					errs[i] = err
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
	for _, err := range errs {
		if err != nil {
			return total.Load(), err
		}
	}
	return total.Load(), nil
}

// ConsumerDrain runs one kcl.Consumer (polling defaults, BatchProcessor with a checkpoint per
// batch, memlease) until it has processed n records.
func ConsumerDrain(ctx context.Context, kc *kinesis.Client, stream string, n int64) error {
	var got atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: memlease.New(), WorkerID: "bench",
		InitialPosition: kcl.TrimHorizon},
		kcl.BatchProcessor(func(ctx context.Context, b kcl.Batch) error {
			if got.Add(int64(len(b.Records))) >= n {
				once.Do(func() { close(done) })
			}
			return nil
		}))
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- c.Run(rctx) }()
	defer func() { cancel(); <-errc }()
	select {
	case <-done:
		return nil
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("consumer processed %d of %d records", got.Load(), n)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ConsumerResult compares a kcl.Consumer with a bare GetRecords loop over the same records.
type ConsumerResult struct {
	Records                     int64
	BareCPUPerRec, KCLCPUPerRec time.Duration
	KCLWall, BareWall           time.Duration
}

// Overhead is (kcl - bare) / bare CPU, in percent.
func (r ConsumerResult) Overhead() float64 {
	return 100 * float64(r.KCLCPUPerRec-r.BareCPUPerRec) / float64(r.BareCPUPerRec)
}

// Consumer runs rounds rounds over fresh streams of n records on shards shards, alternating
// which side reads first, and sums CPU and wall time per side.
func Consumer(ctx context.Context, kc *kinesis.Client, shards, n, rounds int, prefix string) (ConsumerResult, error) {
	var bare, lib time.Duration
	res := ConsumerResult{Records: int64(n) * int64(rounds)}
	for i := range rounds {
		stream := fmt.Sprintf("%s-%d", prefix, i)
		if err := Fill(ctx, kc, stream, shards, n); err != nil {
			return res, err
		}
		runBare := func() error {
			c0, w0 := CPU(), time.Now()
			got, err := BareDrain(ctx, kc, stream)
			if err == nil && got != int64(n) {
				err = fmt.Errorf("bare loop read %d of %d", got, n)
			}
			bare += CPU() - c0
			res.BareWall += time.Since(w0)
			return err
		}
		runLib := func() error {
			c0, w0 := CPU(), time.Now()
			err := ConsumerDrain(ctx, kc, stream, int64(n))
			lib += CPU() - c0
			res.KCLWall += time.Since(w0)
			return err
		}
		first, second := runBare, runLib
		if i%2 == 1 { // neither side always pays the other's garbage
			first, second = runLib, runBare
		}
		if err := first(); err != nil {
			return res, err
		}
		if err := second(); err != nil {
			return res, err
		}
		kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: &stream})
	}
	res.BareCPUPerRec = bare / time.Duration(res.Records)
	res.KCLCPUPerRec = lib / time.Duration(res.Records)
	return res, nil
}

// ProducerResult is one producer run.
type ProducerResult struct {
	Name         string
	Records      int
	Wall         time.Duration
	CPU          time.Duration
	KinesisCalls int64
}

// RecordsPerSec and RecordsPerCPUSec are the run's throughput by wall and by CPU time.
func (r ProducerResult) RecordsPerSec() float64    { return float64(r.Records) / r.Wall.Seconds() }
func (r ProducerResult) RecordsPerCPUSec() float64 { return float64(r.Records) / r.CPU.Seconds() }

// BarePut writes n records of size bytes with PutRecords batches of 500 from 4 goroutines, no
// aggregation: the baseline a producer library is compared with.
func BarePut(ctx context.Context, kc *kinesis.Client, stream string, n, size int) (ProducerResult, error) {
	data := make([]byte, size)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	c0, w0 := CPU(), time.Now()
	for range 4 {
		wg.Go(func() {
			for {
				start := int(next.Add(500)) - 500
				if start >= n {
					return
				}
				entries := make([]types.PutRecordsRequestEntry, 0, 500)
				for j := start; j < start+500 && j < n; j++ {
					entries = append(entries, types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(strconv.Itoa(j))})
				}
				out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries})
				if err == nil && aws.ToInt32(out.FailedRecordCount) > 0 {
					err = fmt.Errorf("%d records failed", aws.ToInt32(out.FailedRecordCount))
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	res := ProducerResult{Name: "bare PutRecords loop (x500, 4 callers)", Records: n, Wall: time.Since(w0), CPU: CPU() - c0, KinesisCalls: int64((n + 499) / 500)}
	if err, _ := firstErr.Load().(error); err != nil {
		return res, err
	}
	return res, nil
}

// KPL writes n records of size bytes through a kpl.Producer (aggregated or not) and waits for
// every result.
func KPL(ctx context.Context, kc *kinesis.Client, stream string, n, size int, aggregate bool) (ProducerResult, error) {
	name := "kpl, aggregated"
	if !aggregate {
		name = "kpl, not aggregated"
	}
	p, err := kpl.New(kpl.Config{Client: kc, StreamName: stream, DisableAggregation: !aggregate, DisableRateLimit: true})
	if err != nil {
		return ProducerResult{}, err
	}
	data := make([]byte, size)
	var failed atomic.Int64
	var firstErr atomic.Value
	cb := func(_ kpl.Result, err error) {
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err)
		}
	}
	c0, w0 := CPU(), time.Now()
	for i := range n {
		if err := p.Put(ctx, kpl.Record{PartitionKey: strconv.Itoa(i), Data: data}, cb); err != nil {
			p.Close(ctx)
			return ProducerResult{}, err
		}
	}
	if err := p.Close(ctx); err != nil {
		return ProducerResult{}, err
	}
	res := ProducerResult{Name: name, Records: n, Wall: time.Since(w0), CPU: CPU() - c0, KinesisCalls: p.Stats().Requests}
	if f := failed.Load(); f > 0 {
		return res, fmt.Errorf("%s: %d records failed, first: %v", name, f, firstErr.Load())
	}
	return res, nil
}
