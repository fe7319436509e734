package lease

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

const ld = 3 * time.Second

type lv = LeaseView

func L(key, owner string, counter int64) lv {
	return lv{Lease: Lease{Key: key, Owner: owner, Counter: counter, Checkpoint: Checkpoint{Sequence: TrimHorizon}}, Checked: true}
}

func (l lv) unchecked() lv { l.Checked = false; return l }

func (l lv) idle(d time.Duration) lv { l.Idle = d; return l }
func (l lv) finished() lv            { l.Checkpoint = Checkpoint{Sequence: ShardEnd}; return l }
func (l lv) parents(p ...string) lv  { l.ParentShardIDs = p; return l }
func (l lv) cpOwner(o string) lv     { l.CheckpointOwner = o; return l }

func W(id string, idle time.Duration) WorkerView { return WorkerView{ID: id, Idle: idle} }

func many(prefix, owner string, n int) []lv {
	var out []lv
	for i := range n {
		out = append(out, L(fmt.Sprintf("%s%02d", prefix, i), owner, 1))
	}
	return out
}

func keys(ms []Move) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Key+"<"+m.From.Owner)
	}
	slices.Sort(out)
	return out
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name   string
		me     string
		leases []lv
		work   []WorkerView
		held   map[string]int64
		cap    int
		steals int
		drain  bool
		// expectations: counts and, when set, exact keys ("key<from-owner", sorted)
		take, handoff, shed int
		takeKeys            []string
		handoffFrom         map[string]int
		stop, lost          []string
		complete            []string
	}{
		{name: "cold start alone takes everything", me: "a", leases: many("s", "", 4), work: []WorkerView{W("a", 0)}, take: 4},
		{name: "cold start with a peer takes half", me: "a", leases: many("s", "", 4), work: []WorkerView{W("a", 0), W("b", 0)}, take: 2},
		{name: "join steals to balance", me: "b", leases: many("s", "a", 4), work: []WorkerView{W("a", 0), W("b", 0)},
			handoff: 2, handoffFrom: map[string]int{"a": 2}},
		{name: "two join, 5 leases: 2/2/1 (b)", me: "b", leases: many("s", "a", 5), work: []WorkerView{W("a", 0), W("b", 0), W("c", 0)},
			handoff: 2},
		{name: "two join, 5 leases: 2/2/1 (c)", me: "c", leases: many("s", "a", 5), work: []WorkerView{W("a", 0), W("b", 0), W("c", 0)},
			handoff: 1},
		{name: "balanced within one does nothing", me: "b", leases: append(many("s", "a", 3), many("t", "b", 2)...),
			work: []WorkerView{W("a", 0), W("b", 0)}, held: map[string]int64{"t00": 1, "t01": 1}},
		{name: "ceil for the loaded, steal up to target even when at floor", me: "b",
			leases: append(append(many("s", "a", 3), many("t", "b", 1)...), many("u", "c", 1)...),
			work:   []WorkerView{W("a", 0), W("b", 0), W("c", 0)}, held: map[string]int64{"t00": 1}, handoff: 1},
		{name: "dead owner's leases taken", me: "b", leases: many("s", "a", 3), work: []WorkerView{W("a", ld), W("b", 0)}, take: 3},
		{name: "dead owner's lease not taken without a worker read after its last change", me: "b",
			leases: []lv{L("s0", "a", 1).idle(time.Hour).unchecked(), L("s1", "a", 1).idle(time.Hour)},
			work:   []WorkerView{W("a", ld), W("b", 0)}, take: 1, takeKeys: []string{"s1<a"}},
		{name: "owner without row not judged without a worker read after its last change", me: "b",
			leases: []lv{L("s0", "java", 1).idle(time.Hour).unchecked()}, work: []WorkerView{W("b", 0)}},
		{name: "owner alive by heartbeat though lease idle", me: "b", leases: []lv{L("s0", "a", 1).idle(time.Hour), L("s1", "a", 1).idle(time.Hour)},
			work: []WorkerView{W("a", ld-time.Millisecond), W("b", 0)}, handoff: 1},
		{name: "owner without row judged on lease counter, never asked for a handoff", me: "b",
			leases: []lv{L("s0", "java", 1).idle(ld), L("s1", "java", 1).idle(ld - 1), L("s2", "java", 1).idle(ld - 1), L("s3", "java", 1).idle(ld - 1)},
			work:   []WorkerView{W("b", 0)}, take: 1, takeKeys: []string{"s0<java"}},
		{name: "finished leases are not load", me: "b", leases: []lv{L("f0", "a", 1).finished(), L("f1", "a", 1).finished(), L("s0", "a", 1), L("s1", "a", 1)},
			work: []WorkerView{W("a", 0), W("b", 0)}, handoff: 1},
		{name: "finished unowned lease not taken", me: "a", leases: []lv{L("f0", "", 1).finished()}, work: []WorkerView{W("a", 0)}},
		{name: "blocked child not taken, free child taken", me: "a",
			leases: []lv{L("p0", "a", 1), L("p1", "", 1).finished(), L("c0", "", 0).parents("p0", "p1"), L("c1", "", 0).parents("p1"), L("c2", "", 0).parents("gone")},
			work:   []WorkerView{W("a", 0)}, held: map[string]int64{"p0": 1}, take: 2, takeKeys: []string{"c1<", "c2<"}},
		{name: "merge child waits for both parents", me: "a",
			leases: []lv{L("p0", "", 1).finished(), L("p1", "x", 1), L("c0", "", 0).parents("p0", "p1")},
			work:   []WorkerView{W("a", 0), W("x", 0)}},
		{name: "cap limits takes", me: "a", leases: many("s", "", 5), work: []WorkerView{W("a", 0)}, cap: 2, take: 2},
		{name: "cap sheds held leases", me: "a", leases: many("s", "a", 4), work: []WorkerView{W("a", 0)}, cap: 2,
			held: map[string]int64{"s00": 1, "s01": 1, "s02": 1, "s03": 1}, shed: 2},
		{name: "own unheld lease revalidated", me: "a", leases: []lv{L("s0", "a", 4)}, work: []WorkerView{W("a", 0)}, take: 1, takeKeys: []string{"s0<a"}},
		{name: "held lease taken by another is lost", me: "a", leases: []lv{L("s0", "b", 4)}, work: []WorkerView{W("a", 0), W("b", 0)},
			held: map[string]int64{"s0": 3}, lost: []string{"s0"}},
		{name: "stale scan does not lose a held lease", me: "a", leases: []lv{L("s0", "b", 2)}, work: []WorkerView{W("a", 0), W("b", 0)},
			held: map[string]int64{"s0": 3}},
		{name: "deleted held lease is lost", me: "a", work: []WorkerView{W("a", 0)}, held: map[string]int64{"s0": 3}, lost: []string{"s0"}},
		{name: "handoff requested stops held lease", me: "a", leases: []lv{L("s0", "b", 3).cpOwner("a"), L("s1", "a", 1)},
			work: []WorkerView{W("a", 0), W("b", 0)}, held: map[string]int64{"s0": 3, "s1": 1}, stop: []string{"s0"}},
		{name: "taker waits for live previous owner", me: "b", leases: []lv{L("s0", "b", 3).cpOwner("a").idle(time.Hour), L("s1", "a", 1)},
			work: []WorkerView{W("a", 0), W("b", 0)}},
		{name: "taker clears dead previous owner", me: "b", leases: []lv{L("s0", "b", 3).cpOwner("a")},
			work: []WorkerView{W("a", ld), W("b", 0)}, take: 1, takeKeys: []string{"s0<b"}},
		{name: "handoff with dead taker but live old owner is not available", me: "c",
			leases: []lv{L("s0", "t", 3).cpOwner("o").idle(time.Hour), L("s1", "o", 1), L("s2", "o", 1)},
			work:   []WorkerView{W("o", 0), W("t", ld), W("c", 0)}, handoff: 1, handoffFrom: map[string]int{"o": 1}},
		{name: "restarted old owner completes handoff", me: "a", leases: []lv{L("s0", "b", 3).cpOwner("a")},
			work: []WorkerView{W("a", 0), W("b", 0)}, complete: []string{"s0"}},
		{name: "draining takes nothing", me: "a", leases: append(many("s", "", 2), L("m", "a", 1)), work: []WorkerView{W("a", 0)}, drain: true},
		{name: "steal cap per cycle", me: "b", leases: many("s", "a", 10), work: []WorkerView{W("a", 0), W("b", 0)}, steals: 2, handoff: 2},
		{name: "steal from the most loaded first", me: "d",
			leases: append(append(many("a", "a", 5), many("b", "b", 3)...), many("c", "c", 1)...),
			work:   []WorkerView{W("a", 0), W("b", 0), W("c", 0), W("d", 0)}, handoff: 2, handoffFrom: map[string]int{"a": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held := tt.held
			if held == nil {
				held = map[string]int64{}
			}
			act := Plan(View{Leases: tt.leases, Workers: tt.work, Held: held},
				PlanConfig{Me: tt.me, LeaseDuration: ld, MaxLeasesPerWorker: tt.cap, MaxStealsPerCycle: tt.steals, Draining: tt.drain})
			if len(act.Take) != tt.take || len(act.Handoff) != tt.handoff || len(act.Shed) != tt.shed {
				t.Fatalf("take %v handoff %v shed %v; want %d/%d/%d (targets %v)", keys(act.Take), keys(act.Handoff), act.Shed, tt.take, tt.handoff, tt.shed, act.Targets)
			}
			if tt.takeKeys != nil && !slices.Equal(keys(act.Take), tt.takeKeys) {
				t.Errorf("take %v, want %v", keys(act.Take), tt.takeKeys)
			}
			if tt.handoffFrom != nil {
				got := map[string]int{}
				for _, m := range act.Handoff {
					got[m.From.Owner]++
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.handoffFrom) {
					t.Errorf("handoffs from %v, want %v", got, tt.handoffFrom)
				}
			}
			slices.Sort(act.Stop)
			slices.Sort(act.Lost)
			if !slices.Equal(act.Stop, tt.stop) || !slices.Equal(act.Lost, tt.lost) {
				t.Errorf("stop %v lost %v, want %v %v", act.Stop, act.Lost, tt.stop, tt.lost)
			}
			var complete []string
			for _, m := range act.Complete {
				complete = append(complete, m.Key)
			}
			if !slices.Equal(complete, tt.complete) {
				t.Errorf("complete %v, want %v", complete, tt.complete)
			}
		})
	}
}

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
