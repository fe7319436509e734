package kcl_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/memlease"
)

// opLog is a lease store that logs every successful checkpoint and finish (each one UpdateItem
// in dynamolease) and fails the test if a checkpoint moves backwards.
type opLog struct {
	lease.Store
	t   *testing.T
	mu  sync.Mutex
	ops []op
}

type op struct {
	at   time.Time
	key  string
	name string // "checkpoint" or "finish"
	cp   lease.Checkpoint
}

func newOpLog(t *testing.T) *opLog { return &opLog{Store: memlease.New(), t: t} }

func (o *opLog) Checkpoint(ctx context.Context, key string, from lease.Expect, cp lease.Checkpoint) (lease.Lease, error) {
	l, err := o.Store.Checkpoint(ctx, key, from, cp)
	if err == nil && !cp.IsSentinel() {
		o.mu.Lock()
		for i := len(o.ops) - 1; i >= 0; i-- {
			if p := o.ops[i]; p.key == key && p.name == "checkpoint" {
				if cp.Compare(p.cp) <= 0 {
					o.t.Errorf("checkpoint of %s written at %v after %v: backwards or not moved", key, cp, p.cp)
				}
				break
			}
		}
		o.ops = append(o.ops, op{at: time.Now(), key: key, name: "checkpoint", cp: cp})
		o.mu.Unlock()
	}
	return l, err
}

func (o *opLog) Finish(ctx context.Context, key string, from lease.Expect, children []string) (lease.Lease, error) {
	l, err := o.Store.Finish(ctx, key, from, children)
	if err == nil {
		o.mu.Lock()
		o.ops = append(o.ops, op{at: time.Now(), key: key, name: "finish"})
		o.mu.Unlock()
	}
	return l, err
}

func (o *opLog) writes(key string) []op {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []op
	for _, p := range o.ops {
		if key == "" || p.key == key {
			out = append(out, p)
		}
	}
	return out
}

// ckptEnv is an in-process stream with n shards under synctest.
type ckptEnv struct {
	kc     *kinesis.Client
	stream string
	prod   *producer
	store  *opLog
}

func newCkptEnv(t *testing.T, shards int) *ckptEnv {
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	kc := kinesis.NewFromConfig(srv.AWSConfig())
	stream := "ckpt"
	if _, err := kc.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(int32(shards))}); err != nil {
		t.Fatal(err)
	}
	return &ckptEnv{kc: kc, stream: stream, prod: &producer{kc: kc, stream: stream, keys: 20}, store: newOpLog(t)}
}

func (e *ckptEnv) start(t *testing.T, id string, cfg kcl.Config, p kcl.Processor) *worker {
	t.Helper()
	cfg.StreamName, cfg.Kinesis, cfg.Leases, cfg.WorkerID = e.stream, e.kc, e.store, id
	cfg.InitialPosition = kcl.TrimHorizon
	cfg.Logger = slog.New(slog.DiscardHandler)
	if cfg.Retrieval == nil {
		cfg.Retrieval = kcl.Polling{Interval: 100 * time.Millisecond}
	}
	c, err := kcl.New(cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- c.Run(ctx) }()
	return w
}

