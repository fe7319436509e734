// Package leasetest is the conformance suite every lease.Store passes (like fstest.TestFS), plus
// Faulty, a wrapper that injects errors, delays and blocking into selected store calls.
//
// A store's test runs the suite with a constructor that returns an empty store (fresh tables):
//
//	func TestConformance(t *testing.T) {
//		leasetest.Run(t, func(t *testing.T) lease.Store { return memlease.New() })
//	}
package leasetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shoal-go/shoal/lease"
)

// Run runs every conformance case as a subtest; newStore must return an empty store each call.
func Run(t *testing.T, newStore func(t *testing.T) lease.Store) {
	cases := []struct {
		name string
		f    func(t *testing.T, ctx context.Context, s lease.Store)
	}{
		{"CreateGetRoundTrip", testRoundTrip},
		{"CreateExists", testCreateExists},
		{"GetMissing", testGetMissing},
		{"ListPaginated", testList},
		{"Take", testTake},
		{"TakeConcurrentOneWinner", testTakeConcurrent},
		{"Handoff", testHandoff},
		{"Release", testRelease},
		{"CheckpointFenced", testCheckpoint},
		{"CheckpointTimestamp", testCheckpointTimestamp},
		{"FinishAndDelete", testFinishDelete},
		{"Workers", testWorkers},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c.f(t, ctx, newStore(t))
		})
	}
}

// Full returns a lease with every attribute set, for round-trip tests.
func Full(key string) lease.Lease {
	return lease.Lease{
		Key:                          key,
		Owner:                        "worker-a",
		Counter:                      7,
		Checkpoint:                   lease.Checkpoint{Sequence: "49590338271490256608559692538361571095921575989136588898", SubSequence: 3},
		PendingCheckpoint:            &lease.Checkpoint{Sequence: "49590338271490256608559692538361571095921575989136588999", SubSequence: 1},
		PendingCheckpointState:       []byte("state"),
		OwnerSwitchesSinceCheckpoint: 2,
		ParentShardIDs:               []string{"shardId-000000000001", "shardId-000000000002"},
		ChildShardIDs:                []string{"shardId-000000000009"},
		StartingHashKey:              "0",
		EndingHashKey:                "340282366920938463463374607431768211455",
		CheckpointOwner:              "worker-b",
	}
}

func norm(l lease.Lease) lease.Lease {
	l = l.Clone()
	slices.Sort(l.ParentShardIDs)
	slices.Sort(l.ChildShardIDs)
	if len(l.ParentShardIDs) == 0 {
		l.ParentShardIDs = nil
	}
	if len(l.ChildShardIDs) == 0 {
		l.ChildShardIDs = nil
	}
	if len(l.PendingCheckpointState) == 0 {
		l.PendingCheckpointState = nil
	}
	return l
}

// Equal reports whether two leases are equal, ignoring the order of sets and nil-vs-empty.
func Equal(a, b lease.Lease) bool { return reflect.DeepEqual(norm(a), norm(b)) }

func mustErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func create(t *testing.T, ctx context.Context, s lease.Store, key, owner string, counter int64) lease.Lease {
	t.Helper()
	l := lease.Lease{Key: key, Owner: owner, Counter: counter, Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}}
	must(t, s.Create(ctx, l), "create "+key)
	return l
}

func testRoundTrip(t *testing.T, ctx context.Context, s lease.Store) {
	for _, l := range []lease.Lease{
		Full("shardId-000000000003"),
		{Key: "shardId-000000000000", Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}},
		{Key: "shardId-000000000001", Checkpoint: lease.Checkpoint{Sequence: lease.Latest}, Counter: 1, Owner: "w"},
		{Key: "shardId-000000000002", Checkpoint: lease.Checkpoint{Sequence: lease.ShardEnd}, ChildShardIDs: []string{"a", "b"}},
		{Key: "acct:stream:1:shardId-000000000004", Checkpoint: lease.Checkpoint{Sequence: lease.AtTimestamp}, ParentShardIDs: []string{"p"}},
	} {
		must(t, s.Create(ctx, l), "create")
		got, err := s.Get(ctx, l.Key)
		must(t, err, "get")
		if !Equal(got, l) {
			t.Errorf("round trip of %s:\n got %+v\nwant %+v", l.Key, got, l)
		}
	}
}

