package streams_test

import (
	"bytes"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

func TestWriteLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newClient(t, kinesislocal.Options{Limits: &kinesislocal.Limits{}})
		ctx := t.Context()
		createStream(t, c, "wl", 1)
		batch := func(n, size int) *kinesis.PutRecordsOutput {
			t.Helper()
			var entries []types.PutRecordsRequestEntry
			for i := 0; i < n; i++ {
				entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: make([]byte, size)})
			}
			out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("wl"), Records: entries})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		// 1000 records/s: the first 1000 of 1500 pass.
		ok, failed := 0, 0
		for i := 0; i < 3; i++ {
			out := batch(500, 10)
			failed += int(*out.FailedRecordCount)
			for _, r := range out.Records {
				if r.ErrorCode == nil {
					ok++
				} else if *r.ErrorCode != "ProvisionedThroughputExceededException" || r.ErrorMessage == nil || r.SequenceNumber != nil {
					t.Fatalf("throttled entry: %+v", r)
				}
			}
		}
		if ok != 1000 || failed != 500 {
			t.Fatalf("records/s: %d ok, %d failed", ok, failed)
		}
		_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("wl"), PartitionKey: aws.String("k"), Data: []byte("x")})
		wantCode(t, err, "ProvisionedThroughputExceededException")
		time.Sleep(time.Second)
		// 1 MiB/s including the key: ten 100 KiB records pass, the eleventh does not.
		out := batch(11, 100<<10)
		if *out.FailedRecordCount != 1 || out.Records[10].ErrorCode == nil {
			t.Fatalf("bytes/s: %d failed", *out.FailedRecordCount)
		}
		time.Sleep(500 * time.Millisecond)
		if out := batch(4, 100<<10); *out.FailedRecordCount != 0 {
			t.Fatalf("after 0.5 s refill: %d failed", *out.FailedRecordCount)
		}
	})
}

func TestReadLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newClient(t, kinesislocal.Options{Limits: &kinesislocal.Limits{WriteBytesPerSec: 1 << 30, WriteRecordsPerSec: 1 << 20}})
		ctx := t.Context()
		createStream(t, c, "rl", 1)
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("rl"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		// 5 GetRecords calls per second.
		iter := it.ShardIterator
		for i := 0; i < 5; i++ {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			iter = out.NextShardIterator
		}
		_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		wantCode(t, err, "ProvisionedThroughputExceededException")
		// GetShardIterator: 5 per second per shard (one was used above).
		for i := 0; i < 4; i++ {
			if _, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("rl"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest}); err != nil {
				t.Fatalf("GetShardIterator %d: %v", i, err)
			}
		}
		_, err = c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("rl"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest})
		wantCode(t, err, "ProvisionedThroughputExceededException")
		time.Sleep(time.Second)
		// A read that returns 10 MiB blocks reads of the shard for 5 s.
		for i := 0; i < 11; i++ {
			_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("rl"), Records: []types.PutRecordsRequestEntry{
				{PartitionKey: aws.String("k"), Data: bytes.Repeat([]byte{byte(i)}, 1000000)}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil || len(out.Records) != 10 {
			t.Fatalf("big read: %v, %d records", err, len(out.Records))
		}
		time.Sleep(4 * time.Second)
		_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
		wantCode(t, err, "ProvisionedThroughputExceededException")
		time.Sleep(1100 * time.Millisecond)
		out, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
		if err != nil || len(out.Records) != 1 {
			t.Fatalf("after the penalty: %v, %d records", err, len(out.Records))
		}
		_ = fmt.Sprint()
	})
}
