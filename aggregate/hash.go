package aggregate

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"strconv"
)

// Hash128 is a Kinesis hash key: an unsigned 128-bit integer, Hi being the
// most significant 64 bits. Kinesis routes a record to the open shard whose
// inclusive [StartingHashKey, EndingHashKey] range contains its hash key.
//
// The zero value is hash key 0. Hash128 is a plain value: comparable with ==,
// usable as a map key, safe to copy and to use from any goroutine.
type Hash128 struct {
	Hi, Lo uint64
}

// MaxHash128 is the largest hash key, 2^128-1, the EndingHashKey of the last
// shard of every stream.
var MaxHash128 = Hash128{Hi: ^uint64(0), Lo: ^uint64(0)}

// ErrInvalidHashKey is wrapped by the errors of ParseHash128 and
// ParseHashRange.
var ErrInvalidHashKey = errors.New("aggregate: invalid hash key")

// maxPartitionKeyOnStack bounds the partition keys HashKey hashes without
// allocating. Kinesis partition keys are at most 256 characters, 1,024 bytes
// in UTF-8.
const maxPartitionKeyOnStack = 1024

// HashKey returns the hash key Kinesis derives from a partition key: the MD5
// digest of its UTF-8 bytes read as a big-endian 128-bit unsigned integer.
// It does not allocate for keys up to 1,024 bytes (every valid Kinesis
// partition key). It is safe for concurrent use.
func HashKey(partitionKey string) Hash128 {
	// md5.Sum takes a []byte; copying into a stack buffer avoids the heap
	// allocation of []byte(partitionKey). Short keys, the common case, use a
	// small buffer that is cheap to zero.
	switch {
	case len(partitionKey) <= 64:
		var buf [64]byte
		n := copy(buf[:], partitionKey)
		return Hash128FromBytes(md5.Sum(buf[:n]))
	case len(partitionKey) <= maxPartitionKeyOnStack:
		var buf [maxPartitionKeyOnStack]byte
		n := copy(buf[:], partitionKey)
		return Hash128FromBytes(md5.Sum(buf[:n]))
	}
	return Hash128FromBytes(md5.Sum([]byte(partitionKey)))
}

// Hash128FromBytes reads b as a big-endian 128-bit unsigned integer.
func Hash128FromBytes(b [16]byte) Hash128 {
	return Hash128{Hi: binary.BigEndian.Uint64(b[:8]), Lo: binary.BigEndian.Uint64(b[8:])}
}

// Bytes returns h as 16 big-endian bytes.
func (h Hash128) Bytes() [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], h.Hi)
	binary.BigEndian.PutUint64(b[8:], h.Lo)
	return b
}

// Cmp compares h and o and returns -1, 0 or +1.
func (h Hash128) Cmp(o Hash128) int {
	switch {
	case h.Hi < o.Hi:
		return -1
	case h.Hi > o.Hi:
		return 1
	case h.Lo < o.Lo:
		return -1
	case h.Lo > o.Lo:
		return 1
	}
	return 0
}

// Less reports whether h < o.
func (h Hash128) Less(o Hash128) bool {
	return h.Hi < o.Hi || (h.Hi == o.Hi && h.Lo < o.Lo)
}

// Big returns h as a new big.Int.
func (h Hash128) Big() *big.Int {
	b := h.Bytes()
	return new(big.Int).SetBytes(b[:])
}

const (
	pow10e19 = 10_000_000_000_000_000_000 // largest power of ten below 2^64
	digits19 = 19
)

// AppendDecimal appends the decimal form of h (no sign, no leading zeros,
// "0" for zero) to dst and returns the extended slice. It does not allocate
// when dst has room for 39 more bytes.
func (h Hash128) AppendDecimal(dst []byte) []byte {
	if h.Hi == 0 {
		return strconv.AppendUint(dst, h.Lo, 10)
	}
	// h = q*1e19 + r0 with q < 2^128/1e19 < 2^65.
	qHi := h.Hi / pow10e19
	qLo, r0 := bits.Div64(h.Hi%pow10e19, h.Lo, pow10e19)
	if qHi == 0 {
		dst = strconv.AppendUint(dst, qLo, 10)
	} else {
		// q = q2*1e19 + r1 with q2 < 4.
		q2, r1 := bits.Div64(qHi, qLo, pow10e19)
		dst = strconv.AppendUint(dst, q2, 10)
		dst = appendPadded19(dst, r1)
	}
	return appendPadded19(dst, r0)
}