func testCreateExists(t *testing.T, ctx context.Context, s lease.Store) {
	create(t, ctx, s, "k", "", 0)
	mustErr(t, s.Create(ctx, lease.Lease{Key: "k", Owner: "x", Checkpoint: lease.Checkpoint{Sequence: lease.Latest}}), lease.ErrExists, "second create")
	got, err := s.Get(ctx, "k")
	must(t, err, "get")
	if got.Owner != "" || got.Checkpoint.Sequence != lease.TrimHorizon {
		t.Fatalf("failed create changed the lease: %+v", got)
	}
}

func testGetMissing(t *testing.T, ctx context.Context, s lease.Store) {
	_, err := s.Get(ctx, "nope")
	mustErr(t, err, lease.ErrNotFound, "get missing")
}

func testList(t *testing.T, ctx context.Context, s lease.Store) {
	const n = 57
	for i := range n {
		create(t, ctx, s, fmt.Sprintf("shardId-%012d", i), "", 0)
	}
	ls, err := s.List(ctx)
	must(t, err, "list")
	keys := map[string]bool{}
	for _, l := range ls {
		keys[l.Key] = true
	}
	if len(ls) != n || len(keys) != n {
		t.Fatalf("list returned %d leases (%d distinct), want %d", len(ls), len(keys), n)
	}
}

func testTake(t *testing.T, ctx context.Context, s lease.Store) {
	create(t, ctx, s, "k", "", 0)
	l, err := s.Take(ctx, "k", lease.Expect{Owner: "", Counter: 0}, "a")
	must(t, err, "take unowned")
	if l.Owner != "a" || l.Counter != 1 || l.OwnerSwitchesSinceCheckpoint != 1 {
		t.Fatalf("after take: %+v", l)
	}
	_, err = s.Take(ctx, "k", lease.Expect{Owner: "", Counter: 0}, "b")
	mustErr(t, err, lease.ErrConflict, "take with stale expectation")
	_, err = s.Take(ctx, "k", lease.Expect{Owner: "x", Counter: 1}, "b")
	mustErr(t, err, lease.ErrConflict, "take with wrong owner")
	_, err = s.Take(ctx, "missing", lease.Expect{}, "b")
	mustErr(t, err, lease.ErrConflict, "take missing lease")
	l, err = s.Take(ctx, "k", lease.Expect{Owner: "a", Counter: 1}, "a")
	must(t, err, "revalidate")
	if l.Owner != "a" || l.Counter != 2 || l.OwnerSwitchesSinceCheckpoint != 1 {
		t.Fatalf("after revalidate (same owner, no switch counted): %+v", l)
	}
	// A take clears a pending handoff (taker of an expired lease).
	_, err = s.RequestHandoff(ctx, "k", lease.Expect{Owner: "a", Counter: 2}, "b")
	must(t, err, "request handoff")
	l, err = s.Take(ctx, "k", lease.Expect{Owner: "b", Counter: 2}, "b")
	must(t, err, "take to clear checkpointOwner")
	if l.CheckpointOwner != "" || l.Owner != "b" || l.Counter != 3 {
		t.Fatalf("take did not clear checkpointOwner: %+v", l)
	}
}

func testTakeConcurrent(t *testing.T, ctx context.Context, s lease.Store) {
	create(t, ctx, s, "k", "old", 5)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []string
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			me := fmt.Sprintf("w%d", i)
			_, err := s.Take(ctx, "k", lease.Expect{Owner: "old", Counter: 5}, me)
			if err == nil {
				mu.Lock()
				won = append(won, me)
				mu.Unlock()
			} else if !errors.Is(err, lease.ErrConflict) {
				t.Errorf("take by %s: %v", me, err)
			}
		}()
	}
	wg.Wait()
	l, err := s.Get(ctx, "k")
	must(t, err, "get")
	if len(won) != 1 || l.Owner != won[0] || l.Counter != 6 {
		t.Fatalf("winners %v, lease %+v: want exactly one winner owning it at counter 6", won, l)
	}
}

