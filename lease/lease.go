package lease

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors every Store returns (wrapped, with the action and key), so callers test them with
// errors.Is whatever the backing store. The leasetest suite checks that each store does.
var (
	// ErrConflict: a conditional write found the lease in another state than expected (owner,
	// counter or checkpointOwner changed). The caller's view is stale.
	ErrConflict = errors.New("lease: conditional write failed")
	// ErrNotFound: no lease (or worker row) with that key.
	ErrNotFound = errors.New("lease: not found")
	// ErrExists: Create found a lease with that key already.
	ErrExists = errors.New("lease: already exists")
	// ErrThrottled: the backing store throttled the request (DynamoDB
	// ProvisionedThroughputExceeded, ThrottlingException, RequestLimitExceeded). Retry later.
	ErrThrottled = errors.New("lease: store throttled")
	// ErrNoTable: the lease or worker table does not exist (create it first, e.g. with
	// dynamolease.Store.Init).
	ErrNoTable = errors.New("lease: table does not exist")
	// ErrUnknownOutcome: a write may or may not have been stored, and may still be stored
	// later: its request was sent but no answer arrived (a timeout or cancelled ctx, a connection
	// closed or reset after sending, a 5xx). Unlike every other error it does not mean "not
	// stored". A later read, or a later conditional write on the same counter, tells which.
	ErrUnknownOutcome = errors.New("lease: outcome of the write unknown")
	// ErrInvalidItem: a stored item is missing a required attribute or has one of the wrong type
	// (e.g. edited by hand). The error names the key and the attribute.
	ErrInvalidItem = errors.New("lease: invalid stored item")

	// ErrLeaseLost is the cause of a Claim's context when another worker owns the lease now, or
	// when this worker fenced itself because its heartbeats stopped counting. Checkpoints through
	// a lost Claim return it.
	ErrLeaseLost = errors.New("lease: lease lost")
	// ErrDuplicateWorker: another live process runs with the same WorkerID (its heartbeats
	// appeared in this worker's row). Coordinator.Run returns it in the process that steps back.
	ErrDuplicateWorker = errors.New("lease: another live process uses this WorkerID")
	// ErrShutdown is the cause of a Claim's context when the coordinator stopped (hard stop, or a
	// graceful Shutdown whose deadline passed before the processor released the lease).
	ErrShutdown = errors.New("lease: coordinator shut down")
)

// Sentinel checkpoint sequences, as the Java KCL writes them.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
	AtTimestamp = "AT_TIMESTAMP"
	ShardEnd    = "SHARD_END"
)

// Lease is one item of the lease table: one shard's ownership and checkpoint. Field names map to
// the Java KCL's DynamoDB attributes (in brackets). A Lease is a value; Stores return copies.
type Lease struct {
	// Key identifies the lease (leaseKey): the shard id, or "account:stream:epoch:shardId" for
	// multi-stream applications.
	Key string
	// Owner is the worker that owns the lease (leaseOwner); "" when unassigned.
	Owner string
	// Counter is the fencing counter (leaseCounter). Every ownership change and checkpoint
	// increments it; a conditional write names the value it expects.
	Counter int64
	// Checkpoint is the last checkpoint (checkpoint, checkpointSubSequenceNumber).
	Checkpoint Checkpoint
	// PendingCheckpoint is a prepared checkpoint (pendingCheckpoint,
	// pendingCheckpointSubSequenceNumber), nil when none. A checkpoint clears it.
	PendingCheckpoint *Checkpoint
	// PendingCheckpointState is application state attached to the pending checkpoint
	// (pendingCheckpointState).
	PendingCheckpointState []byte
	// OwnerSwitchesSinceCheckpoint counts owner changes since the last checkpoint
	// (ownerSwitchesSinceCheckpoint).
	OwnerSwitchesSinceCheckpoint int64
	// ParentShardIDs are the parent leases' keys (parentShardId, a string set): two for a merge
	// child, one for a split child, none for an original shard.
	ParentShardIDs []string
	// ChildShardIDs are written when the shard ends (childShardIds, a string set).
	ChildShardIDs []string
	// StartingHashKey and EndingHashKey are the shard's hash range as decimal strings.
	StartingHashKey, EndingHashKey string
	// CheckpointOwner is set during a graceful handoff (checkpointOwner): the previous owner, which
	// may still checkpoint until it completes the handoff. Owner is then the taker.
	CheckpointOwner string
}

// Finished reports whether the lease's shard has been fully processed (checkpoint SHARD_END).
func (l Lease) Finished() bool { return l.Checkpoint.Sequence == ShardEnd }

// Clone returns a deep copy of l.
func (l Lease) Clone() Lease {
	c := l
	if l.PendingCheckpoint != nil {
		p := *l.PendingCheckpoint
		c.PendingCheckpoint = &p
	}
	c.PendingCheckpointState = slices.Clone(l.PendingCheckpointState)
	c.ParentShardIDs = slices.Clone(l.ParentShardIDs)
	c.ChildShardIDs = slices.Clone(l.ChildShardIDs)
	return c
}

