package aggregate

import (
	"errors"
	"testing"
)

func TestDecodeCorrupt(t *testing.T) {
	rec := func(m pbMsg) pbMsg { return pbMsg{}.str(1, "k").msg(3, m) }
	valid := pbMsg{}.uint(1, 0).bytes(3, []byte("d"))
	tests := []struct {
		name   string
		pb     []byte
		offset int // expected CorruptError.Offset, -1 to skip
	}{
		{"truncated key varint", []byte{0x80}, 4},
		{"varint overflow", []byte{0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 5},
		{"ten-byte varint without end", []byte{0x28, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 5},
		{"length past end", []byte{0x0a, 0x05, 'a'}, 5},
		{"hostile length", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 5},
		{"field number 0", []byte{0x02, 0x00}, 4},
		{"group wire type", []byte{0x2b, 0x2c}, 5},
		{"truncated fixed64", []byte{0x29, 1, 2, 3}, -1},
		{"truncated fixed32", []byte{0x2d, 1}, -1},
		{"table with varint wire type", []byte{0x08, 0x01}, 4},
		{"records with varint wire type", []byte{0x18, 0x01}, 4},
		{"index with bytes wire type", rec(pbMsg{}.bytes(1, []byte{0}).bytes(3, nil)).marshal(), -1},
		{"data with varint wire type", rec(pbMsg{}.uint(1, 0).uint(3, 1)).marshal(), -1},
		{"missing partition_key_index", rec(pbMsg{}.bytes(3, []byte("d"))).marshal(), 9},
		{"missing data", rec(pbMsg{}.uint(1, 0)).marshal(), 9},
		{"partition key index out of range", pbMsg{}.str(1, "k").msg(3, valid).msg(3, pbMsg{}.uint(1, 1).bytes(3, nil)).marshal(), 14},
		{"huge partition key index", pbMsg{}.str(1, "k").msg(3, pbMsg{}.uint(1, 1<<63).bytes(3, nil)).marshal(), 7},
		{"no partition key table", pbMsg{}.msg(3, valid).marshal(), 4},
		{"explicit hash key index without table", rec(pbMsg{}.uint(1, 0).uint(2, 0).bytes(3, nil)).marshal(), 7},
		{"tag without key", rec(valid.msg(4, pbMsg{}.str(2, "v"))).marshal(), -1},
		{"tag truncated", rec(valid.bytes(4, []byte{0x0a, 0x09})).marshal(), -1},
		{"record truncated", []byte{0x0a, 0x01, 'k', 0x1a, 0x04, 0x08, 0x00, 0x1a}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := frame(tc.pb)
			called := false
			err := DecodeFunc(data, func(int, Record) error { called = true; return nil })
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeFunc = %v, want *CorruptError", err)
			}
			if called {
				t.Fatal("fn called for a corrupt aggregate")
			}
			if tc.offset >= 0 && ce.Offset != tc.offset {
				t.Fatalf("Offset = %d, want %d (%v)", ce.Offset, tc.offset, err)
			}
			if ce.Offset < 0 || ce.Offset > len(data) {
				t.Fatalf("Offset %d outside the data", ce.Offset)
			}
			if _, err := Count(data); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Count = %v", err)
			}
			if !IsAggregated(data) {
				t.Fatal("IsAggregated checks magic and MD5 only; want true")
			}
		})
	}
}

func TestDecodeNotAggregatedAndBadMD5(t *testing.T) {
	good := encodeAll(t, []Record{{PartitionKey: "a", Data: []byte("1")}, {PartitionKey: "b", Data: []byte("2")}})
	for _, data := range [][]byte{nil, []byte("plain data, not aggregated"), []byte(Magic), frame(nil), good[:Overhead]} {
		if _, err := Decode(data); !errors.Is(err, ErrNotAggregated) {
			t.Errorf("Decode(%x) = %v, want ErrNotAggregated", data, err)
		}
		if IsAggregated(data) {
			t.Errorf("IsAggregated(%x) = true", data)
		}
	}
	for _, i := range []int{4, len(good) / 2, len(good) - 1} {
		bad := append([]byte(nil), good...)
		bad[i] ^= 1
		_, err := Decode(bad)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Reason != "md5 mismatch" || ce.Offset != len(bad)-16 {
			t.Errorf("flip byte %d: Decode = %v", i, err)
		}
		if IsAggregated(bad) {
			t.Errorf("flip byte %d: IsAggregated = true", i)
		}
	}
}