func testHandoff(t *testing.T, ctx context.Context, s lease.Store) {
	create(t, ctx, s, "k", "o", 3)
	create(t, ctx, s, "free", "", 0)
	_, err := s.RequestHandoff(ctx, "free", lease.Expect{Owner: "", Counter: 0}, "t")
	mustErr(t, err, lease.ErrConflict, "handoff of an unowned lease")
	_, err = s.RequestHandoff(ctx, "k", lease.Expect{Owner: "o", Counter: 2}, "t")
	mustErr(t, err, lease.ErrConflict, "handoff with stale counter")
	l, err := s.RequestHandoff(ctx, "k", lease.Expect{Owner: "o", Counter: 3}, "t")
	must(t, err, "request handoff")
	if l.Owner != "t" || l.CheckpointOwner != "o" || l.Counter != 3 {
		t.Fatalf("after handoff request: %+v (counter must not move)", l)
	}
	_, err = s.RequestHandoff(ctx, "k", lease.Expect{Owner: "t", Counter: 3}, "u")
	mustErr(t, err, lease.ErrConflict, "second handoff while one is pending")
	_, err = s.Release(ctx, "k", lease.Expect{Owner: "t", Counter: 3})
	mustErr(t, err, lease.ErrConflict, "release by the taker while handoff pending")
	// The old owner may still checkpoint; the taker may not.
	_, err = s.Checkpoint(ctx, "k", lease.Expect{Owner: "t", Counter: 3}, lease.Checkpoint{Sequence: "5"})
	mustErr(t, err, lease.ErrConflict, "checkpoint by taker during handoff")
	l, err = s.Checkpoint(ctx, "k", lease.Expect{Owner: "o", Counter: 3}, lease.Checkpoint{Sequence: "10"})
	must(t, err, "checkpoint by old owner during handoff")
	if l.Counter != 4 || l.Checkpoint.Sequence != "10" || l.CheckpointOwner != "o" || l.Owner != "t" {
		t.Fatalf("after checkpoint during handoff: %+v", l)
	}
	_, err = s.CompleteHandoff(ctx, "k", lease.Expect{Owner: "t", Counter: 4})
	mustErr(t, err, lease.ErrConflict, "complete handoff by the taker")
	l, err = s.CompleteHandoff(ctx, "k", lease.Expect{Owner: "o", Counter: 4})
	must(t, err, "complete handoff")
	if l.CheckpointOwner != "" || l.Owner != "t" || l.Counter != 5 || l.Checkpoint.Sequence != "10" {
		t.Fatalf("after handoff: %+v", l)
	}
	_, err = s.Checkpoint(ctx, "k", lease.Expect{Owner: "o", Counter: 5}, lease.Checkpoint{Sequence: "11"})
	mustErr(t, err, lease.ErrConflict, "checkpoint by old owner after handoff")
	_, err = s.Checkpoint(ctx, "k", lease.Expect{Owner: "t", Counter: 5}, lease.Checkpoint{Sequence: "11"})
	must(t, err, "checkpoint by new owner")
}

func testRelease(t *testing.T, ctx context.Context, s lease.Store) {
	create(t, ctx, s, "k", "a", 1)
	_, err := s.Release(ctx, "k", lease.Expect{Owner: "b", Counter: 1})
	mustErr(t, err, lease.ErrConflict, "release by non-owner")
	_, err = s.Release(ctx, "k", lease.Expect{Owner: "a", Counter: 0})
	mustErr(t, err, lease.ErrConflict, "release with stale counter")
	l, err := s.Release(ctx, "k", lease.Expect{Owner: "a", Counter: 1})
	must(t, err, "release")
	if l.Owner != "" || l.Counter != 2 {
		t.Fatalf("after release: %+v", l)
	}
	got, err := s.Get(ctx, "k")
	must(t, err, "get")
	if got.Owner != "" {
		t.Fatalf("stored owner after release: %q", got.Owner)
	}
}

