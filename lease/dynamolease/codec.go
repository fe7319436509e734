package dynamolease

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shoal-go/shoal/lease"
)

// Attribute names, exactly as the Java KCL writes them (DynamoDBLeaseSerializer).
const (
	attrKey             = "leaseKey"
	attrOwner           = "leaseOwner"
	attrCounter         = "leaseCounter"
	attrCheckpoint      = "checkpoint"
	attrCheckpointSub   = "checkpointSubSequenceNumber"
	attrPending         = "pendingCheckpoint"
	attrPendingSub      = "pendingCheckpointSubSequenceNumber"
	attrPendingState    = "pendingCheckpointState"
	attrOwnerSwitches   = "ownerSwitchesSinceCheckpoint"
	attrParents         = "parentShardId"
	attrChildren        = "childShardIds"
	attrStartingHashKey = "startingHashKey"
	attrEndingHashKey   = "endingHashKey"
	attrCheckpointOwner = "checkpointOwner"
	// attrCheckpointTime is Shoal's own: lease.Checkpoint.Timestamp in Unix milliseconds, with
	// the LATEST or AT_TIMESTAMP sentinel. The Java KCL ignores it.
	attrCheckpointTime = "shoalCheckpointTimestamp"

	attrWorkerID  = "workerId"
	attrHeartbeat = "heartbeat"
	attrWake      = "wake"
	attrInstance  = "instance"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// encode returns the full item for l. Empty optional attributes are omitted (DynamoDB forbids
// empty sets; the Java KCL omits an absent owner).
func encode(l lease.Lease) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrKey:           s(l.Key),
		attrCounter:       n(l.Counter),
		attrCheckpoint:    s(l.Checkpoint.Sequence),
		attrCheckpointSub: n(l.Checkpoint.SubSequence),
		attrOwnerSwitches: n(l.OwnerSwitchesSinceCheckpoint),
	}
	if l.Owner != "" {
		item[attrOwner] = s(l.Owner)
	}
	if !l.Checkpoint.Timestamp.IsZero() {
		item[attrCheckpointTime] = n(l.Checkpoint.Timestamp.UnixMilli())
	}
	if l.PendingCheckpoint != nil {
		item[attrPending] = s(l.PendingCheckpoint.Sequence)
		item[attrPendingSub] = n(l.PendingCheckpoint.SubSequence)
	}
	if len(l.PendingCheckpointState) > 0 {
		item[attrPendingState] = &types.AttributeValueMemberB{Value: l.PendingCheckpointState}
	}
	if len(l.ParentShardIDs) > 0 {
		item[attrParents] = &types.AttributeValueMemberSS{Value: l.ParentShardIDs}
	}
	if len(l.ChildShardIDs) > 0 {
		item[attrChildren] = &types.AttributeValueMemberSS{Value: l.ChildShardIDs}
	}
	if l.StartingHashKey != "" {
		item[attrStartingHashKey] = s(l.StartingHashKey)
	}
	if l.EndingHashKey != "" {
		item[attrEndingHashKey] = s(l.EndingHashKey)
	}
	if l.CheckpointOwner != "" {
		item[attrCheckpointOwner] = s(l.CheckpointOwner)
	}
	return item
}

// itemError names the item and attribute that could not be decoded.
func itemError(key, attr, format string, args ...any) error {
	return lease.InvalidItem{Key: key, Attribute: attr, Problem: fmt.Sprintf(format, args...)}
}

type decoder struct {
	item map[string]types.AttributeValue
	key  string
	err  error
}

func (d *decoder) str(attr string, required bool) string {
	v, ok := d.item[attr]
	if !ok {
		if required && d.err == nil {
			d.err = itemError(d.key, attr, "missing")
		}
		return ""
	}
	sv, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		if d.err == nil {
			d.err = itemError(d.key, attr, "want a string (S), got %s", typeName(v))
		}
		return ""
	}
	return sv.Value
}

