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
// computes what that worker should do now. It does no I/O and reads no clock.
func Plan(v View, cfg PlanConfig) Actions {
	me := cfg.Me
	byKey := make(map[string]Lease, len(v.Leases))
	for _, l := range v.Leases {
		byKey[l.Key] = l.Lease
	}
	for _, k := range v.Invalid {
		if _, ok := byKey[k]; !ok {
			byKey[k] = Lease{Key: k} // unreadable: as good as unfinished for its children
		}
	}
	rows := make(map[string]time.Duration, len(v.Workers))
	for _, w := range v.Workers {
		rows[w.ID] = w.Idle
	}
	// dead: the owner's heartbeat row (or, with no row, the lease itself) has been idle for
	// LeaseDuration, judged on a worker-table read taken after the lease's state was first seen.
	dead := func(id string, l LeaseView) bool {
		if id == me || !l.Checked {
			return false
		}
		if idle, ok := rows[id]; ok {
			return idle >= cfg.LeaseDuration
		}
		return l.Idle >= cfg.LeaseDuration
	}
	var act Actions

	// Reconcile held claims with the table.
	for key, counter := range v.Held {
		l, ok := byKey[key]
		switch {
		case !ok:
			act.Lost = append(act.Lost, key)
		case l.Counter < counter:
			// Read before this claim was acquired: stale for this lease.
		case l.Owner == me && l.CheckpointOwner == "":
		case l.CheckpointOwner == me && l.Owner != me:
			act.Stop = append(act.Stop, key)
		default:
			act.Lost = append(act.Lost, key)
		}
	}

	// Classify leases and count load.
	load := map[string]int{}
	var countable, available []LeaseView
	for _, l := range v.Leases {
		if !Countable(l.Lease, byKey) {
			continue
		}
		countable = append(countable, l)
		expired := l.Owner != "" && dead(l.Owner, l) &&
			(l.CheckpointOwner == "" || dead(l.CheckpointOwner, l))
		if !expired && !l.Checked && l.Owner != "" && l.Owner != me {
			checked := l
			checked.Checked = true
			if dead(l.Owner, checked) && (l.CheckpointOwner == "" || dead(l.CheckpointOwner, checked)) {
				act.Unverified++
			}
		}
		switch {
		case l.Owner == "" || expired:
			available = append(available, l)
		default:
			load[l.Owner]++
		}
		_, held := v.Held[l.Key]
		if l.Owner == me && !held {
			if l.CheckpointOwner == "" || dead(l.CheckpointOwner, l) {
				act.Take = append(act.Take, Move{l.Key, Expect{me, l.Counter}})
			}
		}
	}
	for _, l := range v.Leases {
		if _, held := v.Held[l.Key]; l.CheckpointOwner == me && l.Owner != me && !held {
			act.Complete = append(act.Complete, Move{l.Key, Expect{me, l.Counter}})
		}
	}

	liveSet := map[string]bool{me: true}
	for id, idle := range rows {
		if idle < cfg.LeaseDuration {
			liveSet[id] = true
		}
	}
	for id := range load {
		liveSet[id] = true
	}
	live := make([]string, 0, len(liveSet))
	for id := range liveSet {
		live = append(live, id)
	}
	act.Targets = Targets(len(countable), load, live, cfg.MaxLeasesPerWorker)
	target := act.Targets[me]

	if cfg.MaxLeasesPerWorker > 0 && load[me] > cfg.MaxLeasesPerWorker {
		var mine []string
		for _, l := range countable {
			if _, held := v.Held[l.Key]; held && l.Owner == me && l.CheckpointOwner == "" {
				mine = append(mine, l.Key)
			}
		}
		sortByHash(me, mine)
		act.Shed = mine[:min(len(mine), load[me]-cfg.MaxLeasesPerWorker)]
	}
	if cfg.Draining {
		act.Take = nil
		return act
	}

	deficit := target - load[me]
	if deficit > 0 && len(available) > 0 {
		// Rendezvous spread: prefer the leases for which this worker ranks first among the
		// workers still below target, so survivors of a crash do not all race for the same ones.
		var needy []string
		for _, w := range live {
			if load[w] < act.Targets[w] {
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
		slices.SortFunc(available, func(a, b LeaseView) int {
			fa, fb := first(a.Key), first(b.Key)
			if fa != fb {
				if fa {
					return -1
				}
				return 1
			}
			return cmp.Compare(rendezvous(me, b.Key), rendezvous(me, a.Key))
		})
		for _, l := range available[:min(deficit, len(available))] {
			act.Take = append(act.Take, Move{l.Key, Expect{l.Owner, l.Counter}})
		}
		deficit -= min(deficit, len(available))
	}
	if deficit <= 0 {
		return act
	}

	// Steal by graceful handoff from the workers furthest above their targets.
	// Only workers with a heartbeat row are asked: an owner without one (a Java KCL worker during
	// a migration) would not honour checkpointOwner, and the lease would stall.
	var donors []string
	for _, w := range live {
		if _, shoal := rows[w]; shoal && w != me && load[w] > act.Targets[w] {
			donors = append(donors, w)
		}
	}
	slices.SortFunc(donors, func(a, b string) int {
		if c := cmp.Compare(load[b]-act.Targets[b], load[a]-act.Targets[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	budget := deficit
	if cfg.MaxStealsPerCycle > 0 {
		budget = min(budget, cfg.MaxStealsPerCycle)
	}
	for _, d := range donors {
		if budget == 0 {
			break
		}
		var theirs []LeaseView
		for _, l := range countable {
			if l.Owner == d && l.CheckpointOwner == "" && !dead(d, l) {
				theirs = append(theirs, l)
			}
		}
		slices.SortFunc(theirs, func(a, b LeaseView) int {
			return cmp.Compare(rendezvous(me, b.Key), rendezvous(me, a.Key))
		})
		n := min(budget, load[d]-act.Targets[d], len(theirs))
		for _, l := range theirs[:n] {
			act.Handoff = append(act.Handoff, Move{l.Key, Expect{d, l.Counter}})
		}
		budget -= n
	}
	return act
}

func sortByHash(me string, keys []string) {
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Compare(rendezvous(me, b), rendezvous(me, a))
	})
}
