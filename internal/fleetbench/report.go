package fleetbench

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shoal-go/shoal/internal/leasebench"
)

// Targets (issue 10, "Targets, measured the way users run it").
const (
	TargetStart         = 10 * time.Second       // one worker takes every lease
	TargetJoin          = 10 * time.Second       // balanced +/-1 and both processing
	TargetGracefulGap   = 200 * time.Millisecond // max gap per moved shard after SIGTERM
	TargetCrashGapP50   = 5 * time.Second        // median gap per moved shard after SIGKILL
	TargetLatencyFenceP = 500 * time.Millisecond // 0 self-fences up to this injected p99
)

// judge fills r's Target (unless set) and Pass from its figures.
func judge(r Result) Result {
	var ok bool
	has := true
	switch r.Scenario {
	case ScenarioStart:
		r.Target = fmt.Sprintf("owns and processes all %d <= %v", r.Shards, TargetStart)
		ok = r.Reached && r.Took <= TargetStart
	case ScenarioJoin:
		r.Target = fmt.Sprintf("balanced +/-1, both processing <= %v, 0 duplicates, 0 self-fences", TargetJoin)
		ok = r.Reached && r.Took <= TargetJoin && r.Duplicates == 0 && r.SelfFences == 0
	case ScenarioSIGTERM:
		r.Target = fmt.Sprintf("max gap <= %v, 0 duplicates", TargetGracefulGap)
		ok = r.Moving > 0 && r.Moved == r.Moving && Percentile(r.Gaps, 100) <= TargetGracefulGap && r.Duplicates == 0
	case ScenarioSIGKILL:
		r.Target = fmt.Sprintf("gap median <= %v", TargetCrashGapP50)
		ok = r.Moving > 0 && r.Moved == r.Moving && Percentile(r.Gaps, 50) <= TargetCrashGapP50
	case ScenarioLatency:
		if r.ThrottleBurst > 0 {
			r.Target = "none (measured)"
			has = false
		} else if r.Injected > TargetLatencyFenceP {
			r.Target = "none (0 self-fences up to p99 " + TargetLatencyFenceP.String() + ")"
			has = false
		} else {
			r.Target = "0 self-fences"
			ok = r.SelfFences == 0
		}
	}
	ok = ok && r.Lost == 0
	switch {
	case r.Lost > 0 || r.WorkerExits > 0:
		r.Pass = "FAIL"
	case !has:
		r.Pass = "-"
	case ok:
		r.Pass = "pass"
	default:
		r.Pass = "FAIL"
	}
	return r
}

// Measured describes r's figures in one cell.
func (r Result) Measured() string {
	var parts []string
	secs := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
	switch r.Scenario {
	case ScenarioCapacity:
		s := fmt.Sprintf("%.0f conditional UpdateItems/s; p50 %d ms, p99 %d ms", r.RequestsPerSecond, r.LatencyP50.Milliseconds(), r.LatencyP99.Milliseconds())
		if r.Note != "" {
			s += " (" + r.Note + ")"
		}
		return s
	case ScenarioStart, ScenarioJoin:
		if r.Reached {
			parts = append(parts, secs(r.Took))
		} else {
			parts = append(parts, "not within "+secs(r.Took))
		}
	case ScenarioSIGTERM, ScenarioSIGKILL:
		parts = append(parts, fmt.Sprintf("gap p50 %s, max %s (%d of %d shards moved)",
			secs(Percentile(r.Gaps, 50)), secs(Percentile(r.Gaps, 100)), r.Moved, r.Moving))
		if r.Scenario == ScenarioSIGTERM && len(r.Stalls) > 0 {
			parts = append(parts, fmt.Sprintf("stall p50 %s, max %s", secs(Percentile(r.Stalls, 50)), secs(Percentile(r.Stalls, 100))))
		}
	case ScenarioLatency:
		parts = append(parts, fmt.Sprintf("seen p50 %d ms, p99 %d ms; longest shard stall %s",
			r.LatencyP50.Milliseconds(), r.LatencyP99.Milliseconds(), secs(r.MaxStall)))
		if r.Throttled > 0 {
			parts = append(parts, fmt.Sprintf("%d requests throttled", r.Throttled))
		}
	}
	fences := fmt.Sprintf("%d self-fences", r.SelfFences)
	if r.SelfFences > 0 {
		fences = fmt.Sprintf("%d self-fences (lease-lost events, in %d bursts)", r.SelfFences, r.FenceEpisodes)
	}
	parts = append(parts, fences, fmt.Sprintf("%d duplicates", r.Duplicates),
		fmt.Sprintf("%d lost of %d", r.Lost, r.Produced))
	if r.StoreErrors > 0 {
		parts = append(parts, fmt.Sprintf("%d requests the store did not answer (proxy 502, retried by the SDK)", r.StoreErrors))
	}
	if r.ProducerErrors > 0 {
		parts = append(parts, fmt.Sprintf("%d failed PutRecords calls", r.ProducerErrors))
	}
	if r.ProcessorFailures > 0 {
		parts = append(parts, fmt.Sprintf("%d failed checkpoints", r.ProcessorFailures))
	}
	parts = append(parts, fmt.Sprintf("%d DynamoDB requests (%.0f/s; lease table %d, worker table %d)",
		r.Requests, r.RequestsPerSecond, r.LeaseTableRequests, r.WorkerTableRequests))
	s := strings.Join(parts, "; ")
	if r.Note != "" {
		s += " (" + strings.TrimSuffix(strings.TrimSpace(r.Note), ";") + ")"
	}
	return s
}

// WriteTable writes results as a Markdown table.
func WriteTable(w io.Writer, results []Result) {
	fmt.Fprintln(w, "| scenario | store | target | measured | pass/fail |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range results {
		name := r.Scenario
		switch r.Scenario {
		case ScenarioCapacity:
			name = fmt.Sprintf("the store alone: %d callers writing checkpoints to 100 items, 5 s", capacityCallers)
		case ScenarioStart:
			name = fmt.Sprintf("one worker starts alone, %d shards", r.Shards)
		case ScenarioJoin:
			name = fmt.Sprintf("a second worker joins (1 -> 2), %d shards", r.Shards)
		case ScenarioSIGTERM:
			name = fmt.Sprintf("SIGTERM one of two workers, %d shards", r.Shards)
		case ScenarioSIGKILL:
			name = fmt.Sprintf("SIGKILL one of two workers, %d shards", r.Shards)
		case ScenarioLatency:
			on := map[string]string{"all": "lease store", "leases": "lease table", "workers": "worker table"}[r.InjectedOn]
			name = fmt.Sprintf("%s latency p99 %v injected, two workers, %d shards", on, r.Injected, r.Shards)
			switch {
			case r.ThrottleBurst > 0:
				name = fmt.Sprintf("%s throttled (every request) for %v every %v, two workers, %d shards", on, r.ThrottleBurst, r.ThrottleEvery, r.Shards)
			case r.Injected == 0:
				name = fmt.Sprintf("no latency injected (baseline of the above), two workers, %d shards", r.Shards)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", name, r.Store, r.Target, r.Measured(), r.Pass)
	}
}

// Percentile returns the p-th percentile (0..100) of ds (nearest rank), 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration { return leasebench.Percentile(ds, p) }
