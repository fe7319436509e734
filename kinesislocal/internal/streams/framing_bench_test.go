package streams

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/shoal-go/shoal/kinesislocal/internal/wal"
)

// BenchmarkPutRecords500Framing: durable PutRecords of 500 100-byte records to a 4-shard stream
// from 4 callers (group commit), with the log's version-2 framing, the version-1 framing it
// replaced, and no checksums at all, in one run.
func BenchmarkPutRecords500Framing(b *testing.B) {
	bodies := make([][]byte, 16)
	data := base64.StdEncoding.EncodeToString(make([]byte, 100))
	for i := range bodies {
		var s strings.Builder
		s.WriteString(`{"StreamName":"bench","Records":[`)
		for j := range 500 {
			if j > 0 {
				s.WriteByte(',')
			}
			fmt.Fprintf(&s, `{"PartitionKey":"pk-%d-%d","Data":%q}`, i, j, data)
		}
		s.WriteString("]}")
		bodies[i] = []byte(s.String())
	}
	for _, f := range []struct {
		name    string
		framing wal.Framing
	}{{"v2", wal.FramingV2}, {"v1", wal.FramingV1}, {"nochecksum", wal.FramingNoChecksum}} {
		b.Run(f.name, func(b *testing.B) {
			e, err := New(Options{DataDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer e.wal.abandon()
			e.wal.SetFraming(f.framing)
			ctx := context.Background()
			if _, err := e.Handle(ctx, "CreateStream", []byte(`{"StreamName":"bench","ShardCount":4}`)); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(2) // 4 callers on 2 CPUs
			cpu0 := cpuTime()
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
			// CPU time of this process per call: less disturbed than wall time by other
			// processes on a shared machine.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
