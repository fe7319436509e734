package kcl

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// sh builds a shardInfo: id "s<N>", closed if c, with parents.
func sh(n int, closed bool, parents ...int) shardInfo {
	s := shardInfo{id: fmt.Sprintf("s%02d", n), closed: closed}
	for _, p := range parents {
		s.parents = append(s.parents, fmt.Sprintf("s%02d", p))
	}
	return s
}

func set(ids ...int) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[fmt.Sprintf("s%02d", id)] = true
	}
	return m
}

// render writes a plan as "s00=TRIM_HORIZON s02=TRIM_HORIZON(s00)".
func render(plan []newLease) string {
	var parts []string
	for _, l := range plan {
		p := l.shard.id + "=" + l.checkpoint
		if len(l.shard.parents) > 0 {
			p += "(" + strings.Join(l.shard.parents, ",") + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func TestPlanLeases(t *testing.T) {
	// Lineage used below: s00 and s01 were the first shards; s00 split into s02, s03;
	// s03 and s01 merged into s04.
	lineage := []shardInfo{sh(4, false, 3, 1), sh(0, true), sh(1, true), sh(2, false, 0), sh(3, true, 0)}
	tests := []struct {
		name   string
		shards []shardInfo
		leased map[string]bool
		pos    InitialPosition
		want   string
	}{
		{"empty table, trim horizon: every shard, parents first",
			lineage, set(), TrimHorizon,
			"s00=TRIM_HORIZON s01=TRIM_HORIZON s02=TRIM_HORIZON(s00) s03=TRIM_HORIZON(s00) s04=TRIM_HORIZON(s03,s01)"},
		{"empty table, latest: open shards only",
			lineage, set(), Latest, "s02=LATEST(s00) s04=LATEST(s03,s01)"},
		{"empty table, at timestamp: children at the timestamp too",
			lineage, set(), AtTimestamp(time.Unix(1, 0)),
			"s00=AT_TIMESTAMP s01=AT_TIMESTAMP s02=AT_TIMESTAMP(s00) s03=AT_TIMESTAMP(s00) s04=AT_TIMESTAMP(s03,s01)"},
		{"everything leased: nothing to do", lineage, set(0, 1, 2, 3, 4), TrimHorizon, ""},
		{"split of a leased shard: children at trim horizon even for latest",
			[]shardInfo{sh(0, true), sh(1, false), sh(2, false, 0), sh(3, false, 0)}, set(0, 1), Latest,
			"s02=TRIM_HORIZON(s00) s03=TRIM_HORIZON(s00)"},
		{"finished parents cleaned up: not recreated",
			lineage, set(2, 4), TrimHorizon, ""},
		{"merge child of one leased parent and one cleaned-up parent",
			lineage, set(1, 2, 3), TrimHorizon, "s04=TRIM_HORIZON(s03,s01)"},
		{"partial: one child leased, its sibling not",
			[]shardInfo{sh(0, true), sh(1, false, 0), sh(2, false, 0)}, set(1), Latest,
			"s02=TRIM_HORIZON(s00)"},
		{"parents expired from retention: child is a root",
			[]shardInfo{sh(5, false, 0)}, set(), Latest, "s05=LATEST(s00)"},
		{"new stream shard with no lineage in a non-empty table",
			[]shardInfo{sh(0, false), sh(1, false)}, set(0), TrimHorizon, "s01=TRIM_HORIZON"},
		{"cycle in a malformed lineage does not hang",
			[]shardInfo{sh(0, false, 1), sh(1, false, 0)}, set(), TrimHorizon, "s01=TRIM_HORIZON(s00) s00=TRIM_HORIZON(s01)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(planLeases(tt.shards, tt.leased, tt.pos))
			if got != tt.want {
				t.Fatalf("plan\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestPlanLeasesEveryShardOnce checks, over random lineages, that trim-horizon plans on an empty
// table cover every shard exactly once and always list parents before children.
func TestPlanLeasesEveryShardOnce(t *testing.T) {
	for seed := range 200 {
		shards := randomLineage(seed)
		plan := planLeases(shards, set(), TrimHorizon)
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
