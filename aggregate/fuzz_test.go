package aggregate

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzDecode feeds arbitrary bytes to the decoder twice: as a whole Kinesis
// record, and as a protobuf framed with a correct magic and MD5 (otherwise
// nearly every input would stop at the checksum). It checks that decoding
// never panics, that errors are typed, that IsAggregated agrees with Decode,
// that Deaggregate never loses data, and that whatever decodes re-encodes to
// an aggregate that decodes to the same records.
func FuzzDecode(f *testing.F) {
	for _, tc := range goldenFixtures {
		fixture := readHexFixture(f, tc.file)
		f.Add(fixture)
		f.Add(fixture[len(Magic) : len(fixture)-16])
		f.Add(fixture[:len(fixture)-1])
	}
	for _, v := range publicVectors {
		f.Add(refEncode(v.records))
	}
	f.Add([]byte{})
	f.Add([]byte(Magic))
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})
	f.Add([]byte{0x1a, 0x04, 0x08, 0x05, 0x1a, 0x00})
	f.Add(pbMsg{}.str(1, "k").msg(3, pbMsg{}.uint(1, 0).bytes(3, nil).msg(4, pbMsg{}.str(1, "t"))).marshal())
	f.Add(pbMsg{}.str(1, "k").str(2, "12").msg(3, pbMsg{}.uint(1, 0).uint(2, 0).bytes(3, []byte("x"))).marshal())

	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecode(t, in)
		checkDecode(t, frame(in))
	})
}

func checkDecode(t *testing.T, data []byte) {
	recs, err := Decode(data)
	switch {
	case err == nil:
		if !IsAggregated(data) {
			t.Fatal("Decode succeeded but IsAggregated = false")
		}
	case errors.Is(err, ErrNotAggregated):
		if IsAggregated(data) {
			t.Fatal("ErrNotAggregated but IsAggregated = true")
		}
	default:
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Offset < 0 || ce.Offset > len(data) {
			t.Fatalf("untyped error or bad offset: %v", err)
		}
	}

	users, oc := Deaggregate(nil, "outer", data, &HashRange{Start: Hash128{Hi: 1 << 63}, End: MaxHash128})
	if err != nil {
		if len(users) != 1 || !bytes.Equal(users[0].Data, data) || oc.Aggregated {
			t.Fatalf("failed decode not delivered whole: %+v", oc)
		}
		return
	}
	if oc.Total != len(recs) || len(users)+oc.Dropped != len(recs) {
		t.Fatalf("Deaggregate outcome %+v for %d records", oc, len(recs))
	}

	// Round trip through the Encoder when the records are ones it accepts.
	var e Encoder
	for _, r := range recs {
		if r.PartitionKey == "" || !utf8.ValidString(r.PartitionKey) || utf8.RuneCountInString(r.PartitionKey) > MaxPartitionKeyLen {
			return
		}
		if r.ExplicitHashKey != "" {
			if _, err := ParseHash128(r.ExplicitHashKey); err != nil {
				return
			}
		}
		before := e.SizeWith(r)
		if err := e.Add(r); err != nil {
			t.Fatalf("Add(%+v): %v", r, err)
		}
		if e.Size() != before {
			t.Fatalf("SizeWith %d != Size %d", before, e.Size())
		}
	}
	if len(recs) == 0 {
		return
	}
	enc := e.Bytes()
	if ref := refEncode(recs); !bytes.Equal(enc, ref) {
		t.Fatal("Encoder and reference encoder disagree")
	}
	again, err := Decode(enc)
	if err != nil || !recordsEqual(again, recs) {
		t.Fatalf("round trip: %v", err)
	}
}

// FuzzEncode builds records from fuzz input and checks decode(encode(x)) = x
// and the exactness of Size.
func FuzzEncode(f *testing.F) {
	f.Add([]byte("k1\x00data\x00k2\x0042\x00more"), uint8(3))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, ehkEvery uint8) {
		parts := bytes.Split(in, []byte{0})
		var recs []Record
		for i := 0; i+1 < len(parts); i += 2 {
			pk := string(parts[i])
			if pk == "" || !utf8.ValidString(pk) || utf8.RuneCountInString(pk) > MaxPartitionKeyLen {
				continue
			}
			r := Record{PartitionKey: pk, Data: parts[i+1]}
			if ehkEvery != 0 && i%int(ehkEvery) == 0 {
				r.ExplicitHashKey = HashKey(string(parts[i+1])).String()
			}
			recs = append(recs, r)
		}
		var e Encoder
		for _, r := range recs {
			if err := e.Add(r); err != nil {
				t.Fatalf("Add: %v", err)
			}
		}
		enc := e.Bytes()
		if len(enc) != e.Size() {
			t.Fatalf("Size %d, len %d", e.Size(), len(enc))
		}
		if len(recs) == 0 {
			return
		}
		got, err := Decode(enc)
		if err != nil || !recordsEqual(got, recs) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
