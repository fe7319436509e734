// Package fleetbench measures the lease protocol the way an application runs it: worker
// processes (this binary re-executed as `shoal demo-worker`, each a kcl consumer with
// kcl.BatchProcessor, checkpointing after every batch, at kcl's defaults), a Kinesis stream
// with a producer writing to every shard (a `shoal local` server), and the lease table in a
// DynamoDB server reached over sockets (dynalite or `shoal local`) through a counting Proxy that
// can inject latency. Everything is measured from the workers' event lines (workerproc's
// protocol): time to a target, the gap per moved shard, duplicates, lost records, self-fences
// (leases lost by workers that were never stopped) and DynamoDB requests.
package fleetbench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Store is a DynamoDB endpoint to keep the lease table in.
type Store struct {
	Name     string // e.g. "dynalite", "shoal local"
	Endpoint string
}

// Scenario names, in the order Run runs them.
const (
	ScenarioStart   = "start"   // one worker starts alone and takes every lease
	ScenarioJoin    = "join"    // a second worker joins
	ScenarioSIGTERM = "sigterm" // graceful stop of one of two workers
	ScenarioSIGKILL = "sigkill" // crash of one of two workers
	ScenarioLatency = "latency" // latency injected on the lease table
)

// AllScenarios lists every scenario.
var AllScenarios = []string{ScenarioCapacity, ScenarioStart, ScenarioJoin, ScenarioSIGTERM, ScenarioSIGKILL, ScenarioLatency}

// Config configures Run. Zero fields take the defaults shown.
type Config struct {
	// WorkerPath is the worker executable. Default: this process's executable.
	WorkerPath string
	// WorkerArgs start a worker, e.g. {"demo-worker"}; Run appends the endpoints, stream, app,
	// id, --kcl-defaults and --exit-with-parent. Required.
	WorkerArgs []string
	// WorkerEnv is added to the workers' environment.
	WorkerEnv []string
	// KinesisEndpoint serves the streams (a kinesislocal server). Required.
	KinesisEndpoint string
	// AWSConfig returns the SDK configuration for an endpoint. Required.
	AWSConfig func(endpoint string) aws.Config
	// Stores are the lease-table servers; every scenario runs against each. Required.
	Stores []Store
	// Scenarios to run. Default AllScenarios.
	Scenarios []string
	// Shards in the start, join and latency scenarios. Default 100.
	Shards int
	// SmallShards in the SIGTERM and SIGKILL scenarios. Default 8.
	SmallShards int
	// Rate is records per second written to each shard of the big fleets. Default 4 (one per
	// kcl's default 250 ms poll, so every poll returns a batch and checkpoints).
	Rate float64
	// SmallRate is the same for the SIGTERM and SIGKILL fleets. Default 25, so the gap measures
	// the handoff rather than the wait for the next record.
	SmallRate float64
	// Trials of the SIGTERM and SIGKILL scenarios (each stops one of two workers). Default 2.
	Trials int
	// Latencies are the injected p99s of the latency scenario, each measured in turn on one
	// fleet; 0 measures the same window with nothing injected (the baseline). Default 0, 200ms,
	// 500ms, 1s.
	Latencies []time.Duration
	// LatencyOn selects the requests the latency and throttling apply to: "all" (default),
	// "leases" (the lease table only) or "workers" (the worker heartbeat table only).
	LatencyOn string
	// ThrottleBurst: after the latencies, the latency fleet gets a Window of throttling bursts:
	// every lease-store request is answered ProvisionedThroughputExceededException for
	// ThrottleBurst, then served normally for ThrottleEvery - ThrottleBurst, and again. Defaults
	// 1s and 5s; a negative ThrottleBurst skips it.
	ThrottleBurst, ThrottleEvery time.Duration
	// Window is how long each latency runs, and how long the join scenario is watched after
	// its target for self-fences and duplicates. Default 20s.
	Window time.Duration
	// Deadline bounds the wait for each target. Default 60s.
	Deadline time.Duration
	// LogDir receives each worker's stderr (kcl warnings). Required.
	LogDir string
	// Progress receives a line per step. May be nil.
	Progress io.Writer
}

