// Package memlease is an in-memory lease.Store: the lease table and worker table of one process,
// for tests and single-process deployments. It implements exactly the conditional-write
// semantics documented on lease.Store (the leasetest suite checks it), with no I/O, so fleet
// tests run under testing/synctest. It is safe for concurrent use.
package memlease

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/shoal-go/shoal/lease"
)

// Store is an in-memory lease.Store. The zero value is not usable; call New.
type Store struct {
	mu      sync.Mutex
	leases  map[string]lease.Lease
	invalid map[string]lease.InvalidItem // items that are not valid leases (PutInvalid)
	workers map[string]lease.Worker
}

var _ lease.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{leases: map[string]lease.Lease{}, invalid: map[string]lease.InvalidItem{}, workers: map[string]lease.Worker{}}
}

// PutInvalid stores an item that is not a valid lease (as a hand-edited or unrelated item in a
// DynamoDB table would be), replacing any lease with its key, for tests of invalid-item
// handling. Like dynamolease with such an item: Scan reports it, List skips it, Get returns it as
// the error (wrapping lease.ErrInvalidItem), Create returns ErrExists, and every conditional
// write and Delete fail with ErrConflict.
func (s *Store) PutInvalid(item lease.InvalidItem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.leases, item.Key)
	s.invalid[item.Key] = item
}

func (s *Store) do(ctx context.Context, op, key string, f func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := f(); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	return nil
}

// update applies f to the stored lease key under the lock if cond holds, and returns the result.
func (s *Store) update(ctx context.Context, op, key string, cond func(l lease.Lease) bool, f func(l *lease.Lease)) (lease.Lease, error) {
	var out lease.Lease
	err := s.do(ctx, op, key, func() error {
		l, ok := s.leases[key]
		if !ok {
			// An invalid item has no counter this write could match, or it would not be written
			// to. DynamoDB reports a conditional write on a missing item as a failed condition.
			return lease.ErrConflict
		}
		if !cond(l) {
			return lease.ErrConflict
		}
		l = l.Clone()
		f(&l)
		s.leases[key] = l
		out = l.Clone()
		return nil
	})
	return out, err
}

// Create implements lease.Store.
func (s *Store) Create(ctx context.Context, l lease.Lease) error {
	return s.do(ctx, "create lease", l.Key, func() error {
		if _, ok := s.leases[l.Key]; ok {
			return lease.ErrExists
		}
		if _, ok := s.invalid[l.Key]; ok {
			return lease.ErrExists
		}
		s.leases[l.Key] = l.Clone()
		return nil
	})
}

// Get implements lease.Store.
func (s *Store) Get(ctx context.Context, key string) (lease.Lease, error) {
	var out lease.Lease
	err := s.do(ctx, "get lease", key, func() error {
		l, ok := s.leases[key]
		if inv, bad := s.invalid[key]; bad {
			return inv
		}
		if !ok {
			return lease.ErrNotFound
		}
		out = l.Clone()
		return nil
	})
	return out, err
}

// List implements lease.Store.
func (s *Store) List(ctx context.Context) ([]lease.Lease, error) {
	out, _, err := s.Scan(ctx)
	return out, err
}

