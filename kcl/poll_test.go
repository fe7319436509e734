package kcl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// scripted is a KinesisAPI whose GetRecords answers come from a script, one step per call.
type scripted struct {
	steps     []step
	calls     int
	iterCalls []*kinesis.GetShardIteratorInput
	callTimes []time.Time
	seq       int
}

type step struct {
	err     error
	records int // records to return (sequence numbers continue from the previous step)
	behind  int64
	end     bool // NextShardIterator nil
}

func (s *scripted) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return nil, errors.New("not scripted")
}

func (s *scripted) GetShardIterator(_ context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	s.iterCalls = append(s.iterCalls, in)
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String("it-" + strconv.Itoa(len(s.iterCalls)))}, nil
}

func (s *scripted) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	s.callTimes = append(s.callTimes, time.Now())
	if s.calls >= len(s.steps) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	st := s.steps[s.calls]
	s.calls++
	if st.err != nil {
		return nil, st.err
	}
	out := &kinesis.GetRecordsOutput{MillisBehindLatest: aws.Int64(st.behind), NextShardIterator: aws.String("next")}
	for range st.records {
		s.seq++
		out.Records = append(out.Records, types.Record{SequenceNumber: aws.String(strconv.Itoa(1000 + s.seq)), Data: []byte("x")})
	}
	if st.end {
		out.NextShardIterator = nil
		out.ChildShards = []types.ChildShard{{ShardId: aws.String("shardId-000000000009"), ParentShards: []string{"shardId-000000000000"}}}
	}
	return out, nil
}

func testPoller(api KinesisAPI, retries *[]bool) *poller {
	cfg := Polling{}.withDefaults()
	return newPoller(api, "s", "", "shardId-000000000000", cfg, position{typ: types.ShardIteratorTypeTrimHorizon},
		func(err error, throttled bool, wait time.Duration) {
			if retries != nil {
				*retries = append(*retries, throttled)
			}
		})
}

func TestPollerThrottleAndExpiredIterator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &scripted{steps: []step{
			{records: 3, behind: 10},
			{err: &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}},
			{err: &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}},
			{err: &types.ExpiredIteratorException{Message: aws.String("old")}},
			{records: 2},
			{end: true},
		}}
		var retries []bool
		p := testPoller(api, &retries)
		ctx := context.Background()

		pg, err := p.fetch(ctx)
		if err != nil || len(pg.records) != 3 {
			t.Fatalf("first page: %d records, %v", len(pg.records), err)
		}
		lastSeq := aws.ToString(pg.records[2].SequenceNumber)
		pg, err = p.fetch(ctx)
		if err != nil || len(pg.records) != 2 {
			t.Fatalf("second page: %d records, %v", len(pg.records), err)
		}
		if len(retries) != 2 || !retries[0] || !retries[1] {
			t.Fatalf("retries %v, want two throttles", retries)
		}
		// The expired iterator was renewed after the last record fetched.
		if len(api.iterCalls) != 2 {
			t.Fatalf("%d GetShardIterator calls, want 2", len(api.iterCalls))
		}
		renew := api.iterCalls[1]
		if renew.ShardIteratorType != types.ShardIteratorTypeAfterSequenceNumber || aws.ToString(renew.StartingSequenceNumber) != lastSeq {
			t.Fatalf("renewed with %s %s, want AFTER_SEQUENCE_NUMBER %s", renew.ShardIteratorType, aws.ToString(renew.StartingSequenceNumber), lastSeq)
		}
		pg, err = p.fetch(ctx)
		if err != nil || !pg.end || len(pg.children) != 1 {
			t.Fatalf("end page: end=%v children=%d err=%v", pg.end, len(pg.children), err)
		}
	})
}

