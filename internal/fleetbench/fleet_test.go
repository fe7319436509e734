package fleetbench

import (
	"testing"
	"time"
)

// testFleet is a fleet with n shards and the given workers, fed by hand (no processes).
func testFleet(n int, ids ...string) (*fleet, map[string]*worker) {
	f := &fleet{workers: map[string]*worker{}, last: map[string]mark{}, watch: map[string]*move{}, stall: map[string]time.Duration{}}
	for i := range n {
		f.shards = append(f.shards, shard{id: string(rune('a' + i))})
	}
	ws := map[string]*worker{}
	for _, id := range ids {
		w := &worker{id: id, state: running, owned: map[string]time.Time{}, batch: map[string]time.Time{}}
		f.workers[id], ws[id] = w, w
	}
	return f, ws
}

func TestFleetConditionsFromEvents(t *testing.T) {
	f, w := testFleet(4, "w1", "w2")
	cond := func(c func() bool) bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return c()
	}
	f.event(w["w1"], "owned a,b,c,d")
	if !cond(func() bool { return f.holdsAll("w1") }) {
		t.Fatal("w1 owns every shard")
	}
	if cond(func() bool { return f.workers["w1"].processing() }) {
		t.Fatal("w1 processes before any batch")
	}
	for _, s := range []string{"a", "b", "c", "d"} {
		f.event(w["w1"], "batch "+s+" 1")
	}
	if !cond(func() bool { return f.workers["w1"].processing() }) {
		t.Fatal("w1 processed a batch of every shard it owns")
	}
	if cond(f.balanced) {
		t.Fatal("4/0 counts as balanced")
	}
	// A handoff: w1 lets c and d go, w2 owns them but has not processed them yet.
	f.event(w["w1"], "owned a,b")
	f.event(w["w2"], "owned c,d")
	if cond(f.balanced) {
		t.Fatal("balanced before w2 processed its shards")
	}
	f.event(w["w2"], "batch c 2")
	f.event(w["w2"], "batch d 2,3")
	if !cond(f.balanced) {
		t.Fatal("2/2, both processing: balanced")
	}
	// Overlap (w1 still thinks it owns c) is not balanced.
	f.event(w["w1"], "owned a,b,c")
	if cond(f.balanced) {
		t.Fatal("an overlap counts as balanced")
	}
	f.event(w["w1"], "owned a,b")
	f.mu.Lock()
	dups := len(f.dups)
	f.mu.Unlock()
	if dups != 4 { // 1 three more times (b, c, d after a), 2 once
		t.Errorf("%d duplicates, want 4", dups)
	}

	// A fence of a running worker counts; a loss of a stopped one or a shutdown does not.
	f.event(w["w2"], "lost c lease-lost")
	f.event(w["w2"], "lost d shutdown")
	t0 := time.Now()
	f.mu.Lock()
	w["w1"].state = terminated // what signal does, without a process
	f.mu.Unlock()
	f.event(w["w1"], "lost a lease-lost")
	if len(f.fences) != 1 || f.fences[0].worker != "w2" {
		t.Errorf("fences %+v, want w2's one", f.fences)
	}
	// The moved-shard gap ends at the first batch by another worker.
	f.mu.Lock()
	f.watch["a"] = &move{from: "w1", since: t0}
	f.mu.Unlock()
	f.event(w["w1"], "batch a 9") // the stopped worker's last batch does not end the gap
	if !f.watch["a"].done.IsZero() {
		t.Error("a batch by the stopped worker ended its gap")
	}
	f.event(w["w2"], "batch a 10")
	if f.watch["a"].done.IsZero() {
		t.Error("w2's batch did not end the gap")
	}
}

// A batch that arrives before the owned report that lists its shard still counts: the worker
// took the shard after the previous report.
func TestBatchBeforeOwnedReportCounts(t *testing.T) {
	f, w := testFleet(2, "w1")
	f.event(w["w1"], "owned a")
	f.event(w["w1"], "batch a 1")
	time.Sleep(time.Millisecond) // distinct timestamps on coarse clocks
	f.event(w["w1"], "batch b 2")
	f.event(w["w1"], "owned a,b")
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.holdsAll("w1") || !f.workers["w1"].processing() {
		t.Error("w1 owns a and b and processed both since it took them")
	}
}

func TestEpisodes(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	fs := []fence{{"w1", "a", at(0)}, {"w1", "b", at(10)}, {"w2", "c", at(20)}, {"w1", "d", at(900)}, {"w1", "e", at(2500)}}
	if got := episodes(fs); got != 3 {
		t.Errorf("%d episodes, want 3 (w1 at 0-900 ms, w2 at 20 ms, w1 at 2.5 s)", got)
	}
}

func TestJudge(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		r    Result
		want string
	}{
		{Result{Scenario: ScenarioStart, Reached: true, Took: 9 * time.Second}, "pass"},
		{Result{Scenario: ScenarioStart, Reached: true, Took: 11 * time.Second}, "FAIL"},
		{Result{Scenario: ScenarioStart, Reached: false, Took: 5 * time.Second}, "FAIL"},
		{Result{Scenario: ScenarioJoin, Reached: true, Took: time.Second}, "pass"},
		{Result{Scenario: ScenarioJoin, Reached: true, Took: time.Second, SelfFences: 1}, "FAIL"},
		{Result{Scenario: ScenarioJoin, Reached: true, Took: time.Second, Duplicates: 1}, "FAIL"},
		{Result{Scenario: ScenarioSIGTERM, Moving: 2, Moved: 2, Gaps: []time.Duration{ms(100), ms(200)}}, "pass"},
		{Result{Scenario: ScenarioSIGTERM, Moving: 2, Moved: 2, Gaps: []time.Duration{ms(100), ms(201)}}, "FAIL"},
		{Result{Scenario: ScenarioSIGTERM, Moving: 2, Moved: 1, Gaps: []time.Duration{ms(100)}}, "FAIL"},
		{Result{Scenario: ScenarioSIGTERM, Moving: 0}, "FAIL"},
		{Result{Scenario: ScenarioSIGKILL, Moving: 3, Moved: 3, Gaps: []time.Duration{ms(3000), ms(4000), ms(9000)}}, "pass"},
		{Result{Scenario: ScenarioSIGKILL, Moving: 2, Moved: 2, Gaps: []time.Duration{ms(5100), ms(6000)}}, "FAIL"},
		{Result{Scenario: ScenarioLatency, Injected: 500 * time.Millisecond}, "pass"},
		{Result{Scenario: ScenarioLatency}, "pass"},
		{Result{Scenario: ScenarioLatency, Injected: 500 * time.Millisecond, SelfFences: 1}, "FAIL"},
		{Result{Scenario: ScenarioLatency, Injected: time.Second, SelfFences: 40}, "-"},
		{Result{Scenario: ScenarioLatency, Injected: time.Second, Lost: 1}, "FAIL"},
		{Result{Scenario: ScenarioLatency, ThrottleBurst: time.Second, SelfFences: 9}, "-"},
		{Result{Scenario: ScenarioStart, Reached: true, Took: time.Second, Lost: 1}, "FAIL"},
		{Result{Scenario: ScenarioLatency, Injected: time.Second, WorkerExits: 1}, "FAIL"},
		{Result{Scenario: ScenarioStart, Reached: true, Took: time.Second, StoreErrors: 1}, "pass"},
	}
	for _, tt := range tests {
		if got := judge(tt.r); got.Pass != tt.want {
			t.Errorf("judge(%+v) = %s, want %s", tt.r, got.Pass, tt.want)
		}
	}
}