// Scan implements lease.Store.
func (s *Store) Scan(ctx context.Context) ([]lease.Lease, []lease.InvalidItem, error) {
	var out []lease.Lease
	var bad []lease.InvalidItem
	err := s.do(ctx, "list leases", "", func() error {
		out = make([]lease.Lease, 0, len(s.leases))
		for _, l := range s.leases {
			out = append(out, l.Clone())
		}
		for _, inv := range s.invalid {
			bad = append(bad, inv)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, bad, nil
}

// Take implements lease.Store.
func (s *Store) Take(ctx context.Context, key string, from lease.Expect, to string) (lease.Lease, error) {
	return s.update(ctx, "take lease", key,
		func(l lease.Lease) bool { return l.Owner == from.Owner && l.Counter == from.Counter },
		func(l *lease.Lease) {
			if l.Owner != to {
				l.OwnerSwitchesSinceCheckpoint++
			}
			l.Owner, l.CheckpointOwner = to, ""
			l.Counter++
		})
}

// RequestHandoff implements lease.Store.
func (s *Store) RequestHandoff(ctx context.Context, key string, from lease.Expect, to string) (lease.Lease, error) {
	return s.update(ctx, "request handoff of lease", key,
		func(l lease.Lease) bool {
			return from.Owner != "" && l.Owner == from.Owner && l.Counter == from.Counter && l.CheckpointOwner == ""
		},
		func(l *lease.Lease) { l.Owner, l.CheckpointOwner = to, from.Owner })
}

// CompleteHandoff implements lease.Store.
func (s *Store) CompleteHandoff(ctx context.Context, key string, from lease.Expect) (lease.Lease, error) {
	return s.update(ctx, "complete handoff of lease", key,
		func(l lease.Lease) bool {
			return from.Owner != "" && l.CheckpointOwner == from.Owner && l.Counter == from.Counter
		},
		func(l *lease.Lease) {
			l.CheckpointOwner = ""
			l.Counter++
			l.OwnerSwitchesSinceCheckpoint++
		})
}

// Release implements lease.Store.
func (s *Store) Release(ctx context.Context, key string, from lease.Expect) (lease.Lease, error) {
	return s.update(ctx, "release lease", key,
		func(l lease.Lease) bool {
			return from.Owner != "" && l.Owner == from.Owner && l.CheckpointOwner == "" && l.Counter == from.Counter
		},
		func(l *lease.Lease) { l.Owner = ""; l.Counter++ })
}

func mayCheckpoint(l lease.Lease, from lease.Expect) bool {
	if from.Owner == "" || l.Counter != from.Counter {
		return false
	}
	return (l.Owner == from.Owner && l.CheckpointOwner == "") || l.CheckpointOwner == from.Owner
}

// Checkpoint implements lease.Store.
func (s *Store) Checkpoint(ctx context.Context, key string, from lease.Expect, cp lease.Checkpoint) (lease.Lease, error) {
	return s.update(ctx, "checkpoint lease", key,
		func(l lease.Lease) bool { return mayCheckpoint(l, from) },
		func(l *lease.Lease) {
			l.Checkpoint = cp
			l.OwnerSwitchesSinceCheckpoint = 0
			l.PendingCheckpoint, l.PendingCheckpointState = nil, nil
			l.Counter++
		})
}

// Finish implements lease.Store.
func (s *Store) Finish(ctx context.Context, key string, from lease.Expect, children []string) (lease.Lease, error) {
	return s.update(ctx, "finish lease", key,
		func(l lease.Lease) bool { return mayCheckpoint(l, from) },
		func(l *lease.Lease) {
			l.Checkpoint = lease.Checkpoint{Sequence: lease.ShardEnd}
			l.ChildShardIDs = slices.Clone(children)
			l.OwnerSwitchesSinceCheckpoint = 0
			l.PendingCheckpoint, l.PendingCheckpointState = nil, nil
			l.Owner, l.CheckpointOwner = "", ""
			l.Counter++
		})
}

// Delete implements lease.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.do(ctx, "delete lease", key, func() error {
		l, ok := s.leases[key]
		if _, bad := s.invalid[key]; bad {
			return lease.ErrConflict
		}
		if !ok {
			return lease.ErrNotFound
		}
		if !l.Finished() {
			return lease.ErrConflict
		}
		delete(s.leases, key)
		return nil
	})
}

// Heartbeat implements lease.Store.
func (s *Store) Heartbeat(ctx context.Context, worker, instance string) (lease.Worker, error) {
	var out lease.Worker
	err := s.do(ctx, "heartbeat worker", worker, func() error {
		w, ok := s.workers[worker]
		if !ok {
			w.Heartbeat = lease.HeartbeatStart()
		}
		prev := w.Instance
		w.ID = worker
		w.Heartbeat++
		w.Instance = instance
		s.workers[worker] = w
		out = w
		out.Previous = prev
		return nil
	})
	return out, err
}

// Wake implements lease.Store.
func (s *Store) Wake(ctx context.Context, worker string) error {
	return s.do(ctx, "wake worker", worker, func() error {
		w, ok := s.workers[worker]
		if !ok {
			return lease.ErrNotFound
		}
		w.Wake++
		s.workers[worker] = w
		return nil
	})
}

// Workers implements lease.Store.
func (s *Store) Workers(ctx context.Context) ([]lease.Worker, error) {
	var out []lease.Worker
	err := s.do(ctx, "list workers", "", func() error {
		for _, w := range s.workers {
			out = append(out, w)
		}
		return nil
	})
	return out, err
}

// RemoveWorker implements lease.Store.
func (s *Store) RemoveWorker(ctx context.Context, worker string, heartbeat int64) error {
	return s.do(ctx, "remove worker", worker, func() error {
		w, ok := s.workers[worker]
		if !ok {
			return lease.ErrNotFound
		}
		if w.Heartbeat != heartbeat {
			return lease.ErrConflict
		}
		delete(s.workers, worker)
		return nil
	})
}
