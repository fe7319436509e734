package kpl

import (
	"math/rand/v2"
	"testing"

	"github.com/shoal-go/shoal/aggregate"
)

// TestShardMapLookupMatchesScan checks the binary search against a linear
// scan over maps of 1 to 9 shards, at every shard boundary and at random
// hash keys.
func TestShardMapLookupMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 9; n++ {
		m := &shardMap{}
		step := ^uint64(0) / uint64(n)
		for i := range n {
			r := aggregate.HashRange{Start: aggregate.Hash128{Hi: uint64(i) * step}, End: aggregate.Hash128{Hi: uint64(i+1)*step - 1, Lo: ^uint64(0)}}
			if i == n-1 {
				r.End = aggregate.MaxHash128
			}
			m.shards = append(m.shards, shardInfo{id: string(rune('a' + i)), rng: r})
		}
		var keys []aggregate.Hash128
		for _, s := range m.shards {
			keys = append(keys, s.rng.Start, s.rng.End)
		}
		for range 200 {
			keys = append(keys, aggregate.Hash128{Hi: rng.Uint64(), Lo: rng.Uint64()})
		}
		for _, h := range keys {
			want := -1
			for i, s := range m.shards {
				if s.rng.Contains(h) {
					want = i
				}
			}
			if got := m.lookup(h); got != want {
				t.Fatalf("%d shards: lookup(%v) = %d, want %d", n, h, got, want)
			}
		}
	}
}