func testCheckpoint(t *testing.T, ctx context.Context, s lease.Store) {
	l0 := Full("k")
	l0.CheckpointOwner = ""
	must(t, s.Create(ctx, l0), "create")
	_, err := s.Checkpoint(ctx, "k", lease.Expect{Owner: "worker-a", Counter: 6}, lease.Checkpoint{Sequence: "1"})
	mustErr(t, err, lease.ErrConflict, "checkpoint with stale counter")
	_, err = s.Checkpoint(ctx, "k", lease.Expect{Owner: "other", Counter: 7}, lease.Checkpoint{Sequence: "1"})
	mustErr(t, err, lease.ErrConflict, "checkpoint by non-owner")
	got, err := s.Get(ctx, "k")
	must(t, err, "get")
	if got.Checkpoint != l0.Checkpoint || got.Counter != 7 {
		t.Fatalf("refused checkpoint changed the lease: %+v", got)
	}
	cp := lease.Checkpoint{Sequence: "49590338271490256608559692538361571095921575989136589000", SubSequence: 4}
	l, err := s.Checkpoint(ctx, "k", lease.Expect{Owner: "worker-a", Counter: 7}, cp)
	must(t, err, "checkpoint")
	want := l0.Clone()
	want.Checkpoint, want.Counter, want.OwnerSwitchesSinceCheckpoint = cp, 8, 0
	want.PendingCheckpoint, want.PendingCheckpointState = nil, nil
	if !Equal(l, want) {
		t.Fatalf("after checkpoint:\n got %+v\nwant %+v", l, want)
	}
	got, err = s.Get(ctx, "k")
	must(t, err, "get")
	if !Equal(got, want) {
		t.Fatalf("stored after checkpoint:\n got %+v\nwant %+v", got, want)
	}
}

func testFinishDelete(t *testing.T, ctx context.Context, s lease.Store) {
	create(t, ctx, s, "p", "a", 1)
	mustErr(t, s.Delete(ctx, "p"), lease.ErrConflict, "delete unfinished lease")
	mustErr(t, s.Delete(ctx, "missing"), lease.ErrNotFound, "delete missing lease")
	_, err := s.Finish(ctx, "p", lease.Expect{Owner: "b", Counter: 1}, []string{"c1"})
	mustErr(t, err, lease.ErrConflict, "finish by non-owner")
	l, err := s.Finish(ctx, "p", lease.Expect{Owner: "a", Counter: 1}, []string{"c1", "c2"})
	must(t, err, "finish")
	if !l.Finished() || l.Owner != "" || l.Counter != 2 || !Equal(l, lease.Lease{Key: "p", Counter: 2,
		Checkpoint: lease.Checkpoint{Sequence: lease.ShardEnd}, ChildShardIDs: []string{"c2", "c1"}}) {
		t.Fatalf("after finish: %+v", l)
	}
	must(t, s.Delete(ctx, "p"), "delete finished lease")
	_, err = s.Get(ctx, "p")
	mustErr(t, err, lease.ErrNotFound, "get deleted")
}

