package fleetbench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ScenarioCapacity measures the store alone: how many checkpoint-like writes per second it
// serves to a closed loop of callers on this machine now, the baseline for reading the rest.
const ScenarioCapacity = "capacity"

// capacityCallers is the closed loop's concurrency: about what one 100-shard fleet has in flight
// (one checkpoint per shard being processed) is more; 32 is enough to saturate a single-threaded
// server without measuring only its queue.
const capacityCallers = 32

// capacity writes conditional UpdateItems (like a checkpoint: SET two attributes if the item
// exists) to 100 items from capacityCallers goroutines for d, directly to the store.
func (c *Config) capacity(ctx context.Context, st Store, name string, d time.Duration) (Result, error) {
	r := Result{Scenario: ScenarioCapacity, Store: st.Name, Shards: 100}
	db := dynamodb.NewFromConfig(c.AWSConfig(st.Endpoint))
	table := aws.String(name)
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: table, BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeHash}}})
	if err != nil {
		return r, fmt.Errorf("create table %s: %w", name, err)
	}
	defer db.DeleteTable(context.WithoutCancel(ctx), &dynamodb.DeleteTableInput{TableName: table})
	if err := dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: table}, time.Minute,
		func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 50*time.Millisecond, 500*time.Millisecond
		}); err != nil {
		return r, fmt.Errorf("wait for table %s: %w", name, err)
	}
	key := func(i int) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"leaseKey": &types.AttributeValueMemberS{Value: fmt.Sprintf("shardId-%012d", i)}}
	}
	for i := range 100 {
		item := key(i)
		item["leaseOwner"] = &types.AttributeValueMemberS{Value: "w1"}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: item}); err != nil {
			return r, fmt.Errorf("put item: %w", err)
		}
	}
	var mu sync.Mutex
	h := make(histogram, histBuckets)
	var n, failed int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := range capacityCallers {
		wg.Go(func() {
			for i := g; time.Now().Before(end) && ctx.Err() == nil; i++ {
				t0 := time.Now()
				_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key(i % 100),
					UpdateExpression:    aws.String("SET checkpoint = :c, leaseCounter = :n"),
					ConditionExpression: aws.String("leaseOwner = :o"),
					ExpressionAttributeValues: map[string]types.AttributeValue{
						":c": &types.AttributeValueMemberS{Value: strconv.Itoa(i)},
						":n": &types.AttributeValueMemberN{Value: strconv.Itoa(i)},
						":o": &types.AttributeValueMemberS{Value: "w1"}}})
				took := time.Since(t0)
				mu.Lock()
				if err != nil {
					failed++
				} else {
					n++
					h[min(int(took/time.Millisecond), histBuckets-1)]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.Requests, r.RequestsPerSecond = n, float64(n)/d.Seconds()
	r.LatencyP50, r.LatencyP99 = h.percentile(50), h.percentile(99)
	if failed > 0 {
		r.Note = fmt.Sprintf("%d writes failed", failed)
	}
	r.Pass = "-"
	r.Target = "none (the baseline: what the store serves here now)"
	return r, nil
}