// appendPadded19 appends v (< 1e19) as exactly 19 decimal digits.
func appendPadded19(dst []byte, v uint64) []byte {
	var buf [digits19]byte
	for i := digits19 - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:]...)
}

// String returns the decimal form of h, as Kinesis writes hash keys.
func (h Hash128) String() string {
	var buf [39]byte
	return string(h.AppendDecimal(buf[:0]))
}

// MarshalText implements encoding.TextMarshaler (decimal form).
func (h Hash128) MarshalText() ([]byte, error) {
	return h.AppendDecimal(nil), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with the rules of
// ParseHash128.
func (h *Hash128) UnmarshalText(text []byte) error {
	v, err := parseHash128(text)
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// ParseHash128 parses a decimal hash key as Kinesis accepts it in
// ExplicitHashKey and in shard hash key ranges: "0", or a digit 1-9 followed by
// at most 38 digits, with a value of at most 2^128-1. Signs, spaces and
// leading zeros are rejected. The error wraps ErrInvalidHashKey. It does not
// allocate on success.
func ParseHash128(s string) (Hash128, error) {
	return parseHash128(s)
}

func parseHash128[T string | []byte](s T) (Hash128, error) {
	if len(s) == 0 {
		return Hash128{}, fmt.Errorf("%w: empty", ErrInvalidHashKey)
	}
	if len(s) > 39 {
		return Hash128{}, fmt.Errorf("%w: %q has more than 39 digits", ErrInvalidHashKey, s)
	}
	if s[0] == '0' && len(s) > 1 {
		return Hash128{}, fmt.Errorf("%w: %q has a leading zero", ErrInvalidHashKey, s)
	}
	var h Hash128
	for start := 0; start < len(s); start += digits19 {
		end := min(start+digits19, len(s))
		var chunk, scale uint64 = 0, 1
		for i := start; i < end; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return Hash128{}, fmt.Errorf("%w: %q is not a decimal number", ErrInvalidHashKey, s)
			}
			chunk = chunk*10 + uint64(c-'0')
			scale *= 10
		}
		var ok bool
		if h, ok = mulAdd(h, scale, chunk); !ok {
			return Hash128{}, fmt.Errorf("%w: %q exceeds 2^128-1", ErrInvalidHashKey, s)
		}
	}
	return h, nil
}

// mulAdd returns h*m + a and false if the result does not fit in 128 bits.
func mulAdd(h Hash128, m, a uint64) (Hash128, bool) {
	hiCarry, hiLo := bits.Mul64(h.Hi, m)
	loHi, loLo := bits.Mul64(h.Lo, m)
	hi, c1 := bits.Add64(hiLo, loHi, 0)
	lo, c2 := bits.Add64(loLo, a, 0)
	hi, c3 := bits.Add64(hi, 0, c2)
	return Hash128{Hi: hi, Lo: lo}, hiCarry == 0 && c1 == 0 && c3 == 0
}

// HashRange is an inclusive range of hash keys, [Start, End], as in a shard's
// HashKeyRange. The zero value holds only hash key 0; use FullHashRange for
// the whole key space.
type HashRange struct {
	Start, End Hash128
}

// FullHashRange covers every hash key, [0, 2^128-1].
var FullHashRange = HashRange{End: MaxHash128}

// ParseHashRange parses a shard's StartingHashKey and EndingHashKey. It
// reports an error wrapping ErrInvalidHashKey if either is malformed or if
// start > end.
func ParseHashRange(start, end string) (HashRange, error) {
	s, err := ParseHash128(start)
	if err != nil {
		return HashRange{}, fmt.Errorf("starting hash key: %w", err)
	}
	e, err := ParseHash128(end)
	if err != nil {
		return HashRange{}, fmt.Errorf("ending hash key: %w", err)
	}
	if e.Less(s) {
		return HashRange{}, fmt.Errorf("%w: starting hash key %s > ending hash key %s", ErrInvalidHashKey, start, end)
	}
	return HashRange{Start: s, End: e}, nil
}

// Contains reports whether h is in [r.Start, r.End].
func (r HashRange) Contains(h Hash128) bool {
	return !h.Less(r.Start) && !r.End.Less(h)
}

// String returns "[start, end]" in decimal.
func (r HashRange) String() string {
	b := make([]byte, 0, 82)
	b = append(b, '[')
	b = r.Start.AppendDecimal(b)
	b = append(b, ", "...)
	b = r.End.AppendDecimal(b)
	return string(append(b, ']'))
}
