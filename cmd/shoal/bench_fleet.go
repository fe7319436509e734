package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/shoal-go/shoal/internal/fleetbench"
)

// runBenchFleet is `shoal bench leases --fleet`: the lease scenarios with worker processes, a
// real stream with records on every shard, and the lease table in a DynamoDB server over
// sockets (see internal/fleetbench).
func runBenchFleet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench leases --fleet", "bench leases --fleet [--dynalite URL] [--stores local,dynalite] [--scenarios capacity,start,join,sigterm,sigkill,latency] [--shards 100] [--small-shards 8] [--trials 2] [--latency 0,200ms,500ms,1s] [--latency-on all|leases|workers] [--throttle-burst 1s] [--window 20s] [--deadline 60s] [--log-dir DIR]", stderr)
	dynalite := fs.String("dynalite", os.Getenv("DYNALITE_ENDPOINT"), "dynalite endpoint (default $DYNALITE_ENDPOINT; test/emulators/start.sh starts one)")
	stores := fs.String("stores", "", "lease stores to measure, comma-separated: local (the shoal local server that also serves the stream), dynalite (default: both if a dynalite endpoint is known, else local)")
	scenarios := fs.String("scenarios", strings.Join(fleetbench.AllScenarios, ","), "scenarios to run, comma-separated")
	shards := fs.Int("shards", 100, "shards in the start, join and latency scenarios")
	small := fs.Int("small-shards", 8, "shards in the SIGTERM and SIGKILL scenarios")
	rate := fs.Float64("rate", 4, "records per second per shard (start, join, latency)")
	smallRate := fs.Float64("small-rate", 25, "records per second per shard (SIGTERM, SIGKILL)")
	trials := fs.Int("trials", 2, "SIGTERM and SIGKILL trials")
	latencies := fs.String("latency", "0,200ms,500ms,1s", "injected lease-store p99 latencies, comma-separated (0: the baseline, nothing injected)")
	latencyOn := fs.String("latency-on", "all", "requests the latency and throttling apply to: all, leases (lease table) or workers (worker table)")
	burst := fs.Duration("throttle-burst", time.Second, "after the latencies, throttle every lease-store request for this long every --throttle-every, for --window (0: skip)")
	every := fs.Duration("throttle-every", 5*time.Second, "period of the throttling bursts")
	window := fs.Duration("window", 20*time.Second, "each latency's duration; how long the join is watched after its target")
	deadline := fs.Duration("deadline", 60*time.Second, "longest wait for each target")
	logDir := fs.String("log-dir", "", "directory for the workers' logs (default: a new temporary directory)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *burst <= 0 {
		*burst = -1 // fleetbench: negative skips
	}
	cfg := fleetbench.Config{WorkerArgs: []string{"demo-worker"}, AWSConfig: endpointConfig, Shards: *shards, SmallShards: *small,
		Rate: *rate, SmallRate: *smallRate, ThrottleBurst: *burst, ThrottleEvery: *every, LatencyOn: *latencyOn, Trials: *trials, Window: *window, Deadline: *deadline, LogDir: *logDir, Progress: stderr}
	for s := range strings.SplitSeq(*scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Scenarios = append(cfg.Scenarios, s)
		}
	}
	for s := range strings.SplitSeq(*latencies, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d < 0 {
			fmt.Fprintf(stderr, "--latency %q: want durations >= 0\n", *latencies)
			return errUsage
		}
		cfg.Latencies = append(cfg.Latencies, d)
	}
	want := *stores
	if want == "" {
		want = "local"
		if *dynalite != "" {
			want = "local,dynalite"
		}
	}
	local, _, stopLocal, err := startLocalProcess(ctx, stderr)
	if err != nil {
		return err
	}
	defer stopLocal()
	cfg.KinesisEndpoint = local
	for s := range strings.SplitSeq(want, ",") {
		switch strings.TrimSpace(s) {
		case "local":
			cfg.Stores = append(cfg.Stores, fleetbench.Store{Name: "shoal local", Endpoint: local})
		case "dynalite":
			if *dynalite == "" {
				return fmt.Errorf("--stores dynalite needs --dynalite URL or $DYNALITE_ENDPOINT")
			}
			cfg.Stores = append(cfg.Stores, fleetbench.Store{Name: "dynalite", Endpoint: *dynalite})
		default:
			fmt.Fprintf(stderr, "--stores %q: want local and/or dynalite\n", want)
			return errUsage
		}
	}
	if !strings.Contains(want, "dynalite") {
		fmt.Fprintln(stderr, "NOTE: dynalite not measured (no --dynalite URL or $DYNALITE_ENDPOINT)")
	}
	if cfg.LogDir == "" {
		if cfg.LogDir, err = os.MkdirTemp("", "shoal-fleet-"); err != nil {
			return err
		}
	}
	load0, began := loadAverage(), time.Now()
	results, err := fleetbench.Run(ctx, cfg)
	load1 := loadAverage()
	fmt.Fprintf(stdout, "fleet lease benchmark, %s: worker processes (kcl defaults, checkpoint after every batch), stream on shoal local, lease store over loopback through a counting proxy\n",
		began.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(stdout, "machine: %d CPUs, load average (1 min) %s at start, %s at end; took %s; worker logs in %s\n\n",
		runtime.NumCPU(), load0, load1, time.Since(began).Round(time.Second), cfg.LogDir)
	fleetbench.WriteTable(stdout, results)
	return err
}

// loadAverage returns the 1-minute load average, or "n/a" where /proc/loadavg does not exist.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "n/a"
	}
	return f[0]
}
