package lease

import (
	"cmp"
	"hash/fnv"
	"slices"
	"time"
)

// LeaseView is a lease as one worker observed it.
type LeaseView struct {
	Lease
	// Idle is how long, on the observer's monotonic clock, the lease's (owner, counter,
	// checkpointOwner) has been seen unchanged: from the end of the read that first showed the
	// current value to the start of the latest read that still showed it.
	Idle time.Duration
	// Checked reports that a worker-table read started after the lease's current state was first
	// seen. Only such a read says anything about the heartbeat chain under which the owner
	// acquired the lease (it may have restarted its chain after an earlier read), so an owner is
	// judged dead only on a checked lease.
	Checked bool
}

// WorkerView is a worker row as one worker observed it. Idle is measured like LeaseView.Idle,
// on the row's heartbeat counter.
type WorkerView struct {
	ID   string
	Idle time.Duration
}

// View is everything Plan decides from: the lease table, the worker table, and the leases this
// worker holds (key -> the lease counter when the claim was acquired). The lease table must have
// been read after those acquisitions; a lease whose counter is below its acquisition counter is
// treated as a stale read and left alone. (The holder's own checkpoints also raise the counter
// but never change owner or checkpointOwner, so reconciliation looks only at those.)
type View struct {
	Leases  []LeaseView
	Workers []WorkerView
	Held    map[string]int64
	// Invalid lists the keys of table items that are not valid leases. They are never taken; a
	// lease whose parent is one of them is not countable (the parent may be unfinished).
	Invalid []string
}

// PlanConfig parameterizes Plan.
type PlanConfig struct {
	// Me is the planning worker's id.
	Me string
	// LeaseDuration: an owner whose heartbeat (or, with no worker row, whose lease) has been
	// idle this long is dead and its leases may be taken.
	LeaseDuration time.Duration
	// MaxLeasesPerWorker caps every worker's target (0 = no cap).
	MaxLeasesPerWorker int
	// MaxStealsPerCycle caps the handoffs requested in one plan (0 = no cap: straight to target).
	MaxStealsPerCycle int
	// Draining: the worker is shutting down; it takes and steals nothing.
	Draining bool
}

// Move names one lease and the state a conditional write on it must find.
type Move struct {
	Key  string
	From Expect
}

// Actions is what Plan tells one worker to do. Every write it implies is conditional on the
// Move's From, so acting on a stale view fails safely with ErrConflict.
type Actions struct {
	// Take: unowned and expired leases, up to this worker's target, and leases the table says this
	// worker owns but it holds no claim for (revalidation after a restart, a self-fence or a
	// completed handoff; also clearing the checkpointOwner of a dead previous owner).
	Take []Move
	// Handoff: leases to request from more loaded workers (graceful steal).
	Handoff []Move
	// Complete: handoffs away from this worker that no claim of it drives any more (it restarted):
	// remove checkpointOwner so the taker starts.
	Complete []Move
	// Shed: held leases to give up gracefully because the worker is above MaxLeasesPerWorker.
	Shed []string
	// Stop: held leases another worker asked for; stop the processor gracefully, then complete
	// the handoff.
	Stop []string
	// Lost: held leases that belong to someone else now (or were deleted): cancel at once.
	Lost []string
	// Targets is each live worker's target lease count (for diagnostics and tests).
	Targets map[string]int
	// Unverified counts leases whose owner looks dead but for which no worker-table read has
	// been taken since their state was first seen: read the worker table, then plan again.
	Unverified int
}

// Countable reports whether a lease counts as load and may be taken: not finished, and not a
// child whose parents (those still in the table) have not all finished.
func Countable(l Lease, byKey map[string]Lease) bool {
	if l.Finished() {
		return false
	}
	for _, p := range l.ParentShardIDs {
		if pl, ok := byKey[p]; ok && !pl.Finished() {
			return false
		}
	}
	return true
}

func rendezvous(worker, key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(worker))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return h.Sum64()
}

