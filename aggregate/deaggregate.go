package aggregate

import "slices"

// UserRecord is one user record carried by a Kinesis record, with its
// sub-sequence number. A consumer checkpoints (sequence number, sub-sequence
// number) like the KCL.
type UserRecord struct {
	Record
	// SubSequenceNumber is the record's position in its aggregate (0 for a
	// plain record). Positions are kept when the hash range filter drops
	// records, so they are stable across reads.
	SubSequenceNumber uint64
}

// Outcome describes what Deaggregate did with one Kinesis record.
type Outcome struct {
	// Aggregated is true if the data was a valid KPL aggregate.
	Aggregated bool
	// Total is the number of user records the Kinesis record carried: the
	// aggregate's count, or 1 for a plain or corrupt record.
	Total int
	// Dropped is the number of sub-records the hash range filter removed.
	Dropped int
	// Err is a *CorruptError when the data started with the KPL magic but was
	// not a valid aggregate. The data is then delivered whole, as one plain
	// record with sub-sequence number 0, so nothing is lost.
	Err error
}

// Deaggregate appends to dst the user records carried by one Kinesis record
// (its partition key and data as GetRecords returned them) and returns the
// extended slice.
//
// A plain record is appended as is, with sub-sequence number 0. An
// aggregate's records are appended in order with sub-sequence numbers
// 0..n-1. A corrupt aggregate is appended as one plain record and reported in
// Outcome.Err; it is never dropped, and neither are its neighbours.
//
// If keep is not nil, sub-records of a valid aggregate whose effective hash
// key (explicit hash key if set, else MD5 of the partition key) is outside
// keep are dropped and counted in Outcome.Dropped; the others are kept.
// Pass the shard's hash key range with a producer that re-puts records the
// service stored in the wrong shard, as the KPL does after a reshard; pass
// nil otherwise (see the package documentation). Unlike the Java KCL, which
// drops the whole aggregate when any sub-record is out of range, only the
// stray sub-records are dropped. A sub-record whose explicit hash key cannot
// be parsed is kept. Plain records are never filtered: their routing was done
// by the service.
//
// Data fields alias data; key strings are copies shared per aggregate. It
// never panics and is safe for concurrent use.
func Deaggregate(dst []UserRecord, partitionKey string, data []byte, keep *HashRange) ([]UserRecord, Outcome) {
	l, err := parse(data)
	if err != nil {
		dst = append(dst, UserRecord{Record: Record{PartitionKey: partitionKey, Data: data}})
		if err == ErrNotAggregated {
			err = nil
		}
		return dst, Outcome{Total: 1, Err: err}
	}
	pk, ehk := l.tables()
	var pkHash, ehkHash []Hash128
	var ehkOK []bool
	if keep != nil {
		pkHash = make([]Hash128, len(pk))
		for i, k := range pk {
			pkHash[i] = HashKey(k)
		}
		ehkHash, ehkOK = make([]Hash128, len(ehk)), make([]bool, len(ehk))
		for i, k := range ehk {
			h, err := ParseHash128(k)
			ehkHash[i], ehkOK[i] = h, err == nil
		}
	}
	dst = slices.Grow(dst, l.nRec)
	out := Outcome{Aggregated: true, Total: l.nRec}
	_ = l.records(func(i int, rec parsedRecord) error {
		if keep != nil {
			h, known := pkHash[rec.pk], true
			if rec.hasEHK {
				h, known = ehkHash[rec.ehk], ehkOK[rec.ehk]
			}
			if known && !keep.Contains(h) {
				out.Dropped++
				return nil
			}
		}
		u := UserRecord{Record: Record{PartitionKey: pk[rec.pk], Data: rec.data}, SubSequenceNumber: uint64(i)}
		if rec.hasEHK {
			u.ExplicitHashKey = ehk[rec.ehk]
		}
		dst = append(dst, u)
		return nil
	})
	return dst, out
}
