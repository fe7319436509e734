package kcl

import "time"

// Hooks are optional callbacks for metrics and tracing. They are called with no lock held, from
// the goroutine that observed the event (a shard's goroutine or the lease coordinator's); they
// must be quick and safe for concurrent use. Nil fields are skipped.
type Hooks struct {
	// LeaseAcquired: this worker started processing shard.
	LeaseAcquired func(shard string)
	// LeaseLost: this worker lost shard without releasing it (cause lease.ErrLeaseLost or
	// lease.ErrShutdown).
	LeaseLost func(shard string, cause error)
	// BatchProcessed: a batch of n records was handed to the processor and it asked for the next
	// one after took; millisBehind is the batch's MillisBehindLatest.
	BatchProcessed func(shard string, n int, bytes int, millisBehind int64, took time.Duration)
	// Checkpointed: a checkpoint of shard was written.
	Checkpointed func(shard string, took time.Duration)
	// Throttled: a read of shard was throttled (or failed and will be retried) and waits wait.
	Throttled func(shard string, err error, wait time.Duration)
	// ProcessorFailed: the processor of shard returned err; it runs again from the last
	// checkpoint after wait.
	ProcessorFailed func(shard string, err error, attempt int, wait time.Duration)
	// CorruptRecord: a record that looked like a KPL aggregate could not be decoded; it is
	// delivered whole with Record.DecodeErr set.
	CorruptRecord func(shard string, r Record)
	// ShardEnded: shard was read to its end and its children's leases exist (a merge child whose
	// other parent has no lease yet is created by shard sync right after that parent).
	ShardEnded func(shard string, children []string)
}
