package lease

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-go/shoal/internal/datadriven"
)

// TestPlanScenarios runs the scenario files in testdata/plan: each sets up one worker's view of
// the tables and checks what Plan decides. Commands:
//
//	leases            one lease per input line: KEY [owner=W] [counter=N] [cpowner=W] [idle=D]
//	                  [unchecked] [finished] [parents=P1,P2]   (replaces the lease table)
//	workers           one worker row per line: ID [idle=D]      (replaces the worker table)
//	held              one held claim per line: KEY [counter=N]  (the claims of the planner)
//	invalid           one key per line: items that are not valid leases
//	tick D            every lease and worker has been idle D longer
//	plan me=W [cap=N] [steals=N] [drain] [ld=D]
//	                  prints targets, then each non-empty action: take/handoff as KEY<FROM in
//	                  Plan's order, stop/lost/shed/complete sorted, unverified count
//
// Run with -rewrite to regenerate the expected outputs (then review the diff).
func TestPlanScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/plan", func(t *testing.T, path string) {
		var v View
		v.Held = map[string]int64{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "leases":
				v.Leases = nil
				for _, line := range inputLines(d) {
					key, kv := fieldsOf(t, d, line)
					l := LeaseView{Lease: Lease{Key: key, Checkpoint: Checkpoint{Sequence: TrimHorizon}}, Checked: true}
					for k, val := range kv {
						switch k {
						case "owner":
							l.Owner = val
						case "counter":
							l.Counter = mustInt(t, d, val)
						case "cpowner":
							l.CheckpointOwner = val
						case "idle":
							l.Idle = mustDur(t, d, val)
						case "unchecked":
							l.Checked = false
						case "finished":
							l.Checkpoint = Checkpoint{Sequence: ShardEnd}
						case "parents":
							l.ParentShardIDs = strings.Split(val, ",")
						default:
							d.Fatalf(t, "unknown lease attribute %q", k)
						}
					}
					v.Leases = append(v.Leases, l)
				}
				return ""
			case "workers":
				v.Workers = nil
				for _, line := range inputLines(d) {
					id, kv := fieldsOf(t, d, line)
					w := WorkerView{ID: id}
					for k, val := range kv {
						if k != "idle" {
							d.Fatalf(t, "unknown worker attribute %q", k)
						}
						w.Idle = mustDur(t, d, val)
					}
					v.Workers = append(v.Workers, w)
				}
				return ""
			case "held":
				v.Held = map[string]int64{}
				for _, line := range inputLines(d) {
					key, kv := fieldsOf(t, d, line)
					v.Held[key] = 0
					if c, ok := kv["counter"]; ok {
						v.Held[key] = mustInt(t, d, c)
					}
				}
				return ""
			case "invalid":
				v.Invalid = inputLines(d)
				return ""
			case "tick":
				if len(d.Args) != 1 {
					d.Fatalf(t, "tick DURATION")
				}
				by := mustDur(t, d, d.Args[0].Key)
				for i := range v.Leases {
					v.Leases[i].Idle += by
				}
				for i := range v.Workers {
					v.Workers[i].Idle += by
				}
				return ""
			case "plan":
				cfg := PlanConfig{Me: d.Val("me", ""), LeaseDuration: 3 * time.Second, Draining: d.Has("drain")}
				if s := d.Val("cap", ""); s != "" {
					cfg.MaxLeasesPerWorker = int(mustInt(t, d, s))
				}
				if s := d.Val("steals", ""); s != "" {
					cfg.MaxStealsPerCycle = int(mustInt(t, d, s))
				}
				if s := d.Val("ld", ""); s != "" {
					cfg.LeaseDuration = mustDur(t, d, s)
				}
				if cfg.Me == "" {
					d.Fatalf(t, "plan needs me=WORKER")
				}
				return formatActions(Plan(v, cfg))
			}
			d.Fatalf(t, "unknown command %q", d.Cmd)
			return ""
		})
	})
}

func inputLines(d *datadriven.TestData) []string {
	var out []string
	for _, l := range strings.Split(d.Input, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// fieldsOf splits "NAME k=v flag ..." into NAME and its attributes (a flag maps to "").
func fieldsOf(t *testing.T, d *datadriven.TestData, line string) (string, map[string]string) {
	f := strings.Fields(line)
	kv := map[string]string{}
	for _, a := range f[1:] {
		k, v, _ := strings.Cut(a, "=")
		if _, dup := kv[k]; dup {
			d.Fatalf(t, "attribute %q twice in %q", k, line)
		}
		kv[k] = v
	}
	return f[0], kv
}

func mustInt(t *testing.T, d *datadriven.TestData, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	return n
}

func mustDur(t *testing.T, d *datadriven.TestData, s string) time.Duration {
	x, err := time.ParseDuration(s)
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	return x
}

func formatActions(a Actions) string {
	var b strings.Builder
	ids := make([]string, 0, len(a.Targets))
	for id := range a.Targets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var ts []string
	for _, id := range ids {
		ts = append(ts, fmt.Sprintf("%s=%d", id, a.Targets[id]))
	}
	fmt.Fprintf(&b, "targets: %s\n", strings.Join(ts, " "))
	moves := func(name string, ms []Move) {
		if len(ms) == 0 {
			return
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.Key+"<"+m.From.Owner)
		}
		fmt.Fprintf(&b, "%s: %s\n", name, strings.Join(out, " "))
	}
	keysOf := func(name string, ks []string) {
		if len(ks) == 0 {
			return
		}
		ks = slices.Clone(ks)
		slices.Sort(ks)
		fmt.Fprintf(&b, "%s: %s\n", name, strings.Join(ks, " "))
	}
	moves("take", a.Take)
	moves("handoff", a.Handoff)
	keysOf("stop", a.Stop)
	keysOf("lost", a.Lost)
	keysOf("shed", a.Shed)
	var complete []string
	for _, m := range a.Complete {
		complete = append(complete, m.Key)
	}
	keysOf("complete", complete)
	if a.Unverified > 0 {
		fmt.Fprintf(&b, "unverified: %d\n", a.Unverified)
	}
	return b.String()
}
