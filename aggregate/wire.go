package aggregate

import (
	"errors"
	"fmt"
	"math/bits"
)

// Protocol buffer wire types (https://protobuf.dev/programming-guides/encoding/).
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// Field keys (field number << 3 | wire type) of the messages described in doc.go.
const (
	keyPartitionKeyTable    = 1<<3 | wireBytes  // AggregatedRecord.partition_key_table
	keyExplicitHashKeyTable = 2<<3 | wireBytes  // AggregatedRecord.explicit_hash_key_table
	keyRecords              = 3<<3 | wireBytes  // AggregatedRecord.records
	keyPartitionKeyIndex    = 1<<3 | wireVarint // Record.partition_key_index
	keyExplicitHashKeyIdx   = 2<<3 | wireVarint // Record.explicit_hash_key_index
	keyData                 = 3<<3 | wireBytes  // Record.data
)

// maxFieldNumber is the largest field number protobuf allows.
const maxFieldNumber = 1<<29 - 1

// sizeVarint returns the number of bytes of v as a base-128 varint.
func sizeVarint(v uint64) int {
	return (bits.Len64(v|1) + 6) / 7
}

// appendVarint appends v as a base-128 varint.
func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// sizeBytesField returns the encoded size of a length-delimited field with a
// one-byte key and an n-byte payload.
func sizeBytesField(n int) int {
	return 1 + sizeVarint(uint64(n)) + n
}

// ErrCorrupt is matched (errors.Is) by every *CorruptError.
var ErrCorrupt = errors.New("aggregate: corrupt aggregated record")

// CorruptError reports data that starts with the KPL magic but is not a valid
// aggregated record: bad MD5, truncated or malformed protobuf, a wrong wire
// type, a missing required field, or a key index outside its table.
type CorruptError struct {
	// Reason says what is wrong, e.g. "md5 mismatch" or "varint overflows 64 bits".
	Reason string
	// Offset is the byte offset, from the start of the Kinesis record's data
	// (magic included), at which the problem was found.
	Offset int
}

// Error implements error.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("aggregate: corrupt aggregated record at offset %d: %s", e.Offset, e.Reason)
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func corrupt(offset int, format string, args ...any) error {
	return &CorruptError{Reason: fmt.Sprintf(format, args...), Offset: offset}
}

// reader walks the fields of one protobuf message held in b. It never reads
// outside b and never allocates except to build an error.
type reader struct {
	b    []byte
	off  int // next byte to read in b
	base int // offset of b[0] in the Kinesis record's data, for errors
}

func (r *reader) more() bool { return r.off < len(r.b) }

// pos returns the current position as an offset in the record's data.
func (r *reader) pos() int { return r.base + r.off }

