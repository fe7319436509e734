package leasetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/shoal-go/shoal/lease"
)

// Corruption names a kind of item a Store cannot read as a lease.
type Corruption int

const (
	// Unrelated: an item that is not a lease at all (only leaseKey and unknown attributes).
	Unrelated Corruption = iota
	// GarbageCheckpoint: leaseCounter 3, leaseOwner "w1", checkpoint "banana".
	GarbageCheckpoint
)

// Expected returns the lease.InvalidItem every Store must report for an item of kind c at key.
func (c Corruption) Expected(key string) lease.InvalidItem {
	if c == Unrelated {
		return lease.InvalidItem{Key: key, Attribute: "leaseCounter", Problem: "missing"}
	}
	return lease.InvalidItem{Key: key, Attribute: "checkpoint",
		Problem: `want digits or TRIM_HORIZON/LATEST/AT_TIMESTAMP/SHARD_END, got "banana"`}
}

// RunInvalid checks how a store treats items it cannot read as leases: Scan reports each with
// its key, attribute and problem (Corruption.Expected); List skips them and still returns every
// valid lease; Get returns an error wrapping lease.ErrInvalidItem; Create returns ErrExists;
// Delete and conditional writes fail; and the item is still there, unchanged, afterwards.
// corrupt writes an item of the given kind with the given key into s, bypassing the Store.
func RunInvalid(t *testing.T, newStore func(t *testing.T) lease.Store, corrupt func(t *testing.T, s lease.Store, key string, c Corruption)) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newStore(t)
	create(t, ctx, s, "shardId-000000000000", "", 0)
	create(t, ctx, s, "shardId-000000000001", "w1", 4)
	corrupt(t, s, "unrelated-junk", Unrelated)
	corrupt(t, s, "shardId-000000000099", GarbageCheckpoint)
	want := []lease.InvalidItem{Unrelated.Expected("unrelated-junk"), GarbageCheckpoint.Expected("shardId-000000000099")}
	sortInv := func(v []lease.InvalidItem) {
		slices.SortFunc(v, func(a, b lease.InvalidItem) int {
			if a.Key < b.Key {
				return -1
			}
			if a.Key > b.Key {
				return 1
			}
			return 0
		})
	}
	sortInv(want)
	check := func(when string) {
		t.Helper()
		ls, bad, err := s.Scan(ctx)
		must(t, err, "scan "+when)
		sortInv(bad)
		if !slices.Equal(bad, want) {
			t.Errorf("scan %s: invalid items %+v, want %+v", when, bad, want)
		}
		if len(ls) != 2 {
			t.Errorf("scan %s: %d valid leases, want 2: %+v", when, len(ls), ls)
		}
		ls, err = s.List(ctx)
		must(t, err, "list "+when)
		if len(ls) != 2 {
			t.Errorf("list %s: %d leases, want the 2 valid ones: %+v", when, len(ls), ls)
		}
	}
	check("after corruption")
	for _, w := range want {
		_, err := s.Get(ctx, w.Key)
		var inv lease.InvalidItem
		if !errors.Is(err, lease.ErrInvalidItem) || !errors.As(err, &inv) || inv != w {
			t.Errorf("get %s: %v; want the InvalidItem %+v", w.Key, err, w)
		}
		mustErr(t, s.Create(ctx, lease.Lease{Key: w.Key, Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}}), lease.ErrExists, "create over "+w.Key)
		if err := s.Delete(ctx, w.Key); err == nil {
			t.Errorf("delete %s succeeded", w.Key)
		}
	}
	// The unrelated item has no counter, so no conditional write can match it.
	k := "unrelated-junk"
	for _, e := range []lease.Expect{{Owner: "", Counter: 0}, {Owner: "w1", Counter: 0}} {
		_, err := s.Take(ctx, k, e, "w2")
		mustErr(t, err, lease.ErrConflict, "take "+k)
		_, err = s.Checkpoint(ctx, k, e, lease.Checkpoint{Sequence: "5"})
		if e.Owner != "" {
			mustErr(t, err, lease.ErrConflict, "checkpoint "+k)
		}
		_, err = s.Release(ctx, k, e)
		if e.Owner != "" {
			mustErr(t, err, lease.ErrConflict, "release "+k)
		}
		_, err = s.CompleteHandoff(ctx, k, e)
		if e.Owner != "" {
			mustErr(t, err, lease.ErrConflict, "complete handoff "+k)
		}
	}
	check("after refused writes")
}
