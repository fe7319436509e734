package streams_test

import (
	"bytes"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// TestLargeRecords covers MaxRecordSizeInKiB (CreateStream, UpdateMaxRecordSize): records up to
// the stream's maximum and PutRecords requests up to 10 MiB on such streams.
func TestLargeRecords(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createStream(t, c, "small", 1)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("big"), ShardCount: aws.Int32(1), MaxRecordSizeInKiB: aws.Int32(10240)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("bad"), ShardCount: aws.Int32(1), MaxRecordSizeInKiB: aws.Int32(512)})
	wantCode(t, err, "ValidationException")
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("big")})
	if err != nil || *sum.StreamDescriptionSummary.MaxRecordSizeInKiB != 10240 {
		t.Fatalf("summary: %v %+v", err, sum)
	}
	five := bytes.Repeat([]byte{7}, 2<<20) // over the default 1 MiB
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("small"), PartitionKey: aws.String("k"), Data: five})
	wantCode(t, err, "ValidationException")
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("small"), PartitionKey: aws.String("k"), Data: make([]byte, 1<<20)})
	wantCode(t, err, "ValidationException") // data + key > 1 MiB
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("big"), PartitionKey: aws.String("k"), Data: five}); err != nil {
		t.Fatal(err)
	}
	four := make([]byte, 3<<20)
	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("big"), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("a"), Data: four}, {PartitionKey: aws.String("b"), Data: four}}})
	if err != nil || *out.FailedRecordCount != 0 {
		t.Fatalf("6 MiB PutRecords on a 10 MiB stream: %v", err)
	}
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("small"), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("a"), Data: make([]byte, 1000000)}, {PartitionKey: aws.String("b"), Data: make([]byte, 1000000)},
		{PartitionKey: aws.String("c"), Data: make([]byte, 1000000)}, {PartitionKey: aws.String("d"), Data: make([]byte, 1000000)},
		{PartitionKey: aws.String("e"), Data: make([]byte, 1000000)}, {PartitionKey: aws.String("f"), Data: make([]byte, 1000000)}}})
	wantCode(t, err, "InvalidArgumentException") // 6 MB > 5 MiB on a 1 MiB stream
	recs, _ := readAll(t, c, "big", "shardId-000000000000")
	if len(recs) != 3 || !bytes.Equal(recs[0].Data, five) {
		t.Fatalf("read %d records back", len(recs))
	}
	if _, err := c.UpdateMaxRecordSize(ctx, &kinesis.UpdateMaxRecordSizeInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/small"), MaxRecordSizeInKiB: aws.Int32(8192)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("small"), PartitionKey: aws.String("k"), Data: five}); err != nil {
		t.Fatalf("2 MiB record after UpdateMaxRecordSize to 8 MiB: %v", err)
	}
	_, err = c.UpdateMaxRecordSize(ctx, &kinesis.UpdateMaxRecordSizeInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/small"), MaxRecordSizeInKiB: aws.Int32(20000)})
	wantCode(t, err, "ValidationException")
}

func TestUpdateStreamMode(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createStream(t, c, "mode", 2)
	arn := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/mode")
	if _, err := c.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: arn, StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamARN: arn, ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("1000")})
	wantCode(t, err, "ValidationException")
	_, err = c.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: arn, StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}})
	wantCode(t, err, "InvalidArgumentException")
	sum, _ := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: arn})
	if sum.StreamDescriptionSummary.StreamModeDetails.StreamMode != types.StreamModeOnDemand {
		t.Fatalf("mode %s", sum.StreamDescriptionSummary.StreamModeDetails.StreamMode)
	}
}

func TestEnhancedMonitoring(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createStream(t, c, "mon", 1)
	out, err := c.EnableEnhancedMonitoring(ctx, &kinesis.EnableEnhancedMonitoringInput{StreamName: aws.String("mon"), ShardLevelMetrics: []types.MetricsName{types.MetricsNameIncomingBytes}})
	if err != nil || len(out.CurrentShardLevelMetrics) != 0 || len(out.DesiredShardLevelMetrics) != 1 {
		t.Fatalf("enable: %v %+v", err, out)
	}
	d, _ := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("mon")})
	if m := d.StreamDescription.EnhancedMonitoring[0].ShardLevelMetrics; len(m) != 1 || m[0] != types.MetricsNameIncomingBytes {
		t.Fatalf("described metrics %v", m)
	}
	dis, err := c.DisableEnhancedMonitoring(ctx, &kinesis.DisableEnhancedMonitoringInput{StreamName: aws.String("mon"), ShardLevelMetrics: []types.MetricsName{types.MetricsNameAll}})
	if err != nil || len(dis.DesiredShardLevelMetrics) != 0 {
		t.Fatalf("disable: %v %+v", err, dis)
	}
	_, err = c.EnableEnhancedMonitoring(ctx, &kinesis.EnableEnhancedMonitoringInput{StreamName: aws.String("mon"), ShardLevelMetrics: []types.MetricsName{"Nope"}})
	wantCode(t, err, "ValidationException")
}
