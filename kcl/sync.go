package kcl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shoal-go/shoal/lease"
)

// syncLoop keeps the lease table in step with the stream's shards: at start and every
// ShardSyncInterval it creates leases for shards that have none (planLeases) and deletes
// finished leases whose children have started. Every worker runs it; all its writes are
// idempotent (conditional creates, deletes of finished leases only).
func (c *Consumer) syncLoop(ctx context.Context) {
	bo := backoff{base: 500 * time.Millisecond, max: c.cfg.ShardSyncInterval}
	for {
		wait := c.cfg.ShardSyncInterval
		if err := c.syncOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = bo.next()
			c.cfg.Logger.Warn("shard sync failed", "worker", c.cfg.WorkerID, "stream", c.streamLabel(), "err", err, "retry_in", wait)
		} else {
			bo.reset()
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.syncNow:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// syncOnce runs one shard sync.
func (c *Consumer) syncOnce(ctx context.Context) error {
	shards, err := c.listShards(ctx)
	if err != nil {
		return err
	}
	leases, err := c.cfg.Leases.List(ctx)
	if err != nil {
		return err
	}
	leased := make(map[string]lease.Checkpoint, len(leases))
	for _, l := range leases {
		leased[l.Key] = l.Checkpoint
	}
	created := 0
	var errs []error
	failed := map[string]bool{} // creations that failed or were held back, this sync
	for _, nl := range planLeases(shards, leased, c.cfg.InitialPosition) {
		// Never create a lease whose parent has none: it would look startable (a parent missing
		// from the table counts as finished) and the parent would be skipped. The plan is
		// parents-first, so a held-back descendant is retried with its parent next sync.
		if p := slices.IndexFunc(nl.shard.parents, func(p string) bool { return failed[p] }); p >= 0 {
			failed[nl.shard.id] = true
			errs = append(errs, fmt.Errorf("create lease %s: held back until its parent %s has a lease", nl.shard.id, nl.shard.parents[p]))
			continue
		}
		if err := c.createLease(ctx, nl); err != nil {
			failed[nl.shard.id] = true
			errs = append(errs, err)
			continue
		}
		created++
	}
	if created > 0 {
		c.co.Rescan()
	}
	errs = append(errs, c.cleanup(ctx, leases))
	return errors.Join(errs...)
}

// cleanup deletes finished leases whose every child has started: its lease has checkpointed past
// its starting sentinel, or it was itself cleaned up (a lease naming it as parent has started).
// Nothing can need the parent any more: its children are no longer blocked, and shard sync does
// not recreate a shard with a started descendant.
func (c *Consumer) cleanup(ctx context.Context, leases []lease.Lease) error {
	byKey := make(map[string]lease.Lease, len(leases))
	childrenOf := map[string][]lease.Lease{}
	for _, l := range leases {
		byKey[l.Key] = l
		for _, p := range l.ParentShardIDs {
			childrenOf[p] = append(childrenOf[p], l)
		}
	}
	var consumed func(key string, depth int) bool
	consumed = func(key string, depth int) bool {
		if l, ok := byKey[key]; ok {
			return l.Checkpoint.Valid() && started(l.Checkpoint)
		}
		if depth > len(leases) { // a malformed lineage with a cycle
			return false
		}
		return slices.ContainsFunc(childrenOf[key], func(ch lease.Lease) bool { return consumed(ch.Key, depth+1) })
	}
	var errs []error
	for _, l := range leases {
		if !l.Finished() || len(l.ChildShardIDs) == 0 {
			continue
		}
		if !slices.ContainsFunc(l.ChildShardIDs, func(ch string) bool { return !consumed(ch, 0) }) {
			if err := c.cfg.Leases.Delete(ctx, l.Key); err != nil && !errors.Is(err, lease.ErrNotFound) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
