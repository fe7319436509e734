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

func TestStreamLifecycle(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createStream(t, c, "life", 2)
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("life"), ShardCount: aws.Int32(1)})
	wantCode(t, err, "ResourceInUseException")
	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("bad name!"), ShardCount: aws.Int32(1)})
	wantCode(t, err, "ValidationException")
	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("noshards")})
	wantCode(t, err, "ValidationException")

	d, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("life")})
	if err != nil {
		t.Fatal(err)
	}
	sd := d.StreamDescription
	if sd.StreamStatus != types.StreamStatusActive || len(sd.Shards) != 2 || *sd.RetentionPeriodHours != 24 ||
		*sd.StreamARN != "arn:aws:kinesis:us-east-1:000000000000:stream/life" || sd.StreamModeDetails.StreamMode != types.StreamModeProvisioned {
		t.Fatalf("describe: %+v", sd)
	}
	if *sd.Shards[0].HashKeyRange.StartingHashKey != "0" || *sd.Shards[0].HashKeyRange.EndingHashKey != "170141183460469231731687303715884105727" ||
		*sd.Shards[1].HashKeyRange.StartingHashKey != "170141183460469231731687303715884105728" || *sd.Shards[1].HashKeyRange.EndingHashKey != "340282366920938463463374607431768211455" {
		t.Fatalf("hash ranges: %+v %+v", sd.Shards[0].HashKeyRange, sd.Shards[1].HashKeyRange)
	}
	// DescribeStream pagination by Limit and ExclusiveStartShardId.
	d, err = c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamARN: sd.StreamARN, Limit: aws.Int32(1)})
	if err != nil || len(d.StreamDescription.Shards) != 1 || !*d.StreamDescription.HasMoreShards {
		t.Fatalf("describe limit 1: %v %+v", err, d)
	}
	d, err = c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("life"), ExclusiveStartShardId: aws.String("shardId-000000000000")})
	if err != nil || len(d.StreamDescription.Shards) != 1 || *d.StreamDescription.Shards[0].ShardId != "shardId-000000000001" || *d.StreamDescription.HasMoreShards {
		t.Fatalf("describe after shard 0: %v %+v", err, d)
	}
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("life")})
	if err != nil || *sum.StreamDescriptionSummary.OpenShardCount != 2 || *sum.StreamDescriptionSummary.ConsumerCount != 0 {
		t.Fatalf("summary: %v %+v", err, sum)
	}
	// On-demand streams start with 4 shards.
	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("od"), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err = c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("od")})
	if err != nil || *sum.StreamDescriptionSummary.OpenShardCount != 4 || sum.StreamDescriptionSummary.StreamModeDetails.StreamMode != types.StreamModeOnDemand {
		t.Fatalf("on-demand summary: %v %+v", err, sum)
	}
	_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("od"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("1000")})
	wantCode(t, err, "ValidationException")

	_, err = c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("missing")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{})
	wantCode(t, err, "ValidationException")

	_, err = c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("life")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("life")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("life")})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestListStreamsPagination(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	for i := 0; i < 7; i++ {
		createStream(t, c, fmt.Sprintf("ls-%d", i), 1)
	}
	var names []string
	in := &kinesis.ListStreamsInput{Limit: aws.Int32(3)}
	for pages := 0; ; pages++ {
		out, err := c.ListStreams(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.StreamSummaries) != len(out.StreamNames) {
			t.Fatalf("summaries %d names %d", len(out.StreamSummaries), len(out.StreamNames))
		}
		names = append(names, out.StreamNames...)
		if !*out.HasMoreStreams {
			if out.NextToken != nil || pages != 2 {
				t.Fatalf("last page has token or wrong page count %d", pages)
			}
			break
		}
		in = &kinesis.ListStreamsInput{NextToken: out.NextToken, Limit: aws.Int32(3)}
	}
	if fmt.Sprint(names) != "[ls-0 ls-1 ls-2 ls-3 ls-4 ls-5 ls-6]" {
		t.Fatalf("names %v", names)
	}
	out, err := c.ListStreams(ctx, &kinesis.ListStreamsInput{ExclusiveStartStreamName: aws.String("ls-4")})
	if err != nil || fmt.Sprint(out.StreamNames) != "[ls-5 ls-6]" {
		t.Fatalf("exclusive start: %v %v", err, out.StreamNames)
	}
	_, err = c.ListStreams(ctx, &kinesis.ListStreamsInput{NextToken: aws.String("garbage")})
	wantCode(t, err, "InvalidArgumentException")
}

// TestStateDelay runs in a synctest bubble: the checks between a change and StateDelay's end must
// not depend on how fast a loaded machine answers (it failed on one when run in real time).
func TestStateDelay(t *testing.T) {
	synctest.Test(t, testStateDelay)
}