func (c Config) withDefaults() (Config, error) {
	if len(c.WorkerArgs) == 0 || c.KinesisEndpoint == "" || c.AWSConfig == nil || len(c.Stores) == 0 || c.LogDir == "" {
		return c, fmt.Errorf("fleetbench: WorkerArgs, KinesisEndpoint, AWSConfig, Stores and LogDir are required")
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(AllScenarios, s) {
			return c, fmt.Errorf("fleetbench: unknown scenario %q (have %v)", s, AllScenarios)
		}
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = AllScenarios
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Shards, 100)
	def(&c.SmallShards, 8)
	def(&c.Trials, 2)
	if c.Rate <= 0 {
		c.Rate = 4
	}
	if c.SmallRate <= 0 {
		c.SmallRate = 25
	}
	if len(c.Latencies) == 0 {
		c.Latencies = []time.Duration{0, 200 * time.Millisecond, 500 * time.Millisecond, time.Second}
	}
	switch c.LatencyOn {
	case "":
		c.LatencyOn = "all"
	case "all", "leases", "workers":
	default:
		return c, fmt.Errorf("fleetbench: LatencyOn %q: want all, leases or workers", c.LatencyOn)
	}
	if c.ThrottleBurst == 0 {
		c.ThrottleBurst = time.Second
	}
	if c.ThrottleEvery <= 0 {
		c.ThrottleEvery = 5 * time.Second
	}
	if c.ThrottleBurst >= c.ThrottleEvery {
		return c, fmt.Errorf("fleetbench: ThrottleBurst %v must be shorter than ThrottleEvery %v", c.ThrottleBurst, c.ThrottleEvery)
	}
	if c.Window <= 0 {
		c.Window = 20 * time.Second
	}
	if c.Deadline <= 0 {
		c.Deadline = 60 * time.Second
	}
	return c, nil
}

// Result is one scenario against one store.
type Result struct {
	Scenario, Store, Target string
	Shards                  int
	// Took is the time to the target (start, join); Reached says whether it was reached
	// before the deadline.
	Took    time.Duration
	Reached bool
	// Gaps: per moved shard, from the signal to the first batch another worker processed.
	Gaps []time.Duration
	// Stalls: per moved shard, from the stopped worker's last batch of it (or the signal, if
	// that came later) to the first batch another worker processed: how long the shard was
	// not processed. After SIGKILL it equals the gap; after SIGTERM the stopped worker keeps
	// processing while its takers get ready, so the stall is the shorter, user-visible figure.
	// Batches of a busy shard are themselves Polling.Interval (250 ms) apart, which bounds
	// how small a stall can be measured.
	Stalls []time.Duration
	// Moved of Moving shards of the stopped worker were processed elsewhere (SIGTERM, SIGKILL).
	Moved, Moving int
	// Duplicates: records processed again within the scenario; Lost: records of the fleet
	// never processed (counted once the producer stopped and the fleet drained).
	Duplicates, Lost, Produced int
	// SelfFences: lease-lost events of workers that were never stopped; FenceEpisodes: their
	// bursts (a worker that fences itself loses every lease at once).
	SelfFences, FenceEpisodes int
	// ProcessorFailures: failed processor runs (a failed checkpoint) of running workers.
	ProcessorFailures int
	// StoreErrors: requests the proxy could not forward (the store refused or broke the
	// connection; the proxy answered 502 and the client's SDK retried). Reported, not judged: a
	// store that died shows as lost records and stalls.
	StoreErrors int64
	// ProducerErrors: failed PutRecords calls; their records were sent again, so a record that
	// was stored by a failed call and again by its retry shows as a duplicate.
	ProducerErrors int
	// WorkerExits: workers that exited without being stopped (named in Note); any fails the
	// scenario.
	WorkerExits int
	// Requests to the lease store within the scenario, their rate, and their time at the
	// proxy (injected delay plus the server's time).
	Requests          int64
	RequestsPerSecond float64
	// LeaseTableRequests and WorkerTableRequests split Requests by table (the rest name no
	// table, e.g. ListTables).
	LeaseTableRequests, WorkerTableRequests int64
	LatencyP50, LatencyP99                  time.Duration
	// Injected is the latency scenario's injected p99 (0: none, the baseline), on the requests
	// InjectedOn names (Config.LatencyOn).
	Injected   time.Duration
	InjectedOn string
	// ThrottleBurst and ThrottleEvery describe a throttling window (ThrottleBurst > 0);
	// Throttled counts the requests the proxy answered with a throttle.
	ThrottleBurst, ThrottleEvery time.Duration
	Throttled                    int64
	// MaxStall is the longest any shard went without a batch during a latency window.
	MaxStall time.Duration
	// Pass is "pass", "FAIL", or "-" where the scenario has no target.
	Pass string
	// Note says what went wrong, if anything.
	Note string
}

