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
//   - Nothing outlives Run: it starts two helper goroutines (heartbeat, fencer) and waits for them.
//     User callbacks and hooks are never called with a lock held.
//
// # Self-fencing (the margin, and why it is safe)
//
// Let s be the send time, on worker W's monotonic clock, of W's last counting heartbeat. A
// heartbeat counts if it succeeded, answered within HeartbeatTimeout (HT), and (unless it starts
// a new chain after a fence) was sent before s_prev + LeaseDuration (LD) - HT. W cancels every
// claim at s + LD - SafetyMargin (SM); a separate fencer goroutine does it, so a hung store call
// cannot delay it. An observer O declares W dead only when a read of the worker table that
// STARTED at t_b shows W's heartbeat at the value v that O first saw in a read that ENDED at
// t_a, with t_b - t_a >= LD; and that read must have started after O first saw the lease's
// current (owner, counter) (LeaseView.Checked). Then: v committed after W sent it, so s_v <= t_a;
// a later counting heartbeat would have committed before s_v + LD - HT + HT <= t_b and been seen;
// so W's deadline s_v + LD - SM < t_b, SM earlier than O's decision, which precedes O's
// conditional take. The Checked rule covers a W that fenced, restarted its chain (whose first
// heartbeat O may not have read yet) and re-validated the lease: O saw the re-validation's new
// counter, so it needs a worker read after it, which shows the new chain. With the defaults
// (HeartbeatInterval 1 s, HT 800 ms, LD 3 s, SM 400 ms) a healthy worker's deadline is always at
// least 800 ms ahead; TestSelfFencingMargin measures fence at +2.6 s and takeover at >= +3 s.
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
