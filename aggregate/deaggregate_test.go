package aggregate

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func subSeqs(us []UserRecord) []uint64 {
	var out []uint64
	for _, u := range us {
		out = append(out, u.SubSequenceNumber)
	}
	return out
}

func TestDeaggregatePlainAndCorrupt(t *testing.T) {
	prefix := []UserRecord{{Record: Record{PartitionKey: "earlier"}}}

	plain := []byte("hello")
	out, oc := Deaggregate(prefix, "pk", plain, &FullHashRange)
	if len(out) != 2 || out[1].PartitionKey != "pk" || string(out[1].Data) != "hello" || out[1].SubSequenceNumber != 0 {
		t.Fatalf("plain: %+v", out)
	}
	if oc != (Outcome{Total: 1}) {
		t.Fatalf("plain outcome = %+v", oc)
	}

	good := encodeAll(t, []Record{{PartitionKey: "a", Data: []byte("1")}, {PartitionKey: "b", Data: []byte("2")}})
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 0xff
	out, oc = Deaggregate(prefix[:1:1], "outer", bad, nil)
	if len(out) != 2 || out[1].PartitionKey != "outer" || &out[1].Data[0] != &bad[0] || len(out[1].Data) != len(bad) {
		t.Fatalf("corrupt aggregate not delivered whole: %+v", out)
	}
	if oc.Aggregated || oc.Total != 1 || !errors.Is(oc.Err, ErrCorrupt) {
		t.Fatalf("corrupt outcome = %+v", oc)
	}
}

func TestDeaggregateSubSequenceNumbers(t *testing.T) {
	recs := benchRecords(5, 3, 2)
	out, oc := Deaggregate(nil, "a", encodeAll(t, recs), nil)
	if !oc.Aggregated || oc.Total != 5 || oc.Dropped != 0 || oc.Err != nil {
		t.Fatalf("outcome = %+v", oc)
	}
	if !slices.Equal(subSeqs(out), []uint64{0, 1, 2, 3, 4}) {
		t.Fatalf("sub-sequence numbers = %v", subSeqs(out))
	}
	for i, u := range out {
		if u.PartitionKey != recs[i].PartitionKey || string(u.Data) != string(recs[i].Data) {
			t.Fatalf("record %d = %+v, want %+v", i, u, recs[i])
		}
	}
}

func TestDeaggregateHashRangeFilter(t *testing.T) {
	// Shard covers [1000, 2000]. Records routed by EHK (in and out of range)
	// and by MD5 of the partition key (p1's hash is far above 2000).
	keep := HashRange{Start: Hash128{Lo: 1000}, End: Hash128{Lo: 2000}}
	recs := []Record{
		{PartitionKey: "x", ExplicitHashKey: "1000", Data: []byte("in-low-edge")},
		{PartitionKey: "x", ExplicitHashKey: "999", Data: []byte("out-below")},
		{PartitionKey: "y", ExplicitHashKey: "2000", Data: []byte("in-high-edge")},
		{PartitionKey: "p1", Data: []byte("out-by-md5")},
		{PartitionKey: "z", ExplicitHashKey: "1500", Data: []byte("in-middle")},
	}
	out, oc := Deaggregate(nil, "a", encodeAll(t, recs), &keep)
	if oc.Dropped != 2 || oc.Total != 5 || !oc.Aggregated {
		t.Fatalf("outcome = %+v", oc)
	}
	if !slices.Equal(subSeqs(out), []uint64{0, 2, 4}) {
		t.Fatalf("kept sub-sequence numbers = %v, want [0 2 4]", subSeqs(out))
	}
	// Only the strays are gone; a range holding MD5(p1) keeps it.
	h := HashKey("p1")
	out, oc = Deaggregate(nil, "a", encodeAll(t, recs[3:4:4]), &HashRange{Start: h, End: h})
	if !oc.Aggregated || len(out) != 1 || oc.Dropped != 0 {
		t.Fatalf("aggregate of one in range: %+v %+v", out, oc)
	}
	single := encodeAll(t, append([]Record{recs[3]}, Record{PartitionKey: "p1", Data: []byte("again")}))
	out, oc = Deaggregate(nil, "a", single, &HashRange{Start: h, End: h})
	if len(out) != 2 || oc.Dropped != 0 {
		t.Fatalf("in-range MD5 records dropped: %+v %+v", out, oc)
	}
	// Everything out of range: nothing delivered, all counted.
	out, oc = Deaggregate(nil, "a", encodeAll(t, recs), &HashRange{Start: Hash128{Lo: 5}, End: Hash128{Lo: 6}})
	if len(out) != 0 || oc.Dropped != 5 {
		t.Fatalf("all out: %d delivered, outcome %+v", len(out), oc)
	}
}

func TestDeaggregateKeepsUnparsableEHK(t *testing.T) {
	// A foreign producer wrote an EHK we cannot parse: keep the record.
	pb := pbMsg{}.str(1, "k").str(2, "not-a-number").
		msg(3, pbMsg{}.uint(1, 0).uint(2, 0).bytes(3, []byte("d")))
	out, oc := Deaggregate(nil, "a", frame(pb.marshal()), &HashRange{})
	if len(out) != 1 || oc.Dropped != 0 || out[0].ExplicitHashKey != "not-a-number" {
		t.Fatalf("%+v %+v", out, oc)
	}
}

func TestDeaggregateAllocations(t *testing.T) {
	data := encodeAll(t, benchRecords(100, 100, 10))
	dst := make([]UserRecord, 0, 100)
	for _, keep := range []*HashRange{nil, &FullHashRange} {
		allocs := testing.AllocsPerRun(50, func() {
			dst, _ = Deaggregate(dst[:0], "a", data, keep)
		})
		limit := 2.0
		if keep != nil {
			limit = 5 // plus the per-table hash caches
		}
		if allocs > limit {
			t.Errorf("filter %v: %.1f allocations per aggregate, want <= %.0f", keep != nil, allocs, limit)
		}
	}
}

func ExampleDeaggregate() {
	var e Encoder
	for i := range 3 {
		_ = e.Add(Record{PartitionKey: fmt.Sprint("user-", i), Data: []byte(fmt.Sprint("event ", i))})
	}
	outer, _ := e.Outer(nil)

	// What a consumer gets from GetRecords: the outer partition key and data.
	users, oc := Deaggregate(nil, outer.PartitionKey, outer.Data, nil)
	for _, u := range users {
		fmt.Printf("%d %s %s\n", u.SubSequenceNumber, u.PartitionKey, u.Data)
	}
	fmt.Printf("aggregated=%v total=%d dropped=%d err=%v\n", oc.Aggregated, oc.Total, oc.Dropped, oc.Err)
	// Output:
	// 0 user-0 event 0
	// 1 user-1 event 1
	// 2 user-2 event 2
	// aggregated=true total=3 dropped=0 err=<nil>
}
