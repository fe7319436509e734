package kcl

import (
	"fmt"
	"slices"
	"testing"

	"github.com/shoal-go/shoal/lease"
)

// sh builds a shardInfo: id "s<N>", closed if c, with parents.
func sh(n int, closed bool, parents ...int) shardInfo {
	s := shardInfo{id: fmt.Sprintf("s%02d", n), closed: closed}
	for _, p := range parents {
		s.parents = append(s.parents, fmt.Sprintf("s%02d", p))
	}
	return s
}

// TestPlanLeasesEveryShardOnce checks, over random lineages, that trim-horizon plans on an empty
// table cover every shard exactly once and always list parents before children.
func TestPlanLeasesEveryShardOnce(t *testing.T) {
	for seed := range 200 {
		shards := randomLineage(seed)
		plan := planLeases(shards, map[string]lease.Checkpoint{}, TrimHorizon)
		if len(plan) != len(shards) {
			t.Fatalf("seed %d: %d leases for %d shards", seed, len(plan), len(shards))
		}
		pos := map[string]int{}
		for i, l := range plan {
			if _, dup := pos[l.shard.id]; dup {
				t.Fatalf("seed %d: %s planned twice", seed, l.shard.id)
			}
			pos[l.shard.id] = i
		}
		for _, l := range plan {
			for _, p := range l.shard.parents {
				if pos[p] > pos[l.shard.id] {
					t.Fatalf("seed %d: parent %s after child %s", seed, p, l.shard.id)
				}
			}
		}
	}
}

// randomLineage simulates splits and merges of adjacent open shards, deterministically from seed.
func randomLineage(seed int) []shardInfo {
	r := uint64(seed)*6364136223846793005 + 1442695040888963407
	next := func(n int) int { r = r*6364136223846793005 + 1442695040888963407; return int((r >> 33) % uint64(n)) }
	var all []shardInfo
	open := []int{}
	for i := range 1 + next(4) {
		all = append(all, sh(i, false))
		open = append(open, i)
	}
	for range next(8) {
		id := len(all)
		if len(open) >= 2 && next(2) == 0 {
			i := next(len(open) - 1)
			a, b := open[i], open[i+1]
			all[a].closed, all[b].closed = true, true
			all = append(all, sh(id, false, a, b))
			open = slices.Replace(open, i, i+2, id)
		} else {
			i := next(len(open))
			p := open[i]
			all[p].closed = true
			all = append(all, sh(id, false, p), sh(id+1, false, p))
			open = slices.Replace(open, i, i+1, id, id+1)
		}
	}
	slices.Reverse(all)
	return all
}