// Targets splits n countable leases over the live workers: floor(n/W) each, and one more for the
// n mod W workers with the most leases now (ties by id), so every worker computes the same
// targets from the same view and as few leases as possible move. max > 0 caps each target.
func Targets(n int, load map[string]int, live []string, max int) map[string]int {
	ws := slices.Clone(live)
	slices.SortFunc(ws, func(a, b string) int {
		if c := cmp.Compare(load[b], load[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	out := make(map[string]int, len(ws))
	if len(ws) == 0 {
		return out
	}
	base, rem := n/len(ws), n%len(ws)
	for i, w := range ws {
		t := base
		if i < rem {
			t++
		}
		if max > 0 && t > max {
			t = max
		}
		out[w] = t
	}
	return out
}

// Plan is the pure decision core of the lease protocol: from one worker's view of the tables it
// computes what that worker should do now. It does no I/O and reads no clock. It runs five named
// steps: reconcile (held claims against the table), classify (countable, available, load),
// targets (every live worker's share), take (available leases up to the target), steal
// (handoff requests from the most loaded).
func Plan(v View, cfg PlanConfig) Actions {
	p := newPlanner(v, cfg)
	p.reconcile()
	p.classify()
	p.targets()
	if cfg.Draining {
		p.act.Take = nil
		return p.act
	}
	deficit := p.take()
	if deficit > 0 {
		p.steal(deficit)
	}
	return p.act
}

// planner is the state Plan's steps share.
type planner struct {
	v     View
	cfg   PlanConfig
	me    string
	act   Actions
	byKey map[string]Lease         // every lease, and a placeholder for each invalid item
	rows  map[string]time.Duration // worker id -> heartbeat idle

	load      map[string]int // countable leases per live owner
	countable []LeaseView
	available []LeaseView // unowned or expired countable leases
	live      []string    // live worker ids
}

func newPlanner(v View, cfg PlanConfig) *planner {
	p := &planner{v: v, cfg: cfg, me: cfg.Me, byKey: make(map[string]Lease, len(v.Leases)+len(v.Invalid)),
		rows: make(map[string]time.Duration, len(v.Workers)), load: map[string]int{}}
	for _, l := range v.Leases {
		p.byKey[l.Key] = l.Lease
	}
	for _, k := range v.Invalid {
		if _, ok := p.byKey[k]; !ok {
			p.byKey[k] = Lease{Key: k} // unreadable: as good as unfinished for its children
		}
	}
	for _, w := range v.Workers {
		p.rows[w.ID] = w.Idle
	}
	return p
}

// dead: the owner's heartbeat row (or, with no row, the lease itself) has been idle for
// LeaseDuration, judged on a worker-table read taken after the lease's state was first seen.
func (p *planner) dead(id string, l LeaseView) bool {
	if id == p.me || !l.Checked {
		return false
	}
	if idle, ok := p.rows[id]; ok {
		return idle >= p.cfg.LeaseDuration
	}
	return l.Idle >= p.cfg.LeaseDuration
}

// reconcile compares held claims with the table: Lost (someone else owns it, or it is gone),
// Stop (a taker asked for it); a read older than the claim is ignored.
func (p *planner) reconcile() {
	for key, counter := range p.v.Held {
		l, ok := p.byKey[key]
		_, invalid := p.invalidKey(key)
		switch {
		case !ok || invalid:
			p.act.Lost = append(p.act.Lost, key)
		case l.Counter < counter:
			// Read before this claim was acquired: stale for this lease.
		case l.Owner == p.me && l.CheckpointOwner == "":
		case l.CheckpointOwner == p.me && l.Owner != p.me:
			p.act.Stop = append(p.act.Stop, key)
		default:
			p.act.Lost = append(p.act.Lost, key)
		}
	}
}

func (p *planner) invalidKey(key string) (string, bool) {
	for _, k := range p.v.Invalid {
		if k == key {
			return k, true
		}
	}
	return "", false
}

// classify finds the countable leases, the available ones (unowned or expired), each live
// owner's load, own leases to re-validate (Take) and handoffs to complete (Complete).
func (p *planner) classify() {
	me := p.me
	for _, l := range p.v.Leases {
		if !Countable(l.Lease, p.byKey) {
			continue
		}
		p.countable = append(p.countable, l)
		expired := l.Owner != "" && p.dead(l.Owner, l) &&
			(l.CheckpointOwner == "" || p.dead(l.CheckpointOwner, l))
		if !expired && !l.Checked && l.Owner != "" && l.Owner != me {
			checked := l
			checked.Checked = true
			if p.dead(l.Owner, checked) && (l.CheckpointOwner == "" || p.dead(l.CheckpointOwner, checked)) {
				p.act.Unverified++
			}
		}
		switch {
		case l.Owner == "" || expired:
			p.available = append(p.available, l)
		default:
			p.load[l.Owner]++
		}
		_, held := p.v.Held[l.Key]
		if l.Owner == me && !held {
			if l.CheckpointOwner == "" || p.dead(l.CheckpointOwner, l) {
				p.act.Take = append(p.act.Take, Move{l.Key, Expect{me, l.Counter}})
			}
		}
	}
	for _, l := range p.v.Leases {
		if _, held := p.v.Held[l.Key]; l.CheckpointOwner == me && l.Owner != me && !held {
			p.act.Complete = append(p.act.Complete, Move{l.Key, Expect{me, l.Counter}})
		}
	}
}

// targets computes every live worker's target (Targets) and the leases to shed above
// MaxLeasesPerWorker.
func (p *planner) targets() {
	liveSet := map[string]bool{p.me: true}
	for id, idle := range p.rows {
		if idle < p.cfg.LeaseDuration {
			liveSet[id] = true
		}
	}
	for id := range p.load {
		liveSet[id] = true
	}
	for id := range liveSet {
		p.live = append(p.live, id)
	}
	slices.Sort(p.live)
	p.act.Targets = Targets(len(p.countable), p.load, p.live, p.cfg.MaxLeasesPerWorker)
	if c := p.cfg.MaxLeasesPerWorker; c > 0 && p.load[p.me] > c {
		var mine []string
		for _, l := range p.countable {
			if _, held := p.v.Held[l.Key]; held && l.Owner == p.me && l.CheckpointOwner == "" {
				mine = append(mine, l.Key)
			}
		}
		sortByHash(p.me, mine)
		p.act.Shed = mine[:min(len(mine), p.load[p.me]-c)]
	}
}

// take adds available leases up to this worker's target, preferring those for which it ranks
// first by rendezvous hashing among the workers still below target (so survivors of a crash do
// not all race for the same leases). It returns the deficit left.
func (p *planner) take() int {
	me := p.me
	deficit := p.act.Targets[me] - p.load[me]
	if deficit <= 0 || len(p.available) == 0 {
		return deficit
	}
	var needy []string
	for _, w := range p.live {
		if p.load[w] < p.act.Targets[w] {
			needy = append(needy, w)
		}
	}
	first := func(key string) bool {
		best, bw := uint64(0), ""
		for _, w := range needy {
			if h := rendezvous(w, key); bw == "" || h > best {
				best, bw = h, w
			}
		}
		return bw == me
	}
	slices.SortFunc(p.available, func(a, b LeaseView) int {
		fa, fb := first(a.Key), first(b.Key)
		if fa != fb {
			if fa {
				return -1
			}
			return 1
		}
		return cmp.Compare(rendezvous(me, b.Key), rendezvous(me, a.Key))
	})
	n := min(deficit, len(p.available))
	for _, l := range p.available[:n] {
		p.act.Take = append(p.act.Take, Move{l.Key, Expect{l.Owner, l.Counter}})
	}
	return deficit - n
}

// steal requests handoffs, up to deficit (and MaxStealsPerCycle), from the workers furthest
// above their targets. Only workers with a heartbeat row are asked: an owner without one (a Java
// KCL worker during a migration) would not honour checkpointOwner, and the lease would stall.
func (p *planner) steal(deficit int) {
	me := p.me
	var donors []string
	for _, w := range p.live {
		if _, shoal := p.rows[w]; shoal && w != me && p.load[w] > p.act.Targets[w] {
			donors = append(donors, w)
		}
	}
	over := func(w string) int { return p.load[w] - p.act.Targets[w] }
	slices.SortFunc(donors, func(a, b string) int {
		if c := cmp.Compare(over(b), over(a)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	budget := deficit
	if p.cfg.MaxStealsPerCycle > 0 {
		budget = min(budget, p.cfg.MaxStealsPerCycle)
	}
	for _, d := range donors {
		if budget == 0 {
			break
		}
		var theirs []LeaseView
		for _, l := range p.countable {
			if l.Owner == d && l.CheckpointOwner == "" && !p.dead(d, l) {
				theirs = append(theirs, l)
			}
		}
		slices.SortFunc(theirs, func(a, b LeaseView) int {
			return cmp.Compare(rendezvous(me, b.Key), rendezvous(me, a.Key))
		})
		n := min(budget, over(d), len(theirs))
		for _, l := range theirs[:n] {
			p.act.Handoff = append(p.act.Handoff, Move{l.Key, Expect{d, l.Counter}})
		}
		budget -= n
	}
}

func sortByHash(me string, keys []string) {
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Compare(rendezvous(me, b), rendezvous(me, a))
	})
}
