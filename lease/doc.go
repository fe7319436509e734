// Package lease shares the shards of a stream among a fleet of workers: a lease table (one item
// per shard, in the Java KCL's format), a worker table (one heartbeat row per worker), the pure
// decision core Plan, and the Coordinator that runs the protocol for one worker.
//
// # Pieces
//
//   - Lease, Checkpoint, Store: the model and the small storage interface. Implementations:
//     lease/memlease (in memory), lease/dynamolease (DynamoDB). lease/leasetest is the conformance
//     suite both pass, and a fault-injecting wrapper.
//   - Plan: a pure function from one worker's View (leases, workers, how long each has been seen
//     unchanged, the claims it holds) to Actions (take, request handoff, stop, lost, ...).
//   - Coordinator: New(Config) then Run(ctx); Shutdown(ctx) for a graceful stop. Each acquired
//     lease is handed to Config.Acquired as a *Claim: a context, a Stopping channel, fenced
//     Checkpoint, Finish (SHARD_END + children) and Release.
//
// # Lifecycle of a claim
//
// Acquired(claim) is called from the coordinator goroutine; start the processor in a goroutine.
// Process while claim.Context() is live. When claim.Stopping() closes (another worker asked for
// the lease to balance the fleet, the worker is over MaxLeasesPerWorker, or Shutdown was
// called), finish the batch, Checkpoint, and Release: the next owner starts at once from that
// checkpoint, with no duplicates and no wait for expiry. If the context is cancelled (cause
// ErrLeaseLost: another worker owns the lease, or this worker fenced itself; ErrShutdown: hard
// stop), stop at once; checkpoints are refused. Always end a claim with Release or Finish.
//
// # Guarantees
//
//   - Fencing: every ownership change and every checkpoint is a conditional write on (owner,
//     counter[, checkpointOwner]). A worker whose lease moved cannot checkpoint it: the write
//     fails, Checkpoint returns ErrLeaseLost and the claim's context is cancelled with that cause.
//     A claim's write is never retried after a failed condition.
//   - At most one valid claim per lease across the fleet at any instant (Claim.Valid), provided
//     clocks run at rates that differ by less than SafetyMargin per LeaseDuration, and the
//     store's reads are linearizable (DynamoDB strongly consistent reads; dynamolease uses them).
//   - Checkpoints never move backwards through a claim (ErrBackwards), and a new owner starts
//     from the last checkpoint written.
//   - Liveness is judged only on the observer's monotonic clock; wall clocks are never compared.
//     Liveness costs one write per worker per HeartbeatInterval, whatever the number of leases.
//   - Balance: every worker computes the same targets (floor or ceil of countable leases / live
//     workers, MaxLeasesPerWorker applied) and takes or steals up to its target, several leases
//     per scan. Finished (SHARD_END) leases and children whose parents (present in the table) have
//     not all finished are neither counted nor taken.
//   - Crash failover: a dead worker's leases are taken within LeaseDuration plus about one
//     WorkerScanInterval (defaults: 3 s + 1 s).
//   - A slow or throttled store does not fence a healthy worker while some heartbeat answers
//     before the fence it extends (measured from its start; sends pipeline when answers are slow):
//     no self-fence up to a p99 of 1 s, or throttling bursts of 1.5 s, at the defaults
//     (TestSlowStoreLiveness). While store calls are slow or failing, each scan takes and steals
//     fewer leases (halving; doubling back when the table recovers).
//   - A table item that is not a valid lease is skipped and reported (Hooks.InvalidItem,
//     Stats.Invalid, an ERROR log line), never written to; every valid lease is balanced.
//   - Two live processes with one WorkerID are detected within a few heartbeats; the one that
//     started later steps back (Run returns ErrDuplicateWorker).
//   - Nothing outlives Run: it starts three helper goroutines (heartbeat, which waits for its own
//     attempts; fencer; a hard-stop watcher) and waits for them. User callbacks and hooks are
//     never called with a lock held. A hard stop (ctx, or Shutdown's ctx) interrupts every store
//     call of the coordinator.
//
// # Self-fencing (the margin, and why it is safe)
//
// A heartbeat sent at s (on worker W's monotonic clock) that succeeds counts if it answers
// before W's current fence validUntil, or, with no live chain, before s + LeaseDuration (LD) -
// SafetyMargin (SM), starting a new chain. A counting heartbeat moves validUntil to
// max(validUntil, s + LD - SM): measured from its START, so a slow answer still counts. At
// validUntil W cancels every claim; a separate fencer goroutine does it, so a hung store call
// cannot delay it. An observer O declares W dead only when a read of the worker table that
// STARTED at t_b shows W's heartbeat at the value v that O first saw in a read that ENDED at
// t_a, with t_b - t_a >= LD; and that read must have started after O first saw the lease's
// current (owner, counter) (LeaseView.Checked). Then no heartbeat of W committed in [t_a, t_b].
// A counting heartbeat sent after t_a committed, and so answered, after t_b; the first of them
// to answer found validUntil set by heartbeats sent by t_a, so validUntil <= t_a + LD - SM <
// t_b: it could not count. So W's fence is at most t_b - SM, SM before O's decision, which
// precedes O's conditional take. The Checked rule covers a W that fenced, restarted its chain
// (whose first heartbeat O may not have read yet) and re-validated the lease: O saw the
// re-validation's new counter, so it needs a worker read after it, which shows the new chain.
// docs/design.md has the full argument and the sending policy (retry at once, two in flight).
// TestSelfFencingMargin measures fence at +2.6 s and takeover at >= +3 s at the defaults;
// TestSlowStoreLiveness runs healthy workers over a slow, throttled store with no self-fence.
//
// # Differences from the Java KCL
//
// Leases are not renewed one by one (per-worker heartbeat rows, in a separate table, instead);
// RequestHandoff, like the Java KCL 3.x's graceful handoff, sets checkpointOwner without moving
// the counter; Shoal completes it with a counter bump. A finished lease is released (owner
// removed) rather than kept owned until deleted. Owners with no worker row (Java KCL workers
// during a migration) are judged on the lease counter alone and are never asked for a handoff
// (a Java KCL 2.x worker would not honour checkpointOwner).
package lease
