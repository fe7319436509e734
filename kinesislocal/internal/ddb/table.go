package ddb

import (
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
)

// Key size limits (bytes).
const (
	maxHashKeyBytes  = 2048
	maxRangeKeyBytes = 1024
	maxItemBytes     = 400 * 1024
)

// keyDef names a hash key and an optional range key with their types.
type keyDef struct {
	Hash      string    `json:"hash"`
	HashType  attr.Kind `json:"hashType"`
	Range     string    `json:"range,omitempty"`
	RangeType attr.Kind `json:"rangeType,omitempty"`
}

// gsiMeta describes a global secondary index.
type gsiMeta struct {
	Name           string   `json:"name"`
	Key            keyDef   `json:"key"`
	ProjectionType string   `json:"projectionType"`
	NonKey         []string `json:"nonKey,omitempty"`
	RCU            int64    `json:"rcu"`
	WCU            int64    `json:"wcu"`
	// Added is when UpdateTable created the index (zero for an index created with its table):
	// it is CREATING, backfilling, until the engine's state delay has passed.
	Added time.Time `json:"added,omitzero"`
}

// gsiStatus is a GSI's IndexStatus at now: CREATING while its table is, or while an index added
// by UpdateTable backfills; ACTIVE otherwise.
func (t *table) gsiStatus(g *gsiMeta, now time.Time, delay time.Duration) string {
	if t.status(now, delay) == "CREATING" || !g.Added.IsZero() && now.Before(g.Added.Add(delay)) {
		return "CREATING"
	}
	return "ACTIVE"
}

