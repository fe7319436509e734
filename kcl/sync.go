package kcl

import (
	"context"
	"errors"
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
		if sleep(ctx, wait) != nil {
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
	leased := make(map[string]bool, len(leases))
	for _, l := range leases {
		leased[l.Key] = true
	}
	created := 0
	var errs []error
	for _, nl := range planLeases(shards, leased, c.cfg.InitialPosition) {
		if err := c.createLease(ctx, nl); err != nil {
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

// cleanup deletes finished leases whose every child lease exists and has checkpointed past its
// starting sentinel: nothing can need the parent any more (its children are no longer blocked,
// and shard sync does not recreate a shard with a leased descendant).
func (c *Consumer) cleanup(ctx context.Context, leases []lease.Lease) error {
	byKey := make(map[string]lease.Lease, len(leases))
	for _, l := range leases {
		byKey[l.Key] = l
	}
	var errs []error
	for _, l := range leases {
		if !l.Finished() || len(l.ChildShardIDs) == 0 {
			continue
		}
		started := true
		for _, ch := range l.ChildShardIDs {
			cl, ok := byKey[ch]
			if !ok || !cl.Checkpoint.Valid() || cl.Checkpoint.Sequence == lease.TrimHorizon ||
				cl.Checkpoint.Sequence == lease.AtTimestamp || cl.Checkpoint.Sequence == lease.Latest {
				started = false
				break
			}
		}
		if !started {
			continue
		}
		if err := c.cfg.Leases.Delete(ctx, l.Key); err != nil && !errors.Is(err, lease.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
