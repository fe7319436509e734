package kcl

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/aggregate"
	"github.com/shoal-go/shoal/lease"
)

// Record is one user record. Records from KPL aggregates are de-aggregated: each carries its own
// partition key, explicit hash key and sub-sequence number; a plain record has sub-sequence 0.
type Record struct {
	Data            []byte
	PartitionKey    string
	ExplicitHashKey string // set only for sub-records of an aggregate that had one
	// SequenceNumber and SubSequenceNumber identify the record within its shard; checkpoint them.
	SequenceNumber    string
	SubSequenceNumber int64
	// ApproximateArrivalTimestamp is when Kinesis accepted the (outer) record.
	ApproximateArrivalTimestamp time.Time
	// Aggregated reports that the record came out of a KPL aggregate.
	Aggregated bool
	// DecodeErr is non-nil when the Kinesis record looked like a KPL aggregate but could not be
	// decoded (*aggregate.CorruptError): the record is then delivered whole, as plain data, so
	// nothing is lost; Hooks.CorruptRecord is also called.
	DecodeErr error
}

// Batch is the records one read returned, in shard order.
type Batch struct {
	ShardID string
	Records []Record
	// MillisBehindLatest is how far the read was behind the tip of the shard.
	MillisBehindLatest int64
}

// Last returns the last record of the batch (the zero Record if the batch is empty): pass it to
// Shard.Checkpoint once the whole batch is processed.
func (b Batch) Last() Record {
	if len(b.Records) == 0 {
		return Record{}
	}
	return b.Records[len(b.Records)-1]
}

// mayBeAggregate reports whether data starts with the KPL magic and is long enough to be an
// aggregate (magic + MD5 trailer); anything else is certainly a plain record.
func mayBeAggregate(data []byte) bool {
	return len(data) > aggregate.Overhead && string(data[:len(aggregate.Magic)]) == aggregate.Magic
}

// decoder turns Kinesis records into user records.
type decoder struct {
	keep    *aggregate.HashRange // nil: no hash-range filter
	after   lease.Checkpoint     // drop records at or before this position (resume inside an aggregate); Sequence "" = none
	corrupt func(r Record)
	dropped func(n int)
	scratch []aggregate.UserRecord
}

// decode appends the user records of recs to dst.
func (d *decoder) decode(dst []Record, recs []types.Record) []Record {
	for _, kr := range recs {
		seq := aws.ToString(kr.SequenceNumber)
		var ts time.Time
		if kr.ApproximateArrivalTimestamp != nil {
			ts = *kr.ApproximateArrivalTimestamp
		}
		if !mayBeAggregate(kr.Data) && d.after.Sequence == "" {
			// The common case, a plain record: no de-aggregation work at all.
			dst = append(dst, Record{Data: kr.Data, PartitionKey: aws.ToString(kr.PartitionKey),
				SequenceNumber: seq, ApproximateArrivalTimestamp: ts})
			continue
		}
		var out aggregate.Outcome
		d.scratch, out = aggregate.Deaggregate(d.scratch[:0], aws.ToString(kr.PartitionKey), kr.Data, d.keep)
		for _, ur := range d.scratch {
			r := Record{Data: ur.Data, PartitionKey: ur.PartitionKey, ExplicitHashKey: ur.ExplicitHashKey,
				SequenceNumber: seq, SubSequenceNumber: int64(ur.SubSequenceNumber),
				ApproximateArrivalTimestamp: ts, Aggregated: out.Aggregated, DecodeErr: out.Err}
			if d.after.Sequence != "" && (lease.Checkpoint{Sequence: seq, SubSequence: r.SubSequenceNumber}).Compare(d.after) <= 0 {
				continue
			}
			dst = append(dst, r)
			if out.Err != nil && d.corrupt != nil {
				d.corrupt(r)
			}
		}
		if out.Dropped > 0 && d.dropped != nil {
			d.dropped(out.Dropped)
		}
	}
	if len(dst) > 0 {
		d.after = lease.Checkpoint{} // everything later is new; stop comparing
	}
	return dst
}
