package kpl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/shoal-go/shoal/aggregate"
	"github.com/shoal-go/shoal/kinesislocal"
)

func TestKeyCache(t *testing.T) {
	var c keyCache
	c.init()
	if _, ok := c.lookup("a"); ok {
		t.Fatal("empty cache hit")
	}
	// 1000 keys in 4096 sets of two slots: nearly all stay (a set
	// overflows only when three keys share it: ~0.2% of sets).
	const n = 1000
	for i := range n {
		k := fmt.Sprint("key-", i)
		c.add(k, aggregate.HashKey(k))
	}
	hits := 0
	for i := range n {
		k := fmt.Sprint("key-", i)
		h, ok := c.lookup(k)
		if ok {
			hits++
			if h != aggregate.HashKey(k) {
				t.Fatalf("%s: cached %v, want %v", k, h, aggregate.HashKey(k))
			}
		}
	}
	if hits < n*98/100 {
		t.Errorf("%d of %d keys cached", hits, n)
	}
	// Bounded: 100,000 more keys leave at most keyCacheSlots entries.
	for i := range 100_000 {
		k := fmt.Sprint("other-", i)
		c.add(k, aggregate.HashKey(k))
	}
	used := 0
	for i := range c.slots {
		if c.slots[i].Load() != nil {
			used++
		}
	}
	if used > keyCacheSlots {
		t.Errorf("%d entries", used)
	}
}

func TestKeyCacheConcurrent(t *testing.T) {
	var c keyCache
	c.init()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				k := fmt.Sprint("k", (i*7+g)%6000)
				if h, ok := c.lookup(k); ok && h != aggregate.HashKey(k) {
					t.Errorf("%s: wrong hash", k)
					return
				}
				c.add(k, aggregate.HashKey(k))
			}
		})
	}
	wg.Wait()
}

// TestPutCachedKeyStillChecked: a key known to the cache skips validation of
// the key only; the size limit and explicit hash keys are still checked.
func TestPutCachedKeyStillChecked(t *testing.T) {
	c := newLocal(t, kinesislocal.Options{}, 1)
	p, err := New(Config{Client: c, StreamName: "s", MaxRecordSize: 100, AggregationMaxSize: 99, BatchMaxBytes: 1000, MaxBufferedBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	if err := p.Put(ctx, Record{PartitionKey: "k", Data: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.keys.lookup("k"); !ok {
		t.Fatal("key not cached after Put")
	}
	for _, r := range []Record{
		{PartitionKey: "k", Data: make([]byte, 100)},
		{PartitionKey: "k", ExplicitHashKey: "x", Data: []byte("x")},
	} {
		if err := p.Put(ctx, r, nil); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("Put(%q, ehk %q, %d bytes) = %v, want ErrInvalidRecord", r.PartitionKey, r.ExplicitHashKey, len(r.Data), err)
		}
	}
	if err := p.Put(ctx, Record{PartitionKey: "", Data: []byte("x")}, nil); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("empty key: %v", err)
	}
}
