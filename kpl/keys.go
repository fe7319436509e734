package kpl

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// RandomPartitionKey returns a random 32-character hexadecimal key (128
// random bits). Records with random keys spread evenly over all shards; use
// it when records need no per-key order. Safe for concurrent use.
func RandomPartitionKey() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// SubKey returns sub-key i (taken modulo n) of a hot partition key: key
// itself for n <= 1, else key + "#" + (i mod n). Spreading one hot key over n
// sub-keys spreads its records over up to n shards, at the cost of per-key
// order across sub-keys. The result is truncated to the 256-character limit
// by shortening key.
func SubKey(key string, n int, i uint64) string {
	if n <= 1 {
		return key
	}
	suffix := "#" + strconv.FormatUint(i%uint64(n), 10)
	if r := []rune(key); len(r)+len(suffix) > 256 {
		key = string(r[:256-len(suffix)])
	}
	return key + suffix
}

// SubKeys returns all n sub-keys of key, so a consumer can recognise them.
func SubKeys(key string, n int) []string {
	if n <= 1 {
		return []string{key}
	}
	out := make([]string, n)
	for i := range out {
		out[i] = SubKey(key, n, uint64(i))
	}
	return out
}

// KeySpreader hands out a hot key's sub-keys in round-robin order. The zero
// value is not usable; create it with NewKeySpreader. Safe for concurrent use.
type KeySpreader struct {
	key  string
	n    int
	next atomic.Uint64
}

// NewKeySpreader returns a spreader of key over n sub-keys (see SubKey).
func NewKeySpreader(key string, n int) *KeySpreader {
	return &KeySpreader{key: key, n: n}
}

// Next returns the next sub-key. It does not block.
func (s *KeySpreader) Next() string {
	return SubKey(s.key, s.n, s.next.Add(1)-1)
}
