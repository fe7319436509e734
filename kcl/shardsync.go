package kcl

import (
	"slices"
	"time"

	"github.com/shoal-go/shoal/lease"
)

// InitialPosition is where a consumer starts reading a shard that has no checkpoint yet. Child
// shards created by resharding always start at TRIM_HORIZON (or at the timestamp, for
// AtTimestamp), so nothing written to them is skipped.
type InitialPosition struct {
	sentinel string
	ts       time.Time
}

var (
	// Latest starts after the newest record: only records written from now on.
	Latest = InitialPosition{sentinel: lease.Latest}
	// TrimHorizon starts at the oldest record kept by the stream.
	TrimHorizon = InitialPosition{sentinel: lease.TrimHorizon}
)

// AtTimestamp starts at the first record that arrived at or after t.
func AtTimestamp(t time.Time) InitialPosition {
	return InitialPosition{sentinel: lease.AtTimestamp, ts: t}
}

// String returns the Java KCL's name of the position.
func (p InitialPosition) String() string {
	if p.sentinel == "" {
		return lease.Latest
	}
	return p.sentinel
}

// shardInfo is what shard sync needs to know about one shard.
type shardInfo struct {
	id                 string
	parents            []string // ParentShardId, AdjacentParentShardId (non-empty ones)
	startHash, endHash string
	closed             bool // EndingSequenceNumber set
}

// newLease is a lease shard sync decided to create.
type newLease struct {
	shard      shardInfo
	checkpoint string // a sentinel
}

// planLeases decides which leases to create so that every shard is read exactly once, parents
// before children. leased holds the checkpoint of every shard that has a lease (finished or
// not); shards is the stream's shard list (every shard within retention, in any order). The
// result is in creation order: every parent before its children. The caller must not create a
// lease whose parent's creation failed (see syncOnce).
//
// Rules, for each shard without a lease, parents first:
//   - a shard with a started descendant (a lease checkpointed past its starting sentinel) was
//     consumed already: its lease finished and was cleaned up. A descendant that has not
//     started proves nothing (it may have been created while the parent's create failed), so
//     such a shard is created, and its descendants wait for it;
//   - a shard with a "consumed" parent (leased, planned now, or skipped as above) is a child of
//     resharding: create it at TRIM_HORIZON (AT_TIMESTAMP for AtTimestamp), parents recorded, so
//     it starts only after its parents end;
//   - any other shard is a root for this consumer: create it at the initial position, except
//     that Latest never reads closed shards.
func planLeases(shards []shardInfo, leased map[string]lease.Checkpoint, pos InitialPosition) []newLease {
	byID := make(map[string]shardInfo, len(shards))
	children := make(map[string][]string, len(shards))
	for _, s := range shards {
		byID[s.id] = s
		for _, p := range s.parents {
			children[p] = append(children[p], s.id)
		}
	}
	// startedBelow: has a descendant whose lease has started, memoized.
	memo := make(map[string]bool, len(shards))
	var startedBelow func(id string, depth int) bool
	startedBelow = func(id string, depth int) bool {
		if v, ok := memo[id]; ok {
			return v
		}
		found := false
		if depth < len(shards)+1 { // guards against a malformed lineage with a cycle
			for _, c := range children[id] {
				if cp, ok := leased[c]; (ok && started(cp)) || startedBelow(c, depth+1) {
					found = true
					break
				}
			}
		}
		memo[id] = found
		return found
	}
	childCheckpoint := lease.TrimHorizon
	if pos.sentinel == lease.AtTimestamp {
		childCheckpoint = lease.AtTimestamp
	}

	planned := make(map[string]bool)
	has := func(id string) bool { _, ok := leased[id]; return ok }
	consumed := func(id string) bool { return has(id) || planned[id] || startedBelow(id, 0) }
	var out []newLease
	for _, s := range topoOrder(shards, byID) {
		if has(s.id) || startedBelow(s.id, 0) {
			continue
		}
		childOfConsumed := false
		for _, p := range s.parents {
			if _, known := byID[p]; known && consumed(p) {
				childOfConsumed = true
			}
		}
		switch {
		case childOfConsumed:
			out = append(out, newLease{shard: s, checkpoint: childCheckpoint})
		case pos.String() == lease.Latest && s.closed:
			continue
		default:
			out = append(out, newLease{shard: s, checkpoint: pos.String()})
		}
		planned[s.id] = true
	}
	return out
}

// started reports whether a lease's checkpoint is past its starting sentinel: its shard was
// (partly) read, so every parent was finished when it started.
func started(cp lease.Checkpoint) bool {
	switch cp.Sequence {
	case lease.TrimHorizon, lease.Latest, lease.AtTimestamp, "":
		return false
	}
	return true
}

// topoOrder returns shards with every parent before its children (ties by shard id).
func topoOrder(shards []shardInfo, byID map[string]shardInfo) []shardInfo {
	sorted := slices.Clone(shards)
	slices.SortFunc(sorted, func(a, b shardInfo) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	state := make(map[string]int, len(shards)) // 1 visiting, 2 done
	out := make([]shardInfo, 0, len(shards))
	var visit func(s shardInfo)
	visit = func(s shardInfo) {
		if state[s.id] != 0 { // done, or a cycle in a malformed lineage
			return
		}
		state[s.id] = 1
		for _, p := range s.parents {
			if ps, ok := byID[p]; ok {
				visit(ps)
			}
		}
		state[s.id] = 2
		out = append(out, s)
	}
	for _, s := range sorted {
		visit(s)
	}
	return out
}
