package kpl

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shoal-go/shoal/aggregate"
	"github.com/shoal-go/shoal/kinesislocal"
)

// newLocal starts an in-process kinesislocal with opts and creates stream
// "s" with the given number of shards.
func newLocal(t testing.TB, opts kinesislocal.Options, shards int, clientOpts ...func(*kinesis.Options)) *kinesis.Client {
	t.Helper()
	srv, err := kinesislocal.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c := kinesis.NewFromConfig(srv.AWSConfig(), clientOpts...)
	ctx := context.Background()
	if _, err := kinesis.NewFromConfig(srv.AWSConfig()).CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(int32(shards))}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, c, "s")
	return c
}

func waitActive(t testing.TB, c *kinesis.Client, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("stream %s not ACTIVE", name)
}

// stored is a user record read back, with the shard it was stored in.
type stored struct {
	shard string
	seq   string
	hash  aggregate.HashRange
	aggregate.UserRecord
}

// readBack reads every shard of stream name from TRIM_HORIZON and
// de-aggregates with the aggregate package (no hash range filter, so strays
// would be visible).
func readBack(t testing.TB, c *kinesis.Client, name string) []stored {
	t.Helper()
	ctx := context.Background()
	ls, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for _, sh := range ls.Shards {
		rng, err := aggregate.ParseHashRange(*sh.HashKeyRange.StartingHashKey, *sh.HashKeyRange.EndingHashKey)
		if err != nil {
			t.Fatal(err)
		}
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: sh.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for empties := 0; iter != nil && empties < 2; {
			gr, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			if len(gr.Records) == 0 {
				empties++
			}
			for _, r := range gr.Records {
				var urs []aggregate.UserRecord
				urs, oc := aggregate.Deaggregate(urs, *r.PartitionKey, r.Data, nil)
				if oc.Err != nil {
					t.Fatalf("corrupt aggregate: %v", oc.Err)
				}
				for _, u := range urs {
					out = append(out, stored{shard: *sh.ShardId, seq: *r.SequenceNumber, hash: rng, UserRecord: u})
				}
			}
			iter = gr.NextShardIterator
		}
	}
	return out
}

func key(i int) string { return fmt.Sprintf("key-%d", i) }
