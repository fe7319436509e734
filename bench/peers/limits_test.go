package peers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/kpl"
)

// newLimitedStream is newStream with AWS's per-shard limits on.
func newLimitedStream(tb testing.TB) *kinesis.Client {
	tb.Helper()
	srv, err := kinesislocal.New(kinesislocal.Options{Limits: &kinesislocal.Limits{}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	c := kinesis.NewFromConfig(srv.AWSConfig())
	if _, err := c.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(shards)}); err != nil {
		tb.Fatal(err)
	}
	return c
}

// BenchmarkProducersAtShardLimits pushes 100-byte records over 1000 keys as
// fast as each producer accepts them, for 4 s, into a 4-shard stream with
// AWS's limits on (4 MiB/s, 4000 records/s in all), then stops the producer.
// It reports user records written per second of the whole run (the stop's
// drain included) and the entries Kinesis throttled. Use -benchtime 1x.
func BenchmarkProducersAtShardLimits(b *testing.B) {
	const d = 4 * time.Second
	data := make([]byte, 100)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("key-", i)
	}
	b.Run("shoal", func(b *testing.B) {
		for range b.N {
			c := newLimitedStream(b)
			ctx := context.Background()
			p, err := kpl.New(kpl.Config{Client: c, StreamName: "s", MaxBufferedBytes: 4 << 20})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			put := 0
			for ; time.Since(start) < d; put++ {
				if err := p.Put(ctx, kpl.Record{PartitionKey: keys[put%len(keys)], Data: data}, nil); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
			st := p.Stats()
			if st.UserRecordsPut != int64(put) || st.Failed != 0 {
				b.Fatalf("put %d, written %d, failed %d", put, st.UserRecordsPut, st.Failed)
			}
			b.ReportMetric(float64(st.UserRecordsPut)/time.Since(start).Seconds(), "records/s")
			b.ReportMetric(float64(st.Throttles), "throttled-entries")
		}
	})
	b.Run("a8m", func(b *testing.B) {
		for range b.N {
			c := newLimitedStream(b)
			p, put := newA8m(c)
			start := time.Now()
			n := 0
			for ; time.Since(start) < d; n++ {
				if err := p.Put(data, keys[n%len(keys)]); err != nil {
					b.Fatal(err)
				}
			}
			p.Stop()
			if w := put.Written.Load(); w != int64(n) {
				b.Logf("a8m: put %d, written %d", n, w)
			}
			b.ReportMetric(float64(put.Written.Load())/time.Since(start).Seconds(), "records/s")
			b.ReportMetric(float64(put.Failed.Load()), "throttled-entries")
		}
	})
}
