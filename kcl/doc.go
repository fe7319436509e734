// Package kcl is Shoal's Kinesis consumer: several processes of one application share a stream,
// each shard processed by exactly one live worker at a time.
//
// Each process creates a Consumer with New and calls Run. The consumers coordinate through a
// lease table (package lease; DynamoDB in production through lease/dynamolease, memlease in
// tests): they balance shards by count, take over a dead worker's shards after the lease
// duration (3 s by default), and hand shards over gracefully on Shutdown or rebalance.
//
// For every shard it owns, a worker runs the Processor in its own goroutine. The processor reads
// batches with Shard.Next and checkpoints with Shard.Checkpoint, or uses BatchProcessor, which
// checkpoints after every batch it processed without error.
//
// Checkpoints are coalesced per shard. Shard.Checkpoint checks the position at once (beyond the
// last delivered record: ErrCheckpointAhead; before one already recorded: lease.ErrBackwards;
// shard lost: ErrLeaseLost) and records it; a per-shard goroutine writes it to the lease table
// at most once per Config.CheckpointInterval (5s by default), never when it did not move. The
// last recorded position is always written before the lease is released (handoff, rebalance,
// Shutdown), before SHARD_END, and before a failed processor runs again, and every position is
// written at once after a handoff or shutdown was requested. Shard.Flush writes now and returns
// when the write is durable (for effects that must not be repeated); CheckpointInterval
// CheckpointWriteThrough writes on every Checkpoint call, as the Java KCL does.
//
// Guarantees:
//   - At-least-once: every record is delivered until a checkpoint at or after it is written.
//     After a crash or a hard stop, the new owner starts after the last checkpoint written, so
//     records processed but not yet checkpointed are delivered again: with coalescing, at most
//     the records checkpointed in the last CheckpointInterval before the crash (a worker that
//     lost contact with the lease table stops at once and may replay those too), plus those
//     processed but not yet checkpointed. A graceful handoff (Shutdown, rebalance) delivers nothing
//     twice when the processor checkpoints what it processed before returning (BatchProcessor
//     does).
//   - Order: records of a shard are delivered in sequence order. A shard's children (after a
//     split, merge or UpdateShardCount) start only after every parent was read to its end, so
//     records of one partition key stay in order across a reshard.
//   - Fencing: a checkpoint succeeds only while this worker owns the shard; a worker that lost
//     it sees the shard's context cancelled with ErrLeaseLost at once, and its checkpoints fail.
//   - A processor that returns an error runs again from the last checkpoint after a backoff (or,
//     before the first checkpoint, at the first record the failed run was given); no record is
//     skipped.
//   - No owner change skips a record, also before a shard's first checkpoint at Latest: the first
//     claim of a LATEST lease records, fenced, the time it starts (minus LatestStartSkew for
//     clock skew), and every later owner reads from that time instead of from a new LATEST. It
//     may repeat records that arrived up to LatestStartSkew before the first start.
//   - KPL aggregates are de-aggregated; sub-records carry sub-sequence numbers, and a checkpoint
//     in the middle of an aggregate resumes at the next sub-record. A corrupt aggregate is
//     delivered whole with Record.DecodeErr set, never dropped.
//
// Retrieval is by polling (GetRecords, the default) or enhanced fan-out (FanOut). Throttling is
// retried with exponential backoff and jitter; expired iterators are renewed from the last
// record read. Polling adapts to traffic: while a shard is behind or pages come back full it is
// read without pause, a caught-up shard every Polling.Interval (250ms), and an idle one backs off
// over consecutive empty reads to one call per Polling.IdleInterval (1s), so several
// applications can share AWS's 5 GetRecords per second per shard; a record arriving at an idle
// shard is read within IdleInterval.
package kcl
