package kinesislocal_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// Script faults per request: throttle the 3rd GetRecords on shard 1, and (with Intercept) delay
// every UpdateItem on a worker table.
func ExampleFault() {
	srv, err := kinesislocal.New(kinesislocal.Options{
		Faults: []kinesislocal.Fault{{
			Operation: "GetRecords", Shard: "shardId-000000000001", Calls: kinesislocal.NthCall(3),
			ErrorCode: "ProvisionedThroughputExceededException",
		}},
		Intercept: func(r kinesislocal.Request) kinesislocal.Injection {
			if r.Operation == "UpdateItem" && r.TableName == "app-workers" {
				return kinesislocal.Injection{Latency: 600 * time.Millisecond}
			}
			return kinesislocal.Injection{}
		},
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	cfg := srv.AWSConfig()
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} } // show each call's own result
	kc := kinesis.NewFromConfig(cfg)
	ctx := context.Background()
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(2)}); err != nil {
		panic(err)
	}
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("orders"),
		ShardId: aws.String("shardId-000000000001"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		panic(err)
	}
	for call := 1; call <= 4; call++ {
		_, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		var throttled *types.ProvisionedThroughputExceededException
		fmt.Printf("GetRecords %d on shard 1: throttled=%v\n", call, errors.As(err, &throttled))
	}
	// Output:
	// GetRecords 1 on shard 1: throttled=false
	// GetRecords 2 on shard 1: throttled=false
	// GetRecords 3 on shard 1: throttled=true
	// GetRecords 4 on shard 1: throttled=false
}