func testWorkers(t *testing.T, ctx context.Context, s lease.Store) {
	mustErr(t, s.Wake(ctx, "a"), lease.ErrNotFound, "wake unknown worker")
	w, err := s.Heartbeat(ctx, "a", "i1")
	must(t, err, "first heartbeat")
	if w.ID != "a" || w.Heartbeat < 1 || w.Wake != 0 || w.Instance != "i1" || w.Previous != "" {
		t.Fatalf("first heartbeat: %+v", w)
	}
	h1 := w.Heartbeat
	must(t, s.Wake(ctx, "a"), "wake")
	w, err = s.Heartbeat(ctx, "a", "i1")
	must(t, err, "heartbeat")
	if w.Heartbeat != h1+1 || w.Wake != 1 || w.Instance != "i1" || w.Previous != "i1" {
		t.Fatalf("second heartbeat: %+v (first %d)", w, h1)
	}
	b, err := s.Heartbeat(ctx, "b", "i2")
	must(t, err, "heartbeat b")
	b.Previous = ""
	ws, err := s.Workers(ctx)
	must(t, err, "workers")
	slices.SortFunc(ws, func(x, y lease.Worker) int { return cmpString(x.ID, y.ID) })
	if !reflect.DeepEqual(ws, []lease.Worker{{ID: "a", Heartbeat: h1 + 1, Wake: 1, Instance: "i1"}, b}) {
		t.Fatalf("workers: %+v", ws)
	}
	// Another process heartbeating under the same id is visible in Previous.
	w, err = s.Heartbeat(ctx, "b", "i3")
	must(t, err, "heartbeat b from another instance")
	if w.Previous != "i2" || w.Instance != "i3" || w.Heartbeat != b.Heartbeat+1 {
		t.Fatalf("heartbeat of b by i3 after i2: %+v", w)
	}
	mustErr(t, s.RemoveWorker(ctx, "a", h1), lease.ErrConflict, "remove with stale heartbeat")
	must(t, s.RemoveWorker(ctx, "a", h1+1), "remove")
	mustErr(t, s.RemoveWorker(ctx, "a", h1+1), lease.ErrNotFound, "remove twice")
	ws, err = s.Workers(ctx)
	must(t, err, "workers")
	if len(ws) != 1 || ws[0].ID != "b" {
		t.Fatalf("workers after remove: %+v", ws)
	}
	// A recreated row does not repeat the old values (they would look unchanged to an observer).
	w, err = s.Heartbeat(ctx, "a", "i1")
	must(t, err, "heartbeat after remove")
	if w.Heartbeat == h1+1 || w.Heartbeat == h1 || w.Wake != 0 {
		t.Fatalf("recreated row repeats the old heartbeat %d: %+v", h1+1, w)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// testCheckpointTimestamp: Checkpoint.Timestamp (with LATEST or AT_TIMESTAMP) is stored to the
// millisecond by Create and Checkpoint, and removed by a checkpoint without one and by Finish.
func testCheckpointTimestamp(t *testing.T, ctx context.Context, s lease.Store) {
	ts := time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	at := lease.Lease{Key: "at", Checkpoint: lease.Checkpoint{Sequence: lease.AtTimestamp, Timestamp: ts}}
	must(t, s.Create(ctx, at), "create at timestamp")
	got, err := s.Get(ctx, "at")
	must(t, err, "get")
	if !got.Checkpoint.Timestamp.Equal(ts) || got.Checkpoint.Sequence != lease.AtTimestamp {
		t.Fatalf("created %v, read %v", at.Checkpoint, got.Checkpoint)
	}
	l := create(t, ctx, s, "k", "w", 0)
	l, err = s.Checkpoint(ctx, "k", lease.Expect{Owner: "w", Counter: 0}, lease.Checkpoint{Sequence: lease.Latest, Timestamp: ts.Add(time.Hour)})
	must(t, err, "checkpoint LATEST with a timestamp")
	if !l.Checkpoint.Timestamp.Equal(ts.Add(time.Hour)) || l.Checkpoint.Sequence != lease.Latest {
		t.Fatalf("checkpoint returned %v", l.Checkpoint)
	}
	got, err = s.Get(ctx, "k")
	must(t, err, "get")
	if !got.Checkpoint.Timestamp.Equal(ts.Add(time.Hour)) {
		t.Fatalf("stored %v", got.Checkpoint)
	}
	l, err = s.Checkpoint(ctx, "k", lease.Expect{Owner: "w", Counter: l.Counter}, lease.Checkpoint{Sequence: "42"})
	must(t, err, "checkpoint a sequence number")
	got, err = s.Get(ctx, "k")
	must(t, err, "get")
	if !l.Checkpoint.Timestamp.IsZero() || !got.Checkpoint.Timestamp.IsZero() || got.Checkpoint.Sequence != "42" {
		t.Fatalf("after a sequence checkpoint: returned %v, stored %v; want no timestamp", l.Checkpoint, got.Checkpoint)
	}
	l, err = s.Checkpoint(ctx, "k", lease.Expect{Owner: "w", Counter: l.Counter}, lease.Checkpoint{Sequence: lease.Latest, Timestamp: ts})
	if err == nil { // a store may accept it (Claim refuses it as backwards); Finish must clear it
		_, err = s.Finish(ctx, "k", lease.Expect{Owner: "w", Counter: l.Counter}, nil)
		must(t, err, "finish")
		got, err = s.Get(ctx, "k")
		must(t, err, "get")
		if !got.Checkpoint.Timestamp.IsZero() {
			t.Fatalf("after Finish: %v, want no timestamp", got.Checkpoint)
		}
	}
}