func testStateDelay(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{StateDelay: 100 * time.Millisecond})
	ctx := ctxT(t)
	createStream(t, c, "slow", 1)
	d, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("slow")})
	if err != nil || d.StreamDescriptionSummary.StreamStatus != types.StreamStatusCreating {
		t.Fatalf("right after create: %v %+v", err, d)
	}
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("slow"), PartitionKey: aws.String("k"), Data: []byte("x")})
	wantCode(t, err, "ResourceNotFoundException")
	w := kinesis.NewStreamExistsWaiter(c, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 20 * time.Millisecond
		o.MaxDelay = 50 * time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("slow")}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("slow"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("1000")})
	if err != nil {
		t.Fatal(err)
	}
	d, _ = c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("slow")})
	if d.StreamDescriptionSummary.StreamStatus != types.StreamStatusUpdating {
		t.Fatalf("after split: %s", d.StreamDescriptionSummary.StreamStatus)
	}
	// Writes keep working while UPDATING; a second reshard does not.
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("slow"), PartitionKey: aws.String("k"), Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("slow"), ShardToSplit: aws.String("shardId-000000000001"), NewStartingHashKey: aws.String("100")})
	wantCode(t, err, "ResourceInUseException")
	_, err = c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("slow")})
	if err != nil {
		t.Fatal(err)
	}
	nw := kinesis.NewStreamNotExistsWaiter(c, func(o *kinesis.StreamNotExistsWaiterOptions) {
		o.MinDelay = 20 * time.Millisecond
		o.MaxDelay = 50 * time.Millisecond
	})
	if err := nw.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("slow")}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestTagsAndRetention(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createStream(t, c, "tags", 1)
	_, err := c.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String("tags"), Tags: map[string]string{"b": "2", "a": "1", "c": ""}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String("tags"), Limit: aws.Int32(2)})
	if err != nil || len(out.Tags) != 2 || *out.Tags[0].Key != "a" || *out.Tags[1].Key != "b" || !*out.HasMoreTags {
		t.Fatalf("list tags: %v %+v", err, out)
	}
	_, err = c.RemoveTagsFromStream(ctx, &kinesis.RemoveTagsFromStreamInput{StreamName: aws.String("tags"), TagKeys: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err = c.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String("tags"), ExclusiveStartTagKey: aws.String("b")})
	if err != nil || len(out.Tags) != 1 || *out.Tags[0].Key != "c" || *out.HasMoreTags {
		t.Fatalf("list tags after b: %v %+v", err, out)
	}
	many := map[string]string{}
	for i := 0; i < 49; i++ {
		many[fmt.Sprint("k", i)] = "v"
	}
	_, err = c.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String("tags"), Tags: many})
	wantCode(t, err, "InvalidArgumentException")

	for _, tc := range []struct {
		inc   bool
		hours int32
		code  string
	}{
		{true, 23, "InvalidArgumentException"},
		{true, 8761, "InvalidArgumentException"},
		{true, 48, ""},
		{true, 30, "InvalidArgumentException"}, // shorter than current
		{false, 72, "InvalidArgumentException"},
		{false, 24, ""},
		{true, 8760, ""},
	} {
		var err error
		if tc.inc {
			_, err = c.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String("tags"), RetentionPeriodHours: aws.Int32(tc.hours)})
		} else {
			_, err = c.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String("tags"), RetentionPeriodHours: aws.Int32(tc.hours)})
		}
		if code(err) != tc.code {
			t.Fatalf("retention inc=%v %d: %q, want %q", tc.inc, tc.hours, code(err), tc.code)
		}
	}
	d, _ := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("tags")})
	if *d.StreamDescriptionSummary.RetentionPeriodHours != 8760 {
		t.Fatalf("retention %d", *d.StreamDescriptionSummary.RetentionPeriodHours)
	}
}

func TestShardLimit(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{ShardLimit: 5})
	ctx := ctxT(t)
	createStream(t, c, "a", 4)
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("b"), ShardCount: aws.Int32(2)})
	wantCode(t, err, "LimitExceededException")
	_, err = c.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String("a"), TargetShardCount: aws.Int32(6), ScalingType: types.ScalingTypeUniformScaling})
	wantCode(t, err, "LimitExceededException")
	_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("a"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("1000")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("a"), ShardToSplit: aws.String("shardId-000000000001"), NewStartingHashKey: aws.String("85070591730234615865843651857942052964")})
	wantCode(t, err, "LimitExceededException")
	_, err = c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("a")})
	if err != nil {
		t.Fatal(err)
	}
	createStream(t, c, "b", 5)
}