func (d *decoder) num(attr string, required bool) int64 {
	v, ok := d.item[attr]
	if !ok {
		if required && d.err == nil {
			d.err = itemError(d.key, attr, "missing")
		}
		return 0
	}
	nv, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		if d.err == nil {
			d.err = itemError(d.key, attr, "want a number (N), got %s", typeName(v))
		}
		return 0
	}
	x, err := strconv.ParseInt(nv.Value, 10, 64)
	if err != nil && d.err == nil {
		d.err = itemError(d.key, attr, "want an integer, got %q", nv.Value)
	}
	return x
}

func (d *decoder) set(attr string) []string {
	v, ok := d.item[attr]
	if !ok {
		return nil
	}
	switch sv := v.(type) {
	case *types.AttributeValueMemberSS:
		return append([]string(nil), sv.Value...)
	case *types.AttributeValueMemberS:
		// Tolerated on read: a hand-edited single value.
		return []string{sv.Value}
	}
	if d.err == nil {
		d.err = itemError(d.key, attr, "want a string set (SS), got %s", typeName(v))
	}
	return nil
}

func typeName(v types.AttributeValue) string {
	switch v.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNS:
		return "NS"
	case *types.AttributeValueMemberBS:
		return "BS"
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberL:
		return "L"
	case *types.AttributeValueMemberM:
		return "M"
	}
	return fmt.Sprintf("%T", v)
}

// decode parses a lease item. Attributes it does not know (throughputKBps, entityType, ...) are
// ignored here and preserved in the table, since every write is an UpdateItem of named
// attributes. A missing or mistyped required attribute (leaseKey, leaseCounter, checkpoint) is
// an ErrInvalidItem error naming the key and attribute.
func decode(item map[string]types.AttributeValue) (lease.Lease, error) {
	d := &decoder{item: item}
	key := d.str(attrKey, true)
	d.key = key
	l := lease.Lease{
		Key:                          key,
		Owner:                        d.str(attrOwner, false),
		Counter:                      d.num(attrCounter, true),
		Checkpoint:                   lease.Checkpoint{Sequence: d.str(attrCheckpoint, true), SubSequence: d.num(attrCheckpointSub, false)},
		OwnerSwitchesSinceCheckpoint: d.num(attrOwnerSwitches, false),
		ParentShardIDs:               d.set(attrParents),
		ChildShardIDs:                d.set(attrChildren),
		StartingHashKey:              d.str(attrStartingHashKey, false),
		EndingHashKey:                d.str(attrEndingHashKey, false),
		CheckpointOwner:              d.str(attrCheckpointOwner, false),
	}
	if _, ok := item[attrCheckpointTime]; ok {
		l.Checkpoint.Timestamp = time.UnixMilli(d.num(attrCheckpointTime, true)).UTC()
	}
	if _, ok := item[attrPending]; ok {
		l.PendingCheckpoint = &lease.Checkpoint{Sequence: d.str(attrPending, true), SubSequence: d.num(attrPendingSub, false)}
	}
	if v, ok := item[attrPendingState]; ok {
		switch b := v.(type) {
		case *types.AttributeValueMemberB:
			l.PendingCheckpointState = append([]byte(nil), b.Value...)
		case *types.AttributeValueMemberN:
			// The Java KCL (up to 3.5.1) writes the sub-sequence number here by mistake
			// (DynamoDBLeaseSerializer.toDynamoRecord); it carries no state.
		default:
			if d.err == nil {
				d.err = itemError(key, attrPendingState, "want binary (B), got %s", typeName(v))
			}
		}
	}
	if d.err == nil && !l.Checkpoint.Valid() {
		d.err = itemError(key, attrCheckpoint, "want digits or TRIM_HORIZON/LATEST/AT_TIMESTAMP/SHARD_END, got %q", l.Checkpoint.Sequence)
	}
	if d.err != nil {
		return lease.Lease{}, d.err
	}
	return l, nil
}

func decodeWorker(item map[string]types.AttributeValue) (lease.Worker, error) {
	d := &decoder{item: item}
	id := d.str(attrWorkerID, true)
	d.key = id
	w := lease.Worker{ID: id, Heartbeat: d.num(attrHeartbeat, false), Wake: d.num(attrWake, false), Instance: d.str(attrInstance, false)}
	if d.err != nil {
		return lease.Worker{}, fmt.Errorf("worker row: %w", d.err)
	}
	return w, nil
}
