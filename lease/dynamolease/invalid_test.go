package dynamolease_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/dynamolease"
	"github.com/shoal-go/shoal/lease/leasetest"
)

// Items that are not leases are reported by Scan, skipped by List and never written to, exactly
// as memlease does (leasetest.RunInvalid).
func TestInvalidItemsConformance(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := b.client(t)
			leasetest.RunInvalid(t, func(t *testing.T) lease.Store { return newStore(t, c) },
				func(t *testing.T, s lease.Store, key string, k leasetest.Corruption) {
					S := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
					N := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
					item := map[string]types.AttributeValue{"leaseKey": S(key), "note": S("not a lease")}
					if k == leasetest.GarbageCheckpoint {
						item = map[string]types.AttributeValue{"leaseKey": S(key), "leaseCounter": N("3"), "leaseOwner": S("w1"), "checkpoint": S("banana")}
					}
					putRaw(t, c, tableOf(s.(*dynamolease.Store)), item)
				})
		})
	}
}

// One item that is not a lease (edited by hand, or unrelated) must not stall the application: a
// coordinator takes every valid lease, and the invalid items are left exactly as they were.
// (Before the fix, every lease-table scan failed with ErrInvalidItem and nothing was taken.)
func TestInvalidItemsDoNotStall(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := b.client(t)
			st := newStore(t, c)
			ctx := context.Background()
			const n = 4
			for i := range n {
				if err := st.Create(ctx, lease.Lease{Key: fmt.Sprintf("shardId-%012d", i), Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}}); err != nil {
					t.Fatal(err)
				}
			}
			S := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
			N := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
			junk := map[string]types.AttributeValue{"leaseKey": S("unrelated-junk"), "note": S("hello")}
			garbage := map[string]types.AttributeValue{"leaseKey": S("shardId-000000000099"), "leaseCounter": N("3"), "checkpoint": S("banana")}
			putRaw(t, c, tableOf(st), junk, garbage)

			var mu sync.Mutex
			got := map[string]bool{}
			var wg sync.WaitGroup
			co, err := lease.New(lease.Config{
				Store: st, WorkerID: "w1",
				HeartbeatInterval: 200 * time.Millisecond, HeartbeatTimeout: 300 * time.Millisecond,
				LeaseDuration: 1500 * time.Millisecond, SafetyMargin: 200 * time.Millisecond,
				WorkerScanInterval: 200 * time.Millisecond, ScanInterval: time.Second,
				Acquired: func(cl *lease.Claim) {
					mu.Lock()
					got[cl.Key()] = true
					mu.Unlock()
					wg.Go(func() { <-cl.Context().Done(); cl.Release(context.Background()) })
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- co.Run(rctx) }()
			deadline := time.Now().Add(30 * time.Second)
			for {
				mu.Lock()
				k := len(got)
				mu.Unlock()
				if k == n {
					break
				}
				if time.Now().After(deadline) {
					cancel()
					<-done
					wg.Wait()
					t.Fatalf("after 30s the coordinator holds %d of %d valid leases (stats %+v)", k, n, co.Stats())
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			<-done
			wg.Wait()
			if s := co.Stats(); s.Invalid != 2 || s.Leases != n {
				t.Errorf("Stats() Invalid %d Leases %d, want 2 and %d", s.Invalid, s.Leases, n)
			}
			for key, want := range map[string]map[string]types.AttributeValue{"unrelated-junk": junk, "shardId-000000000099": garbage} {
				have := getRaw(t, c, tableOf(st), key)
				if len(have) != len(want) {
					t.Errorf("invalid item %s was changed: %v, want %v", key, have, want)
				}
				for attr, v := range want {
					if typeOf(have[attr]) != typeOf(v) || fmt.Sprint(have[attr]) != fmt.Sprint(v) {
						t.Errorf("invalid item %s: %s = %v, want %v", key, attr, have[attr], v)
					}
				}
			}
		})
	}
}
