package aggregate

import (
	"fmt"
	"sort"
	"testing"
)

// benchRecords returns n records of size bytes each spread over keys
// distinct partition keys.
func benchRecords(n, size, keys int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte('a' + (i+j)%26)
		}
		recs[i] = Record{PartitionKey: fmt.Sprintf("partition-key-%04d", i%keys), Data: data}
	}
	return recs
}

// BenchmarkEncode: 100 records x 100 B, 10 distinct keys, into a reused
// Encoder and buffer. MB/s counts aggregate bytes.
func BenchmarkEncode(b *testing.B) {
	recs := benchRecords(100, 100, 10)
	var e Encoder
	buf := make([]byte, 0, 16<<10)
	for _, r := range recs {
		_ = e.Add(r)
	}
	b.SetBytes(int64(e.Size()))
	b.ReportAllocs()
	for b.Loop() {
		e.Reset()
		for _, r := range recs {
			if err := e.Add(r); err != nil {
				b.Fatal(err)
			}
		}
		buf = e.AppendTo(buf[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}

func benchDecodeInput(b *testing.B) []byte {
	var e Encoder
	for _, r := range benchRecords(100, 100, 10) {
		if err := e.Add(r); err != nil {
			b.Fatal(err)
		}
	}
	return e.Bytes()
}

// BenchmarkDecode: the callback form over the same aggregate.
func BenchmarkDecode(b *testing.B) {
	data := benchDecodeInput(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var total int
	for b.Loop() {
		err := DecodeFunc(data, func(_ int, r Record) error {
			total += len(r.Data) + len(r.PartitionKey)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/record")
}

// BenchmarkDeaggregate: the consumer path, with and without the hash range
// filter, appending into a reused slice.
func BenchmarkDeaggregate(b *testing.B) {
	data := benchDecodeInput(b)
	for _, bc := range []struct {
		name string
		keep *HashRange
	}{{"nofilter", nil}, {"filter", &HashRange{End: Hash128{Hi: 1 << 63}}}} {
		b.Run(bc.name, func(b *testing.B) {
			dst := make([]UserRecord, 0, 100)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = Deaggregate(dst[:0], "a", data, bc.keep)
			}
		})
	}
}

// BenchmarkHashKey: MD5 of a partition key plus routing to one of 64 shards
// by binary search over their sorted hash ranges, as a producer predicts a
// shard for each record.
func BenchmarkHashKey(b *testing.B) {
	const shards = 64
	ends := make([]Hash128, shards) // ending hash key of each shard
	step := MaxHash128.Hi / shards
	for i := range ends {
		ends[i] = Hash128{Hi: step*uint64(i+1) - 1, Lo: ^uint64(0)}
	}
	ends[shards-1] = MaxHash128
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%08d", i)
	}
	b.ReportAllocs()
	var hits [shards]int
	i := 0
	for b.Loop() {
		h := HashKey(keys[i%len(keys)])
		s := sort.Search(shards, func(j int) bool { return !ends[j].Less(h) })
		hits[s]++
		i++
	}
}

// BenchmarkParseHash128 and BenchmarkFormatHash128 measure the decimal
// conversions used for explicit hash keys and shard ranges.
func BenchmarkParseHash128(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHash128("170141183460469231731687303715884105727"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormatHash128(b *testing.B) {
	h := HashKey("some key")
	buf := make([]byte, 0, 40)
	b.ReportAllocs()
	for b.Loop() {
		buf = h.AppendDecimal(buf[:0])
	}
}