// Expect is the state a conditional write requires: the lease's owner ("" = unowned; for
// checkpoints and handoff completion, the worker allowed to checkpoint) and its counter.
type Expect struct {
	Owner   string
	Counter int64
}

// Worker is one row of the worker table: a live worker's heartbeat counter and the wake counter
// other workers bump to make it rescan at once.
type Worker struct {
	ID        string
	Heartbeat int64
	Wake      int64
	// Instance names the process that wrote Heartbeat (a Coordinator's random instance id; ""
	// if written by a version that did not record it).
	Instance string
	// Previous is set by Heartbeat only: the Instance of the row before this heartbeat ("" for a
	// new row). A value other than the caller's own after its first heartbeat means another
	// process heartbeats under the same worker id.
	Previous string
}

// Store is a lease table plus its worker table. Implementations (memlease, dynamolease) are safe
// for concurrent use; every method blocks until the store answers or ctx ends. Errors wrap the
// sentinels above (ErrConflict, ErrNotFound, ErrExists, ErrThrottled, ErrNoTable,
// ErrInvalidItem, ErrUnknownOutcome). Conditional methods return the lease as stored after the
// write. A write that returns nil is stored; one that returns ErrConflict or ErrExists was not
// applied and never will be; after ErrUnknownOutcome it may be stored, now or later (a store
// never retries a write whose earlier attempt may have been applied).
//
// The semantics of each write (leasetest checks them):
//
//   - Create puts l if no lease with l.Key exists (else ErrExists).
//   - Take: if owner == from.Owner and counter == from.Counter, sets owner = to, counter+1,
//     removes checkpointOwner, and adds 1 to ownerSwitchesSinceCheckpoint when the owner changes.
//   - RequestHandoff: if owner == from.Owner, counter == from.Counter and no checkpointOwner,
//     sets owner = to and checkpointOwner = from.Owner. The counter is not incremented (as in the
//     Java KCL), so the old owner's checkpoints keep succeeding until it completes the handoff.
//   - CompleteHandoff: if checkpointOwner == from.Owner and counter == from.Counter, removes
//     checkpointOwner, counter+1, ownerSwitchesSinceCheckpoint+1.
//   - Release: if owner == from.Owner, no checkpointOwner and counter == from.Counter, removes
//     owner, counter+1.
//   - Checkpoint: if counter == from.Counter and from.Owner may checkpoint (owner == from.Owner
//     with no checkpointOwner, or checkpointOwner == from.Owner), sets the checkpoint, resets
//     ownerSwitchesSinceCheckpoint, removes the pending checkpoint, counter+1.
//   - Finish: like Checkpoint with SHARD_END, also sets childShardIds and removes owner and
//     checkpointOwner (a finished lease is nobody's load).
//   - Delete removes the lease only if its checkpoint is SHARD_END (else ErrConflict).
//   - Heartbeat adds 1 to the worker's heartbeat, sets its instance, and returns the row with
//     Previous = the instance it replaced. An absent row is created with heartbeat =
//     HeartbeatStart() + 1, so a row deleted and created again never repeats a value an observer
//     may still remember (it would look unchanged, and its worker dead).
//   - Wake adds 1 to an existing worker's wake (ErrNotFound if it has no row).
//   - RemoveWorker deletes a worker row if its heartbeat still equals heartbeat (else ErrConflict).
type Store interface {
	Create(ctx context.Context, l Lease) error
	Get(ctx context.Context, key string) (Lease, error)
	// List returns every valid lease (a strongly consistent full scan), in no particular order.
	// Items that cannot be read as a lease are skipped (Scan reports them); they never fail it.
	List(ctx context.Context) ([]Lease, error)
	// Scan is List that also returns the items it skipped because they are not valid leases (a
	// required attribute missing or mistyped, a checkpoint that is not a sequence number or a
	// sentinel, an unrelated item). Nothing is ever written to such an item by a Store method:
	// Get returns ErrInvalidItem for it, conditional writes fail, Create returns ErrExists.
	Scan(ctx context.Context) ([]Lease, []InvalidItem, error)
	Take(ctx context.Context, key string, from Expect, to string) (Lease, error)
	RequestHandoff(ctx context.Context, key string, from Expect, to string) (Lease, error)
	CompleteHandoff(ctx context.Context, key string, from Expect) (Lease, error)
	Release(ctx context.Context, key string, from Expect) (Lease, error)
	Checkpoint(ctx context.Context, key string, from Expect, cp Checkpoint) (Lease, error)
	Finish(ctx context.Context, key string, from Expect, children []string) (Lease, error)
	Delete(ctx context.Context, key string) error

	Heartbeat(ctx context.Context, worker, instance string) (Worker, error)
	Wake(ctx context.Context, worker string) error
	// Workers returns every worker row (a strongly consistent full scan).
	Workers(ctx context.Context) ([]Worker, error)
	RemoveWorker(ctx context.Context, worker string, heartbeat int64) error
}