// TestCheckpointCoalescingHandoffAndShutdown: with the default policy, batches every 300ms are
// written at most once per CheckpointInterval per shard, and neither a handoff (a second worker
// joins) nor a graceful Shutdown loses a recorded checkpoint: no record is delivered twice.
func TestCheckpointCoalescingHandoffAndShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCkptEnv(t, 2)
		led := newLedger()
		proc := func(id string) kcl.Processor {
			return kcl.BatchProcessor(func(ctx context.Context, b kcl.Batch) error { return led.add(id, b) })
		}
		w1 := e.start(t, "w1", kcl.Config{}, proc("w1"))
		for range 40 {
			e.prod.put(t, 10)
			time.Sleep(300 * time.Millisecond)
		}
		waitFor(t, "400 records", time.Minute, func() bool { return led.count() == 400 })
		w2 := e.start(t, "w2", kcl.Config{}, proc("w2"))
		waitFor(t, "w2 holds a shard", time.Minute, func() bool { return w2.c.Stats().Leases.Held == 1 })
		for range 40 {
			e.prod.put(t, 10)
			time.Sleep(300 * time.Millisecond)
		}
		waitFor(t, "800 records", time.Minute, func() bool { return led.count() == 800 })
		if err := w1.c.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-w1.done
		e.prod.put(t, 100)
		waitFor(t, "900 records", time.Minute, func() bool { return led.count() == 900 })
		if err := w2.c.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-w2.done

		led.mu.Lock()
		for id := range 900 {
			if n := led.seen[id]; n != 1 {
				t.Errorf("record %d delivered %d times, want once (graceful handoffs only)", id, n)
			}
		}
		if led.byWorker["w2"] == 0 || led.shardsOf["w2"] == nil || len(led.shardsOf["w1"]) != 2 {
			t.Errorf("no handoff happened: per worker %v, shards %v", led.byWorker, led.shardsOf)
		}
		led.mu.Unlock()
		// Coalescing: within one claim, consecutive writes of a shard are CheckpointInterval
		// apart, except the writes at a handoff or shutdown, which follow at once.
		ops := e.store.writes("")
		perShard := map[string]int{}
		for _, o := range ops {
			perShard[o.key]++
		}
		// 24 s of batches every 300 ms on 2 shards: 160 batches; the default policy writes each
		// shard's checkpoint about every 5 s, plus the handoff and shutdown writes.
		total := len(ops)
		if total > 2*(24/5+1)+6 {
			t.Errorf("%d checkpoint writes for 160+ batches (per shard %v): not coalesced", total, perShard)
		}
		t.Logf("%d checkpoint writes for %d records: %v", total, 900, perShard)
	})
}

// TestCheckpointBeforeShardEnd: a coalesced checkpoint of a shard's last records is written
// before SHARD_END (the final write of a closed parent is its last record, then finish).
func TestCheckpointBeforeShardEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCkptEnv(t, 1)
		var mu sync.Mutex
		last := map[string]lease.Checkpoint{}
		w := e.start(t, "w1", kcl.Config{}, kcl.ProcessorFunc(func(ctx context.Context, s *kcl.Shard) error {
			for s.Next(ctx) {
				b := s.Batch()
				if err := s.Checkpoint(ctx, b.Last()); err != nil {
					return err
				}
				mu.Lock()
				last[s.ID()] = lease.Checkpoint{Sequence: b.Last().SequenceNumber, SubSequence: b.Last().SubSequenceNumber}
				mu.Unlock()
			}
			return s.Err()
		}))
		defer func() { w.cancel(); <-w.done }()
		for range 10 {
			e.prod.put(t, 10)
			time.Sleep(300 * time.Millisecond)
		}
		ls, err := e.kc.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: &e.stream})
		if err != nil {
			t.Fatal(err)
		}
		parent := aws.ToString(ls.Shards[0].ShardId)
		end, _ := new(big.Int).SetString(aws.ToString(ls.Shards[0].HashKeyRange.EndingHashKey), 10)
		if _, err := e.kc.SplitShard(context.Background(), &kinesis.SplitShardInput{StreamName: &e.stream,
			ShardToSplit: &parent, NewStartingHashKey: aws.String(new(big.Int).Rsh(end, 1).String())}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the parent finished", time.Minute, func() bool {
			ops := e.store.writes(parent)
			return len(ops) > 0 && ops[len(ops)-1].name == "finish"
		})
		ops := e.store.writes(parent)
		mu.Lock()
		want := last[parent]
		mu.Unlock()
		if len(ops) < 2 || ops[len(ops)-2].name != "checkpoint" || ops[len(ops)-2].cp.Compare(want) != 0 {
			t.Fatalf("parent's writes %v: want the checkpoint of its last record %v just before SHARD_END", ops, want)
		}
	})
}

