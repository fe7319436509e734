package lease

import (
	"fmt"
	"testing"
	"time"
)

const ld = 3 * time.Second

type lv = LeaseView

func L(key, owner string, counter int64) lv {
	return lv{Lease: Lease{Key: key, Owner: owner, Counter: counter, Checkpoint: Checkpoint{Sequence: TrimHorizon}}, Checked: true}
}

func W(id string, idle time.Duration) WorkerView { return WorkerView{ID: id, Idle: idle} }

func many(prefix, owner string, n int) []lv {
	var out []lv
	for i := range n {
		out = append(out, L(fmt.Sprintf("%s%02d", prefix, i), owner, 1))
	}
	return out
}

// Plan's decision tables are scenario files in testdata/plan (TestPlanScenarios).

// Survivors of a crash compute disjoint take sets from the same view (rendezvous spread), and
// together cover the dead worker's leases exactly.
func TestPlanSurvivorsSpread(t *testing.T) {
	leases := many("s", "dead", 30)
	work := []WorkerView{W("dead", ld), W("b", 0), W("c", 0), W("d", 0)}
	seen := map[string]string{}
	for _, me := range []string{"b", "c", "d"} {
		act := Plan(View{Leases: leases, Workers: work, Held: map[string]int64{}}, PlanConfig{Me: me, LeaseDuration: ld})
		if len(act.Take) != 10 {
			t.Fatalf("%s takes %d, want 10", me, len(act.Take))
		}
		for _, m := range act.Take {
			if o, dup := seen[m.Key]; dup {
				t.Errorf("%s and %s both plan to take %s", o, me, m.Key)
			}
			seen[m.Key] = me
		}
	}
	if len(seen) != 30 {
		t.Fatalf("covered %d of 30 leases", len(seen))
	}
}

func TestTargets(t *testing.T) {
	got := Targets(7, map[string]int{"a": 7}, []string{"c", "b", "a"}, 0)
	if got["a"] != 3 || got["b"] != 2 || got["c"] != 2 {
		t.Fatalf("targets %v", got)
	}
	got = Targets(7, nil, []string{"a", "b"}, 3)
	if got["a"] != 3 || got["b"] != 3 {
		t.Fatalf("capped targets %v", got)
	}
}
