package kcl_test

import (
	"context"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/lease/leasetest"
	"github.com/shoal-go/shoal/lease/memlease"
)

// split splits the stream's only open shard in two and returns the parent's id.
func split(t *testing.T, kc *kinesis.Client, stream string) string {
	t.Helper()
	ls, err := kc.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		t.Fatal(err)
	}
	s0 := ls.Shards[0]
	start, _ := new(big.Int).SetString(aws.ToString(s0.HashKeyRange.StartingHashKey), 10)
	end, _ := new(big.Int).SetString(aws.ToString(s0.HashKeyRange.EndingHashKey), 10)
	mid := new(big.Int).Rsh(new(big.Int).Add(start, end), 1)
	if _, err := kc.SplitShard(context.Background(), &kinesis.SplitShardInput{StreamName: &stream,
		ShardToSplit: s0.ShardId, NewStartingHashKey: aws.String(mid.String())}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the split completes
	return aws.ToString(s0.ShardId)
}

// TestParentCreateFailureSkipsNothing: the parent of a split has records; its lease's first
// Create is throttled. Every record is delivered, and the parent's before its children's.
// (Defect 1: failed before the fix: the children were created, started, and the parent's 100
// records were never delivered.)
func TestParentCreateFailureSkipsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kc, stream := newStream(t, 1, 100)
		parent := split(t, kc, stream)
		putN(t, kc, stream, 100, 100)

		store := leasetest.NewFaulty(memlease.New())
		var once sync.Once
		store.Set(leasetest.Rule{Op: "Create", Err: leasetest.ErrThrottle, Match: func(key string) bool {
			hit := false
			if key == parent {
				once.Do(func() { hit = true })
			}
			return hit
		}})
		var mu sync.Mutex
		var got []int
		c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: store, WorkerID: "w",
			InitialPosition: kcl.TrimHorizon, ShardSyncInterval: 2 * time.Second},
			kcl.BatchProcessor(func(_ context.Context, b kcl.Batch) error {
				mu.Lock()
				defer mu.Unlock()
				for _, r := range b.Records {
					n, _ := strconv.Atoi(string(r.Data))
					got = append(got, n)
				}
				return nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		time.Sleep(time.Minute)
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		seen := map[int]int{}
		for i, n := range got {
			seen[n]++
			if i > 0 && n < got[i-1] && seen[n] == 1 {
				t.Errorf("record %d delivered after %d: out of order", n, got[i-1])
			}
		}
		var missing []string
		for n := range 200 {
			if seen[n] == 0 {
				missing = append(missing, strconv.Itoa(n))
			}
		}
		if len(missing) > 0 {
			t.Fatalf("%d records never delivered: %s", len(missing), strings.Join(missing, " "))
		}
	})
}

// collector records the ids of delivered records.
type collector struct {
	mu   sync.Mutex
	seen map[int]int
}

func (c *collector) add(b kcl.Batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[int]int{}
	}
	for _, r := range b.Records {
		n, _ := strconv.Atoi(string(r.Data))
		c.seen[n]++
	}
}

// missing returns the ids in [from, to) never delivered.
func (c *collector) missing(from, to int) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for n := from; n < to; n++ {
		if c.seen[n] == 0 {
			out = append(out, n)
		}
	}
	return out
}