// TestCheckpointBeforeProcessorRetry: a processor that fails after recording a checkpoint that
// is not yet written runs again after that checkpoint, not after the last one written.
func TestCheckpointBeforeProcessorRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCkptEnv(t, 1)
		var mu sync.Mutex
		var runs [][]int // the ids each run was given, in order
		w := e.start(t, "w1", kcl.Config{RetryBase: 100 * time.Millisecond}, kcl.ProcessorFunc(func(ctx context.Context, s *kcl.Shard) error {
			mu.Lock()
			runs = append(runs, nil)
			run := len(runs) - 1
			mu.Unlock()
			for s.Next(ctx) {
				b := s.Batch()
				mu.Lock()
				for _, r := range b.Records {
					id, _ := strconv.Atoi(string(r.Data[len("k0/"):]))
					runs[run] = append(runs[run], id)
				}
				n := len(runs[run])
				mu.Unlock()
				if run == 0 && n > 20 {
					return errors.New("processor failed") // after batches 1 and 2 were recorded
				}
				if err := s.Checkpoint(ctx, b.Last()); err != nil {
					return err
				}
			}
			return s.Err()
		}))
		defer func() { w.cancel(); <-w.done }()
		e.prod.keys = 1
		for range 3 {
			e.prod.put(t, 10)
			time.Sleep(time.Second) // one batch each
		}
		waitFor(t, "the retry", time.Minute, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(runs) == 2 && len(runs[1]) > 0
		})
		mu.Lock()
		defer mu.Unlock()
		if len(runs[0]) != 30 || runs[1][0] != 20 {
			t.Fatalf("first run got %v; the retry started at %d, want 20 (after the recorded checkpoint of record 19)", runs[0], runs[1][0])
		}
	})
}

// TestCheckpointCrashReplaysAtMostOneInterval: after a hard stop, the checkpoint in the lease
// table is at least the position the processor recorded CheckpointInterval earlier, so the
// next owner replays at most one interval of records.
func TestCheckpointCrashReplaysAtMostOneInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCkptEnv(t, 1)
		type rec struct {
			at time.Time
			cp lease.Checkpoint
		}
		var mu sync.Mutex
		var recorded []rec
		w := e.start(t, "w1", kcl.Config{}, kcl.ProcessorFunc(func(ctx context.Context, s *kcl.Shard) error {
			for s.Next(ctx) {
				l := s.Batch().Last()
				if err := s.Checkpoint(ctx, l); err != nil {
					return err
				}
				mu.Lock()
				recorded = append(recorded, rec{time.Now(), lease.Checkpoint{Sequence: l.SequenceNumber, SubSequence: l.SubSequenceNumber}})
				mu.Unlock()
			}
			return s.Err()
		}))
		for range 70 { // 21 s of batches every 300ms
			e.prod.put(t, 10)
			time.Sleep(300 * time.Millisecond)
		}
		crash := time.Now()
		w.cancel()
		<-w.done
		ls, err := e.store.List(context.Background())
		if err != nil || len(ls) != 1 {
			t.Fatalf("leases %v, %v", ls, err)
		}
		durable := ls[0].Checkpoint
		mu.Lock()
		defer mu.Unlock()
		var bound lease.Checkpoint
		replay := 0
		for _, r := range recorded {
			if !r.at.After(crash.Add(-kcl.DefaultCheckpointInterval)) {
				bound = r.cp
			}
			if r.cp.Compare(durable) > 0 {
				replay++
			}
		}
		if bound.Sequence == "" || durable.Compare(bound) < 0 {
			t.Fatalf("durable checkpoint %v is before %v, recorded %v before the crash", durable, bound, kcl.DefaultCheckpointInterval)
		}
		t.Logf("batches recorded but not written at the crash: %d (at most one interval: about %d)", replay, int(kcl.DefaultCheckpointInterval/(300*time.Millisecond)))
	})
}

