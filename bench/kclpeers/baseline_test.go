package kclpeers

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"

	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease"
)

// TestMain silences the global logrus logger: vmware's renewLease logs through it whatever
// logger the configuration names.
func TestMain(m *testing.M) {
	logrus.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// TestBaseline runs every scenario for both libraries at once on one in-process kinesislocal
// server and prints a table. It measures; it asserts only that the scenarios ran (about 5
// minutes of real time: vmware's shard sync loop runs every 30-90 s).
func TestBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("!!! baseline skipped under -short (it runs about 5 minutes of real time)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	start := time.Now()

	const moveShards, rebalanceShards, costLeases, smallLeases = 6, 20, 20, 4
	var (
		wg                     sync.WaitGroup
		shoalCrash, shoalGrace moveResult
		vmCrash, vmGrace       moveResult
		shoalReb, vmReb, vmSt  rebalanceResult
		shoalCost, vmCost      costResult
		shoalSmall, vmSmall    costResult
	)
	abc := []workerSpec{{id: "a"}, {id: "b"}, {id: "c"}}
	// vmware's victim a takes its 4 shards through a 1 s shard sync loop, so that setup does not
	// take 4 of vmware's 30-90 s loops; b and c run the defaults and take one shard each on their
	// first loop. After the stop, only b's and c's loops (defaults) move a's shards.
	vmABC := []workerSpec{{id: "a", setupSync: true, maxLeases: 4}, {id: "b"}, {id: "c"}}
	wg.Go(func() { shoalCrash = shoalMoves(ctx, srv, false, abc, moveShards, 3) })
	wg.Go(func() { shoalGrace = shoalMoves(ctx, srv, true, abc, moveShards, 3) })
	wg.Go(func() {
		vmCrash = runMove(ctx, srv, vmwareLib{}, false, vmABC, moveShards, "vm-crash", 110*time.Second, 190*time.Second)
	})
	wg.Go(func() {
		vmGrace = runMove(ctx, srv, vmwareLib{}, true, vmABC, moveShards, "vm-grace", 110*time.Second, 190*time.Second)
	})
	wg.Go(func() {
		shoalReb = runRebalance(ctx, srv, shoalLib{}, workerSpec{id: "a"}, workerSpec{id: "b"}, rebalanceShards, "shoal-reb", 3*time.Minute)
	})
	wg.Go(func() {
		vmReb = runRebalance(ctx, srv, vmwareLib{}, workerSpec{id: "a", setupSync: true}, workerSpec{id: "b"},
			rebalanceShards, "vm-reb", 3*time.Minute)
	})
	wg.Go(func() {
		vmSt = runRebalance(ctx, srv, vmwareLib{}, workerSpec{id: "a", setupSync: true, stealing: true},
			workerSpec{id: "b", stealing: true}, rebalanceShards, "vm-steal", 3*time.Minute)
	})
	wg.Go(func() {
		shoalCost = runCost(ctx, srv, shoalLib{}, []workerSpec{{id: "w0"}, {id: "w1"}}, costLeases, "shoal-cost",
			2*time.Minute, time.Minute)
	})
	// 20 leases would take vmware's default loop 10 loops (5-15 min) to acquire: its workers use
	// the 1 s setup loop, which changes its reads (a GetItem per lease it does not hold per loop),
	// not its writes (renewals only). The 4-lease runs are all defaults for both.
	wg.Go(func() {
		vmCost = runCost(ctx, srv, vmwareLib{}, []workerSpec{{id: "w0", setupSync: true}, {id: "w1", setupSync: true}},
			costLeases, "vm-cost", 2*time.Minute, time.Minute)
	})
	wg.Go(func() {
		shoalSmall = runCost(ctx, srv, shoalLib{}, []workerSpec{{id: "w0"}, {id: "w1"}}, smallLeases, "shoal-small",
			2*time.Minute, time.Minute)
	})
	wg.Go(func() {
		vmSmall = runCost(ctx, srv, vmwareLib{}, []workerSpec{{id: "w0"}, {id: "w1"}}, smallLeases, "vm-small",
			200*time.Second, time.Minute)
	})
	wg.Wait()

	var b strings.Builder
	fmt.Fprintf(&b, "\nsame run, one in-process kinesislocal, all scenarios concurrently, %v wall\n\n", time.Since(start).Round(time.Second))
	fmt.Fprintf(&b, "| scenario | shoal kcl | vmware-go-kcl-v2 v1.0.0 |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| crash failover, 3 workers, %d shards: per moved shard, stop -> processed elsewhere | %s | %s |\n",
		moveShards, moveCell(shoalCrash, false), moveCell(vmCrash, false))
	fmt.Fprintf(&b, "| graceful shutdown, same | %s | %s |\n", moveCell(shoalGrace, true), moveCell(vmGrace, true))
	fmt.Fprintf(&b, "| rebalance 1 -> 2 workers, %d shards, until +/-1 (default config) | %s | %s |\n",
		rebalanceShards, rebalanceCell(shoalReb), rebalanceCell(vmReb))
	fmt.Fprintf(&b, "| rebalance, vmware with WithLeaseStealing(true) | - | %s |\n", rebalanceCell(vmSt))
	fmt.Fprintf(&b, "| DynamoDB writes per lease per minute, %d leases, 2 workers, no records (vmware: 1 s setup loop) | %s | %s |\n",
		costLeases, costCell(shoalCost), costCell(vmCost))
	fmt.Fprintf(&b, "| same, %d leases, 2 workers, both all defaults | %s | %s |\n",
		smallLeases, costCell(shoalSmall), costCell(vmSmall))
	fmt.Fprintf(&b, "\ndefaults: shoal lease heartbeat %v, lease duration %v, worker scan %v, lease scan %v, handoff timeout %v, "+
		"GetRecords idle interval 250ms\n", lease.DefaultHeartbeatInterval, lease.DefaultLeaseDuration,
		lease.DefaultWorkerScanInterval, lease.DefaultScanInterval, lease.DefaultHandoffTimeout)
	fmt.Fprintf(&b, "defaults: vmware FailoverTimeMillis %d, LeaseRefreshWaitTime %d (renewal period), ShardSyncIntervalMillis %d "+
		"(+/-50%% jitter; at most one lease taken per loop), IdleTimeBetweenReadsInMillis %d, EnableLeaseStealing %v, "+
		"LeaseStealingClaimTimeoutMillis %d, LeaseSyncingIntervalMillis %d, MaxLeasesForWorker %d\n",
		config.DefaultFailoverTimeMillis, config.DefaultLeaseRefreshWaitTime, config.DefaultShardSyncIntervalMillis,
		config.DefaultIdleTimeBetweenReadsMillis, config.DefaultEnableLeaseStealing,
		config.DefaultLeaseStealingClaimTimeoutMillis, config.DefaultLeaseSyncingIntervalMillis, config.DefaultMaxLeasesForWorker)
	t.Log(b.String())

	for name, err := range map[string]error{"shoal crash": shoalCrash.err, "shoal graceful": shoalGrace.err,
		"vmware crash": vmCrash.err, "vmware graceful": vmGrace.err, "shoal rebalance": shoalReb.err,
		"vmware rebalance": vmReb.err, "vmware stealing rebalance": vmSt.err, "shoal cost": shoalCost.err,
		"vmware cost": vmCost.err, "shoal small cost": shoalSmall.err, "vmware small cost": vmSmall.err} {
		if err != nil {
			t.Errorf("%s did not run to the end: %v", name, err)
		}
	}
}

// shoalMoves runs the move scenario trials times (one at a time) and merges the results.
func shoalMoves(ctx context.Context, srv *kinesislocal.Server, graceful bool, specs []workerSpec, shards, trials int) moveResult {
	var out moveResult
	for i := range trials {
		name := fmt.Sprintf("shoal-move-%v-%d", graceful, i)
		m := runMove(ctx, srv, shoalLib{}, graceful, specs, shards, name, time.Minute, 30*time.Second)
		if m.err != nil {
			return m
		}
		out.moved += m.moved
		out.gaps = append(out.gaps, m.gaps...)
		out.unmoved += m.unmoved
		out.bound = m.bound
		out.setup = max(out.setup, m.setup)
		out.dups += m.dups
		out.lost += m.lost
	}
	return out
}

func moveCell(m moveResult, graceful bool) string {
	if m.err != nil && len(m.gaps) == 0 {
		return "error: " + m.err.Error()
	}
	s := fmt.Sprintf("%d moved: p50 %v, max %v", m.moved, percentile(m.gaps, 50).Round(10*time.Millisecond),
		percentile(m.gaps, 100).Round(10*time.Millisecond))
	if m.unmoved > 0 {
		s += fmt.Sprintf("; %d not moved in %v (> %v)", m.unmoved, m.bound, m.bound)
	}
	s += fmt.Sprintf("; all gaps %v", roundAll(m.gaps))
	if len(m.idle) > 0 {
		s += fmt.Sprintf("; idle before the stop (every shard taken): %v", m.idle)
	}
	s += fmt.Sprintf("; %d duplicates, %d unprocessed after a 20 s drain", m.dups, m.lost)
	if graceful {
		return s
	}
	return s + " (crash: duplicates expected)"
}

func rebalanceCell(r rebalanceResult) string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	if !r.reached {
		return fmt.Sprintf("> %v (a %d, b %d shards at the bound; %d steal claims written); %d duplicates, %d unprocessed",
			r.bound, r.byA, r.byB, r.claims, r.dups, r.lost)
	}
	return fmt.Sprintf("%v (a %d, b %d); %d duplicates, %d unprocessed", r.took.Round(10*time.Millisecond),
		r.byA, r.byB, r.dups, r.lost)
}

func costCell(c costResult) string {
	if c.err != nil {
		return "error: " + c.err.Error()
	}
	return fmt.Sprintf("%.2f (reads %.0f requests/min)", c.writesPerLeaseMin, c.readsPerMin)
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(100 * time.Millisecond)
	}
	return out
}