// tableMeta is the durable description of a table.
type tableMeta struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	Key        keyDef            `json:"key"`
	AttrDefs   []attrDef         `json:"attrDefs"`
	GSIs       []gsiMeta         `json:"gsis,omitempty"`
	Billing    string            `json:"billing"`
	RCU        int64             `json:"rcu"`
	WCU        int64             `json:"wcu"`
	Created    time.Time         `json:"created"`
	Updated    time.Time         `json:"updated,omitzero"`
	BillingSet time.Time         `json:"billingSet,omitzero"`
	TTLAttr    string            `json:"ttlAttr,omitempty"`
	TTLOn      bool              `json:"ttlOn,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	PITR       bool              `json:"pitr,omitempty"`
}

type attrDef struct {
	AttributeName string `json:"AttributeName"`
	AttributeType string `json:"AttributeType"`
}

// entry is one item in a sorted view: the table's primary order or a GSI's order.
type entry struct {
	order uint64     // hash of the hash key: the partition order of Scan
	hk    string     // hash key text (S, canonical N, raw B)
	rk    attr.Value // range key; Kind Invalid without one
	item  attr.Item  // never mutated once stored
	size  int
	base  *entry // for index entries: the table entry
}

// hashOrder places a hash key in the 64-bit partition order that Scan walks and parallel Scan
// segments split evenly. FNV-1a alone leaves the high bits nearly unchanged by a key's last bytes,
// so keys that differ only at the end (shardId-000000000000, ...-001, ...) would all share one
// segment; the murmur3 finalizer spreads every input bit over the whole word.
func hashOrder(hk string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(hk))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func cmpEntry(a, b *entry) int {
	switch {
	case a.order < b.order:
		return -1
	case a.order > b.order:
		return 1
	case a.hk < b.hk:
		return -1
	case a.hk > b.hk:
		return 1
	}
	if a.rk.Kind != attr.Invalid && b.rk.Kind != attr.Invalid {
		if c, _ := attr.Compare(a.rk, b.rk); c != 0 {
			return c
		}
	}
	if a.base != nil && b.base != nil {
		return cmpEntry(a.base, b.base)
	}
	return 0
}

func mapKey(hk string, rk attr.Value) string {
	if rk.Kind == attr.Invalid {
		return hk
	}
	return strconv.Itoa(len(hk)) + ":" + hk + rk.Str
}

// table is one table's metadata and items. mu guards everything below it.
type table struct {
	mu      sync.Mutex
	meta    tableMeta
	deleted time.Time // when DeleteTable was called; zero while live
	entries []*entry  // sorted by cmpEntry
	byKey   map[string]*entry
	bytes   int
}

func newTable(m tableMeta) *table {
	return &table{meta: m, byKey: map[string]*entry{}}
}

// status is the table's status at now, given the engine's state delay.
func (t *table) status(now time.Time, delay time.Duration) string {
	switch {
	case !t.deleted.IsZero():
		return "DELETING"
	case now.Before(t.meta.Created.Add(delay)):
		return "CREATING"
	case !t.meta.Updated.IsZero() && now.Before(t.meta.Updated.Add(delay)):
		return "UPDATING"
	}
	return "ACTIVE"
}

// keyFromItem extracts and validates the primary key of a full item (PutItem) and checks the
// item's GSI key attributes.
func (t *table) keyFromItem(it attr.Item) (hk string, rk attr.Value, err error) {
	hk, rk, err = t.primaryKey(it)
	if err != nil {
		return hk, rk, err
	}
	return hk, rk, t.checkIndexKeys(it)
}

// primaryKey extracts and validates the primary key of a full item.
func (t *table) primaryKey(it attr.Item) (hk string, rk attr.Value, err error) {
	k := t.meta.Key
	hv, ok := it[k.Hash]
	if !ok {
		return "", rk, invalidParam("Missing the key %s in the item", k.Hash)
	}
	if hv.Kind != k.HashType {
		return "", rk, invalidParam("Type mismatch for key %s expected: %s actual: %s", k.Hash, k.HashType, hv.Kind)
	}
	if k.Range != "" {
		rv, ok := it[k.Range]
		if !ok {
			return "", rk, invalidParam("Missing the key %s in the item", k.Range)
		}
		if rv.Kind != k.RangeType {
			return "", rk, invalidParam("Type mismatch for key %s expected: %s actual: %s", k.Range, k.RangeType, rv.Kind)
		}
		rk = rv
	}
	if err := checkKeyValues(k, hv, rk); err != nil {
		return "", rk, err
	}
	return hv.Str, rk, nil
}

// keyFromKey extracts and validates a Key parameter (exactly the key attributes).
func (t *table) keyFromKey(key attr.Item) (hk string, rk attr.Value, err error) {
	k := t.meta.Key
	want := 1
	if k.Range != "" {
		want = 2
	}
	bad := validation("The provided key element does not match the schema")
	hv, ok := key[k.Hash]
	if len(key) != want || !ok || hv.Kind != k.HashType {
		return "", rk, bad
	}
	if k.Range != "" {
		rv, ok := key[k.Range]
		if !ok || rv.Kind != k.RangeType {
			return "", rk, bad
		}
		rk = rv
	}
	if err := checkKeyValues(k, hv, rk); err != nil {
		return "", rk, err
	}
	return hv.Str, rk, nil
}

func checkKeyValues(k keyDef, hv, rv attr.Value) error {
	if hv.Str == "" && hv.Kind != attr.N {
		return emptyKey(k.Hash, hv.Kind)
	}
	if len(hv.Str) > maxHashKeyBytes {
		return invalidParam("Size of hashkey has exceeded the maximum size limit of%d bytes", maxHashKeyBytes)
	}
	if rv.Kind != attr.Invalid {
		if rv.Str == "" && rv.Kind != attr.N {
			return emptyKey(k.Range, rv.Kind)
		}
		if len(rv.Str) > maxRangeKeyBytes {
			return invalidParam("Aggregated size of all range keys has exceeded the size limit of %d bytes", maxRangeKeyBytes)
		}
	}
	return nil
}

func emptyKey(name string, k attr.Kind) *awsproto.Error {
	what := "string"
	if k == attr.B {
		what = "binary"
	}
	return validation("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s", what, name)
}

// checkIndexKeys rejects items whose GSI key attributes have the wrong type or are empty.
func (t *table) checkIndexKeys(it attr.Item) error {
	for _, g := range t.meta.GSIs {
		for _, kk := range []struct {
			name string
			typ  attr.Kind
		}{{g.Key.Hash, g.Key.HashType}, {g.Key.Range, g.Key.RangeType}} {
			if kk.name == "" {
				continue
			}
			v, ok := it[kk.name]
			if !ok {
				continue
			}
			if v.Kind != kk.typ {
				return invalidParam("Type mismatch for Index Key %s Expected: %s Actual: %s IndexName: %s", kk.name, kk.typ, v.Kind, g.Name)
			}
			if v.Str == "" && v.Kind != attr.N {
				return validation("One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: %s, IndexKey: %s", g.Name, kk.name)
			}
		}
	}
	return nil
}

// get returns the stored item with this key, or nil.
func (t *table) get(hk string, rk attr.Value) attr.Item {
	if e := t.byKey[mapKey(hk, rk)]; e != nil {
		return e.item
	}
	return nil
}

// search returns the index of the first entry >= probe.
func search(entries []*entry, probe *entry) int {
	i, _ := slices.BinarySearchFunc(entries, probe, cmpEntry)
	return i
}

// put stores it (replacing any item with the same key).
func (t *table) put(hk string, rk attr.Value, it attr.Item) {
	size := it.Size()
	if e := t.byKey[mapKey(hk, rk)]; e != nil {
		t.bytes += size - e.size
		e.item, e.size = it, size
		return
	}
	e := &entry{order: hashOrder(hk), hk: hk, rk: rk, item: it, size: size}
	i := search(t.entries, e)
	t.entries = slices.Insert(t.entries, i, e)
	t.byKey[mapKey(hk, rk)] = e
	t.bytes += size
}

// del removes the item with this key, if any.
func (t *table) del(hk string, rk attr.Value) {
	k := mapKey(hk, rk)
	e := t.byKey[k]
	if e == nil {
		return
	}
	i := search(t.entries, e)
	if i < len(t.entries) && t.entries[i] == e {
		t.entries = slices.Delete(t.entries, i, i+1)
	}
	delete(t.byKey, k)
	t.bytes -= e.size
}

// keyOf returns the primary key attributes of a stored item.
func (t *table) keyOf(it attr.Item) attr.Item {
	k := attr.Item{t.meta.Key.Hash: it[t.meta.Key.Hash]}
	if t.meta.Key.Range != "" {
		k[t.meta.Key.Range] = it[t.meta.Key.Range]
	}
	return k
}

// gsi returns the named index, or nil.
func (t *table) gsi(name string) *gsiMeta {
	for i := range t.meta.GSIs {
		if t.meta.GSIs[i].Name == name {
			return &t.meta.GSIs[i]
		}
	}
	return nil
}

// indexEntries builds the sorted view of a GSI (items without the index keys are absent).
func (t *table) indexEntries(g *gsiMeta) []*entry {
	out := make([]*entry, 0, len(t.entries))
	for _, base := range t.entries {
		hv, ok := base.item[g.Key.Hash]
		if !ok || hv.Kind != g.Key.HashType {
			continue
		}
		e := &entry{order: hashOrder(hv.Str), hk: hv.Str, item: base.item, size: base.size, base: base}
		if g.Key.Range != "" {
			rv, ok := base.item[g.Key.Range]
			if !ok || rv.Kind != g.Key.RangeType {
				continue
			}
			e.rk = rv
		}
		out = append(out, e)
	}
	slices.SortFunc(out, cmpEntry)
	return out
}

// project applies a GSI's projection to a table item.
func (t *table) projectIndex(g *gsiMeta, it attr.Item) attr.Item {
	if g.ProjectionType == "ALL" {
		return it
	}
	out := t.keyOf(it)
	for _, n := range []string{g.Key.Hash, g.Key.Range} {
		if v, ok := it[n]; ok && n != "" {
			out[n] = v
		}
	}
	for _, n := range g.NonKey {
		if v, ok := it[n]; ok {
			out[n] = v
		}
	}
	return out
}
