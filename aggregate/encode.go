package aggregate

import (
	"crypto/md5"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

const (
	// Magic is the 4-byte prefix of every KPL aggregated record: F3 89 9A C2.
	Magic = "\xf3\x89\x9a\xc2"
	// Overhead is the fixed size an aggregated record adds around its
	// protobuf: the magic plus the 16-byte MD5 trailer.
	Overhead = len(Magic) + md5.Size
	// OuterPartitionKey is the partition key of an aggregated Kinesis record
	// (the KPL's choice: one byte, routing is done by the explicit hash key).
	OuterPartitionKey = "a"
	// MaxPartitionKeyLen is the Kinesis limit on partition keys, in Unicode
	// characters.
	MaxPartitionKeyLen = 256
)

// Record is a user record: what a producer puts, and what a consumer gets
// back after de-aggregation.
type Record struct {
	// PartitionKey is 1 to 256 Unicode characters.
	PartitionKey string
	// ExplicitHashKey, if not empty, is a decimal hash key (see ParseHash128)
	// that overrides MD5(PartitionKey) for shard routing.
	ExplicitHashKey string
	// Data is the payload.
	Data []byte
}

// EffectiveHashKey returns the hash key Kinesis routes r by: its
// ExplicitHashKey if set, else HashKey(PartitionKey).
func (r Record) EffectiveHashKey() (Hash128, error) {
	if r.ExplicitHashKey != "" {
		return ParseHash128(r.ExplicitHashKey)
	}
	return HashKey(r.PartitionKey), nil
}

// ErrInvalidRecord is wrapped by the errors Encoder.Add returns for a record
// Kinesis would reject.
var ErrInvalidRecord = errors.New("aggregate: invalid record")

// ErrEmpty is returned by Encoder.Outer when no record has been added.
var ErrEmpty = errors.New("aggregate: no records")

// Encoder accumulates user records into one KPL aggregated record.
//
// Partition keys and explicit hash keys are deduplicated into the
// aggregate's tables, in order of first use, and every record gets the index
// of its own keys. Size reports the exact encoded size at any time, so a
// producer can stop before a limit. Data is copied on Add, so the caller may
// reuse its buffers.
//
// The zero value is an empty Encoder ready to use. After Reset it reuses its
// memory: a steady-state producer encodes with no allocations. An Encoder is
// not safe for concurrent use.
type Encoder struct {
	pkIndex  map[string]uint64
	ehkIndex map[string]uint64
	pkTable  []string
	ehkTable []string
	tables   int    // encoded size of the table fields
	recs     []byte // encoded records fields, in order
	n        int

	first     Hash128 // effective hash key of the first record
	firstPK   string
	firstEHK  string
	firstData [2]int // bounds of the first record's data in recs
}

// Len returns the number of records added since the last Reset.
func (e *Encoder) Len() int { return e.n }

// Size returns the exact length of the aggregated record AppendTo would
// produce now (Overhead for an empty Encoder).
func (e *Encoder) Size() int {
	return Overhead + e.tables + len(e.recs)
}

// SizeWith returns the exact value Size would return after Add(r), without
// adding r. A producer capping aggregates at a byte limit calls it first.
func (e *Encoder) SizeWith(r Record) int {
	size := e.Size()
	pk, ok := e.pkIndex[r.PartitionKey]
	if !ok {
		pk = uint64(len(e.pkTable))
		size += sizeBytesField(len(r.PartitionKey))
	}
	var ehk uint64
	if r.ExplicitHashKey != "" {
		if ehk, ok = e.ehkIndex[r.ExplicitHashKey]; !ok {
			ehk = uint64(len(e.ehkTable))
			size += sizeBytesField(len(r.ExplicitHashKey))
		}
	}
	return size + sizeBytesField(recordBodySize(pk, ehk, r.ExplicitHashKey != "", len(r.Data)))
}

// OuterSize returns the bytes Kinesis counts (data plus partition key)
// against its record size limit and shard throughput for the record Outer
// would return now; 0 for an empty Encoder.
func (e *Encoder) OuterSize() int {
	switch e.n {
	case 0:
		return 0
	case 1:
		return len(e.firstPK) + e.firstData[1] - e.firstData[0]
	}
	return len(OuterPartitionKey) + e.Size()
}

// HashKey returns the effective hash key of the first record added, by which
// the record returned by Outer is routed. It is zero for an empty Encoder.
func (e *Encoder) HashKey() Hash128 { return e.first }

func recordBodySize(pk, ehk uint64, hasEHK bool, dataLen int) int {
	n := 1 + sizeVarint(pk) + sizeBytesField(dataLen)
	if hasEHK {
		n += 1 + sizeVarint(ehk)
	}
	return n
}

// validate checks r against the Kinesis rules for a user record: a partition
// key of 1 to 256 characters of valid UTF-8 and, if set, an explicit hash key
// in [0, 2^128-1]. Keys already in the tables were checked when first added,
// so newPK and newEHK say which keys still need checking; the explicit hash
// key's value is returned when it was parsed.
func validate(r Record, newPK, newEHK bool) (Hash128, error) {
	if newPK {
		switch {
		case r.PartitionKey == "":
			return Hash128{}, fmt.Errorf("%w: empty partition key", ErrInvalidRecord)
		case !utf8.ValidString(r.PartitionKey):
			return Hash128{}, fmt.Errorf("%w: partition key is not valid UTF-8", ErrInvalidRecord)
		case len(r.PartitionKey) > MaxPartitionKeyLen && utf8.RuneCountInString(r.PartitionKey) > MaxPartitionKeyLen:
			return Hash128{}, fmt.Errorf("%w: partition key longer than %d characters", ErrInvalidRecord, MaxPartitionKeyLen)
		}
	}
	if r.ExplicitHashKey != "" && newEHK {
		h, err := ParseHash128(r.ExplicitHashKey)
		if err != nil {
			return Hash128{}, fmt.Errorf("%w: explicit hash key: %w", ErrInvalidRecord, err)
		}
		return h, nil
	}
	return Hash128{}, nil
}

// Add appends r to the aggregate. It returns an error wrapping
// ErrInvalidRecord, and leaves the Encoder unchanged, if the partition key is
// empty, longer than 256 characters or not valid UTF-8, or if the explicit hash key is not a valid
// decimal hash key. Add does not enforce a size limit: check SizeWith first.
func (e *Encoder) Add(r Record) error {
	pk, pkKnown := e.pkIndex[r.PartitionKey]
	var ehk uint64
	ehkKnown := true
	if r.ExplicitHashKey != "" {
		ehk, ehkKnown = e.ehkIndex[r.ExplicitHashKey]
	}
	ehkHash, err := validate(r, !pkKnown, !ehkKnown || e.n == 0)
	if err != nil {
		return err
	}
	if !pkKnown {
		if e.pkIndex == nil {
			e.pkIndex = make(map[string]uint64)
		}
		pk = uint64(len(e.pkTable))
		e.pkIndex[r.PartitionKey] = pk
		e.pkTable = append(e.pkTable, r.PartitionKey)
		e.tables += sizeBytesField(len(r.PartitionKey))
	}
	hasEHK := r.ExplicitHashKey != ""
	if !ehkKnown {
		if e.ehkIndex == nil {
			e.ehkIndex = make(map[string]uint64)
		}
		ehk = uint64(len(e.ehkTable))
		e.ehkIndex[r.ExplicitHashKey] = ehk
		e.ehkTable = append(e.ehkTable, r.ExplicitHashKey)
		e.tables += sizeBytesField(len(r.ExplicitHashKey))
	}

	body := recordBodySize(pk, ehk, hasEHK, len(r.Data))
	e.recs = slices.Grow(e.recs, 1+sizeVarint(uint64(body))+body)
	e.recs = append(e.recs, keyRecords)
	e.recs = appendVarint(e.recs, uint64(body))
	e.recs = append(e.recs, keyPartitionKeyIndex)
	e.recs = appendVarint(e.recs, pk)
	if hasEHK {
		e.recs = append(e.recs, keyExplicitHashKeyIdx)
		e.recs = appendVarint(e.recs, ehk)
	}
	e.recs = append(e.recs, keyData)
	e.recs = appendVarint(e.recs, uint64(len(r.Data)))
	if e.n == 0 {
		e.firstPK, e.firstEHK = r.PartitionKey, r.ExplicitHashKey
		e.firstData = [2]int{len(e.recs), len(e.recs) + len(r.Data)}
		if hasEHK {
			e.first = ehkHash
		} else {
			e.first = HashKey(r.PartitionKey)
		}
	}
	e.recs = append(e.recs, r.Data...)
	e.n++
	return nil
}

// AppendTo appends the aggregated record (magic, protobuf, MD5) to dst and
// returns the extended slice, exactly Size bytes longer. It does not change
// the Encoder. It allocates only if dst lacks capacity.
//
// An Encoder with one record still produces a valid aggregate of one, and an
// empty one produces Overhead bytes that IsAggregated rejects; a producer
// normally calls Outer instead, which follows the KPL's rules.
func (e *Encoder) AppendTo(dst []byte) []byte {
	dst = slices.Grow(dst, e.Size())
	dst = append(dst, Magic...)
	start := len(dst)
	for _, k := range e.pkTable {
		dst = append(dst, keyPartitionKeyTable)
		dst = appendVarint(dst, uint64(len(k)))
		dst = append(dst, k...)
	}
	for _, k := range e.ehkTable {
		dst = append(dst, keyExplicitHashKeyTable)
		dst = appendVarint(dst, uint64(len(k)))
		dst = append(dst, k...)
	}
	dst = append(dst, e.recs...)
	sum := md5.Sum(dst[start:])
	return append(dst, sum[:]...)
}

// Bytes returns the aggregated record in a new slice; see AppendTo.
func (e *Encoder) Bytes() []byte { return e.AppendTo(nil) }

// Outer returns the Kinesis record to put for the records added so far, as
// the KPL builds it:
//   - one record is sent raw: its own PartitionKey, ExplicitHashKey and Data,
//     with no magic and no protobuf;
//   - two or more are aggregated: PartitionKey "a" (OuterPartitionKey),
//     ExplicitHashKey the first record's effective hash key in decimal (so the
//     aggregate lands on that record's shard), Data the aggregated record.
//
// Data is appended to dst (pass buf[:0] to reuse a buffer). It returns
// ErrEmpty if no record was added. It does not change the Encoder.
func (e *Encoder) Outer(dst []byte) (Record, error) {
	switch e.n {
	case 0:
		return Record{}, ErrEmpty
	case 1:
		return Record{
			PartitionKey:    e.firstPK,
			ExplicitHashKey: e.firstEHK,
			Data:            append(dst, e.recs[e.firstData[0]:e.firstData[1]]...),
		}, nil
	}
	return Record{
		PartitionKey:    OuterPartitionKey,
		ExplicitHashKey: e.first.String(),
		Data:            e.AppendTo(dst),
	}, nil
}

// Reset empties the Encoder and keeps its memory for the next aggregate. It
// drops its references to the keys added.
func (e *Encoder) Reset() {
	clear(e.pkIndex)
	clear(e.ehkIndex)
	clear(e.pkTable)
	clear(e.ehkTable)
	e.pkTable, e.ehkTable = e.pkTable[:0], e.ehkTable[:0]
	e.tables, e.n = 0, 0
	e.recs = e.recs[:0]
	e.first, e.firstPK, e.firstEHK, e.firstData = Hash128{}, "", "", [2]int{}
}
