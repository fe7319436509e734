package aggregate

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestEachRecordKeepsItsOwnKeys(t *testing.T) {
	// a8m/kinesis-producer gave every sub-record the first record's key.
	recs := []Record{
		{PartitionKey: "A", Data: []byte("1")},
		{PartitionKey: "B", Data: []byte("2")},
		{PartitionKey: "A", ExplicitHashKey: "5", Data: []byte("3")},
		{PartitionKey: "C", ExplicitHashKey: "7", Data: []byte("4")},
		{PartitionKey: "B", ExplicitHashKey: "5", Data: []byte("5")},
	}
	enc := encodeAll(t, recs)
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !recordsEqual(got, recs) {
		t.Fatalf("Decode = %+v", got)
	}
	l, err := parse(enc)
	if err != nil {
		t.Fatal(err)
	}
	pk, ehk := l.tables()
	if strings.Join(pk, ",") != "A,B,C" || strings.Join(ehk, ",") != "5,7" {
		t.Fatalf("tables = %q %q, want deduplicated in order of first use", pk, ehk)
	}
}

func TestAddRejectsInvalidRecords(t *testing.T) {
	tests := []struct {
		name string
		r    Record
	}{
		{"empty partition key", Record{}},
		{"257 characters", Record{PartitionKey: strings.Repeat("x", 257)}},
		{"invalid UTF-8", Record{PartitionKey: "a\xffb"}},
		{"EHK leading zero", Record{PartitionKey: "k", ExplicitHashKey: "01"}},
		{"EHK 2^128", Record{PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211456"}},
		{"EHK negative", Record{PartitionKey: "k", ExplicitHashKey: "-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e Encoder
			if err := e.Add(Record{PartitionKey: "ok", Data: []byte("d")}); err != nil {
				t.Fatal(err)
			}
			before := e.Bytes()
			err := e.Add(tc.r)
			if !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("Add = %v, want ErrInvalidRecord", err)
			}
			if e.Len() != 1 || !bytes.Equal(e.Bytes(), before) || e.Size() != len(before) {
				t.Fatal("a rejected Add changed the Encoder")
			}
		})
	}
	var e Encoder
	if err := e.Add(Record{PartitionKey: strings.Repeat("ü", 256)}); err != nil {
		t.Fatalf("256 two-byte characters rejected: %v", err)
	}
}

func TestSizeWithIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var e Encoder
	for i := range 3000 {
		r := Record{
			PartitionKey: fmt.Sprintf("k%d", rng.IntN(300)),
			Data:         make([]byte, rng.IntN(200)),
		}
		if rng.IntN(4) == 0 {
			r.ExplicitHashKey = fmt.Sprint(rng.Uint64())
		}
		predicted := e.SizeWith(r)
		if err := e.Add(r); err != nil {
			t.Fatal(err)
		}
		if e.Size() != predicted {
			t.Fatalf("record %d: SizeWith = %d, Size after Add = %d", i, predicted, e.Size())
		}
	}
	if got := len(e.Bytes()); got != e.Size() {
		t.Fatalf("len(Bytes) = %d, Size = %d", got, e.Size())
	}
	if e.OuterSize() != e.Size()+1 {
		t.Fatalf("OuterSize = %d, want Size+1", e.OuterSize())
	}
}

func TestOuter(t *testing.T) {
	var e Encoder
	if _, err := e.Outer(nil); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty Outer error = %v", err)
	}
	if e.OuterSize() != 0 {
		t.Fatal("empty OuterSize != 0")
	}

	// One record: sent raw, with its own keys.
	first := Record{PartitionKey: "user-1", ExplicitHashKey: "42", Data: []byte("payload")}
	if err := e.Add(first); err != nil {
		t.Fatal(err)
	}
	out, err := e.Outer(make([]byte, 0, 64))
	if err != nil {
		t.Fatal(err)
	}
	if out.PartitionKey != "user-1" || out.ExplicitHashKey != "42" || string(out.Data) != "payload" {
		t.Fatalf("single Outer = %+v", out)
	}
	if e.OuterSize() != len("user-1")+len("payload") {
		t.Fatalf("single OuterSize = %d", e.OuterSize())
	}
	if e.HashKey() != (Hash128{Lo: 42}) {
		t.Fatalf("HashKey = %v", e.HashKey())
	}

	// Two or more: partition key "a", EHK of the first record.
	if err := e.Add(Record{PartitionKey: "user-2", Data: []byte("p2")}); err != nil {
		t.Fatal(err)
	}
	out, err = e.Outer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.PartitionKey != "a" || out.ExplicitHashKey != "42" || !bytes.Equal(out.Data, e.Bytes()) {
		t.Fatalf("aggregate Outer = %+v", out)
	}
	if e.OuterSize() != len(out.Data)+1 {
		t.Fatalf("OuterSize = %d, want %d", e.OuterSize(), len(out.Data)+1)
	}

	// Without an EHK the outer EHK is MD5 of the first partition key.
	e.Reset()
	for _, k := range []string{"p1", "zzz"} {
		if err := e.Add(Record{PartitionKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	out, _ = e.Outer(nil)
	if out.ExplicitHashKey != "314273871880498514688419745579426745052" {
		t.Fatalf("outer EHK = %s, want MD5(p1)", out.ExplicitHashKey)
	}
}

func TestAddCopiesData(t *testing.T) {
	var e Encoder
	buf := []byte("original")
	for _, k := range []string{"a", "b"} {
		if err := e.Add(Record{PartitionKey: k, Data: buf}); err != nil {
			t.Fatal(err)
		}
	}
	want := e.Bytes()
	copy(buf, "XXXXXXXX")
	if !bytes.Equal(e.Bytes(), want) {
		t.Fatal("aggregate changed when the caller reused its buffer")
	}
}

func TestResetReusesMemory(t *testing.T) {
	recs := benchRecords(100, 100, 10)
	var e Encoder
	fill := func() {
		for _, r := range recs {
			if err := e.Add(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill()
	want := e.Bytes()
	buf := make([]byte, 0, 2*len(want))
	allocs := testing.AllocsPerRun(50, func() {
		e.Reset()
		fill()
		buf = e.AppendTo(buf[:0])
	})
	if !bytes.Equal(buf, want) {
		t.Fatal("bytes after Reset differ from the first encoding")
	}
	if allocs != 0 {
		t.Fatalf("Reset+Add+AppendTo allocates %.1f times per aggregate, want 0", allocs)
	}
	e.Reset()
	if e.Len() != 0 || e.Size() != Overhead || e.HashKey() != (Hash128{}) {
		t.Fatal("Reset left state behind")
	}
}

func TestEmptyEncoderIsNotAnAggregate(t *testing.T) {
	var e Encoder
	b := e.Bytes()
	if len(b) != Overhead || IsAggregated(b) {
		t.Fatalf("empty aggregate = %x, IsAggregated = %v", b, IsAggregated(b))
	}
	if _, err := Decode(b); !errors.Is(err, ErrNotAggregated) {
		t.Fatalf("Decode(empty) = %v", err)
	}
}