func TestDecodeLegalVariants(t *testing.T) {
	tests := []struct {
		name string
		pb   pbMsg
		want []Record
	}{
		{"tables only, no records", pbMsg{}.str(1, "k").str(2, "1"), nil},
		{"unknown fields of every wire type are skipped", pbMsg{}.str(1, "k").
			bytes(9, []byte("x")).uint(10, 1<<40).
			msg(3, pbMsg{}.uint(1, 0).bytes(3, []byte("d")).uint(7, 3).bytes(8, nil)),
			[]Record{{PartitionKey: "k", Data: []byte("d")}}},
		{"last singular value wins", pbMsg{}.str(1, "k0").str(1, "k1").
			msg(3, pbMsg{}.uint(1, 0).uint(1, 1).bytes(3, []byte("old")).bytes(3, []byte("new"))),
			[]Record{{PartitionKey: "k1", Data: []byte("new")}}},
		{"interleaved tables and records", pbMsg{}.str(1, "k0").
			msg(3, pbMsg{}.uint(1, 1).uint(2, 0).bytes(3, []byte("a"))).
			str(1, "k1").str(2, "9").
			msg(3, pbMsg{}.uint(1, 0).bytes(3, []byte("b"))),
			[]Record{{PartitionKey: "k1", ExplicitHashKey: "9", Data: []byte("a")}, {PartitionKey: "k0", Data: []byte("b")}}},
		{"empty partition key in table", pbMsg{}.str(1, "").msg(3, pbMsg{}.uint(1, 0).bytes(3, nil)),
			[]Record{{Data: []byte{}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := frame(tc.pb.marshal())
			if len(data) <= Overhead {
				t.Fatal("test aggregate too short")
			}
			got, err := Decode(data)
			if err != nil || !recordsEqual(got, tc.want) {
				t.Fatalf("Decode = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	// fixed32 and fixed64 unknown fields, hand-encoded.
	pb := append(pbMsg{}.str(1, "k").marshal(), 0x29, 1, 2, 3, 4, 5, 6, 7, 8, 0x2d, 1, 2, 3, 4)
	pb = append(pb, pbMsg{}.msg(3, pbMsg{}.uint(1, 0).bytes(3, []byte("z"))).marshal()...)
	if got, err := Decode(frame(pb)); err != nil || len(got) != 1 || string(got[0].Data) != "z" {
		t.Fatalf("fixed-size unknown fields: %+v, %v", got, err)
	}
}

func TestDecodeAliasesAndAppends(t *testing.T) {
	data := encodeAll(t, []Record{{PartitionKey: "a", Data: []byte("one")}, {PartitionKey: "b", Data: []byte("two")}})
	prefix := []Record{{PartitionKey: "earlier"}}
	got, err := AppendDecode(prefix, data)
	if err != nil || len(got) != 3 || got[0].PartitionKey != "earlier" || string(got[2].Data) != "two" {
		t.Fatalf("AppendDecode = %+v, %v", got, err)
	}
	found := false
	for i := range data {
		if &data[i] == &got[1].Data[0] {
			found = true
		}
	}
	if !found {
		t.Fatal("Data does not alias the input")
	}
	bad := append([]byte(nil), data...)
	bad[len(bad)-1] ^= 1
	out, err := AppendDecode(prefix, bad)
	if err == nil || len(out) != 1 {
		t.Fatalf("AppendDecode on error = %+v, %v; want prefix unchanged", out, err)
	}
}

func TestDecodeFuncStopsOnError(t *testing.T) {
	data := encodeAll(t, benchRecords(10, 5, 3))
	stop := errors.New("stop")
	var seen []int
	err := DecodeFunc(data, func(i int, _ Record) error {
		seen = append(seen, i)
		if i == 3 {
			return stop
		}
		return nil
	})
	if err != stop || len(seen) != 4 || seen[3] != 3 {
		t.Fatalf("DecodeFunc = %v after %v", err, seen)
	}
	if n, err := Count(data); n != 10 || err != nil {
		t.Fatalf("Count = %d, %v", n, err)
	}
}

func TestDecodeAllocations(t *testing.T) {
	data := encodeAll(t, benchRecords(100, 100, 10))
	var total int
	allocs := testing.AllocsPerRun(50, func() {
		_ = DecodeFunc(data, func(_ int, r Record) error { total += len(r.Data); return nil })
	})
	if allocs > 2 {
		t.Fatalf("DecodeFunc allocates %.1f times per aggregate, want <= 2 (key tables)", allocs)
	}
	plain := []byte("not an aggregate")
	if a := testing.AllocsPerRun(50, func() { _ = IsAggregated(data); _ = IsAggregated(plain) }); a != 0 {
		t.Fatalf("IsAggregated allocates %.1f times", a)
	}
}

func TestDecodeHostileInputBoundedMemory(t *testing.T) {
	// Many tiny table entries: the tables are bounded by the input size.
	pb := make([]byte, 0, 1<<16)
	for len(pb) < 1<<16 {
		pb = append(pb, 0x0a, 0x00)
	}
	pb = append(pb, pbMsg{}.msg(3, pbMsg{}.uint(1, 32767).bytes(3, nil)).marshal()...)
	recs, err := Decode(frame(pb))
	if err != nil || len(recs) != 1 {
		t.Fatalf("Decode = %d records, %v", len(recs), err)
	}
}
