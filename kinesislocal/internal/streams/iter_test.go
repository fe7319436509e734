package streams_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

func TestIteratorTypes(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createStream(t, c, "it", 1)
	var seqs []string
	for i := 0; i < 5; i++ {
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("it"), PartitionKey: aws.String("k"), Data: []byte(fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, *out.SequenceNumber)
	}
	latest, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("it"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("it"), PartitionKey: aws.String("k"), Data: []byte("5")}); err != nil {
		t.Fatal(err)
	}
	first := func(typ types.ShardIteratorType, seq string) string {
		t.Helper()
		in := &kinesis.GetShardIteratorInput{StreamName: aws.String("it"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: typ}
		if seq != "" {
			in.StartingSequenceNumber = aws.String(seq)
		}
		it, err := c.GetShardIterator(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Records) == 0 {
			return "none"
		}
		if *out.MillisBehindLatest < 0 {
			t.Fatal("negative MillisBehindLatest")
		}
		return string(out.Records[0].Data)
	}
	for _, tc := range []struct {
		typ  types.ShardIteratorType
		seq  string
		want string
	}{
		{types.ShardIteratorTypeTrimHorizon, "", "0"},
		{types.ShardIteratorTypeAtSequenceNumber, seqs[2], "2"},
		{types.ShardIteratorTypeAfterSequenceNumber, seqs[2], "3"},
		{types.ShardIteratorTypeAfterSequenceNumber, seqs[4], "5"},
		{types.ShardIteratorTypeLatest, "", "none"},
	} {
		if got := first(tc.typ, tc.seq); got != tc.want {
			t.Errorf("%s %s: first record %s, want %s", tc.typ, tc.seq, got, tc.want)
		}
	}
	out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: latest.ShardIterator})
	if err != nil || len(out.Records) != 1 || string(out.Records[0].Data) != "5" {
		t.Fatalf("LATEST issued before the 6th put: %v %+v", err, out)
	}
	// AT_TIMESTAMP: everything is at or after a time before the first put; nothing after now+1h.
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("it"), ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(time.Now().Add(-time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	out, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(out.Records) != 6 {
		t.Fatalf("AT_TIMESTAMP past: %v %d records", err, len(out.Records))
	}
	// Errors.
	bad := []struct {
		in   *kinesis.GetShardIteratorInput
		code string
	}{
		{&kinesis.GetShardIteratorInput{StreamName: aws.String("it"), ShardId: aws.String("shardId-000000000007"), ShardIteratorType: types.ShardIteratorTypeLatest}, "ResourceNotFoundException"},
		{&kinesis.GetShardIteratorInput{StreamName: aws.String("nope"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest}, "ResourceNotFoundException"},
		{&kinesis.GetShardIteratorInput{StreamName: aws.String("it"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber}, "InvalidArgumentException"},
		{&kinesis.GetShardIteratorInput{StreamName: aws.String("it"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: aws.String("12345")}, "InvalidArgumentException"},
		{&kinesis.GetShardIteratorInput{StreamName: aws.String("it"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeAtTimestamp}, "InvalidArgumentException"},
		{&kinesis.GetShardIteratorInput{StreamName: aws.String("it"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: "SIDEWAYS"}, "ValidationException"},
	}
	for i, tc := range bad {
		_, err := c.GetShardIterator(ctx, tc.in)
		if code(err) != tc.code {
			t.Errorf("bad iterator request %d: %q (%v), want %q", i, code(err), err, tc.code)
		}
	}
	_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("AAAAbogus")})
	wantCode(t, err, "InvalidArgumentException")
	_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: latest.ShardIterator, Limit: aws.Int32(10001)})
	wantCode(t, err, "InvalidArgumentException")
	// A sequence number of another shard is rejected.
	createStream(t, c, "it2", 2)
	o2, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("it2"), PartitionKey: aws.String("k"), Data: []byte("x"), ExplicitHashKey: aws.String("0")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("it2"), ShardId: aws.String("shardId-000000000001"),
		ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: o2.SequenceNumber})
	wantCode(t, err, "InvalidArgumentException")
}

func TestIteratorExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newClient(t, kinesislocal.Options{})
		ctx := t.Context()
		createStream(t, c, "exp", 1)
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("exp"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(4*time.Minute + 59*time.Second)
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatalf("iterator younger than 5 min: %v", err)
		}
		time.Sleep(5*time.Minute + time.Second)
		_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		wantCode(t, err, "ExpiredIteratorException")
		// The iterator returned by GetRecords is fresh when it is issued.
		time.Sleep(-time.Second)
		_ = out
	})
}

func TestRetentionTrimming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newClient(t, kinesislocal.Options{})
		ctx := t.Context()
		createStream(t, c, "ret", 1)
		put := func(s string) {
			if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("ret"), PartitionKey: aws.String("k"), Data: []byte(s)}); err != nil {
				t.Fatal(err)
			}
		}
		put("old")
		time.Sleep(12 * time.Hour)
		put("mid")
		// Split so a closed shard exists; it must vanish from ListShards after retention.
		if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("ret"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("1000")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(12*time.Hour + time.Minute)
		recs, _ := readAll(t, c, "ret", "shardId-000000000000")
		if len(recs) != 1 || string(recs[0].Data) != "mid" {
			t.Fatalf("after 24h: %d records", len(recs))
		}
		if n := len(listAllShards(t, c, &kinesis.ListShardsInput{StreamName: aws.String("ret")})); n != 3 {
			t.Fatalf("closed shard within retention: %d shards listed, want 3", n)
		}
		time.Sleep(12 * time.Hour)
		if n := len(listAllShards(t, c, &kinesis.ListShardsInput{StreamName: aws.String("ret")})); n != 2 {
			t.Fatalf("closed shard past retention: %d shards listed, want 2", n)
		}
		_, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("ret"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		wantCode(t, err, "ResourceNotFoundException")
		// Decreasing retention hides older records at once.
		if _, err := c.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String("ret"), RetentionPeriodHours: aws.Int32(48)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("ret"), PartitionKey: aws.String("k"), Data: []byte("a"), ExplicitHashKey: aws.String("5")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Hour)
		if recs, _ := readAll(t, c, "ret", "shardId-000000000001"); len(recs) != 1 {
			t.Fatalf("48h retention, 30h old record: %d records", len(recs))
		}
		if _, err := c.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String("ret"), RetentionPeriodHours: aws.Int32(24)}); err != nil {
			t.Fatal(err)
		}
		if recs, _ := readAll(t, c, "ret", "shardId-000000000001"); len(recs) != 0 {
			t.Fatalf("24h retention, 30h old record: %d records", len(recs))
		}
	})
}
