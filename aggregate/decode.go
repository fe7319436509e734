package aggregate

import (
	"bytes"
	"crypto/md5"
	"errors"
)

// ErrNotAggregated is returned by Decode and DecodeFunc when the data does not
// start with the KPL magic or is not longer than Overhead bytes: it is a plain
// Kinesis record, to be used as is.
var ErrNotAggregated = errors.New("aggregate: not an aggregated record")

// IsAggregated reports whether data is a KPL aggregated record by the KCL's
// test: it starts with the magic, is longer than Overhead bytes and its last
// 16 bytes are the MD5 of the protobuf in between. It does not parse the
// protobuf (Decode does). It does not allocate.
func IsAggregated(data []byte) bool {
	if !hasMagic(data) {
		return false
	}
	sum := md5.Sum(data[len(Magic) : len(data)-md5.Size])
	return bytes.Equal(sum[:], data[len(data)-md5.Size:])
}

func hasMagic(data []byte) bool {
	return len(data) > Overhead && string(data[:len(Magic)]) == Magic
}

// layout is the result of the validating first pass over an aggregate.
type layout struct {
	pb        []byte // the protobuf bytes, data[4:len-16]
	nPK, nEHK int    // table sizes
	nRec      int    // number of records
	tablesEnd int    // offset in pb just past the last table entry
	recStart  int    // offset in pb of the first records field
}

// parse checks the magic, the MD5 and the whole protobuf (every record, every
// index against its table), so callers can emit records knowing none will
// fail. It allocates nothing on success.
func parse(data []byte) (layout, error) {
	if !hasMagic(data) {
		return layout{}, ErrNotAggregated
	}
	pb := data[len(Magic) : len(data)-md5.Size]
	sum := md5.Sum(pb)
	if !bytes.Equal(sum[:], data[len(data)-md5.Size:]) {
		return layout{}, corrupt(len(data)-md5.Size, "md5 mismatch")
	}
	l := layout{pb: pb, recStart: len(pb)}
	var maxPK, maxEHK uint64
	maxPKAt, maxEHKAt := -1, -1
	r := reader{b: pb, base: len(Magic)}
	for r.more() {
		start := r.pos()
		num, wire, err := r.key()
		if err != nil {
			return layout{}, err
		}
		if num < 1 || num > 3 {
			if err := r.skip(wire); err != nil {
				return layout{}, err
			}
			continue
		}
		if err := wantWire(start, "AggregatedRecord", num, wire, wireBytes); err != nil {
			return layout{}, err
		}
		b, err := r.bytes()
		if err != nil {
			return layout{}, err
		}
		switch num {
		case 1:
			l.nPK++
			l.tablesEnd = r.off
		case 2:
			l.nEHK++
			l.tablesEnd = r.off
		case 3:
			if l.nRec == 0 {
				l.recStart = start - len(Magic)
			}
			l.nRec++
			rec, err := parseRecord(b, r.pos()-len(b))
			if err != nil {
				return layout{}, err
			}
			if maxPKAt < 0 || rec.pk > maxPK {
				maxPK, maxPKAt = rec.pk, start
			}
			if rec.hasEHK && (maxEHKAt < 0 || rec.ehk > maxEHK) {
				maxEHK, maxEHKAt = rec.ehk, start
			}
		}
	}
	if maxPKAt >= 0 && maxPK >= uint64(l.nPK) {
		return layout{}, corrupt(maxPKAt, "partition_key_index %d out of range: table has %d entries", maxPK, l.nPK)
	}
	if maxEHKAt >= 0 && maxEHK >= uint64(l.nEHK) {
		return layout{}, corrupt(maxEHKAt, "explicit_hash_key_index %d out of range: table has %d entries", maxEHK, l.nEHK)
	}
	return l, nil
}

// tables returns the partition key and explicit hash key tables. All strings
// share one allocation; the two slices share another.
func (l *layout) tables() (pk, ehk []string) {
	if l.nPK+l.nEHK == 0 {
		return nil, nil
	}
	all := make([]string, 0, l.nPK+l.nEHK)
	pk, ehk = all[:0:l.nPK], all[l.nPK:l.nPK:l.nPK+l.nEHK]
	s := string(l.pb[:l.tablesEnd])
	r := reader{b: l.pb[:l.tablesEnd], base: len(Magic)}
	for r.more() {
		num, wire, _ := r.key() // validated by parse
		if wire != wireBytes {
			_ = r.skip(wire)
			continue
		}
		b, _ := r.bytes()
		switch num {
		case 1:
			pk = append(pk, s[r.off-len(b):r.off])
		case 2:
			ehk = append(ehk, s[r.off-len(b):r.off])
		}
	}
	return pk, ehk
}

// records calls fn for each record in order, with its position. It stops at
// the first error fn returns.
func (l *layout) records(fn func(i int, rec parsedRecord) error) error {
	r := reader{b: l.pb, off: l.recStart, base: len(Magic)}
	for i := 0; r.more(); {
		num, wire, _ := r.key() // validated by parse
		if num != 3 || wire != wireBytes {
			_ = r.skip(wire)
			continue
		}
		b, _ := r.bytes()
		rec, err := parseRecord(b, r.pos()-len(b))
		if err != nil {
			return err // unreachable after parse
		}
		if err := fn(i, rec); err != nil {
			return err
		}
		i++
	}
	return nil
}

// Count returns the number of user records in an aggregated record after
// validating it like Decode. It does not allocate on success.
func Count(data []byte) (int, error) {
	l, err := parse(data)
	if err != nil {
		return 0, err
	}
	return l.nRec, nil
}

// DecodeFunc validates an aggregated record completely and then calls fn for
// each user record in order, i being its position (the KCL's sub-sequence
// number). fn is called only if the whole aggregate is valid, so a corrupt
// aggregate never yields a partial set of records. Decoding stops at the
// first error fn returns, which DecodeFunc returns unchanged.
//
// r.Data aliases data; the key strings are copies. Apart from the key tables
// (two allocations per aggregate, whatever the number of keys) DecodeFunc does
// not allocate. Errors: ErrNotAggregated for a plain record, *CorruptError for
// a damaged aggregate. It never panics and is safe for concurrent use.
func DecodeFunc(data []byte, fn func(i int, r Record) error) error {
	l, err := parse(data)
	if err != nil {
		return err
	}
	pk, ehk := l.tables()
	return l.records(func(i int, rec parsedRecord) error {
		r := Record{PartitionKey: pk[rec.pk], Data: rec.data}
		if rec.hasEHK {
			r.ExplicitHashKey = ehk[rec.ehk]
		}
		return fn(i, r)
	})
}

// Decode returns the user records of an aggregated record, in order. Each
// Data aliases data. Errors are those of DecodeFunc; on error no records are
// returned.
func Decode(data []byte) ([]Record, error) {
	return AppendDecode(nil, data)
}

// AppendDecode appends the user records of an aggregated record to dst and
// returns the extended slice; on error it returns dst unchanged. Each Data
// aliases data.
func AppendDecode(dst []Record, data []byte) ([]Record, error) {
	l, err := parse(data)
	if err != nil {
		return dst, err
	}
	pk, ehk := l.tables()
	out := dst
	if cap(out)-len(out) < l.nRec {
		out = make([]Record, len(dst), len(dst)+l.nRec)
		copy(out, dst)
	}
	_ = l.records(func(_ int, rec parsedRecord) error {
		r := Record{PartitionKey: pk[rec.pk], Data: rec.data}
		if rec.hasEHK {
			r.ExplicitHashKey = ehk[rec.ehk]
		}
		out = append(out, r)
		return nil
	})
	return out, nil
}
