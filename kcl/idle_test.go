package kcl_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease/memlease"
)

// idleFigures is what measureIdle reports for one polling configuration.
type idleFigures struct {
	callsPerShardSec float64       // GetRecords calls per idle shard per second
	p50, max         time.Duration // delivery latency of a record put to an idle shard
}

// measureIdle runs one consumer over 4 idle shards in fake time (synctest), counts GetRecords
// calls per shard through kinesislocal's per-request hook over one idle minute, then puts 40
// records one at a time, each after 5-10 s of quiet, and measures when the processor gets each.
func measureIdle(t *testing.T, r kcl.Polling) idleFigures {
	t.Helper()
	var f idleFigures
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		calls := map[string]int{}
		counting := false
		srv, err := kinesislocal.New(kinesislocal.Options{Intercept: func(req kinesislocal.Request) kinesislocal.Injection {
			if req.Operation == "GetRecords" {
				mu.Lock()
				if counting {
					calls[req.ShardID]++
				}
				mu.Unlock()
			}
			return kinesislocal.Injection{}
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		kc := kinesis.NewFromConfig(srv.AWSConfig())
		stream := "idle"
		const shards = 4
		if _, err := kc.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(shards)}); err != nil {
			t.Fatal(err)
		}
		got := make(chan int, 64)
		c, err := kcl.New(kcl.Config{StreamName: stream, Kinesis: kc, Leases: memlease.New(), WorkerID: "w",
			InitialPosition: kcl.TrimHorizon, Retrieval: r, Logger: slog.New(slog.DiscardHandler)},
			kcl.BatchProcessor(func(ctx context.Context, b kcl.Batch) error {
				for _, rec := range b.Records {
					n, _ := strconv.Atoi(string(rec.Data))
					got <- n
				}
				return nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		waitFor(t, "every shard held", time.Minute, func() bool { return c.Stats().Leases.Held == shards })
		time.Sleep(10 * time.Second) // every reader has reached its idle pace
		mu.Lock()
		counting = true
		mu.Unlock()
		const window = time.Minute
		time.Sleep(window)
		mu.Lock()
		counting = false
		total := 0
		for _, n := range calls {
			total += n
		}
		mu.Unlock()
		if len(calls) != shards {
			t.Fatalf("GetRecords seen on %d shards, want %d: %v", len(calls), shards, calls)
		}
		f.callsPerShardSec = float64(total) / shards / window.Seconds()

		var lat []time.Duration
		for i := range 40 {
			// Quiet for 5-10 s (steps of 97 ms, so arrivals fall at every phase of the poll cycle).
			time.Sleep(5*time.Second + time.Duration(i*97%5000)*time.Millisecond)
			sent := time.Now()
			if _, err := kc.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: &stream,
				PartitionKey: aws.String(fmt.Sprintf("k%d", i)), Data: []byte(strconv.Itoa(i))}); err != nil {
				t.Fatal(err)
			}
			select {
			case n := <-got:
				if n != i {
					t.Fatalf("got record %d, want %d", n, i)
				}
			case <-time.After(time.Minute):
				t.Fatalf("record %d not delivered within a minute", i)
			}
			lat = append(lat, time.Since(sent))
		}
		slices.Sort(lat)
		f.p50, f.max = lat[len(lat)/2], lat[len(lat)-1]
		cancel()
		<-done
	})
	return f
}

// TestIdlePolling measures, in one run, GetRecords calls per idle shard per second and the
// delivery latency of a record arriving at an idle shard, with the fixed 250ms polling used
// before adaptive polling (IdleInterval = Interval) and with the defaults. The defaults must
// stay within about one call per second per idle shard and deliver within IdleInterval.
func TestIdlePolling(t *testing.T) {
	fixed := measureIdle(t, kcl.Polling{IdleInterval: kcl.DefaultPollingInterval})
	adaptive := measureIdle(t, kcl.Polling{})
	t.Logf("fixed 250ms:      %.2f GetRecords/s per idle shard, delivery p50 %v max %v", fixed.callsPerShardSec, fixed.p50, fixed.max)
	t.Logf("adaptive default: %.2f GetRecords/s per idle shard, delivery p50 %v max %v", adaptive.callsPerShardSec, adaptive.p50, adaptive.max)
	if fixed.callsPerShardSec < 3.5 {
		t.Errorf("fixed 250ms polling made %.2f calls/s per shard, want about 4: the count is wrong", fixed.callsPerShardSec)
	}
	if adaptive.callsPerShardSec > 1.05 {
		t.Errorf("adaptive polling made %.2f calls/s per idle shard, want at most about 1", adaptive.callsPerShardSec)
	}
	if adaptive.max > kcl.DefaultPollingIdle {
		t.Errorf("a record at an idle shard waited %v, want at most IdleInterval %v", adaptive.max, kcl.DefaultPollingIdle)
	}
}
