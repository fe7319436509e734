package streams

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

// FuzzHandle feeds arbitrary operations and bodies to an engine holding one stream with data:
// Handle must never panic, must fail only with *awsproto.Error, and must answer valid JSON.
func FuzzHandle(f *testing.F) {
	seeds := []struct{ op, body string }{
		{"CreateStream", `{"StreamName":"f2","ShardCount":3}`},
		{"CreateStream", `{"StreamName":"f3","StreamModeDetails":{"StreamMode":"ON_DEMAND"}}`},
		{"DeleteStream", `{"StreamName":"f","EnforceConsumerDeletion":true}`},
		{"DescribeStream", `{"StreamName":"f","Limit":1,"ExclusiveStartShardId":"shardId-000000000000"}`},
		{"DescribeStreamSummary", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/f"}`},
		{"ListStreams", `{"Limit":1,"ExclusiveStartStreamName":"a"}`},
		{"ListShards", `{"StreamName":"f","ShardFilter":{"Type":"AT_TIMESTAMP","Timestamp":1.7e9}}`},
		{"ListShards", `{"StreamName":"f","MaxResults":1}`},
		{"PutRecord", `{"StreamName":"f","PartitionKey":"k","Data":"aGk=","ExplicitHashKey":"123"}`},
		{"PutRecords", `{"StreamName":"f","Records":[{"PartitionKey":"k","Data":"aGk="},{"PartitionKey":"\u00e9\"","Data":""}]}`},
		{"PutRecords", `{"Records":[{"PartitionKey":"k","Data":"aGk=","ExplicitHashKey":"0"}],"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/f"}`},
		{"GetShardIterator", `{"StreamName":"f","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}`},
		{"GetShardIterator", `{"StreamName":"f","ShardId":"shardId-000000000001","ShardIteratorType":"AT_TIMESTAMP","Timestamp":0}`},
		{"GetRecords", `{"ShardIterator":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAGY=","Limit":5}`},
		{"SplitShard", `{"StreamName":"f","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"100000"}`},
		{"MergeShards", `{"StreamName":"f","ShardToMerge":"shardId-000000000000","AdjacentShardToMerge":"shardId-000000000001"}`},
		{"UpdateShardCount", `{"StreamName":"f","TargetShardCount":4,"ScalingType":"UNIFORM_SCALING"}`},
		{"IncreaseStreamRetentionPeriod", `{"StreamName":"f","RetentionPeriodHours":48}`},
		{"DecreaseStreamRetentionPeriod", `{"StreamName":"f","RetentionPeriodHours":24}`},
		{"AddTagsToStream", `{"StreamName":"f","Tags":{"a":"b"}}`},
		{"RemoveTagsFromStream", `{"StreamName":"f","TagKeys":["a"]}`},
		{"ListTagsForStream", `{"StreamName":"f","Limit":1}`},
		{"RegisterStreamConsumer", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/f","ConsumerName":"c"}`},
		{"DescribeStreamConsumer", `{"ConsumerARN":"arn:aws:kinesis:us-east-1:000000000000:stream/f/consumer/c:1"}`},
		{"ListStreamConsumers", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/f","MaxResults":1}`},
		{"DeregisterStreamConsumer", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/f","ConsumerName":"c"}`},
		{"DescribeLimits", `{}`},
		{"PutRecords", `[`},
		{"PutRecords", `{"Records":[{"Data":null,"PartitionKey":null}],"StreamName":null}`},
		{"GetRecords", `null`},
	}
	for _, s := range seeds {
		f.Add(s.op, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		e, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		e.Handle(ctx, "CreateStream", []byte(`{"StreamName":"f","ShardCount":2}`))
		e.Handle(ctx, "PutRecord", []byte(`{"StreamName":"f","PartitionKey":"k","Data":"aGk="}`))
		out, err := e.Handle(ctx, op, body)
		if err != nil {
			var ae *awsproto.Error
			if !errors.As(err, &ae) {
				t.Fatalf("%s: error %T %v is not an *awsproto.Error", op, err, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%s: invalid JSON response %q", op, out)
		}
	})
}
