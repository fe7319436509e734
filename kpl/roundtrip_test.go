package kpl

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shoal-go/shoal/aggregate"
	"github.com/shoal-go/shoal/kinesislocal"
)

// TestRoundTrip produces records with many partition keys (and some explicit
// hash keys), reads them back with GetRecords and de-aggregates them: every
// record is present once, with its own key and data, on the shard its key
// hashes to, and its Result matches where it was found.
func TestRoundTrip(t *testing.T) {
	for _, agg := range []bool{true, false} {
		t.Run(fmt.Sprintf("aggregation=%v", agg), func(t *testing.T) {
			c := newLocal(t, kinesislocal.Options{}, 4)
			p, err := New(Config{Client: c, StreamName: "s", DisableAggregation: !agg, Linger: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			const n = 3000
			type got struct {
				res Result
				err error
			}
			var mu sync.Mutex
			results := make(map[string]got)
			ctx := context.Background()
			for i := range n {
				r := Record{PartitionKey: key(i % 700), Data: fmt.Appendf(nil, "data-%d", i)}
				if i%10 == 0 {
					r.ExplicitHashKey = aggregate.HashKey(fmt.Sprint("ehk", i)).String()
				}
				id := string(r.Data)
				if err := p.Put(ctx, r, func(res Result, err error) {
					mu.Lock()
					results[id] = got{res, err}
					mu.Unlock()
				}); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if len(results) != n {
				t.Fatalf("%d callbacks, want %d", len(results), n)
			}
			aggregated := 0
			for id, g := range results {
				if g.err != nil {
					t.Fatalf("%s: %v", id, g.err)
				}
				if g.res.Aggregated {
					aggregated++
				}
			}
			if agg && aggregated < n/2 {
				t.Errorf("only %d of %d records aggregated", aggregated, n)
			}
			if !agg && aggregated != 0 {
				t.Errorf("%d records aggregated with aggregation off", aggregated)
			}
			seen := make(map[string]bool)
			for _, s := range readBack(t, c, "s") {
				id := string(s.Data)
				if seen[id] {
					t.Fatalf("%s read twice", id)
				}
				seen[id] = true
				var i int
				fmt.Sscanf(id, "data-%d", &i)
				if s.PartitionKey != key(i%700) {
					t.Fatalf("%s has key %q, want %q", id, s.PartitionKey, key(i%700))
				}
				// A raw Kinesis record does not carry its explicit hash key;
				// an aggregated one does, in the explicit hash key table.
				h := aggregate.HashKey(s.PartitionKey)
				if i%10 == 0 {
					h = aggregate.HashKey(fmt.Sprint("ehk", i))
					if results[id].res.Aggregated && s.ExplicitHashKey != h.String() {
						t.Fatalf("%s lost its explicit hash key: %q", id, s.ExplicitHashKey)
					}
				}
				if !s.hash.Contains(h) {
					t.Fatalf("%s (key %s) stored on %s whose range %v does not hold its hash key", id, s.PartitionKey, s.shard, s.hash)
				}
				res := results[id].res
				if res.ShardID != s.shard || res.SequenceNumber != s.seq || uint64(res.SubSequenceNumber) != s.SubSequenceNumber {
					t.Fatalf("%s: result %+v, found on %s seq %s sub %d", id, res, s.shard, s.seq, s.SubSequenceNumber)
				}
			}
			if len(seen) != n {
				t.Fatalf("read %d records back, want %d", len(seen), n)
			}
			st := p.Stats()
			t.Logf("stats: %+v", st)
			if st.UserRecordsPut != n || st.Failed != 0 || st.BufferedRecords != 0 {
				t.Errorf("stats %+v", st)
			}
			if agg && st.AggregationRatio < 5 {
				t.Errorf("aggregation ratio %.1f", st.AggregationRatio)
			}
		})
	}
}

func TestCompressionRoundTrip(t *testing.T) {
	c := newLocal(t, kinesislocal.Options{}, 2)
	p, err := New(Config{Client: c, StreamName: "s", Compression: CompressionGzip, Linger: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("compressible "), 1000)
	tiny := []byte("x")
	trick := append([]byte(CompressedMagic), "not gzip"...) // user data that looks like ours
	ctx := context.Background()
	if _, err := p.PutSync(ctx, Record{PartitionKey: "a", Data: big}, Record{PartitionKey: "b", Data: tiny}, Record{PartitionKey: "c", Data: trick}); err != nil {
		t.Fatal(err)
	}
	p.Close(ctx)
	want := map[string][]byte{"a": big, "b": tiny, "c": trick}
	recs := readBack(t, c, "s")
	if len(recs) != 3 {
		t.Fatalf("read %d records", len(recs))
	}
	for _, s := range recs {
		if s.PartitionKey == "a" && len(s.Data) >= len(big)/10 {
			t.Errorf("big record stored with %d bytes: not compressed", len(s.Data))
		}
		got, _, err := Decompress(s.Data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[s.PartitionKey]) {
			t.Errorf("key %s: data %q after Decompress", s.PartitionKey, got)
		}
	}
}
