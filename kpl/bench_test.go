package kpl

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-go/shoal/kinesislocal"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPut puts b.N 100-byte records over 1000 keys into a 4-shard
// stream of an in-process kinesislocal without limits, the rate limiter off,
// and reports records/s and records per CPU-second of the whole process
// (producer, SDK and server).
//
//	go test -run - -bench Put -benchtime 200000x ./kpl
func BenchmarkPut(b *testing.B) {
	data := make([]byte, 100)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("key-", i)
	}
	for _, agg := range []bool{true, false} {
		b.Run(fmt.Sprintf("aggregation=%v", agg), func(b *testing.B) {
			c := newLocal(b, kinesislocal.Options{}, 4)
			ctx := context.Background()
			p, err := New(Config{Client: c, StreamName: "s", DisableAggregation: !agg, DisableRateLimit: true})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			for i := range b.N {
				if err := p.Put(ctx, Record{PartitionKey: keys[i%len(keys)], Data: data}, nil); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
			wall, cpu := time.Since(start), cpuTime()-cpu0
			st := p.Stats()
			if st.UserRecordsPut != int64(b.N) {
				b.Fatalf("%d written, %d put", st.UserRecordsPut, b.N)
			}
			b.ReportMetric(float64(b.N)/wall.Seconds(), "records/s")
			b.ReportMetric(float64(b.N)/cpu.Seconds(), "records/cpu-s")
			b.ReportMetric(st.AggregationRatio, "records/entry")
		})
	}
}

// BenchmarkShardLimit reports the sustained fraction of a shard's limits a
// producer pushing faster than the shard reaches against kinesislocal with
// AWS's limits on (each iteration runs 4 s; use -benchtime 1x).
func BenchmarkShardLimit(b *testing.B) {
	for _, tc := range []struct {
		name string
		agg  bool
		size int
	}{{"aggregated-1KiB", true, 1000}, {"raw-100B", false, 100}} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				rps, bps, st := shardLimitRun(b, tc.agg, tc.size, 4*time.Second)
				if tc.agg {
					b.ReportMetric(bps/float64(1<<20)*100, "%-of-1MiB/s")
				} else {
					b.ReportMetric(rps/10, "%-of-1000rec/s")
				}
				b.ReportMetric(float64(st.Throttles), "throttles")
			}
		})
	}
}