// Run runs the scenarios against every store, one fleet at a time, and returns a Result per
// scenario and store (and per latency). An error means the harness itself failed (a stream
// could not be created, a worker could not start); a scenario that misses its target is a
// Result with Pass "FAIL". When ctx ends, Run stops every process it started and returns the
// results of the scenarios that completed with ctx's cause.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var out []Result
	seq := 0
	name := func(s string) string {
		seq++
		return fmt.Sprintf("fleet-%d-%s-%d", time.Now().Unix(), s, seq)
	}
	for _, st := range c.Stores {
		want := func(s string) bool { return slices.Contains(c.Scenarios, s) }
		if want(ScenarioCapacity) {
			c.logf("%s: capacity: %d callers writing for 5s", st.Name, capacityCallers)
			r, err := c.capacity(ctx, st, name("capacity"), 5*time.Second)
			if err == nil {
				err = context.Cause(ctx)
			}
			if err != nil {
				return out, fmt.Errorf("%s: capacity: %w", st.Name, err)
			}
			out = append(out, r)
		}
		if want(ScenarioStart) || want(ScenarioJoin) {
			rs, err := c.startJoin(ctx, st, name("join"))
			if err == nil {
				err = context.Cause(ctx) // an interrupted scenario's figures mean nothing
			}
			if err != nil {
				return out, fmt.Errorf("%s: start/join: %w", st.Name, err)
			}
			for _, r := range rs {
				if want(r.Scenario) {
					out = append(out, r)
				}
			}
		}
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			s := ScenarioSIGTERM
			if sig == syscall.SIGKILL {
				s = ScenarioSIGKILL
			}
			if !want(s) {
				continue
			}
			r := Result{Scenario: s, Store: st.Name, Shards: c.SmallShards}
			for trial := range c.Trials {
				err := c.stopOne(ctx, st, name(s), sig, &r)
				if err == nil {
					err = context.Cause(ctx)
				}
				if err != nil {
					return out, fmt.Errorf("%s: %s trial %d: %w", st.Name, s, trial+1, err)
				}
			}
			out = append(out, judge(r))
		}
		if want(ScenarioLatency) {
			rs, err := c.latency(ctx, st, name("latency"))
			if err == nil {
				err = context.Cause(ctx)
			}
			if err != nil {
				return out, fmt.Errorf("%s: latency: %w", st.Name, err)
			}
			out = append(out, rs...)
		}
	}
	return out, nil
}

