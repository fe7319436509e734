package kpl_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/kpl"
)

// Example puts records through an in-process kinesislocal server and prints
// where they landed.
func Example() {
	srv, _ := kinesislocal.New(kinesislocal.Options{})
	defer srv.Close()
	client := kinesis.NewFromConfig(srv.AWSConfig())
	ctx := context.Background()
	client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(1)})

	p, err := kpl.New(kpl.Config{Client: client, StreamName: "orders"})
	if err != nil {
		panic(err)
	}
	results, err := p.PutSync(ctx,
		kpl.Record{PartitionKey: "alice", Data: []byte("order 1")},
		kpl.Record{PartitionKey: "bob", Data: []byte("order 2")},
		kpl.Record{PartitionKey: "carol", Data: []byte("order 3")},
	)
	if err != nil {
		panic(err)
	}
	for _, r := range results {
		fmt.Println(r.ShardID, "aggregated:", r.Aggregated, "sub-sequence:", r.SubSequenceNumber)
	}
	fmt.Println("same Kinesis record:", !slices.ContainsFunc(results, func(r kpl.Result) bool { return r.SequenceNumber != results[0].SequenceNumber }))
	if err := p.Close(ctx); err != nil {
		panic(err)
	}
	st := p.Stats()
	fmt.Println("user records:", st.UserRecordsPut, "Kinesis records:", st.KinesisRecordsPut)
	// Output:
	// shardId-000000000000 aggregated: true sub-sequence: 0
	// shardId-000000000000 aggregated: true sub-sequence: 1
	// shardId-000000000000 aggregated: true sub-sequence: 2
	// same Kinesis record: true
	// user records: 3 Kinesis records: 1
}
