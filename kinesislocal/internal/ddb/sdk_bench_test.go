package ddb_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// BenchmarkSDKUpdateItemConditional is the lease renewal through the real SDK client and the
// in-process server (the same path dynalite's 1.7k ops/s was measured on, minus the socket).
func BenchmarkSDKUpdateItemConditional(b *testing.B) {
	c := newClient(b, kinesislocal.Options{})
	createLeaseTable(b, c, "leases", false)
	ctx := context.Background()
	for i := range 64 {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("leases"), Item: map[string]types.AttributeValue{
			"leaseKey": str(fmt.Sprintf("shardId-%012d", i)), "leaseOwner": str("w"), "leaseCounter": num(0)}}); err != nil {
			b.Fatal(err)
		}
	}
	counters := make([]int, 64)
	i := 0
	for b.Loop() {
		l := i % 64
		_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("leases"),
			Key:                       map[string]types.AttributeValue{"leaseKey": str(fmt.Sprintf("shardId-%012d", l))},
			UpdateExpression:          aws.String("SET leaseCounter = leaseCounter + :one"),
			ConditionExpression:       aws.String("leaseCounter = :c AND leaseOwner = :o"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1), ":c": num(counters[l]), ":o": str("w")},
		})
		if err != nil {
			b.Fatal(err)
		}
		counters[l]++
		i++
	}
}
