package dynamolease_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shoal-go/shoal/lease"
)

// Coordinators over dynamolease (real time, short timings): they balance, a crashed worker's
// leases are taken over, a graceful shutdown hands over at once.
func TestCoordinatorsOverDynamoDB(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := b.client(t)
			st := newStore(t, c)
			ctx := context.Background()
			const n = 8
			for i := range n {
				if err := st.Create(ctx, lease.Lease{Key: fmt.Sprintf("shardId-%012d", i), Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}}); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			claims := map[string]map[string]*lease.Claim{}
			var wg sync.WaitGroup
			type worker struct {
				co     *lease.Coordinator
				cancel context.CancelFunc
				done   chan struct{}
			}
			start := func(id string) *worker {
				mu.Lock()
				claims[id] = map[string]*lease.Claim{}
				mu.Unlock()
				co, err := lease.New(lease.Config{
					Store: st, WorkerID: id,
					HeartbeatInterval: 200 * time.Millisecond, HeartbeatTimeout: 300 * time.Millisecond,
					LeaseDuration: 1500 * time.Millisecond, SafetyMargin: 200 * time.Millisecond,
					WorkerScanInterval: 200 * time.Millisecond, ScanInterval: time.Second,
					Acquired: func(cl *lease.Claim) {
						mu.Lock()
						claims[id][cl.Key()] = cl
						mu.Unlock()
						wg.Go(func() {
							select {
							case <-cl.Context().Done():
							case <-cl.Stopping():
								if err := cl.Checkpoint(context.Background(), lease.Checkpoint{Sequence: "7"}); err != nil {
									t.Errorf("%s final checkpoint %s: %v", id, cl.Key(), err)
								}
							}
							cl.Release(context.Background())
						})
					},
				})
				if err != nil {
					t.Fatal(err)
				}
				rctx, cancel := context.WithCancel(context.Background())
				w := &worker{co: co, cancel: cancel, done: make(chan struct{})}
				go func() { defer close(w.done); co.Run(rctx) }()
				return w
			}
			valid := func() map[string]int {
				mu.Lock()
				defer mu.Unlock()
				out := map[string]int{}
				for id, m := range claims {
					for _, cl := range m {
						if cl.Valid() {
							out[id]++
						}
					}
				}
				return out
			}
			waitFor := func(what string, max time.Duration, cond func(map[string]int) bool) time.Duration {
				t0 := time.Now()
				for {
					v := valid()
					if cond(v) {
						return time.Since(t0)
					}
					if time.Since(t0) > max {
						t.Fatalf("%s: not reached in %v: %v", what, max, v)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			a, bw, cw := start("a"), start("b"), start("c")
			defer func() {
				for _, w := range []*worker{a, bw, cw} {
					w.cancel()
					<-w.done
				}
				wg.Wait()
			}()
			took := waitFor("balance 3/3/2", 20*time.Second, func(v map[string]int) bool {
				return v["a"]+v["b"]+v["c"] == n && v["a"] >= 2 && v["b"] >= 2 && v["c"] >= 2
			})
			t.Logf("balanced in %v", took)
			a.cancel() // crash: no release
			<-a.done
			took = waitFor("failover after crash", 10*time.Second, func(v map[string]int) bool { return v["b"] == 4 && v["c"] == 4 })
			t.Logf("crash failover in %v (LeaseDuration 1.5s)", took)
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			t0 := time.Now()
			if err := bw.co.Shutdown(sctx); err != nil {
				t.Fatal(err)
			}
			took = waitFor("handover after shutdown", 10*time.Second, func(v map[string]int) bool { return v["c"] == n })
			t.Logf("graceful handover in %v", time.Since(t0))
			ls, err := st.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range ls {
				if l.Owner != "c" {
					t.Errorf("%s owned by %q", l.Key, l.Owner)
				}
			}
		})
	}
}