// startJoin: worker w1 starts alone on a fresh table (time until it owns and processes every
// shard), then w2 joins (time until both own half +/- 1 and process all they own); then Window
// more of watching for self-fences and duplicates.
func (c *Config) startJoin(ctx context.Context, st Store, name string) ([]Result, error) {
	f, err := newFleet(ctx, c, st, name, c.Shards, c.Rate)
	if err != nil {
		return nil, err
	}
	defer f.close(ctx)
	start := Result{Scenario: ScenarioStart, Store: st.Name, Shards: c.Shards}
	c.logf("%s: %s: w1 starts alone on %d shards", st.Name, name, c.Shards)
	w := f.openWindow()
	if err := f.startWorker("w1"); err != nil {
		return nil, err
	}
	at, ok := f.waitFor(ctx, c.Deadline, func() bool { return f.holdsAll("w1") && f.workers["w1"].processing() })
	start.Took, start.Reached = at.Sub(w.from), ok
	if !ok {
		f.mu.Lock()
		start.Note = fmt.Sprintf("w1 owned %d of %d after %v", len(f.workers["w1"].owned), c.Shards, c.Deadline)
		f.mu.Unlock()
	}
	f.closeWindow(w, &start)

	join := Result{Scenario: ScenarioJoin, Store: st.Name, Shards: c.Shards}
	c.logf("%s: %s: w2 joins", st.Name, name)
	w = f.openWindow()
	if err := f.startWorker("w2"); err != nil {
		return nil, err
	}
	at, ok = f.waitFor(ctx, c.Deadline, f.balanced)
	join.Took, join.Reached = at.Sub(w.from), ok
	if !ok {
		join.Note = "not balanced: " + f.ownedSummary()
	}
	sleepCtx(ctx, c.Window)
	produced, lost := f.drain(ctx, 30*time.Second)
	f.closeWindow(w, &join)
	start.Produced, start.Lost, join.Produced, join.Lost = produced, lost, produced, lost
	return []Result{judge(start), judge(join)}, nil
}

// ownedSummary describes each worker's owned shards; called without f.mu.
func (f *fleet) ownedSummary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := ""
	for _, id := range slices.Sorted(maps.Keys(f.workers)) {
		w := f.workers[id]
		n := 0
		for sh := range w.owned {
			if w.batch[sh].After(w.owned[sh]) {
				n++
			}
		}
		s += fmt.Sprintf("%s %s owns %d (processing %d); ", id, w.state, len(w.owned), n)
	}
	return s
}

// stopOne: two workers share SmallShards shards; once balanced and quiet for 3 s, w1 gets sig;
// each of its shards' gap is measured until the other worker processes it.
func (c *Config) stopOne(ctx context.Context, st Store, name string, sig syscall.Signal, r *Result) error {
	f, err := newFleet(ctx, c, st, name, c.SmallShards, c.SmallRate)
	if err != nil {
		return err
	}
	defer f.close(ctx)
	c.logf("%s: %s: two workers on %d shards, then %s to w1", st.Name, name, c.SmallShards, map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGKILL: "SIGKILL"}[sig])
	for _, id := range []string{"w1", "w2"} {
		if err := f.startWorker(id); err != nil {
			return err
		}
	}
	if !f.waitStable(ctx, c.Deadline, 3*time.Second) {
		r.Note += fmt.Sprintf("not balanced in %v (%s); ", c.Deadline, f.ownedSummary())
		f.drain(ctx, 10*time.Second)
		return nil
	}
	w := f.openWindow()
	f.mu.Lock()
	victim := slices.Sorted(maps.Keys(f.workers["w1"].owned))
	f.mu.Unlock()
	t0 := f.signal("w1", sig)
	f.mu.Lock()
	for _, s := range victim {
		f.watch[s] = &move{from: "w1", since: t0}
	}
	f.mu.Unlock()
	f.waitFor(ctx, c.Deadline, func() bool {
		for _, s := range victim {
			if f.watch[s].done.IsZero() {
				return false
			}
		}
		return true
	})
	f.mu.Lock()
	r.Moving += len(victim)
	for _, s := range victim {
		if m := f.watch[s]; !m.done.IsZero() {
			r.Moved++
			r.Gaps = append(r.Gaps, m.done.Sub(t0))
			from := t0
			if b := f.workers["w1"].batch[s]; b.After(from) {
				from = b
			}
			if from.After(m.done) { // the stopped worker's batch was reported after the taker's
				from = m.done
			}
			r.Stalls = append(r.Stalls, m.done.Sub(from))
		}
	}
	f.mu.Unlock()
	produced, lost := f.drain(ctx, 30*time.Second)
	f.closeWindow(w, r)
	r.Produced += produced
	r.Lost += lost
	return nil
}

