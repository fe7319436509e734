package kpl

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shoal-go/shoal/kinesislocal"
)

// TestResultFields: records completed together as one written aggregate each
// get their own Result: their position in the aggregate and the number of
// calls that carried them, here 2 after a failed first call.
func TestResultFields(t *testing.T) {
	c := newLocal(t, kinesislocal.Options{}, 1)
	f := &flaky{Client: c, failEntry: func(call, _ int, _ types.PutRecordsRequestEntry) string {
		if call == 0 {
			return "InternalFailure"
		}
		return ""
	}}
	p, err := New(Config{Client: f, StreamName: "s", Linger: time.Second, RetryBackoff: time.Millisecond, MaxRetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	defer p.Close(ctx)
	recs := []Record{{PartitionKey: "a", Data: []byte("0")}, {PartitionKey: "b", Data: []byte("1")}, {PartitionKey: "a", Data: []byte("2")}}
	res, err := p.PutSync(ctx, recs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !r.Aggregated || r.SubSequenceNumber != i || r.Attempts != 2 || r.ShardID == "" || r.SequenceNumber != res[0].SequenceNumber {
			t.Errorf("record %d: %+v, want aggregated, sub-sequence %d, 2 attempts, the aggregate's shard and sequence number", i, r, i)
		}
	}
	res, err = p.PutSync(ctx, Record{PartitionKey: "c", Data: []byte("3")})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Aggregated || r.Attempts != 1 || r.SubSequenceNumber != 0 {
		t.Errorf("lone record: %+v, want raw, 1 attempt", r)
	}
}