func (r *reader) varint() (uint64, error) {
	if r.off < len(r.b) && r.b[r.off] < 0x80 { // one byte: keys, small indexes and lengths
		v := r.b[r.off]
		r.off++
		return uint64(v), nil
	}
	start := r.off
	var v uint64
	for i := 0; i < 10; i++ {
		if r.off >= len(r.b) {
			return 0, corrupt(r.base+start, "truncated varint")
		}
		c := r.b[r.off]
		r.off++
		if i == 9 && c > 1 {
			return 0, corrupt(r.base+start, "varint overflows 64 bits")
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, corrupt(r.base+start, "varint overflows 64 bits") // unreachable: i == 9 returns above
}

// key reads a field key and returns the field number and the wire type.
func (r *reader) key() (num uint64, wire int, err error) {
	start := r.off
	k, err := r.varint()
	if err != nil {
		return 0, 0, err
	}
	num = k >> 3
	if num == 0 || num > maxFieldNumber {
		return 0, 0, corrupt(r.base+start, "invalid field number %d", num)
	}
	return num, int(k & 7), nil
}

// bytes reads a length-delimited payload; the returned slice aliases r.b.
func (r *reader) bytes() ([]byte, error) {
	start := r.off
	n, err := r.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)-r.off) {
		return nil, corrupt(r.base+start, "length %d exceeds the %d bytes left", n, len(r.b)-r.off)
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b, nil
}

// skip skips the payload of an unknown field of the given wire type. Groups
// (wire types 3 and 4, deprecated, never written by the KPL) are rejected.
func (r *reader) skip(wire int) error {
	switch wire {
	case wireVarint:
		_, err := r.varint()
		return err
	case wireFixed64, wireFixed32:
		n := 8
		if wire == wireFixed32 {
			n = 4
		}
		if len(r.b)-r.off < n {
			return corrupt(r.pos(), "truncated fixed-size field")
		}
		r.off += n
		return nil
	case wireBytes:
		_, err := r.bytes()
		return err
	}
	return corrupt(r.pos(), "unsupported wire type %d", wire)
}

// wantWire returns an error if a known field has the wrong wire type.
func wantWire(offset int, msg string, num uint64, got, want int) error {
	if got == want {
		return nil
	}
	return corrupt(offset, "%s field %d has wire type %d, want %d", msg, num, got, want)
}

// parsedRecord is one Record message, as parseRecord reads it.
type parsedRecord struct {
	pk     uint64 // partition_key_index
	ehk    uint64 // explicit_hash_key_index, valid if hasEHK
	hasEHK bool
	data   []byte // aliases the input
}

// parseRecord parses and validates one Record message held in b, whose first
// byte is at offset base in the Kinesis record's data. Repeated occurrences of
// a singular field follow proto2 rules: the last one wins.
func parseRecord(b []byte, base int) (parsedRecord, error) {
	var rec parsedRecord
	var hasPK, hasData bool
	r := reader{b: b, base: base}
	for r.more() {
		start := r.pos()
		num, wire, err := r.key()
		if err != nil {
			return rec, err
		}
		switch num {
		case 1, 2:
			if err := wantWire(start, "Record", num, wire, wireVarint); err != nil {
				return rec, err
			}
			v, err := r.varint()
			if err != nil {
				return rec, err
			}
			if num == 1 {
				rec.pk, hasPK = v, true
			} else {
				rec.ehk, rec.hasEHK = v, true
			}
		case 3:
			if err := wantWire(start, "Record", num, wire, wireBytes); err != nil {
				return rec, err
			}
			if rec.data, err = r.bytes(); err != nil {
				return rec, err
			}
			hasData = true
		case 4:
			if err := wantWire(start, "Record", num, wire, wireBytes); err != nil {
				return rec, err
			}
			tag, err := r.bytes()
			if err != nil {
				return rec, err
			}
			if err := checkTag(tag, r.pos()-len(tag)); err != nil {
				return rec, err
			}
		default:
			if err := r.skip(wire); err != nil {
				return rec, err
			}
		}
	}
	switch {
	case !hasPK:
		return rec, corrupt(base, "Record lacks required partition_key_index")
	case !hasData:
		return rec, corrupt(base, "Record lacks required data")
	}
	return rec, nil
}

// checkTag validates one Tag message (required string key = 1; optional
// string value = 2). Tags are checked but not returned: neither the KPL nor
// the KCL uses them.
func checkTag(b []byte, base int) error {
	var hasKey bool
	r := reader{b: b, base: base}
	for r.more() {
		start := r.pos()
		num, wire, err := r.key()
		if err != nil {
			return err
		}
		switch num {
		case 1, 2:
			if err := wantWire(start, "Tag", num, wire, wireBytes); err != nil {
				return err
			}
			if _, err := r.bytes(); err != nil {
				return err
			}
			hasKey = hasKey || num == 1
		default:
			if err := r.skip(wire); err != nil {
				return err
			}
		}
	}
	if !hasKey {
		return corrupt(base, "Tag lacks required key")
	}
	return nil
}
