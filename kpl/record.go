package kpl

import (
	"fmt"
	"unicode/utf8"

	"github.com/shoal-go/shoal/aggregate"
)

// Record is a user record: PartitionKey (1 to 256 characters), optional
// ExplicitHashKey (a decimal hash key overriding MD5(PartitionKey) for
// routing) and Data. It is the aggregate package's Record, so a consumer's
// de-aggregated records have the same type.
type Record = aggregate.Record

// Result is the outcome of one successfully written user record.
type Result struct {
	// ShardID is the shard Kinesis stored the record in.
	ShardID string
	// SequenceNumber is the sequence number of the Kinesis record carrying
	// it (the aggregate's, if aggregated).
	SequenceNumber string
	// SubSequenceNumber is the record's position in its aggregate (0 when not
	// aggregated), as a consumer de-aggregating it will see it.
	SubSequenceNumber int
	// Aggregated reports whether the record travelled inside an aggregate.
	Aggregated bool
	// Attempts is the number of PutRecords calls that carried the record.
	Attempts int
}

// Callback receives the outcome of one record: a Result, or an error. It is
// called exactly once per record Put accepted, on a producer goroutine, never
// with a lock held; it must not block for long, since callbacks run one
// after another. It may call Put.
type Callback func(Result, error)

// validateRecord checks r against the Kinesis rules: a partition key of 1 to
// 256 characters of valid UTF-8, an explicit hash key in [0, 2^128-1], and
// data plus key at most maxSize bytes. It returns the routing hash key.
func validateRecord(r *Record, maxSize int) (aggregate.Hash128, error) {
	switch {
	case r.PartitionKey == "":
		return aggregate.Hash128{}, fmt.Errorf("%w: empty partition key", ErrInvalidRecord)
	case !utf8.ValidString(r.PartitionKey):
		return aggregate.Hash128{}, fmt.Errorf("%w: partition key is not valid UTF-8", ErrInvalidRecord)
	case len(r.PartitionKey) > aggregate.MaxPartitionKeyLen && utf8.RuneCountInString(r.PartitionKey) > aggregate.MaxPartitionKeyLen:
		return aggregate.Hash128{}, fmt.Errorf("%w: partition key has %d characters, more than %d", ErrInvalidRecord,
			utf8.RuneCountInString(r.PartitionKey), aggregate.MaxPartitionKeyLen)
	}
	if n := len(r.PartitionKey) + len(r.Data); n > maxSize {
		return aggregate.Hash128{}, fmt.Errorf("%w: %d bytes of data and partition key, more than %d", ErrInvalidRecord, n, maxSize)
	}
	if r.ExplicitHashKey != "" {
		h, err := aggregate.ParseHash128(r.ExplicitHashKey)
		if err != nil {
			return aggregate.Hash128{}, fmt.Errorf("%w: explicit hash key: %w", ErrInvalidRecord, err)
		}
		return h, nil
	}
	return aggregate.HashKey(r.PartitionKey), nil
}
