package kpl

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shoal-go/shoal/aggregate"
	"github.com/shoal-go/shoal/kinesislocal"
)

// TestReshard splits the only shard while records flow. Aggregates built
// for the parent land on a child; the producer refreshes its map and re-puts
// the sub-records outside that child's range. A consumer filtering
// sub-records by its shard's hash range (as the Java KCL does) then reads
// every record exactly once, each on the shard its key hashes to.
func TestReshard(t *testing.T) {
	c := newLocal(t, kinesislocal.Options{}, 1)
	ctx := context.Background()
	var mu sync.Mutex
	var maps []int
	p, err := New(Config{Client: c, StreamName: "s", Linger: 5 * time.Millisecond,
		Hooks: Hooks{ShardMapUpdated: func(n int, _ bool) { mu.Lock(); maps = append(maps, n); mu.Unlock() }}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 4000
	errs := make(chan error, n)
	put := func(i int) {
		if err := p.Put(ctx, Record{PartitionKey: key(i % 500), Data: fmt.Appendf(nil, "%d", i)}, func(_ Result, err error) {
			if err != nil {
				errs <- err
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n / 2 {
		put(i)
	}
	p.Flush(ctx)
	// Split while the producer still predicts the parent.
	half := "170141183460469231731687303715884105728"
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String("shardId-000000000000"),
		NewStartingHashKey: aws.String(half)}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, c, "s")
	for i := n / 2; i < n; i++ {
		put(i)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Fatalf("record failed: %v", err)
	}
	// Read like a hash-range-filtering consumer.
	ls, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, sh := range ls.Shards {
		rng, _ := aggregate.ParseHashRange(*sh.HashKeyRange.StartingHashKey, *sh.HashKeyRange.EndingHashKey)
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for iter := it.ShardIterator; iter != nil; {
			gr, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range gr.Records {
				urs, _ := aggregate.Deaggregate(nil, *r.PartitionKey, r.Data, &rng)
				for _, u := range urs {
					if !rng.Contains(aggregate.HashKey(u.PartitionKey)) {
						t.Fatalf("key %s on %s outside %v", u.PartitionKey, *sh.ShardId, rng)
					}
					seen[string(u.Data)]++
				}
			}
			iter = gr.NextShardIterator
			if len(gr.Records) == 0 && (gr.MillisBehindLatest == nil || *gr.MillisBehindLatest == 0) && gr.NextShardIterator != nil {
				break // open shard caught up
			}
		}
	}
	for i := range n {
		if c := seen[fmt.Sprint(i)]; c != 1 {
			t.Fatalf("record %d read %d times", i, c)
		}
	}
	st := p.Stats()
	t.Logf("stats %+v, shard maps %v", st, maps)
	if len(maps) < 2 || maps[len(maps)-1] != 2 {
		t.Errorf("shard map not refreshed after the split: %v", maps)
	}
}
