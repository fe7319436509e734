package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/shoal-go/shoal/internal/leasebench"
)

// runBenchLeases runs the lease protocol scenarios in real time and prints them beside the Java
// KCL's figures at its defaults (derived from the timers in its public source,
// github.com/awslabs/amazon-kinesis-client).
// With --fleet it runs the fleet scenarios instead (runBenchFleet).
func runBenchLeases(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if i := slices.IndexFunc(args, func(a string) bool { return a == "--fleet" || a == "-fleet" }); i >= 0 {
		return runBenchFleet(ctx, slices.Delete(slices.Clone(args), i, i+1), stdout, stderr)
	}
	fs := newFlags("bench leases", "bench leases [--fleet ...] [--trials 3] [--window 30s] [--shards 100] [--many 1000]", stderr)
	trials := fs.Int("trials", 3, "crash and graceful trials (4 shards move per trial)")
	window := fs.Duration("window", 30*time.Second, "steady-state window for the lease-table cost")
	shards := fs.Int("shards", 100, "leases in the rebalance and cost scenarios")
	many := fs.Int("many", 1000, "leases held by one worker in the scale scenario")
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "crash failover ...")
	crash, err := leasebench.Failover(ctx, false, *trials)
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, "graceful handoff ...")
	grace, err := leasebench.Failover(ctx, true, *trials)
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, "rebalance ...")
	reb, rebDups, rebLost, err := leasebench.Rebalance(ctx, *shards)
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, "lease-table cost ...")
	cost, err := leasebench.LeaseCost(ctx, *shards, 2, *window)
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, "many leases ...")
	scale, err := leasebench.ManyLeases(ctx, *many, 10*time.Second)
	if err != nil {
		return err
	}
	p := leasebench.Percentile
	fmt.Fprintf(stdout, "lease protocol benchmark (defaults: 1s heartbeat, 3s lease duration; real time, one process, in-process kinesislocal)\n\n")
	fmt.Fprintf(stdout, "| scenario | Shoal | Java KCL at defaults (reference) |\n|---|---|---|\n")
	fmt.Fprintf(stdout, "| crash failover, gap until a survivor processes the dead worker's shard (%d shards) | p50 %.1fs, max %.1fs; %d duplicates, %d lost | 20-40 s |\n",
		len(crash.Gaps), p(crash.Gaps, 50).Seconds(), p(crash.Gaps, 100).Seconds(), crash.Duplicates, crash.Lost)
	fmt.Fprintf(stdout, "| graceful shutdown, gap per moved shard (%d shards) | p50 %.2fs, max %.2fs; %d duplicates, %d lost | 27-40 s, duplicates |\n",
		len(grace.Gaps), p(grace.Gaps, 50).Seconds(), p(grace.Gaps, 100).Seconds(), grace.Duplicates, grace.Lost)
	fmt.Fprintf(stdout, "| graceful shutdown, stall per moved shard: from the stopped worker's last batch to the next worker's first | p50 %.2fs, max %.2fs | - |\n",
		p(grace.Stalls, 50).Seconds(), p(grace.Stalls, 100).Seconds())
	fmt.Fprintf(stdout, "| rebalance 1 -> 2 workers, %d leases, until +/-1 | %.1fs; %d duplicates, %d lost | 16.7 min (2.x), 1-4 min (3.x) |\n",
		*shards, reb.Seconds(), rebDups, rebLost)
	fmt.Fprintf(stdout, "| DynamoDB writes per lease per minute, steady, no checkpoints (%d leases, %d workers) | %.2f (%.0f per worker per minute) | 18.1 |\n",
		cost.Leases, cost.Workers, cost.WritesPerLeasePerMinute, cost.WritesPerWorkerPerMinute)
	fmt.Fprintf(stdout, "| DynamoDB reads per minute, same fleet | %.0f requests, %.0f items scanned | - |\n", cost.ReadsPerMinute, cost.ScannedItemsPerMinute)
	fmt.Fprintf(stdout, "| one worker holding %d leases (lease layer) | %.1f%% of a core, %.1f MiB heap, all acquired in %.1fs | - |\n",
		scale.Leases, 100*scale.CPUPerSecond.Seconds(), float64(scale.HeapBytes)/(1<<20), scale.AcquireAllIn.Seconds())
	return nil
}
