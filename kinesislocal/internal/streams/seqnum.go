package streams

import (
	"math/bits"
)

// Sequence numbers use AWS's v2 layout (188 bits, about 56 decimal digits), from the least
// significant bit: version nibble 2 (bits 0..3), shard index (4..35), record time in seconds
// (36..71), a zero byte (72..79), the per-shard counter seqIx (80..143), the shard index's low
// nibble (144..147), the shard creation time in seconds (148..183) and version 2 (184..187).
// Within one shard only seqIx and the record time vary, and seqIx dominates, so ordering is the
// order of seqIx.
type seqNum struct {
	shardIdx   uint32
	shardTime  uint64 // seconds, 36 bits
	seqIx      uint64
	recordTime uint64 // seconds, 36 bits
}

const mask36 = 1<<36 - 1

// words returns the number as three little-endian 64-bit words.
func (s seqNum) words() (w0, w1, w2 uint64) {
	// bits 0..63
	w0 = 2 | uint64(s.shardIdx)<<4 | (s.recordTime&mask36)<<36
	// bits 64..127: recordTime bits 28..35 at 64..71, byte1 (0) at 72..79, seqIx low 48 bits at 80..127
	w1 = (s.recordTime&mask36)>>28 | s.seqIx<<16
	// bits 128..191: seqIx high 16 bits at 128..143, shard low nibble 144..147, shardTime 148..183, 2 at 184
	w2 = s.seqIx>>48 | uint64(s.shardIdx&0xf)<<16 | (s.shardTime&mask36)<<20 | 2<<56
	return
}

const pow19 = 10000000000000000000

// appendDecimal appends the decimal form of s to b.
func (s seqNum) appendDecimal(b []byte) []byte {
	w0, w1, w2 := s.words()
	// Divide the 192-bit number by 10^19 repeatedly; at most 3 chunks (10^57 > 2^188).
	var chunks [3]uint64
	n := 0
	for w2 != 0 || w1 != 0 || w0 >= pow19 {
		var r uint64
		q2 := w2 / pow19
		r = w2 % pow19
		q1, r := bits.Div64(r, w1, pow19)
		q0, r := bits.Div64(r, w0, pow19)
		chunks[n] = r
		n++
		w2, w1, w0 = q2, q1, q0
	}
	b = appendUint(b, w0)
	for i := n - 1; i >= 0; i-- {
		b = appendUintPad19(b, chunks[i])
	}
	return b
}

func (s seqNum) String() string {
	var buf [64]byte
	return string(s.appendDecimal(buf[:0]))
}

func appendUint(b []byte, v uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, buf[i:]...)
}

func appendUintPad19(b []byte, v uint64) []byte {
	var buf [19]byte
	for i := 18; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, buf[:]...)
}

// parseSeqNum parses a decimal sequence number in the v2 layout. ok is false for anything else
// (including the "0|[1-9][0-9]{0,128}" numbers AWS accepts but this server never issued).
func parseSeqNum(str string) (seqNum, bool) {
	if str == "" || len(str) > 60 || (len(str) > 1 && str[0] == '0') {
		return seqNum{}, false
	}
	var w0, w1, w2 uint64
	for i := 0; i < len(str); i++ {
		c := str[i]
		if c < '0' || c > '9' {
			return seqNum{}, false
		}
		d := uint64(c - '0')
		h0, l0 := bits.Mul64(w0, 10)
		h1, l1 := bits.Mul64(w1, 10)
		h2, l2 := bits.Mul64(w2, 10)
		if h2 != 0 {
			return seqNum{}, false
		}
		var c0, c1, c2 uint64
		w0, c0 = bits.Add64(l0, d, 0)
		w1, c1 = bits.Add64(l1, h0, c0)
		w2, c2 = bits.Add64(l2, h1, c1)
		if c2 != 0 {
			return seqNum{}, false
		}
	}
	if w0&0xf != 2 || w2>>56 != 2 {
		return seqNum{}, false
	}
	s := seqNum{
		shardIdx:   uint32(w0 >> 4),
		recordTime: w0>>36 | (w1&0xff)<<28,
		seqIx:      w1>>16 | (w2&0xffff)<<48,
		shardTime:  (w2 >> 20) & mask36,
	}
	if uint64(s.shardIdx&0xf) != (w2>>16)&0xf {
		return seqNum{}, false
	}
	return s, true
}