// latency: two workers share Shards shards; once balanced, each p99 in turn is injected on every
// lease-store request for Window, then removed until the fleet is balanced again.
func (c *Config) latency(ctx context.Context, st Store, name string) ([]Result, error) {
	f, err := newFleet(ctx, c, st, name, c.Shards, c.Rate)
	if err != nil {
		return nil, err
	}
	defer f.close(ctx)
	c.logf("%s: %s: two workers on %d shards", st.Name, name, c.Shards)
	for _, id := range []string{"w1", "w2"} {
		if err := f.startWorker(id); err != nil {
			return nil, err
		}
	}
	switch c.LatencyOn {
	case "leases":
		f.proxy.SetFilter(func(table string) bool { return table == name })
	case "workers":
		f.proxy.SetFilter(func(table string) bool { return table == name+"-workers" })
	}
	levels := make([]Result, 0, len(c.Latencies)+1)
	for _, p99 := range c.Latencies {
		levels = append(levels, Result{Injected: p99})
	}
	if c.ThrottleBurst > 0 {
		levels = append(levels, Result{ThrottleBurst: c.ThrottleBurst, ThrottleEvery: c.ThrottleEvery})
	}
	var out []Result
	for _, r := range levels {
		r.Scenario, r.Store, r.Shards, r.InjectedOn = ScenarioLatency, st.Name, c.Shards, c.LatencyOn
		if !f.waitStable(ctx, c.Deadline, 3*time.Second) {
			r.Note = fmt.Sprintf("not balanced in %v before the injection (%s); ", c.Deadline, f.ownedSummary())
		}
		f.mu.Lock()
		f.stall, f.stallOn, f.stallFrom = map[string]time.Duration{}, true, time.Now()
		f.mu.Unlock()
		w := f.openWindow()
		if r.ThrottleBurst > 0 {
			c.logf("%s: %s: lease store throttled for %v every %v, for %v", st.Name, name, r.ThrottleBurst, r.ThrottleEvery, c.Window)
			for end := time.Now().Add(c.Window); time.Now().Before(end) && ctx.Err() == nil; {
				f.proxy.SetThrottle(true)
				sleepCtx(ctx, r.ThrottleBurst)
				f.proxy.SetThrottle(false)
				sleepCtx(ctx, min(r.ThrottleEvery-r.ThrottleBurst, time.Until(end)))
			}
		} else {
			c.logf("%s: %s: lease-store latency p99 %v injected for %v", st.Name, name, r.Injected, c.Window)
			f.proxy.SetLatency(r.Injected)
			sleepCtx(ctx, c.Window)
			f.proxy.SetLatency(0)
		}
		f.closeWindow(w, &r)
		now := time.Now()
		f.mu.Lock()
		f.stallOn = false
		for _, s := range f.shards {
			last := f.last[s.id].at
			if last.Before(w.from) {
				last = w.from
			}
			r.MaxStall = max(r.MaxStall, f.stall[s.id], now.Sub(last))
		}
		f.mu.Unlock()
		out = append(out, r)
	}
	produced, lost := f.drain(ctx, 30*time.Second)
	for i := range out {
		out[i].Produced, out[i].Lost = produced, lost
		out[i] = judge(out[i])
	}
	return out, nil
}
