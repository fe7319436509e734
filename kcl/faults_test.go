package kcl_test

import (
	"context"
	"math/big"
	"strconv"
	"strings"
	"sync"
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
