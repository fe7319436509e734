package lease_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/memlease"
)

// Two live processes with the same WorkerID: each sees the other's heartbeats in the worker row
// (writes it did not make), both log at ERROR, and exactly one steps back (the one that started
// later): its Run returns ErrDuplicateWorker and its claims end; the other keeps every lease.
// (Before the fix both ran on, taking the same leases from each other, until a checkpoint
// failed.)
func TestDuplicateWorkerIDStepsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memlease.New()
		for i := range 6 {
			createLeases(t, mem, lease.Lease{Key: keyOf(i)})
		}
		type proc struct {
			co   *lease.Coordinator
			done chan error
			mu   sync.Mutex
			cl   []*lease.Claim
		}
		start := func() *proc {
			p := &proc{done: make(chan error, 1)}
			co, err := lease.New(lease.Config{Store: mem, WorkerID: "same", Acquired: func(cl *lease.Claim) {
				p.mu.Lock()
				p.cl = append(p.cl, cl)
				p.mu.Unlock()
				go func() { <-cl.Context().Done(); cl.Release(context.Background()) }()
			}})
			if err != nil {
				t.Fatal(err)
			}
			p.co = co
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(func() { cancel(); <-p.done })
			go func() {
				err := co.Run(ctx)
				p.done <- err
				p.done <- err
			}()
			return p
		}
		first := start()
		time.Sleep(5 * time.Second)
		second := start()
		var stepped *proc
		var err error
		select {
		case err = <-first.done:
			stepped = first
		case err = <-second.done:
			stepped = second
		case <-time.After(30 * time.Second):
			t.Fatal("both processes with one WorkerID still run after 30 s")
		}
		t.Logf("stepped back: %v", err)
		if stepped != second {
			t.Fatalf("the first process stepped back (%v), want the one that started later", err)
		}
		if !errorsIsDuplicate(err) {
			t.Fatalf("Run returned %v, want ErrDuplicateWorker", err)
		}
		select {
		case err := <-first.done:
			t.Fatalf("the first process stopped too: %v", err)
		default:
		}
		time.Sleep(10 * time.Second)
		if s := first.co.Stats(); s.Held != 6 || !s.Live {
			t.Fatalf("first process after the step back: %+v, want all 6 leases", s)
		}
		second.mu.Lock()
		defer second.mu.Unlock()
		for _, cl := range second.cl {
			if cl.Valid() {
				t.Errorf("the process that stepped back still holds %s", cl.Key())
			}
		}
	})
}

func errorsIsDuplicate(err error) bool { return errors.Is(err, lease.ErrDuplicateWorker) }