// TestRetryAtLatestSkipsNothing: at LATEST, the processor fails on its first batch (nothing
// checkpointed) and more records arrive during the backoff; the retry delivers all of them.
// (Defect 2: failed before: the retry opened a new LATEST iterator and skipped records 0-19.)
func TestRetryAtLatestSkipsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kc, stream := newStream(t, 1, 0)
		var col collector
		var failed atomic.Bool
		c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: memlease.New(), WorkerID: "w",
			InitialPosition: kcl.Latest, RetryBase: 2 * time.Second, RetryMax: 2 * time.Second},
			kcl.BatchProcessor(func(_ context.Context, b kcl.Batch) error {
				if failed.CompareAndSwap(false, true) {
					return errors.New("first batch fails")
				}
				col.add(b)
				return nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		waitFor(t, "the lease held", time.Minute, func() bool { return c.Stats().Leases.Held == 1 })
		time.Sleep(2 * time.Second) // the LATEST iterator is open
		putN(t, kc, stream, 0, 10)
		waitFor(t, "the first failure", time.Minute, failed.Load)
		putN(t, kc, stream, 10, 10) // during the backoff
		time.Sleep(10 * time.Second)
		putN(t, kc, stream, 20, 10)
		time.Sleep(10 * time.Second)
		cancel()
		<-done
		if m := col.missing(0, 30); len(m) > 0 {
			t.Fatalf("records never delivered: %v", m)
		}
	})
}

// TestLatestHandoffSkipsNothing: at LATEST, w1 holds the lease and never checkpoints; it dies
// (hard stop) and w2 takes the lease over after the lease duration. Records written before the
// first record was delivered, while w1 held the lease, and while nobody did, all reach w2.
// (Defect 3: failed before: w2 opened a new LATEST iterator and skipped what w1 had not
// checkpointed and what arrived before w2 took over.)
func TestLatestHandoffSkipsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kc, stream := newStream(t, 1, 0)
		store := memlease.New()
		start := func(id string, col *collector) (*kcl.Consumer, context.CancelFunc, chan error) {
			c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: store, WorkerID: id,
				InitialPosition: kcl.Latest},
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
			return c, cancel, done
		}
		var col1, col2 collector
		c1, stop1, done1 := start("w1", &col1)
		waitFor(t, "w1 holds the lease", time.Minute, func() bool { return c1.Stats().Leases.Held == 1 })
		time.Sleep(2 * time.Second) // w1's LATEST iterator is open
		putN(t, kc, stream, 0, 10)
		waitFor(t, "w1 delivered 0-9", time.Minute, func() bool { return len(col1.missing(0, 10)) == 0 })
		stop1()
		<-done1
		putN(t, kc, stream, 10, 10) // nobody holds the lease
		c2, stop2, done2 := start("w2", &col2)
		waitFor(t, "w2 holds the lease", time.Minute, func() bool { return c2.Stats().Leases.Held == 1 })
		putN(t, kc, stream, 20, 10)
		time.Sleep(5 * time.Second)
		stop2()
		<-done2
		if m := col2.missing(0, 30); len(m) > 0 {
			t.Fatalf("w2 never got: %v", m)
		}
	})
}

// TestLatestCrashBeforeFirstRecord: w1 opens its LATEST iterator and dies before any record
// arrives; what is written after that reaches w2. (Defect 3's window between opening the
// iterator and the first record.)
func TestLatestCrashBeforeFirstRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kc, stream := newStream(t, 1, 0)
		store := memlease.New()
		var col collector
		mk := func(id string) (*kcl.Consumer, context.CancelFunc, chan error) {
			c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: store, WorkerID: id, InitialPosition: kcl.Latest},
				kcl.BatchProcessor(func(_ context.Context, b kcl.Batch) error { col.add(b); return nil }))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			return c, cancel, done
		}
		c1, stop1, done1 := mk("w1")
		waitFor(t, "w1 holds the lease", time.Minute, func() bool { return c1.Stats().Leases.Held == 1 })
		time.Sleep(2 * time.Second) // w1's iterator is open
		stop1()
		<-done1
		putN(t, kc, stream, 0, 10)
		c2, stop2, done2 := mk("w2")
		waitFor(t, "w2 holds the lease", time.Minute, func() bool { return c2.Stats().Leases.Held == 1 })
		time.Sleep(5 * time.Second)
		stop2()
		<-done2
		if m := col.missing(0, 10); len(m) > 0 {
			t.Fatalf("never delivered: %v", m)
		}
	})
}
