package dynamolease_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shoal-go/shoal/lease"
)

// throttler answers every DynamoDB request with ProvisionedThroughputExceededException while on.
type throttler struct {
	base http.RoundTripper
	on   atomic.Bool
}

func (t *throttler) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.on.Load() {
		return t.base.RoundTrip(r)
	}
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	body := `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"throttled by test"}`
	return &http.Response{
		StatusCode: 400, Status: "400 Bad Request", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"throttle"}},
		Body:          io.NopCloser(bytes.NewReader([]byte(body))),
		ContentLength: int64(len(body)), Request: r,
	}, nil
}

// DynamoDB throttles every call for longer than the lease duration (through the SDK and its
// retryer): every worker fences itself, no acknowledged checkpoint is lost, and the fleet
// recovers when the throttling ends.
func TestThrottlingLongerThanLeaseOverDynamoDB(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.config(t)
			base := cfg.HTTPClient.(*http.Client).Transport
			th := &throttler{base: base}
			cfg.HTTPClient = &http.Client{Transport: th}
			st := newStore(t, dynamodb.NewFromConfig(cfg))
			ctx := context.Background()
			const n = 6
			for i := range n {
				if err := st.Create(ctx, lease.Lease{Key: fmt.Sprintf("shardId-%012d", i), Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}}); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			claims := map[string][]*lease.Claim{}
			last := map[string]int64{} // last successful checkpoint per key
			acks := map[string]int{}   // successful checkpoints per key
			var wg sync.WaitGroup
			var stops []func()
			// stop ends both coordinators and waits for every holder goroutine, so no
			// Checkpoint call is running when the table is read.
			stop := func() {
				for _, f := range stops {
					f()
				}
				stops = nil
				wg.Wait()
			}
			defer stop()
			for _, id := range []string{"a", "b"} {
				co, err := lease.New(lease.Config{
					Store: st, WorkerID: id,
					HeartbeatInterval: 200 * time.Millisecond, HeartbeatTimeout: 300 * time.Millisecond,
					LeaseDuration: 1500 * time.Millisecond, SafetyMargin: 200 * time.Millisecond,
					WorkerScanInterval: 200 * time.Millisecond, ScanInterval: time.Second,
					Acquired: func(cl *lease.Claim) {
						mu.Lock()
						claims[id] = append(claims[id], cl)
						mu.Unlock()
						wg.Go(func() {
							defer cl.Release(context.Background())
							next := int64(0)
							if cp := cl.Lease().Checkpoint; !cp.IsSentinel() {
								next, _ = strconv.ParseInt(cp.Sequence, 10, 64)
							}
							tick := time.NewTicker(50 * time.Millisecond)
							defer tick.Stop()
							for {
								select {
								case <-cl.Context().Done():
									return
								case <-cl.Stopping():
									return
								case <-tick.C:
									next++
									cctx, cancel := context.WithTimeout(context.Background(), time.Second)
									err := cl.Checkpoint(cctx, lease.Checkpoint{Sequence: strconv.FormatInt(next, 10)})
									cancel()
									if err == nil {
										mu.Lock()
										last[cl.Key()] = max(last[cl.Key()], next)
										acks[cl.Key()]++
										mu.Unlock()
									}
								}
							}
						})
					},
				})
				if err != nil {
					t.Fatal(err)
				}
				rctx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() { defer close(done); co.Run(rctx) }()
				stops = append(stops, func() { cancel(); <-done })
			}
			valid := func() (int, map[string]int) {
				mu.Lock()
				defer mu.Unlock()
				per, total := map[string]int{}, 0
				for id, cs := range claims {
					for _, cl := range cs {
						if cl.Valid() {
							per[id]++
							total++
						}
					}
				}
				return total, per
			}
			wait := func(what string, max time.Duration, cond func() bool) time.Duration {
				t0 := time.Now()
				for !cond() {
					if time.Since(t0) > max {
						total, per := valid()
						t.Fatalf("%s: not reached in %v (%d valid: %v)", what, max, total, per)
					}
					time.Sleep(50 * time.Millisecond)
				}
				return time.Since(t0)
			}
			balanced := func() bool { total, per := valid(); return total == n && per["a"] == n/2 }
			wait("balance", 20*time.Second, balanced)

			th.on.Store(true)
			time.Sleep(1700 * time.Millisecond) // > LeaseDuration - SafetyMargin after the last heartbeat
			for i := 0; i < 20; i++ {
				if total, per := valid(); total != 0 {
					t.Fatalf("%d claims still valid while DynamoDB throttles everything: %v", total, per)
				}
				time.Sleep(100 * time.Millisecond)
			}
			th.on.Store(false)
			took := wait("recovery", 20*time.Second, balanced)
			t.Logf("recovered %v after 3.7s of throttling", took)
			mu.Lock()
			before := maps.Clone(acks)
			mu.Unlock()
			wait("a checkpoint on every lease after recovery", 20*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				for i := range n {
					if k := fmt.Sprintf("shardId-%012d", i); acks[k] <= before[k] {
						return false
					}
				}
				return true
			})
			// Owners may differ from before: after an outage longer than LeaseDuration, the
			// worker whose first heartbeat lands first sees the other's heartbeat unchanged for
			// more than LeaseDuration and takes its leases (it is dead by the protocol's
			// definition); balancing then evens the counts.

			// Every acknowledged checkpoint is stored. Read after every holder stopped: a
			// checkpoint acknowledged while the table is being read would be newer than the read.
			stop()
			ls, err := st.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, l := range ls {
				got, _ := strconv.ParseInt(l.Checkpoint.Sequence, 10, 64)
				if got < last[l.Key] {
					t.Errorf("%s: stored checkpoint %d, but %d was acknowledged", l.Key, got, last[l.Key])
				}
			}
		})
	}
}