func TestPollerGivesUpOnPermanentAndRepeatedErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &scripted{steps: []step{{err: &types.ResourceNotFoundException{Message: aws.String("gone")}}}}
		p := testPoller(api, nil)
		if _, err := p.fetch(context.Background()); err == nil || !errors.As(err, new(*types.ResourceNotFoundException)) {
			t.Fatalf("want ResourceNotFound, got %v", err)
		}

		var steps []step
		for range 11 {
			steps = append(steps, step{err: errors.New("connection reset")})
		}
		api = &scripted{steps: steps}
		p = testPoller(api, nil)
		if _, err := p.fetch(context.Background()); err == nil || api.calls != 11 {
			t.Fatalf("after %d calls: %v; want failure after 11 (MaxRetries 10)", api.calls, err)
		}
	})
}

func TestPollerPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &scripted{steps: []step{{records: 1, behind: 5}, {records: 1, behind: 0}, {records: 0}, {records: 0}}}
		p := testPoller(api, nil)
		for range 4 {
			if _, err := p.fetch(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		gaps := []time.Duration{}
		for i := 1; i < len(api.callTimes); i++ {
			gaps = append(gaps, api.callTimes[i].Sub(api.callTimes[i-1]))
		}
		// Behind: next call at once. Caught up or empty: wait the 250ms interval.
		want := []time.Duration{0, 250 * time.Millisecond, 250 * time.Millisecond}
		for i := range want {
			if gaps[i] != want[i] {
				t.Fatalf("gaps %v, want %v", gaps, want)
			}
		}
	})
}

func TestPollerStopsOnContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &scripted{}
		p := testPoller(api, nil)
		ctx, cancel := context.WithCancelCause(context.Background())
		errc := make(chan error)
		go func() { _, err := p.fetch(ctx); errc <- err }()
		synctest.Wait()
		cause := errors.New("lease lost")
		cancel(cause)
		if err := <-errc; !errors.Is(err, cause) && !errors.Is(err, context.Canceled) {
			t.Fatalf("fetch returned %v", err)
		}
	})
}

// TestPollerIdleBackoff: consecutive empty pages double the wait from Interval up to
// IdleInterval; a page with records returns to Interval, a full page or one that is behind asks
// for the next at once, and an empty page of a shard that is behind (a gap in the shard) is not
// idle.
func TestPollerIdleBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &scripted{steps: []step{
			{records: 0}, {records: 0}, {records: 0}, {records: 0}, {records: 0}, // idle
			{records: 1},             // a record arrives: caught up
			{records: 0, behind: 30}, // a gap while behind: not idle
			{records: 0}, {records: 0},
			{records: 10000}, // a full page: more are waiting even at MillisBehindLatest 0
			{records: 2, behind: 7},
			{records: 0},
		}}
		p := testPoller(api, nil)
		for range len(api.steps) {
			if _, err := p.fetch(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		ms := time.Millisecond
		want := []time.Duration{250 * ms, 500 * ms, 1000 * ms, 1000 * ms, 1000 * ms, 250 * ms, 250 * ms, 250 * ms, 500 * ms, 0, 0}
		var gaps []time.Duration
		for i := 1; i < len(api.callTimes); i++ {
			gaps = append(gaps, api.callTimes[i].Sub(api.callTimes[i-1]))
		}
		if fmt.Sprint(gaps) != fmt.Sprint(want) {
			t.Fatalf("gaps between calls\n got %v\nwant %v", gaps, want)
		}
	})
}

func TestPollWait(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		interval, idle time.Duration
		empties        int
		want           time.Duration
	}{
		{250 * ms, time.Second, 0, 250 * ms},
		{250 * ms, time.Second, 1, 250 * ms},
		{250 * ms, time.Second, 2, 500 * ms},
		{250 * ms, time.Second, 3, time.Second},
		{250 * ms, time.Second, 1000, time.Second},
		{300 * ms, time.Second, 3, time.Second}, // 1200ms capped
		{250 * ms, 250 * ms, 9, 250 * ms},       // fixed rate
		{0, 0, 5, 0},
	} {
		if got := pollWait(c.interval, c.idle, c.empties); got != c.want {
			t.Errorf("pollWait(%v, %v, %d) = %v, want %v", c.interval, c.idle, c.empties, got, c.want)
		}
	}
}
