package kpl

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shoal-go/shoal/kinesislocal"
)

// orderRun puts 20 keys x 150 records while a third of the entries fail, and
// returns how many times a record was stored before an earlier record of its
// key.
func orderRun(t *testing.T, ordered, agg bool) int {
	c := newLocal(t, kinesislocal.Options{}, 4)
	var mu sync.Mutex
	rnd := rand.New(rand.NewPCG(3, 4))
	f := &flaky{Client: c, failEntry: func(_, _ int, _ types.PutRecordsRequestEntry) string {
		mu.Lock()
		defer mu.Unlock()
		if rnd.IntN(3) == 0 {
			return "InternalFailure"
		}
		return ""
	}}
	p, err := New(Config{Client: f, StreamName: "s", Ordered: ordered, DisableAggregation: !agg, AggregationMaxSize: 300,
		Linger: 2 * time.Millisecond, RetryBackoff: time.Millisecond, MaxRetryBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const keys, per = 20, 150
	for i := range keys * per {
		r := Record{PartitionKey: key(i % keys), Data: fmt.Appendf(nil, "%d", i/keys)}
		if err := p.Put(ctx, r, func(_ Result, err error) {
			if err != nil {
				t.Errorf("record failed: %v", err)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	last := map[string]int{}
	inversions, n := 0, 0
	for _, s := range readBack(t, c, "s") { // each shard in sequence order
		var i int
		fmt.Sscan(string(s.Data), &i)
		if prev, ok := last[s.PartitionKey]; ok && i < prev {
			inversions++
		}
		last[s.PartitionKey] = i
		n++
	}
	if n != keys*per {
		t.Fatalf("read %d records, want %d", n, keys*per)
	}
	return inversions
}

func TestOrderedThroughRetries(t *testing.T) {
	for _, agg := range []bool{true, false} {
		t.Run(fmt.Sprint("aggregation=", agg), func(t *testing.T) {
			if inv := orderRun(t, true, agg); inv != 0 {
				t.Fatalf("Ordered: %d records stored before an earlier record of their key", inv)
			}
			// The same run unordered shows the test can see reordering.
			t.Logf("unordered: %d inversions", orderRun(t, false, agg))
		})
	}
}
