package dynamolease_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/dynamolease"
	"github.com/shoal-go/shoal/lease/leasetest"
)

// slowTable is store trouble injected by kinesislocal's per-request hook, through the real SDK
// over a loopback socket.
type slowTable struct {
	name        string
	workerDelay time.Duration // added to every worker-table UpdateItem (heartbeats, wakes)
	leaseP99    time.Duration // log-normal latency (median p99/8) on every lease-table call
	throttle    float64       // probability that a lease-table write is throttled
}

// TestSlowTableThroughSDK runs three coordinators at the default timings over kinesislocal
// reached through a socket with the SDK's default client, every worker-table UpdateItem delayed
// by 900 ms and lease-table calls slowed (p99 500 ms), processors checkpointing every 200 ms:
// healthy workers must never fence themselves or lose a lease. (Before issue 10's defect 6 fix:
// 3 self-fences, 12 leases lost, and no worker ever became live again: no heartbeat answered
// within the fixed 800 ms.) SHOAL_SLOW_TABLE=1 also runs +600 ms with p99 200 ms, 500 ms, 1 s,
// and throttling, 60 s each, and reports each (the measurement in BENCHMARKS.md).
func TestSlowTableThroughSDK(t *testing.T) {
	cases := []slowTable{{name: "worker UpdateItem +900ms, lease p99 500ms", workerDelay: 900 * time.Millisecond, leaseP99: 500 * time.Millisecond}}
	runFor := 15 * time.Second
	if os.Getenv("SHOAL_SLOW_TABLE") == "1" {
		runFor = 60 * time.Second
		cases = append(cases,
			slowTable{name: "worker UpdateItem +600ms, lease p99 200ms", workerDelay: 600 * time.Millisecond, leaseP99: 200 * time.Millisecond},
			slowTable{name: "worker UpdateItem +600ms, lease p99 500ms", workerDelay: 600 * time.Millisecond, leaseP99: 500 * time.Millisecond},
			slowTable{name: "worker UpdateItem +600ms, lease p99 1s", workerDelay: 600 * time.Millisecond, leaseP99: time.Second},
			slowTable{name: "lease p99 500ms, 20% of lease writes throttled", leaseP99: 500 * time.Millisecond, throttle: 0.2},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fences, lost, changes, refused, stall := runSlowTable(t, c, runFor)
			t.Logf("%s, 3 workers x 4 leases, %v: %d self-fences, %d leases lost, %d owner changes, %d checkpoints refused; longest stall of this process %v",
				c.name, runFor, fences, lost, changes, refused, stall)
			if c.throttle == 0 && c.leaseP99 <= 500*time.Millisecond && (fences != 0 || lost != 0) {
				// With heartbeats delayed 900 ms, a worker's fence is about 700 ms ahead of its
				// next answered heartbeat: a process kept off the CPU that long (a loaded
				// machine, -race) fences however the protocol does. Then the claim cannot be
				// judged, and the test says so instead of failing.
				if stall > maxJudgedStall {
					t.Logf("!!! NOT JUDGED: %d self-fences, %d leases lost, but the process stalled %v (> %v): the machine, not the protocol",
						fences, lost, stall, maxJudgedStall)
					return
				}
				t.Errorf("%d self-fences, %d leases lost among healthy workers, want 0", fences, lost)
			}
		})
	}
}

// maxJudgedStall is the longest scheduling stall under which TestSlowTableThroughSDK still
// judges its zero-fence claim.
const maxJudgedStall = 400 * time.Millisecond

// measureStalls reports, when ctx ends, the longest time a goroutine of this process that asked
// to sleep 5 ms was kept waiting beyond that: how long the process was kept off the CPU.
func measureStalls(ctx context.Context) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() {
		var worst time.Duration
		for ctx.Err() == nil {
			t0 := time.Now()
			time.Sleep(5 * time.Millisecond)
			worst = max(worst, time.Since(t0)-5*time.Millisecond)
		}
		out <- worst
	}()
	return out
}

