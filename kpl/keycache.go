package kpl

import (
	"hash/maphash"
	"sync/atomic"

	"github.com/shoal-go/shoal/aggregate"
)

// keyCacheSlots is the number of partition keys keyCache remembers at most.
const keyCacheSlots = 8192

// keyCache remembers the hash keys of recently put partition keys, so Put
// skips the MD5 and the validation of a key it has already accepted: a
// producer writing over a bounded set of keys (the common case) pays them
// once per key. It is two-way set-associative: a key lives in one of the two
// slots of its set and evicts one of them when both are taken, so its memory
// is bounded (keyCacheSlots entries) and a workload of random keys costs one
// string hash and one small allocation more per Put. Safe for concurrent
// use: slots are replaced, never modified.
type keyCache struct {
	seed  maphash.Seed
	slots [keyCacheSlots]atomic.Pointer[keyEntry]
}

// keyEntry is an immutable cached key and its hash key.
type keyEntry struct {
	key  string
	hash aggregate.Hash128
}

func (c *keyCache) init() { c.seed = maphash.MakeSeed() }

// set returns the two slots key may live in, and which one a new key takes
// when both are in use.
func (c *keyCache) set(key string) (*[2]atomic.Pointer[keyEntry], int) {
	h := maphash.String(c.seed, key)
	i := int(h % (keyCacheSlots / 2))
	return (*[2]atomic.Pointer[keyEntry])(c.slots[2*i : 2*i+2]), int(h>>63) & 1
}

// lookup returns key's hash key if key is cached.
func (c *keyCache) lookup(key string) (aggregate.Hash128, bool) {
	s, _ := c.set(key)
	for i := range s {
		if e := s[i].Load(); e != nil && e.key == key {
			return e.hash, true
		}
	}
	return aggregate.Hash128{}, false
}

// add caches key, which must be a valid partition key, with its hash key.
func (c *keyCache) add(key string, h aggregate.Hash128) {
	s, victim := c.set(key)
	if s[0].Load() == nil {
		victim = 0
	} else if s[1].Load() == nil {
		victim = 1
	}
	s[victim].Store(&keyEntry{key: key, hash: h})
}
