package kcl_test

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
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
	"github.com/shoal-go/shoal/lease/leasetest"
	"github.com/shoal-go/shoal/lease/memlease"
)

// watchedStore records every successful checkpoint and fails the test if one moves a shard's
// checkpoint backwards.
type watchedStore struct {
	lease.Store
	t    *testing.T
	mu   sync.Mutex
	last map[string]lease.Checkpoint
}

func (w *watchedStore) Checkpoint(ctx context.Context, key string, from lease.Expect, cp lease.Checkpoint) (lease.Lease, error) {
	l, err := w.Store.Checkpoint(ctx, key, from, cp)
	if err == nil {
		w.mu.Lock()
		if prev, ok := w.last[key]; ok && cp.Compare(prev) < 0 {
			w.t.Errorf("checkpoint of %s moved backwards: %v after %v", key, cp, prev)
		}
		w.last[key] = cp
		w.mu.Unlock()
	}
	return l, err
}

// chaosWorker is a worker whose store calls and processor can be paused.
type chaosWorker struct {
	id     string
	faulty *leasetest.Faulty
	gate   chan struct{} // closed = running; replaced by an open channel while paused
	gateMu sync.Mutex
	w      *worker
}

func (cw *chaosWorker) waitGate(ctx context.Context) {
	cw.gateMu.Lock()
	g := cw.gate
	cw.gateMu.Unlock()
	select {
	case <-g:
	case <-ctx.Done():
	}
}

// TestChaos runs a fleet under random kills, pauses longer than the lease duration, reshards and
// injected GetRecords throttling while a producer writes, then checks: every record processed,
// checkpoints never backwards, per-key order kept except for replays.
func TestChaos(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { chaos(t, seed) })
	}
}

func chaos(t *testing.T, seed uint64) {
	synctest.Test(t, func(t *testing.T) {
		rnd := rand.New(rand.NewPCG(seed, 7))
		srv, err := kinesislocal.New(kinesislocal.Options{Faults: []kinesislocal.Fault{
			{Operation: "GetRecords", ErrorCode: "ProvisionedThroughputExceededException", Probability: 0.05},
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		kc := kinesis.NewFromConfig(srv.AWSConfig())
		ctx := context.Background()
		stream := "chaos"
		if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(4)}); err != nil {
			t.Fatal(err)
		}
		shared := &watchedStore{Store: memlease.New(), t: t, last: map[string]lease.Checkpoint{}}
		led := newLedger()
		prod := &producer{kc: kc, stream: stream, keys: 30}

		start := func(id string) *chaosWorker {
			cw := &chaosWorker{id: id, faulty: leasetest.NewFaulty(shared), gate: make(chan struct{})}
			close(cw.gate)
			c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: cw.faulty, WorkerID: id,
				InitialPosition: kcl.TrimHorizon, Retrieval: kcl.Polling{Interval: 100 * time.Millisecond},
				ShardSyncInterval: 2 * time.Second},
				kcl.BatchProcessor(func(ctx context.Context, b kcl.Batch) error {
					cw.waitGate(ctx)
					return led.add(id, b)
				}))
			if err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			cw.w = &worker{c: c, cancel: cancel, done: make(chan error, 1)}
			go func() { cw.w.done <- c.Run(rctx) }()
			return cw
		}
		var workers []*chaosWorker
		for i := range 4 {
			workers = append(workers, start(fmt.Sprintf("w%d", i)))
		}
		next := 4
		kills, pauses, reshards := 0, 0, 0
		var pausers sync.WaitGroup
		defer pausers.Wait()
		for step := range 30 {
			prod.put(t, 100)
			time.Sleep(time.Second)
			if step%3 != 2 {
				continue
			}
			switch rnd.IntN(3) {
			case 0: // kill one, start a replacement
				i := rnd.IntN(len(workers))
				workers[i].w.cancel()
				<-workers[i].w.done
				workers[i] = start(fmt.Sprintf("w%d", next))
				next++
				kills++
			case 1: // pause one for longer than the lease duration
				cw := workers[rnd.IntN(len(workers))]
				block := make(chan struct{})
				cw.gateMu.Lock()
				cw.gate = block
				cw.gateMu.Unlock()
				cw.faulty.Set(leasetest.Rule{Block: block})
				pause := time.Duration(4+rnd.IntN(4)) * time.Second
				pausers.Go(func() {
					time.Sleep(pause)
					cw.faulty.Set()
					close(block)
				})
				pauses++
			case 2: // split the first open shard
				ls, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream,
					ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
				if err != nil || len(ls.Shards) == 0 {
					continue
				}
				s := ls.Shards[rnd.IntN(len(ls.Shards))]
				a := mustBig(t, aws.ToString(s.HashKeyRange.StartingHashKey))
				b := mustBig(t, aws.ToString(s.HashKeyRange.EndingHashKey))
				mid := new(big.Int).Add(a, b)
				mid.Rsh(mid, 1)
				if _, err := kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: &stream, ShardToSplit: s.ShardId,
					NewStartingHashKey: aws.String(mid.String())}); err == nil {
					reshards++
				}
			}
		}
		total := prod.next
		waitFor(t, fmt.Sprintf("all %d records", total), 3*time.Minute, func() bool { return led.count() == total })

		led.mu.Lock()
		dups := 0
		for id := range total {
			if led.seen[id] == 0 {
				t.Errorf("record %d never processed", id)
			}
			dups += max(0, led.seen[id]-1)
		}
		for key, ids := range led.byKey {
			maxSeen := -1
			for _, id := range ids {
				if id < maxSeen && led.seen[id] < 2 {
					t.Errorf("key %s: id %d delivered after %d and not as a replay", key, id, maxSeen)
				}
				maxSeen = max(maxSeen, id)
			}
		}
		led.mu.Unlock()
		t.Logf("seed %d: %d records, %d kills, %d pauses, %d splits, %d duplicates", seed, total, kills, pauses, reshards, dups)
		if kills+pauses+reshards == 0 {
			t.Fatal("no chaos happened")
		}
		for _, cw := range workers {
			cw.w.cancel()
			<-cw.w.done
		}
	})
}
