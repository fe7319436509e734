package kpl

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-go/shoal/kinesislocal"
)

// shardLimitRun pushes records into a one-shard stream with AWS's limits on,
// faster than the shard takes them, for d; it returns a conservative
// sustained write rate, (written - the shard's one-second burst) / elapsed,
// and the producer's final stats. Every record must succeed.
func shardLimitRun(t testing.TB, agg bool, size int, d time.Duration) (recsPerSec, bytesPerSec float64, st Stats) {
	c := newLocal(t, kinesislocal.Options{Limits: &kinesislocal.Limits{}}, 1)
	p, err := New(Config{Client: c, StreamName: "s", DisableAggregation: !agg, MaxBufferedBytes: 2 << 20, MaxBufferedRecords: 4000})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var failed atomic.Int64
	var failure atomic.Value
	cb := func(_ Result, err error) {
		if err != nil {
			failed.Add(1)
			failure.Store(err)
		}
	}
	data := make([]byte, size)
	start := time.Now()
	put := 0
	for i := 0; time.Since(start) < d; i++ {
		if err := p.Put(ctx, Record{PartitionKey: fmt.Sprint("k", i%1000), Data: data}, cb); err != nil {
			t.Fatal(err)
		}
		put++
	}
	s2, t2 := p.Stats(), time.Now()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st = p.Stats()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d records failed, e.g. %v", n, put, failure.Load())
	}
	if st.UserRecordsPut != int64(put) {
		t.Fatalf("%d records written, %d put", st.UserRecordsPut, put)
	}
	secs := t2.Sub(start).Seconds()
	perRec := float64(s2.KinesisBytesPut) / float64(s2.KinesisRecordsPut)
	// The shard's initial one-second burst, in records and bytes, whichever
	// limit binds first.
	burstRecs := min(1000, float64(1<<20)/perRec)
	return (float64(s2.KinesisRecordsPut) - burstRecs) / secs, (float64(s2.KinesisBytesPut) - burstRecs*perRec) / secs, st
}

// TestShardLimits: a producer pushing more than a shard can take, against
// kinesislocal with AWS's per-shard limits, loses nothing and is not
// throttled into a retry storm. The achieved fraction of the shard limit is
// logged (not asserted: timing on a shared machine can vary); see
// BenchmarkShardLimit for the measurement.
func TestShardLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("TestShardLimits runs 2 x 4 s; skipped in -short mode")
	}
	for _, tc := range []struct {
		name string
		agg  bool
		size int
	}{
		{"aggregated 1KiB (bytes-bound)", true, 1000},
		{"raw 100B (records-bound)", false, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rps, bps, st := shardLimitRun(t, tc.agg, tc.size, 4*time.Second)
			t.Logf("sustained: %.0f records/s (%.1f%% of 1000), %.0f bytes/s (%.1f%% of 1 MiB); throttles %d, retries %d, entries %d",
				rps, rps/10, bps, bps/float64(1<<20)*100, st.Throttles, st.Retries, st.KinesisRecordsPut)
			if st.Throttles*20 > st.KinesisRecordsPut {
				t.Errorf("%d throttles for %d entries: a retry storm", st.Throttles, st.KinesisRecordsPut)
			}
		})
	}
}