// InvalidItem describes a lease-table item that is not a valid lease. It is an error that wraps
// ErrInvalidItem.
type InvalidItem struct {
	// Key is the item's leaseKey.
	Key string
	// Attribute names the offending attribute (e.g. "leaseCounter").
	Attribute string
	// Problem says what is wrong with it (e.g. "missing", "want a number (N), got S").
	Problem string
}

func (e InvalidItem) Error() string {
	return fmt.Sprintf("%v: leaseKey %q: attribute %s: %s", ErrInvalidItem, e.Key, e.Attribute, e.Problem)
}

// Unwrap returns ErrInvalidItem.
func (e InvalidItem) Unwrap() error { return ErrInvalidItem }

// Reason is the attribute and the problem, for display ("leaseCounter: missing").
func (e InvalidItem) Reason() string { return e.Attribute + ": " + e.Problem }

// HeartbeatStart returns a random starting value for a new worker row's heartbeat counter, in
// [0, 2^52). Safe for concurrent use.
func HeartbeatStart() int64 { return rand.Int64N(1 << 52) }

// Initializer is implemented by stores that must create their tables before use
// (dynamolease). Coordinator.Run calls Init first when the store implements it.
type Initializer interface {
	Init(ctx context.Context) error
}

// Checkpoint is a position in a shard: a sequence number (decimal digits, up to 128 bits) or a
// sentinel (TrimHorizon, Latest, AtTimestamp, ShardEnd), and the sub-sequence number of a record
// inside a KPL aggregate.
type Checkpoint struct {
	Sequence    string
	SubSequence int64
	// Timestamp, with the LATEST or AT_TIMESTAMP sentinel, is the arrival time the position
	// starts at (Shoal's own attribute, shoalCheckpointTimestamp; the Java KCL ignores it). Shoal
	// writes it at a LATEST lease's first claim, so that every later owner starts there instead
	// of at a new LATEST. Zero when unknown; ignored with other sequences; not used by Compare.
	// Stores keep millisecond precision.
	Timestamp time.Time
}

// IsSentinel reports whether the checkpoint is one of the sentinel values.
func (c Checkpoint) IsSentinel() bool {
	switch c.Sequence {
	case TrimHorizon, Latest, AtTimestamp, ShardEnd:
		return true
	}
	return false
}

// Valid reports whether the sequence is a sentinel or a non-empty run of decimal digits.
func (c Checkpoint) Valid() bool {
	if c.IsSentinel() {
		return c.SubSequence >= 0
	}
	if c.Sequence == "" || c.SubSequence < 0 {
		return false
	}
	for i := 0; i < len(c.Sequence); i++ {
		if c.Sequence[i] < '0' || c.Sequence[i] > '9' {
			return false
		}
	}
	return true
}

// rank orders the kinds of checkpoint: every starting sentinel is before every sequence number,
// which is before SHARD_END (the Java KCL's ExtendedSequenceNumber order).
func (c Checkpoint) rank() int {
	switch c.Sequence {
	case TrimHorizon:
		return 0
	case AtTimestamp:
		return 1
	case Latest:
		return 2
	case ShardEnd:
		return 4
	}
	return 3
}

// Compare orders checkpoints: -1 if c is before o, 0 if equal, +1 if after. Sequence numbers
// compare as unbounded integers (leading zeros ignored), then by sub-sequence. Sentinels:
// TRIM_HORIZON < AT_TIMESTAMP < LATEST < any sequence number < SHARD_END.
func (c Checkpoint) Compare(o Checkpoint) int {
	if r, s := c.rank(), o.rank(); r != s {
		if r < s {
			return -1
		}
		return 1
	}
	if c.rank() == 3 {
		a, b := strings.TrimLeft(c.Sequence, "0"), strings.TrimLeft(o.Sequence, "0")
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
		if x := strings.Compare(a, b); x != 0 {
			return x
		}
	}
	switch {
	case c.SubSequence < o.SubSequence:
		return -1
	case c.SubSequence > o.SubSequence:
		return 1
	}
	return 0
}

// String formats the checkpoint as "sequence", "sequence/sub", or "SENTINEL@time" for a
// sentinel with a Timestamp.
func (c Checkpoint) String() string {
	if !c.Timestamp.IsZero() && (c.Sequence == Latest || c.Sequence == AtTimestamp) {
		return c.Sequence + "@" + c.Timestamp.UTC().Format(time.RFC3339Nano)
	}
	if c.SubSequence == 0 {
		return c.Sequence
	}
	return c.Sequence + "/" + strconv.FormatInt(c.SubSequence, 10)
}