func runSlowTable(t *testing.T, c slowTable, runFor time.Duration) (fences, lost, changes, refused int64, stall time.Duration) {
	const table, leases, workers = "slow-app", 12, 3
	var on atomic.Bool
	lat := leasetest.LogNormal(c.leaseP99/8, c.leaseP99, 1)
	var rmu sync.Mutex
	draw := 0
	srv, err := kinesislocal.New(kinesislocal.Options{Intercept: func(r kinesislocal.Request) kinesislocal.Injection {
		if !on.Load() || r.Service != "dynamodb" {
			return kinesislocal.Injection{}
		}
		switch r.TableName {
		case table + "-workers":
			if r.Operation == "UpdateItem" {
				return kinesislocal.Injection{Latency: c.workerDelay}
			}
		case table:
			var inj kinesislocal.Injection
			if c.leaseP99 > 0 {
				inj.Latency = lat()
			}
			if c.throttle > 0 && r.Operation != "Scan" && r.Operation != "GetItem" {
				rmu.Lock()
				draw++
				hit := float64(draw%100) < c.throttle*100
				rmu.Unlock()
				if hit {
					inj.ErrorCode = "ProvisionedThroughputExceededException"
				}
			}
			return inj
		}
		return kinesislocal.Injection{}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	defer hs.Close()
	db := dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")},
		func(o *dynamodb.Options) { o.BaseEndpoint = aws.String("http://" + ln.Addr().String()) })
	st, err := dynamolease.New(db, dynamolease.Options{Table: table, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.Init(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range leases {
		if err := st.Create(ctx, lease.Lease{Key: fmt.Sprintf("shardId-%012d", i), Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}}); err != nil {
			t.Fatal(err)
		}
	}
	var nFences, nLost, nAcq, nRefused atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	held := map[string]int{}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	for w := range workers {
		id := fmt.Sprintf("w%d", w)
		co, err := lease.New(lease.Config{Store: st, WorkerID: id,
			Hooks: lease.Hooks{Fenced: func() { nFences.Add(1) }, LeaseLost: func(string, error) { nLost.Add(1) },
				LeaseAcquired: func(string, lease.Lease) { nAcq.Add(1) }},
			Acquired: func(cl *lease.Claim) {
				mu.Lock()
				held[id]++
				mu.Unlock()
				wg.Go(func() {
					defer func() { mu.Lock(); held[id]--; mu.Unlock() }()
					n := int64(0)
					tick := time.NewTicker(200 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-cl.Context().Done():
							cl.Release(context.Background())
							return
						case <-cl.Stopping():
							cl.Release(context.Background())
							return
						case <-tick.C:
							n++
							if err := cl.Checkpoint(context.Background(), lease.Checkpoint{Sequence: strconv.FormatInt(n, 10)}); err != nil && cl.Context().Err() != nil {
								nRefused.Add(1)
							}
						}
					}
				})
			}})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { co.Run(runCtx) })
	}
	balanced := func() bool {
		mu.Lock()
		defer mu.Unlock()
		sum := 0
		for _, n := range held {
			if n < leases/workers-1 || n > leases/workers+1 {
				return false
			}
			sum += n
		}
		return sum == leases && len(held) == workers
	}
	deadline := time.Now().Add(60 * time.Second)
	for !balanced() {
		if time.Now().After(deadline) {
			t.Fatalf("not balanced after 60s: %v", held)
		}
		time.Sleep(50 * time.Millisecond)
	}
	f0, l0, a0, r0 := nFences.Load(), nLost.Load(), nAcq.Load(), nRefused.Load()
	sctx, stopStalls := context.WithCancel(ctx)
	stalls := measureStalls(sctx)
	on.Store(true)
	time.Sleep(runFor)
	on.Store(false)
	f1, l1, a1, r1 := nFences.Load(), nLost.Load(), nAcq.Load(), nRefused.Load()
	stopStalls()
	stall = <-stalls
	stop()
	wg.Wait()
	return f1 - f0, l1 - l0, a1 - a0, r1 - r0, stall
}
