package kcl_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease/memlease"
)

// newStream starts an in-process Kinesis with one stream of shards shards holding n records
// "0".."n-1" (partition key "k").
func newStream(t *testing.T, shards, n int) (*kinesis.Client, string) {
	t.Helper()
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	kc := kinesis.NewFromConfig(srv.AWSConfig())
	stream := "s"
	if _, err := kc.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(int32(shards))}); err != nil {
		t.Fatal(err)
	}
	putN(t, kc, stream, 0, n)
	return kc, stream
}

func putN(t *testing.T, kc *kinesis.Client, stream string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i += 500 {
		var entries []types.PutRecordsRequestEntry
		for j := i; j < min(i+500, from+n); j++ {
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: []byte(strconv.Itoa(j))})
		}
		if _, err := kc.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: &stream, Records: entries}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckpointFromAnotherGoroutine: Shard.Checkpoint is documented safe from other goroutines
// of the processor; run with -race, it checkpoints from a second goroutine while Next runs.
// (Defect 4: failed under -race before Shard guarded ahead/lastCP.)
func TestCheckpointFromAnotherGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kc, stream := newStream(t, 1, 300)
		var checkpointed atomic.Int64
		p := kcl.ProcessorFunc(func(ctx context.Context, s *kcl.Shard) error {
			recs := make(chan kcl.Record, 100)
			var wg sync.WaitGroup
			wg.Go(func() {
				for r := range recs {
					if err := s.Checkpoint(ctx, r); err != nil {
						t.Errorf("checkpoint from another goroutine: %v", err)
						return
					}
					n, _ := strconv.Atoi(string(r.Data))
					checkpointed.Store(int64(n))
				}
			})
			defer wg.Wait()
			defer close(recs)
			for s.Next(ctx) {
				recs <- s.Batch().Last()
			}
			return s.Err()
		})
		c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: memlease.New(), WorkerID: "w",
			InitialPosition: kcl.TrimHorizon, Retrieval: kcl.Polling{Limit: 3, Interval: 10 * time.Millisecond}}, p)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		waitFor(t, "the last record checkpointed", time.Minute, func() bool { return checkpointed.Load() == 299 })
		cancel()
		<-done
	})
}

// slowList is a Kinesis client whose ListShards, once slow is set, takes 10 s and ignores ctx;
// returned is set when such a call returns.
type slowList struct {
	*kinesis.Client
	slow, returned atomic.Bool
}

func (s *slowList) ListShards(ctx context.Context, in *kinesis.ListShardsInput, opts ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	if s.slow.Load() {
		time.Sleep(10 * time.Second)
		defer s.returned.Store(true)
	}
	return s.Client.ListShards(ctx, in, opts...)
}

// TestShutdownWaitsForRun: Shutdown returns only after Run has returned (its shard sync
// included), and a second Run fails at once instead of racing the first. (Defect 5: failed
// before Consumer had a done channel: Shutdown returned while shard sync was still running.)
func TestShutdownWaitsForRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kc, stream := newStream(t, 2, 10)
		api := &slowList{Client: kc}
		c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: api, Leases: memlease.New(), WorkerID: "w",
			InitialPosition: kcl.TrimHorizon, ShardSyncInterval: time.Second},
			kcl.BatchProcessor(func(context.Context, kcl.Batch) error { return nil }))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Run(context.Background()) }()
		waitFor(t, "both shards held", time.Minute, func() bool { return c.Stats().Leases.Held == 2 })
		second := make(chan error, 1)
		go func() { second <- c.Run(context.Background()) }()
		select {
		case err := <-second:
			if !errors.Is(err, kcl.ErrRunning) {
				t.Fatalf("second Run: %v, want ErrRunning", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a second Run did not return at once")
		}
		api.slow.Store(true)
		time.Sleep(1500 * time.Millisecond) // a shard sync is inside the slow ListShards now
		if err := c.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if !api.returned.Load() {
			t.Fatal("Shutdown returned while Run's shard sync was still running")
		}
		if err := <-done; err != nil {
			t.Fatalf("Run after Shutdown: %v", err)
		}
		if err := c.Shutdown(context.Background()); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
	})
}

