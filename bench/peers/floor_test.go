package peers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shoal-go/shoal/aggregate"
)

// BenchmarkPutRecordsFloor measures what BenchmarkProducers spends outside
// the producers: one aggregate of the benchmark's records (100 bytes over
// 1000 keys, ~450 per 50 KiB aggregate) is built once, and requests of
// `entries` copies of it are sent through the same SDK client to the same
// in-process kinesislocal. Its records/cpu-s (the SDK and the server alone,
// GC included) bounds any producer's records/cpu-s in BenchmarkProducers.
func BenchmarkPutRecordsFloor(b *testing.B) {
	warmUp(b)
	data := make([]byte, 100)
	var enc aggregate.Encoder
	for i := 0; ; i++ {
		r := aggregate.Record{PartitionKey: fmt.Sprint("key-", i%1000), Data: data}
		if enc.SizeWith(r)+len(aggregate.OuterPartitionKey) > 50<<10 {
			break
		}
		if err := enc.Add(r); err != nil {
			b.Fatal(err)
		}
	}
	per := enc.Len()
	agg, err := enc.Outer(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, entries := range []int{50, 100} {
		b.Run(fmt.Sprint("entries=", entries), func(b *testing.B) {
			c := newStream(b)
			in := &kinesis.PutRecordsInput{StreamName: aws.String("s")}
			for range entries {
				in.Records = append(in.Records, types.PutRecordsRequestEntry{PartitionKey: aws.String(agg.PartitionKey),
					ExplicitHashKey: aws.String(agg.ExplicitHashKey), Data: agg.Data})
			}
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			n := 0
			for n < b.N {
				if _, err := c.PutRecords(context.Background(), in); err != nil {
					b.Fatal(err)
				}
				n += per * entries
			}
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
			b.ReportMetric(float64(n)/cpu.Seconds(), "records/cpu-s")
			b.ReportMetric(float64(per), "records/entry")
		})
	}
}