// TestCheckpointChecksAtOnceAndFlush: Checkpoint refuses a position beyond the last delivered
// record or before one already recorded at once, without waiting for a write; Flush makes the
// recorded position durable before it returns; a lost shard refuses checkpoints at once.
func TestCheckpointChecksAtOnceAndFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCkptEnv(t, 1)
		errc := make(chan error, 1)
		w := e.start(t, "w1", kcl.Config{}, kcl.ProcessorFunc(func(ctx context.Context, s *kcl.Shard) error {
			check := func() error {
				if !s.Next(ctx) {
					return fmt.Errorf("no batch: %v", s.Err())
				}
				b := s.Batch()
				if len(b.Records) < 2 {
					return fmt.Errorf("batch of %d records, want 2+", len(b.Records))
				}
				beyond := b.Last()
				beyond.SequenceNumber += "0"
				if err := s.Checkpoint(ctx, beyond); !errors.Is(err, kcl.ErrCheckpointAhead) {
					return fmt.Errorf("checkpoint beyond: %v", err)
				}
				if err := s.Checkpoint(ctx, b.Last()); err != nil {
					return err
				}
				if err := s.Checkpoint(ctx, b.Records[0]); !errors.Is(err, lease.ErrBackwards) {
					return fmt.Errorf("checkpoint backwards: %v", err)
				}
				if err := s.Flush(ctx); err != nil {
					return err
				}
				l, err := e.store.Get(ctx, s.ID())
				if err != nil || l.Checkpoint.Sequence != b.Last().SequenceNumber {
					return fmt.Errorf("after Flush the table has %v (%v), want %s", l.Checkpoint, err, b.Last().SequenceNumber)
				}
				if n := len(e.store.writes(s.ID())); n != 1 {
					return fmt.Errorf("%d checkpoint writes, want 1", n)
				}
				if err := s.Flush(ctx); err != nil || len(e.store.writes(s.ID())) != 1 {
					return fmt.Errorf("a Flush with nothing new: %v, %d writes", err, len(e.store.writes(s.ID())))
				}
				return nil
			}
			errc <- check()
			<-ctx.Done()
			if err := s.Checkpoint(context.Background(), s.Batch().Last()); err == nil {
				return errors.New("a checkpoint after a hard stop succeeded")
			}
			return s.Err()
		}))
		e.prod.put(t, 5)
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		w.cancel()
		<-w.done
	})
}

// TestCheckpointWrites measures, in one run, the lease-table writes per 1,000 records of the
// default policy and of a write per batch (CheckpointWriteThrough, the Java KCL's habit): 4
// shards, 100 records every 100 ms for a minute, BatchProcessor.
func TestCheckpointWrites(t *testing.T) {
	run := func(interval time.Duration) (writes, records int) {
		synctest.Test(t, func(t *testing.T) {
			e := newCkptEnv(t, 4)
			led := newLedger()
			w := e.start(t, "w1", kcl.Config{CheckpointInterval: interval},
				kcl.BatchProcessor(func(ctx context.Context, b kcl.Batch) error { return led.add("w1", b) }))
			for range 600 {
				e.prod.put(t, 100)
				time.Sleep(100 * time.Millisecond)
			}
			waitFor(t, "every record", time.Minute, func() bool { return led.count() == e.prod.next })
			if err := w.c.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			<-w.done
			writes, records = len(e.store.writes("")), e.prod.next
		})
		return writes, records
	}
	perBatch, n1 := run(kcl.CheckpointWriteThrough)
	coalesced, n2 := run(0)
	t.Logf("write per batch:  %d checkpoint writes for %d records = %.1f per 1,000", perBatch, n1, 1000*float64(perBatch)/float64(n1))
	t.Logf("default (5s):     %d checkpoint writes for %d records = %.2f per 1,000", coalesced, n2, 1000*float64(coalesced)/float64(n2))
	// 60 s on 4 shards at one write per 5 s, plus the shutdown's: at most 4*(60/5+1)+4.
	if coalesced > 4*13+4 {
		t.Errorf("default policy wrote %d checkpoints in a minute on 4 shards, want at most %d", coalesced, 4*13+4)
	}
	if perBatch < 4*coalesced {
		t.Errorf("write per batch %d vs default %d: the comparison shows no coalescing", perBatch, coalesced)
	}
}
