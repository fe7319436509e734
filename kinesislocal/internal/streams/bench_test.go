package streams_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/kinesislocal/internal/streams"
)

// putRecordsBody builds a PutRecords body of n records of size bytes with distinct keys.
func putRecordsBody(stream string, n, size, round int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"StreamName":%q,"Records":[`, stream)
	data := base64.StdEncoding.EncodeToString(make([]byte, size))
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"PartitionKey":"pk-%d-%d","Data":%q}`, round, i, data)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func newEngine(tb testing.TB, stream string, shards int) *streams.Engine {
	tb.Helper()
	e, err := streams.New(streams.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	if _, err := e.Handle(context.Background(), "CreateStream", []byte(fmt.Sprintf(`{"StreamName":%q,"ShardCount":%d}`, stream, shards))); err != nil {
		tb.Fatal(err)
	}
	return e
}

func entries(n, size, round int) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, n)
	for i := range out {
		out[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("pk-%d-%d", round, i)), Data: make([]byte, size)}
	}
	return out
}

// BenchmarkPutRecords500 writes batches of 500 100-byte records to a 4-shard stream.
func BenchmarkPutRecords500(b *testing.B) {
	b.Run("Handle", func(b *testing.B) {
		e := newEngine(b, "bench", 4)
		bodies := make([][]byte, 16)
		for i := range bodies {
			bodies[i] = putRecordsBody("bench", 500, 100, i)
		}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := e.Handle(ctx, "PutRecords", bodies[i%len(bodies)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("HandleDurable", func(b *testing.B) {
		// With a data directory: every call is framed, checksummed, written and fsynced (group
		// commit across the parallel callers).
		e, err := streams.New(streams.Options{DataDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		ctx := context.Background()
		if _, err := e.Handle(ctx, "CreateStream", []byte(`{"StreamName":"bench","ShardCount":4}`)); err != nil {
			b.Fatal(err)
		}
		bodies := make([][]byte, 16)
		for i := range bodies {
			bodies[i] = putRecordsBody("bench", 500, 100, i)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := e.Handle(ctx, "PutRecords", bodies[i%len(bodies)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("SDK", func(b *testing.B) {
		c, _ := newClient(b, kinesislocal.Options{})
		createStream(b, c, "bench", 4)
		batches := make([][]types.PutRecordsRequestEntry, 16)
		for i := range batches {
			batches[i] = entries(500, 100, i)
		}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("bench"), Records: batches[i%len(batches)]})
				if err != nil || *out.FailedRecordCount != 0 {
					b.Error(err)
					return
				}
				i++
			}
		})
		b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkGetRecords10000 reads 10000 100-byte records per call.
func BenchmarkGetRecords10000(b *testing.B) {
	fill := func(put func(body []byte)) {
		for i := 0; i < 20; i++ {
			put(putRecordsBody("bench", 500, 100, i))
		}
	}
	b.Run("Handle", func(b *testing.B) {
		e := newEngine(b, "bench", 1)
		ctx := context.Background()
		fill(func(body []byte) {
			if _, err := e.Handle(ctx, "PutRecords", body); err != nil {
				b.Fatal(err)
			}
		})
		out, err := e.Handle(ctx, "GetShardIterator", []byte(`{"StreamName":"bench","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}`))
		if err != nil {
			b.Fatal(err)
		}
		var it struct{ ShardIterator string }
		json.Unmarshal(out, &it)
		body := []byte(fmt.Sprintf(`{"ShardIterator":%q}`, it.ShardIterator))
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				out, err := e.Handle(ctx, "GetRecords", body)
				if err != nil || len(out) < 10000*100 {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)*10000/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("HandleDurable", func(b *testing.B) {
		// With a data directory: every call is framed, checksummed, written and fsynced (group
		// commit across the parallel callers).
		e, err := streams.New(streams.Options{DataDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		ctx := context.Background()
		if _, err := e.Handle(ctx, "CreateStream", []byte(`{"StreamName":"bench","ShardCount":4}`)); err != nil {
			b.Fatal(err)
		}
		bodies := make([][]byte, 16)
		for i := range bodies {
			bodies[i] = putRecordsBody("bench", 500, 100, i)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := e.Handle(ctx, "PutRecords", bodies[i%len(bodies)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("SDK", func(b *testing.B) {
		c, _ := newClient(b, kinesislocal.Options{})
		createStream(b, c, "bench", 1)
		ctx := context.Background()
		for i := 0; i < 20; i++ {
			if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("bench"), Records: entries(500, 100, i)}); err != nil {
				b.Fatal(err)
			}
		}
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("bench"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
				if err != nil || len(out.Records) != 10000 {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)*10000/b.Elapsed().Seconds(), "records/s")
	})
}

// TestMemoryPerStoredRecord stores 200k 100-byte records and reports the heap growth per record.
func TestMemoryPerStoredRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 200k-record memory measurement")
	}
	e := newEngine(t, "mem", 4)
	ctx := context.Background()
	bodies := make([][]byte, 4)
	for i := range bodies {
		bodies[i] = putRecordsBody("mem", 500, 100, i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 200_000
	for i := 0; i < n/500; i++ {
		if _, err := e.Handle(ctx, "PutRecords", bodies[i%len(bodies)]); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f bytes of heap per stored 100-byte record (key ~10 bytes)", per)
	if per > 300 {
		t.Fatalf("%.0f bytes per stored record, want < 300", per)
	}
	runtime.KeepAlive(e)
}
