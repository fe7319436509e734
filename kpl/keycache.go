package kpl

import (
	"hash/maphash"
	"sync/atomic"

	"github.com/shoal-go/shoal/aggregate"
)

// keyCacheSlots is the number of partition keys keyCache remembers at most.
const keyCacheSlots = 4096

// keyCache remembers the hash keys of recently put partition keys, so Put
// skips the MD5 and the validation of a key it has already accepted: a
// producer writing over a bounded set of keys (the common case) pays them
// once per key. It is direct-mapped: a key evicts whichever key shared its
// slot, so its memory is bounded (keyCacheSlots entries) and a workload of
// random keys costs one string hash and one small allocation more per Put.
// Safe for concurrent use: slots are replaced, never modified.
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

func (c *keyCache) slot(key string) *atomic.Pointer[keyEntry] {
	return &c.slots[maphash.String(c.seed, key)%keyCacheSlots]
}

// lookup returns key's hash key if key is cached.
func (c *keyCache) lookup(key string) (aggregate.Hash128, bool) {
	if e := c.slot(key).Load(); e != nil && e.key == key {
		return e.hash, true
	}
	return aggregate.Hash128{}, false
}

// add caches key, which must be a valid partition key, with its hash key.
func (c *keyCache) add(key string, h aggregate.Hash128) {
	c.slot(key).Store(&keyEntry{key: key, hash: h})
}
