package streams

import (
	"crypto/md5"
	"encoding/binary"
	"math/bits"
)

// u128 is an unsigned 128-bit integer: a hash key.
type u128 struct{ hi, lo uint64 }

var maxU128 = u128{^uint64(0), ^uint64(0)}

func (a u128) cmp(b u128) int {
	switch {
	case a.hi < b.hi:
		return -1
	case a.hi > b.hi:
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}

func (a u128) add1() u128 {
	lo, c := bits.Add64(a.lo, 1, 0)
	return u128{a.hi + c, lo}
}

func (a u128) sub1() u128 {
	lo, b := bits.Sub64(a.lo, 1, 0)
	return u128{a.hi - b, lo}
}

func (a u128) add(b u128) u128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, _ := bits.Add64(a.hi, b.hi, c)
	return u128{hi, lo}
}

// mul64 returns a*m, wrapping on overflow.
func (a u128) mul64(m uint64) u128 {
	hi, lo := bits.Mul64(a.lo, m)
	return u128{hi + a.hi*m, lo}
}

// divmod64 returns a/d and a%d.
func (a u128) divmod64(d uint64) (u128, uint64) {
	qhi, r := a.hi/d, a.hi%d
	qlo, r := bits.Div64(r, a.lo, d)
	return u128{qhi, qlo}, r
}

// String formats a in decimal.
func (a u128) String() string {
	if a.hi == 0 {
		return uitoa(a.lo)
	}
	var buf [40]byte
	i := len(buf)
	for a.hi != 0 || a.lo != 0 {
		var r uint64
		a, r = a.divmod64(10)
		i--
		buf[i] = byte('0' + r)
	}
	return string(buf[i:])
}

func uitoa(v uint64) string {
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
	return string(buf[i:])
}

// parseU128 parses a decimal hash key in [0, 2^128-1] without sign, spaces or leading zeros
// (except "0" itself).
func parseU128(s string) (u128, bool) {
	if s == "" || len(s) > 39 || (len(s) > 1 && s[0] == '0') {
		return u128{}, false
	}
	var v u128
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return u128{}, false
		}
		hi, lo := bits.Mul64(v.lo, 10)
		h2, o := bits.Mul64(v.hi, 10)
		if h2 != 0 {
			return u128{}, false
		}
		hi, c1 := bits.Add64(hi, o, 0)
		if c1 != 0 {
			return u128{}, false
		}
		lo, c2 := bits.Add64(lo, uint64(c-'0'), 0)
		hi, c3 := bits.Add64(hi, 0, c2)
		if c3 != 0 {
			return u128{}, false
		}
		v = u128{hi, lo}
	}
	return v, true
}

// hashKey is MD5 of the partition key read as a big-endian 128-bit integer, as AWS routes records.
func hashKey(pk []byte) u128 {
	sum := md5.Sum(pk)
	return u128{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])}
}

// evenRanges splits [0, 2^128-1] into n ranges like CreateStream: step floor(2^128/n), the last
// range ending at 2^128-1.
func evenRanges(n int) [][2]u128 {
	step := evenStep(n)
	out := make([][2]u128, n)
	var start u128
	for i := 0; i < n; i++ {
		end := start.add(step).sub1()
		if i == n-1 {
			end = maxU128
		}
		out[i] = [2]u128{start, end}
		start = end.add1()
	}
	return out
}

// evenStep is floor(2^128/n) for n >= 1 (2^128-1 for n == 1, which yields the same ranges).
func evenStep(n int) u128 {
	if n <= 1 {
		return maxU128
	}
	// floor(2^128/n) == floor((2^128-1)/n) unless n divides 2^128, i.e. n is a power of two.
	q, r := maxU128.divmod64(uint64(n))
	if r == uint64(n)-1 {
		q = q.add1()
	}
	return q
}
