package lease

import "time"

// observer turns successive reads of the tables into a View, measuring liveness on the local
// monotonic clock only. A value first seen in a read is dated at the END of that read (it was
// committed before then); "still unchanged" is dated at the START of the latest read that showed
// it (a later commit would have been visible to a read starting after it). Idle is the
// difference, so the self-fencing argument in doc.go holds whatever the scan latency.
// Owned by the coordinator goroutine; not safe for concurrent use.
type observer struct {
	workers    map[string]seenWorker
	workerRead time.Time // start of the latest worker-table read
	leases     map[string]seenLease
	leaseRead  time.Time // start of the latest lease-table read
}

type seenWorker struct {
	w       Worker
	changed time.Time
}

type seenLease struct {
	l       Lease
	changed time.Time
}

func newObserver() *observer {
	return &observer{workers: map[string]seenWorker{}, leases: map[string]seenLease{}}
}

// sawWorkers records a full read of the worker table that started at start and ended at end.
// It returns the wake counter of self, if present.
func (o *observer) sawWorkers(ws []Worker, start, end time.Time) {
	next := make(map[string]seenWorker, len(ws))
	for _, w := range ws {
		prev, ok := o.workers[w.ID]
		if ok && prev.w.Heartbeat == w.Heartbeat {
			next[w.ID] = seenWorker{w: w, changed: prev.changed}
		} else {
			next[w.ID] = seenWorker{w: w, changed: end}
		}
	}
	o.workers, o.workerRead = next, start
}

// sawLeases records a full read of the lease table.
func (o *observer) sawLeases(ls []Lease, start, end time.Time) {
	next := make(map[string]seenLease, len(ls))
	for _, l := range ls {
		prev, ok := o.leases[l.Key]
		if ok && prev.l.Owner == l.Owner && prev.l.Counter == l.Counter && prev.l.CheckpointOwner == l.CheckpointOwner {
			next[l.Key] = seenLease{l: l, changed: prev.changed}
		} else {
			next[l.Key] = seenLease{l: l, changed: end}
		}
	}
	o.leases, o.leaseRead = next, start
}

func idle(read, changed time.Time) time.Duration {
	if d := read.Sub(changed); d > 0 {
		return d
	}
	return 0
}

// view returns the current View (Held is left for the caller).
func (o *observer) view() View {
	v := View{Leases: make([]LeaseView, 0, len(o.leases)), Workers: make([]WorkerView, 0, len(o.workers))}
	for _, s := range o.leases {
		v.Leases = append(v.Leases, LeaseView{Lease: s.l, Idle: idle(o.leaseRead, s.changed),
			Checked: !o.workerRead.Before(s.changed)})
	}
	for id, s := range o.workers {
		v.Workers = append(v.Workers, WorkerView{ID: id, Idle: idle(o.workerRead, s.changed)})
	}
	return v
}

// liveWorkers returns the ids of workers whose heartbeat changed within d.
func (o *observer) liveWorkers(d time.Duration) map[string]bool {
	out := map[string]bool{}
	for id, s := range o.workers {
		if idle(o.workerRead, s.changed) < d {
			out[id] = true
		}
	}
	return out
}
