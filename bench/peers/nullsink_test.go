package peers

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	kv1 "github.com/aws/aws-sdk-go/service/kinesis"
	"github.com/shoal-go/shoal/aggregate"
	"github.com/shoal-go/shoal/kpl"
)

// nullSink accepts every record without serialising anything, so a
// benchmark against it measures the producers alone. Both producers' sinks
// do the same per-entry work: count the user records (aggregate.Count).
type nullSink struct {
	shards  int
	written atomic.Int64
	entries atomic.Int64
}

// shardOf returns the id of the sink's shard holding the record's hash key,
// as ListShards describes them.
func (s *nullSink) shardOf(pk, ehk *string) *string {
	h := aggregate.HashKey(aws.ToString(pk))
	if ehk != nil {
		h, _ = aggregate.ParseHash128(*ehk)
	}
	i := min(int(h.Hi/(^uint64(0)/uint64(s.shards))), s.shards-1)
	return aws.String("shardId-" + strconv.Itoa(i))
}

func (s *nullSink) count(data []byte) {
	n, err := aggregate.Count(data)
	if err != nil {
		n = 1
	}
	s.written.Add(int64(n))
	s.entries.Add(1)
}

func (s *nullSink) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(in.Records)), FailedRecordCount: aws.Int32(0)}
	for i, r := range in.Records {
		s.count(r.Data)
		out.Records[i] = types.PutRecordsResultEntry{ShardId: s.shardOf(r.PartitionKey, r.ExplicitHashKey), SequenceNumber: aws.String("1")}
	}
	return out, nil
}

func (s *nullSink) PutRecordsV1(in *kv1.PutRecordsInput) (*kv1.PutRecordsOutput, error) {
	out := &kv1.PutRecordsOutput{Records: make([]*kv1.PutRecordsResultEntry, len(in.Records)), FailedRecordCount: aws.Int64(0)}
	for i, r := range in.Records {
		s.count(r.Data)
		out.Records[i] = &kv1.PutRecordsResultEntry{ShardId: s.shardOf(r.PartitionKey, r.ExplicitHashKey), SequenceNumber: aws.String("1")}
	}
	return out, nil
}

func (s *nullSink) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	var out kinesis.ListShardsOutput
	// Equal ranges: shard i covers [i*2^128/n, (i+1)*2^128/n - 1].
	for i := range s.shards {
		start := aggregate.Hash128{Hi: uint64(i) * (^uint64(0) / uint64(s.shards))}
		end := aggregate.Hash128{Hi: uint64(i+1)*(^uint64(0)/uint64(s.shards)) - 1, Lo: ^uint64(0)}
		if i == s.shards-1 {
			end = aggregate.MaxHash128
		}
		out.Shards = append(out.Shards, types.Shard{ShardId: aws.String("shardId-" + strconv.Itoa(i)),
			HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String(start.String()), EndingHashKey: aws.String(end.String())},
			SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("0")}})
	}
	return &out, nil
}

func (s *nullSink) DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{}}, nil
}

type v1Sink struct{ *nullSink }

func (s v1Sink) PutRecords(in *kv1.PutRecordsInput) (*kv1.PutRecordsOutput, error) {
	return s.PutRecordsV1(in)
}

// BenchmarkProducersNullSink is BenchmarkProducers with a sink that does no
// serialisation and no I/O: it isolates each producer's own CPU cost per
// record (batching, aggregation, bookkeeping), plus the sink's count of the
// user records in each entry, which is the same for both (it parses each
// aggregate and checks its MD5). Compare shoal/aggregation=true with a8m,
// which always aggregates; records/entry shows both pack ~450 records into
// each Kinesis record. shoal/aggregation=false is shown for scale only.
func BenchmarkProducersNullSink(b *testing.B) {
	warmUp(b)
	data := make([]byte, 100)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("key-", i)
	}
	report := func(b *testing.B, start time.Time, cpu0 time.Duration, n int64) {
		wall, cpu := time.Since(start), cpuTime()-cpu0
		if n != int64(b.N) {
			b.Fatalf("%d records written, %d put", n, b.N)
		}
		b.ReportMetric(float64(n)/wall.Seconds(), "records/s")
		b.ReportMetric(float64(n)/cpu.Seconds(), "records/cpu-s")
	}
	for _, tc := range []struct {
		agg, callback bool
	}{{true, false}, {true, true}, {false, false}} {
		name := fmt.Sprintf("shoal/aggregation=%v", tc.agg)
		if tc.callback {
			name += ",callback"
		}
		b.Run(name, func(b *testing.B) {
			sink := &nullSink{shards: shards}
			ctx := context.Background()
			p, err := kpl.New(kpl.Config{Client: sink, StreamName: "s", DisableAggregation: !tc.agg, DisableRateLimit: true})
			if err != nil {
				b.Fatal(err)
			}
			// With callback, every record gets a callback that counts
			// successes (a8m has no success callback).
			var ok atomic.Int64
			var cb kpl.Callback
			if tc.callback {
				cb = func(_ kpl.Result, err error) {
					if err == nil {
						ok.Add(1)
					}
				}
			}
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			for i := range b.N {
				if err := p.Put(ctx, kpl.Record{PartitionKey: keys[i%len(keys)], Data: data}, cb); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
			report(b, start, cpu0, sink.written.Load())
			b.ReportMetric(float64(sink.written.Load())/float64(sink.entries.Load()), "records/entry")
			if tc.callback && ok.Load() != int64(b.N) {
				b.Fatalf("%d successful callbacks, %d records", ok.Load(), b.N)
			}
		})
	}
	b.Run("a8m/aggregation=true", func(b *testing.B) {
		sink := &nullSink{shards: shards}
		p := newA8mWith(v1Sink{sink})
		b.ResetTimer()
		start, cpu0 := time.Now(), cpuTime()
		for i := range b.N {
			if err := p.Put(data, keys[i%len(keys)]); err != nil {
				b.Fatal(err)
			}
		}
		p.Stop()
		report(b, start, cpu0, sink.written.Load())
		b.ReportMetric(float64(sink.written.Load())/float64(sink.entries.Load()), "records/entry")
	})
}
