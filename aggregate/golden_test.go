package aggregate

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
)

func recordsEqual(a, b []Record) bool {
	return slices.EqualFunc(a, b, func(x, y Record) bool {
		return x.PartitionKey == y.PartitionKey && x.ExplicitHashKey == y.ExplicitHashKey && bytes.Equal(x.Data, y.Data)
	})
}

func encodeAll(t testing.TB, recs []Record) []byte {
	t.Helper()
	var e Encoder
	for _, r := range recs {
		if err := e.Add(r); err != nil {
			t.Fatalf("Add(%+v): %v", r, err)
		}
	}
	return e.Bytes()
}

var goldenFixtures = []struct {
	file      string
	canonical bool // an Encoder writes exactly these bytes
	records   []Record
}{
	{"one_key.hex", true, []Record{
		{PartitionKey: "k", Data: []byte("hi")},
		{PartitionKey: "k", Data: []byte("yo")},
	}},
	{"two_keys_ehk.hex", true, []Record{
		{PartitionKey: "a1", Data: []byte("x")},
		{PartitionKey: "b2", ExplicitHashKey: "340282366920938463463374607431768211455", Data: []byte("y")},
		{PartitionKey: "a1", ExplicitHashKey: "0", Data: []byte{}},
	}},
	{"noncanonical.hex", false, []Record{
		{PartitionKey: "k", Data: []byte("z")},
	}},
}

func TestGoldenFixtures(t *testing.T) {
	for _, tc := range goldenFixtures {
		t.Run(tc.file, func(t *testing.T) {
			fixture := readHexFixture(t, tc.file)
			if !IsAggregated(fixture) {
				t.Fatal("IsAggregated(fixture) = false")
			}
			got, err := Decode(fixture)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !recordsEqual(got, tc.records) {
				t.Fatalf("Decode = %+v, want %+v", got, tc.records)
			}
			if !tc.canonical {
				return
			}
			if enc := encodeAll(t, tc.records); !bytes.Equal(enc, fixture) {
				t.Fatalf("encode = %x\nwant     %x", enc, fixture)
			}
			if ref := refEncode(tc.records); !bytes.Equal(ref, fixture) {
				t.Fatalf("refEncode = %x\nwant        %x", ref, fixture)
			}
		})
	}
}

// Aggregates produced by other implementations, recorded in public test
// suites. Only facts are kept here: the user records that went in and the
// length and MD5 trailer of the aggregate that came out. Our Encoder's bytes
// must have the same length and the same MD5 over the protobuf, i.e. be the
// same protobuf.
var publicVectors = []struct {
	source  string
	records []Record
	length  int
	md5     string
}{
	{
		// Node test of aws-kinesis-agg ("kpl-deagg test"), three records under one key.
		source: "aws-kinesis-agg node deaggregation test",
		records: []Record{
			{PartitionKey: "p1", Data: []byte("012345678901234567_A")},
			{PartitionKey: "p1", Data: []byte("012345678901234567_B")},
			{PartitionKey: "p1", Data: []byte("012345678901234567_C")},
		},
		length: 102,
		md5:    "478cbd368b2464dc3fa43b6502d97eae",
	},
	{
		// A Python project's test, "captured from awslabs/kinesis-aggregation":
		// three keys, each record pointing at its own key.
		source: "python aggregate captured from awslabs/kinesis-aggregation",
		records: []Record{
			{PartitionKey: "pk-0", Data: []byte(`{"msg":"line0"}`)},
			{PartitionKey: "pk-1", Data: []byte(`{"msg":"line1"}`)},
			{PartitionKey: "pk-2", Data: []byte(`{"msg":"line2"}`)},
		},
		length: 101,
		md5:    "9f21c9a748fafd8a64f66b5068a6e9c4",
	},
	{
		// A Ruby aggregator's spec "can aggregate user records with EHK":
		// four keys and four explicit hash keys.
		source: "ruby kinesis-aggregation spec with EHK",
		records: []Record{
			{PartitionKey: "fc03dd88-3e79-448a-b01a-7cf1bd47b784", ExplicitHashKey: "38486495867508399078159723846051807020", Data: []byte("RECORD 22 peeobhczbzdmskboupgyq\n")},
			{PartitionKey: "cae41b1c-ea61-43f2-90be-b8755ebf88e2", ExplicitHashKey: "193787600037681706952143357071916352604", Data: []byte("RECORD 23 uswkxftxroeusscxsjhno\n")},
			{PartitionKey: "d490690c-e74d-4db2-a3c8-d8f2f184fd23", ExplicitHashKey: "266880436964932424265466916734068684439", Data: []byte("RECORD 24 casehdgivfaxeustlyszy\n")},
			{PartitionKey: "c924bc09-b85e-47f1-b32e-336522ee53c8", ExplicitHashKey: "339606600942967391854603552402021847292", Data: []byte("RECORD 25 nvffvpmuogdopjhamevrk\n")},
		},
		length: 495,
		md5:    "51c153d0de0a34ca9e18ea4bccd2add5",
	},
}

func TestPublicVectors(t *testing.T) {
	for _, v := range publicVectors {
		t.Run(v.source, func(t *testing.T) {
			enc := encodeAll(t, v.records)
			if len(enc) != v.length {
				t.Fatalf("length = %d, want %d", len(enc), v.length)
			}
			if got := hex.EncodeToString(enc[len(enc)-16:]); got != v.md5 {
				t.Fatalf("MD5 trailer = %s, want %s", got, v.md5)
			}
			if ref := refEncode(v.records); !bytes.Equal(ref, enc) {
				t.Fatalf("Encoder and reference encoder disagree")
			}
			got, err := Decode(enc)
			if err != nil || !recordsEqual(got, v.records) {
				t.Fatalf("Decode = %+v, %v", got, err)
			}
		})
	}
}

func TestEncoderMatchesReference(t *testing.T) {
	// Many shapes: repeated and new keys, with and without EHKs, varied sizes
	// that cross varint length boundaries (127/128, 16383/16384).
	sizes := []int{0, 1, 126, 127, 128, 300, 16383, 16384}
	var recs []Record
	for i := range 40 {
		r := Record{PartitionKey: fmt.Sprintf("key-%d", i%7), Data: bytes.Repeat([]byte{byte(i)}, sizes[i%len(sizes)])}
		if i%3 == 0 {
			r.ExplicitHashKey = fmt.Sprint(uint64(i%5) * 1e18)
		}
		recs = append(recs, r)
		var e Encoder
		for _, x := range recs {
			if err := e.Add(x); err != nil {
				t.Fatal(err)
			}
		}
		got, want := e.Bytes(), refEncode(recs)
		if !bytes.Equal(got, want) {
			t.Fatalf("after %d records: Encoder and reference differ", len(recs))
		}
		if e.Size() != len(got) {
			t.Fatalf("Size = %d, len = %d", e.Size(), len(got))
		}
	}
}