// TestProcessorRetryBackoffResets: after a processor run that made progress (checkpointed), the
// next failure waits at most RetryBase again, however many failures came before. (Defect 8:
// failed before the backoff was reset; the wait after progress kept growing toward RetryMax.)
func TestProcessorRetryBackoffResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kc, stream := newStream(t, 1, 5)
		var runs atomic.Int64
		fail := errors.New("fail")
		p := kcl.ProcessorFunc(func(ctx context.Context, s *kcl.Shard) error {
			run := runs.Add(1)
			if !s.Next(ctx) {
				return s.Err()
			}
			if run == 12 { // progress, then fail again
				if err := s.Checkpoint(ctx, s.Batch().Records[0]); err != nil {
					return err
				}
			}
			return fail
		})
		var mu sync.Mutex
		var waits []time.Duration
		const base = 100 * time.Millisecond
		c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: memlease.New(), WorkerID: "w",
			InitialPosition: kcl.TrimHorizon, RetryBase: base, RetryMax: time.Hour,
			Hooks: kcl.Hooks{ProcessorFailed: func(_ string, _ error, _ int, wait time.Duration) {
				mu.Lock()
				waits = append(waits, wait)
				mu.Unlock()
			}}}, p)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		waitFor(t, "13 failures", 24*time.Hour, func() bool { mu.Lock(); defer mu.Unlock(); return len(waits) >= 13 })
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if w := waits[11]; w > base {
			t.Fatalf("wait after a run that checkpointed: %v, want <= RetryBase %v (waits %v)", w, base, waits)
		}
	})
}

// initCounter is a lease store that counts Init calls (table creation).
type initCounter struct {
	*memlease.Store
	inits atomic.Int64
}

func (s *initCounter) Init(context.Context) error { s.inits.Add(1); return nil }

// TestMissingStreamFailsFast: Run on a stream that does not exist returns ErrStreamNotFound at
// once, names the stream, logs it, and creates no lease table. (Defect 11: failed before: Run
// created the tables and retried shard sync forever, logging nothing by default.)
func TestMissingStreamFailsFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kc, _ := newStream(t, 1, 0)
		store := &initCounter{Store: memlease.New()}
		var logged strings.Builder
		var logMu sync.Mutex
		c, err := kcl.New(kcl.Config{StreamName: "no-such-stream", Kinesis: kc, Leases: store, WorkerID: "w",
			Logger: slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
				logMu.Lock()
				defer logMu.Unlock()
				return logged.Write(p)
			}), nil))},
			kcl.BatchProcessor(func(context.Context, kcl.Batch) error { return nil }))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Run(context.Background()) }()
		select {
		case err := <-done:
			if !errors.Is(err, kcl.ErrStreamNotFound) || !strings.Contains(err.Error(), "no-such-stream") {
				t.Fatalf("Run: %v, want ErrStreamNotFound naming the stream", err)
			}
		case <-time.After(time.Minute):
			c.Shutdown(context.Background())
			t.Fatal("Run on a missing stream did not return")
		}
		if n := store.inits.Load(); n != 0 {
			t.Errorf("lease store Init called %d times for a missing stream", n)
		}
		logMu.Lock()
		defer logMu.Unlock()
		if !strings.Contains(logged.String(), "no-such-stream") {
			t.Errorf("nothing logged about the missing stream: %q", logged.String())
		}
	})
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestConfigInEffect: Config returns the defaults applied, as the exported constants say, and
// the default logger is slog.Default().
func TestConfigInEffect(t *testing.T) {
	c, err := kcl.New(kcl.Config{StreamName: "s", Kinesis: &kinesis.Client{}, Leases: memlease.New()},
		kcl.BatchProcessor(func(context.Context, kcl.Batch) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	p, ok := cfg.Retrieval.(kcl.Polling)
	if !ok || p.Limit != kcl.DefaultPollingLimit || p.Interval != kcl.DefaultPollingInterval ||
		p.MaxRetries != kcl.DefaultPollingMaxRetries || p.RetryBase != kcl.DefaultPollingRetryBase || p.RetryMax != kcl.DefaultPollingRetryMax {
		t.Errorf("retrieval in effect: %#v", cfg.Retrieval)
	}
	if cfg.ShardSyncInterval != kcl.DefaultShardSyncInterval || cfg.RetryBase != kcl.DefaultRetryBase || cfg.RetryMax != kcl.DefaultRetryMax {
		t.Errorf("intervals in effect: %v %v %v", cfg.ShardSyncInterval, cfg.RetryBase, cfg.RetryMax)
	}
	if cfg.InitialPosition != kcl.Latest || cfg.AppName != "s" || cfg.WorkerID == "" || c.WorkerID() != cfg.WorkerID {
		t.Errorf("names in effect: %v %q %q", cfg.InitialPosition, cfg.AppName, cfg.WorkerID)
	}
	if cfg.Logger != slog.Default() {
		t.Errorf("default logger is not slog.Default()")
	}
}
