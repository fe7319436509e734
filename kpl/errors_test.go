package kpl

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shoal-go/shoal/kinesislocal"
)

func TestInvalidRecords(t *testing.T) {
	c := newLocal(t, kinesislocal.Options{}, 1)
	p, err := New(Config{Client: c, StreamName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	tests := []struct {
		name string
		r    Record
		ok   bool
	}{
		{"empty key", Record{PartitionKey: "", Data: []byte("x")}, false},
		{"257 chars", Record{PartitionKey: strings.Repeat("k", 257)}, false},
		{"256 chars", Record{PartitionKey: strings.Repeat("k", 256)}, true},
		{"256 multibyte chars", Record{PartitionKey: strings.Repeat("é", 256)}, true},
		{"257 multibyte chars", Record{PartitionKey: strings.Repeat("é", 257)}, false},
		{"invalid utf8", Record{PartitionKey: "\xff"}, false},
		{"1 MiB with key", Record{PartitionKey: "k", Data: make([]byte, 1<<20-1)}, true},
		{"1 MiB + 1 with key", Record{PartitionKey: "k", Data: make([]byte, 1<<20)}, false},
		{"ehk letters", Record{PartitionKey: "k", ExplicitHashKey: "abc"}, false},
		{"ehk negative", Record{PartitionKey: "k", ExplicitHashKey: "-1"}, false},
		{"ehk leading zero", Record{PartitionKey: "k", ExplicitHashKey: "01"}, false},
		{"ehk 2^128", Record{PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211456"}, false},
		{"ehk 2^128-1", Record{PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211455"}, true},
		{"ehk 0", Record{PartitionKey: "k", ExplicitHashKey: "0"}, true},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := make(chan error, 1)
			err := p.Put(ctx, tt.r, func(_ Result, err error) { called <- err })
			if tt.ok {
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if err := <-called; err != nil {
					t.Fatalf("callback: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("Put = %v, want ErrInvalidRecord", err)
			}
			select {
			case err := <-called:
				t.Fatalf("callback called for a rejected record: %v", err)
			case <-time.After(20 * time.Millisecond):
			}
		})
	}
	// PutSync reports each bad record with its index, and writes the good ones.
	res, err := p.PutSync(ctx, Record{PartitionKey: "good", Data: []byte("1")}, Record{PartitionKey: ""}, Record{PartitionKey: "good", Data: []byte("2")})
	var re *RecordError
	if !errors.As(err, &re) || re.Index != 1 || !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("PutSync error %v, want a RecordError for index 1", err)
	}
	if res[0].SequenceNumber == "" || res[2].SequenceNumber == "" || res[1].SequenceNumber != "" {
		t.Fatalf("PutSync results %+v", res)
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := New(Config{MaxInFlight: -1, AggregationMaxSize: 2 << 20, Compression: 9})
	if err == nil {
		t.Fatal("New accepted an invalid Config")
	}
	for _, want := range []string{"Client is nil", "StreamName", "MaxInFlight", "AggregationMaxSize", "Compression"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// TestDeletedStream: records for a deleted stream fail at once with
// ResourceNotFoundException, not after the TTL.
func TestDeletedStream(t *testing.T) {
	c := newLocal(t, kinesislocal.Options{}, 2)
	ctx := context.Background()
	p, err := New(Config{Client: c, StreamName: "s", Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PutSync(ctx, Record{PartitionKey: "k", Data: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.PutSync(ctx, Record{PartitionKey: "k", Data: []byte("after")}, Record{PartitionKey: "j", Data: []byte("after")})
	var pe *PutError
	if !errors.As(err, &pe) || pe.Code != "ResourceNotFoundException" {
		t.Fatalf("PutSync after delete: %v, want ResourceNotFoundException", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failure took %v", d)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Failed != 2 || st.UserRecordsPut != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestCloseWithRecordsInFlight: Close's ctx ends while requests are slow;
// every record gets an error wrapping ErrClosed, none is dropped silently,
// and Put after Close returns ErrClosed.
func TestCloseWithRecordsInFlight(t *testing.T) {
	c := newLocal(t, kinesislocal.Options{Faults: []kinesislocal.Fault{{Operation: "PutRecords", Latency: 5 * time.Second}}}, 2)
	p, err := New(Config{Client: c, StreamName: "s", Linger: time.Millisecond, MaxInFlight: 2, BatchMaxRecords: 10})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	var mu sync.Mutex
	var errs []error
	ctx := context.Background()
	for i := range n {
		if err := p.Put(ctx, Record{PartitionKey: key(i), Data: []byte("x")}, func(_ Result, err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond) // let two requests start
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Close(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v after its deadline", d)
	}
	if len(errs) != n {
		t.Fatalf("%d callbacks, want %d", len(errs), n)
	}
	for _, err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("record error %v, want ErrClosed", err)
		}
	}
	if err := p.Put(ctx, Record{PartitionKey: "k"}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close = %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

// TestRetriesPerEntryFailures: a third of the entries fail with
// InternalFailure or throttling; every record is still written exactly once.
func TestRetriesPerEntryFailures(t *testing.T) {
	c := newLocal(t, kinesislocal.Options{}, 3)
	var rmu sync.Mutex
	rnd := rand.New(rand.NewPCG(1, 2))
	f := &flaky{Client: c, failEntry: func(call, i int, _ types.PutRecordsRequestEntry) string {
		if call < 2 {
			return [2]string{"InternalFailure", "ProvisionedThroughputExceededException"}[i%2]
		}
		rmu.Lock()
		defer rmu.Unlock()
		switch rnd.IntN(6) {
		case 0:
			return "InternalFailure"
		case 1:
			return "ProvisionedThroughputExceededException"
		}
		return ""
	}}
	p, err := New(Config{Client: f, StreamName: "s", Linger: 5 * time.Millisecond, AggregationMaxSize: 1024, RetryBackoff: 5 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	recs := make([]Record, 2000)
	for i := range recs {
		recs[i] = Record{PartitionKey: key(i % 300), Data: []byte(key(i))}
	}
	if _, err := p.PutSync(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	p.Close(ctx)
	st := p.Stats()
	if st.Retries == 0 || st.Throttles == 0 {
		t.Errorf("no retries or throttles counted: %+v", st)
	}
	seen := map[string]int{}
	for _, s := range readBack(t, c, "s") {
		seen[string(s.Data)]++
	}
	for i := range recs {
		if seen[key(i)] != 1 {
			t.Fatalf("record %d read %d times", i, seen[key(i)])
		}
	}
	t.Logf("stats %+v", st)
}

// TestTTL: a shard that always throttles makes records fail with ErrExpired
// (wrapping the throttling error) after RecordTTL, with bounded retries.
func TestTTL(t *testing.T) {
	c := newLocal(t, kinesislocal.Options{}, 1)
	f := &flaky{Client: c, failEntry: func(_, _ int, _ types.PutRecordsRequestEntry) string { return "ProvisionedThroughputExceededException" }}
	p, err := New(Config{Client: f, StreamName: "s", Linger: time.Millisecond, RecordTTL: 500 * time.Millisecond,
		RetryBackoff: 20 * time.Millisecond, MaxRetryBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	_, err = p.PutSync(ctx, Record{PartitionKey: "a", Data: []byte("1")}, Record{PartitionKey: "b", Data: []byte("2")})
	if !errors.Is(err, ErrExpired) || !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v, want ErrExpired wrapping ErrThrottled", err)
	}
	if d := time.Since(start); d < 450*time.Millisecond || d > 3*time.Second {
		t.Errorf("expired after %v, want about 500ms", d)
	}
	p.Close(ctx)
	f.mu.Lock()
	calls := f.calls
	f.mu.Unlock()
	if calls > 30 {
		t.Errorf("%d PutRecords calls in 500ms: backoff not applied", calls)
	}
}

// TestAutoDistribution: with RecordDistributionStrategy AUTO the producer
// does not aggregate.
func TestAutoDistribution(t *testing.T) {
	c := newLocal(t, kinesislocal.Options{}, 2)
	var aggregating []bool
	f := &flaky{Client: c, auto: true}
	p, err := New(Config{Client: f, StreamName: "s", Linger: time.Millisecond,
		Hooks: Hooks{ShardMapUpdated: func(_ int, agg bool) { aggregating = append(aggregating, agg) }}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := p.PutSync(ctx, Record{PartitionKey: "a", Data: []byte("1")}, Record{PartitionKey: "a", Data: []byte("2")}, Record{PartitionKey: "a", Data: []byte("3")})
	if err != nil {
		t.Fatal(err)
	}
	p.Close(ctx)
	for _, r := range res {
		if r.Aggregated {
			t.Fatalf("record aggregated under AUTO: %+v", r)
		}
	}
	if len(aggregating) != 1 || aggregating[0] {
		t.Fatalf("ShardMapUpdated calls: %v", aggregating)
	}
}

// TestInjectedFaults: kinesislocal fails a third of the PutRecords calls
// (throttling and 500s) and the SDK does not retry; the producer's retries
// still write every record exactly once.
func TestInjectedFaults(t *testing.T) {
	c := newLocal(t, kinesislocal.Options{Faults: []kinesislocal.Fault{
		{Operation: "PutRecords", Probability: 0.2, ErrorCode: "ProvisionedThroughputExceededException"},
		{Operation: "PutRecords", Probability: 0.15, ErrorCode: "InternalFailure"},
	}}, 2, func(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} })
	p, err := New(Config{Client: c, StreamName: "s", Linger: 2 * time.Millisecond, AggregationMaxSize: 1024,
		RetryBackoff: time.Millisecond, MaxRetryBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	recs := make([]Record, 3000)
	for i := range recs {
		recs[i] = Record{PartitionKey: key(i % 100), Data: []byte(key(i))}
	}
	for i := 0; i < len(recs); i += 100 { // 30 calls: 30+ requests
		if _, err := p.PutSync(ctx, recs[i:i+100]...); err != nil {
			t.Fatal(err)
		}
	}
	p.Close(ctx)
	seen := map[string]int{}
	for _, s := range readBack(t, c, "s") {
		seen[string(s.Data)]++
	}
	for i := range recs {
		if seen[key(i)] != 1 {
			t.Fatalf("record %d read %d times", i, seen[key(i)])
		}
	}
	st := p.Stats()
	t.Logf("stats %+v", st)
	if st.Retries == 0 {
		t.Error("no retries: the faults were not seen")
	}
}
