package ddb_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

func TestBatches(t *testing.T) {
	c := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createLeaseTable(t, c, "bt1", false)
	createLeaseTable(t, c, "bt2", false)
	puts := func(table string, n int, prefix string) []types.WriteRequest {
		var w []types.WriteRequest
		for i := range n {
			w = append(w, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"leaseKey": str(fmt.Sprintf("%s%d", prefix, i)), "v": num(i)}}})
		}
		return w
	}
	out, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"bt1": puts("bt1", 20, "k"), "bt2": puts("bt2", 5, "k")}})
	if err != nil || len(out.UnprocessedItems) != 0 {
		t.Fatalf("BatchWriteItem: %+v %v", out, err)
	}
	_, err = c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"bt1": puts("bt1", 26, "x")}})
	wantCode(t, err, "ValidationException")
	dup := append(puts("bt1", 2, "d"), puts("bt1", 1, "d")...)
	_, err = c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"bt1": dup}})
	if apiCode(err) != "ValidationException" || !strings.Contains(apiMessage(err), "Provided list of item keys contains duplicates") {
		t.Fatalf("duplicate keys: %v", err)
	}
	_, err = c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"nope": puts("nope", 1, "k")}})
	wantCode(t, err, "ResourceNotFoundException")
	// Delete via batch.
	if _, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"bt1": {
		{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{"leaseKey": str("k0")}}},
	}}}); err != nil {
		t.Fatal(err)
	}

	g, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		"bt1": {Keys: []map[string]types.AttributeValue{{"leaseKey": str("k0")}, {"leaseKey": str("k1")}, {"leaseKey": str("k19")}}, ProjectionExpression: aws.String("leaseKey")},
		"bt2": {Keys: []map[string]types.AttributeValue{{"leaseKey": str("k4")}}, ConsistentRead: aws.Bool(true)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Responses["bt1"]) != 2 || len(g.Responses["bt2"]) != 1 || len(g.UnprocessedKeys) != 0 || getN(g.Responses["bt2"][0], "v") != "4" {
		t.Fatalf("BatchGetItem: %+v", g.Responses)
	}
	var keys []map[string]types.AttributeValue
	for i := range 101 {
		keys = append(keys, map[string]types.AttributeValue{"leaseKey": str(fmt.Sprint(i))})
	}
	_, err = c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"bt1": {Keys: keys}}})
	if apiCode(err) != "ValidationException" || !strings.Contains(apiMessage(err), "Too many items requested for the BatchGetItem call") {
		t.Fatalf("101 keys: %v", err)
	}
}

func TestTransactions(t *testing.T) {
	c := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createLeaseTable(t, c, "txn", false)
	key := func(k string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"leaseKey": str(k)}
	}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("txn"), Item: map[string]types.AttributeValue{"leaseKey": str("a"), "owner": str("w1"), "n": num(1)}}); err != nil {
		t.Fatal(err)
	}
	// All-or-nothing success: check a, put b, update a... (one action per item).
	_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String("tok-1"), TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String("txn"), Key: key("a"), UpdateExpression: aws.String("SET n = n + :one"),
			ConditionExpression: aws.String("#o = :w1"), ExpressionAttributeNames: map[string]string{"#o": "owner"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1), ":w1": str("w1")}}},
		{Put: &types.Put{TableName: aws.String("txn"), Item: map[string]types.AttributeValue{"leaseKey": str("b"), "n": num(0)}, ConditionExpression: aws.String("attribute_not_exists(leaseKey)")}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("txn"), Key: key("zzz"), ConditionExpression: aws.String("attribute_not_exists(leaseKey)")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(k string) map[string]types.AttributeValue {
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("txn"), Key: key(k), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	if getN(get("a"), "n") != "2" || get("b") == nil {
		t.Fatalf("after transaction: a=%v b=%v", get("a"), get("b"))
	}

	// A failing condition cancels everything, with reasons in order.
	_, err = c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: aws.String("txn"), Key: key("b")}},
		{Update: &types.Update{TableName: aws.String("txn"), Key: key("a"), UpdateExpression: aws.String("SET n = :z"),
			ConditionExpression: aws.String("n = :bad"), ExpressionAttributeValues: map[string]types.AttributeValue{":z": num(0), ":bad": num(99)},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
	}})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		t.Fatalf("want TransactionCanceledException, got %v", err)
	}
	if len(tce.CancellationReasons) != 2 || aws.ToString(tce.CancellationReasons[0].Code) != "None" ||
		aws.ToString(tce.CancellationReasons[1].Code) != "ConditionalCheckFailed" || getN(tce.CancellationReasons[1].Item, "n") != "2" {
		t.Fatalf("reasons: %+v", tce.CancellationReasons)
	}
	if !strings.Contains(tce.ErrorMessage(), "[None, ConditionalCheckFailed]") {
		t.Fatalf("message: %s", tce.ErrorMessage())
	}
	if get("b") == nil {
		t.Fatal("cancelled transaction deleted b")
	}

	// Two actions on one item.
	_, err = c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: aws.String("txn"), Key: key("b")}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("txn"), Key: key("b"), ConditionExpression: aws.String("attribute_exists(leaseKey)")}},
	}})
	if apiCode(err) != "ValidationException" || !strings.Contains(apiMessage(err), "multiple operations on one item") {
		t.Fatalf("same item twice: %v", err)
	}

	// TransactGetItems, in order, with a missing item.
	tg, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: aws.String("txn"), Key: key("b")}},
		{Get: &types.Get{TableName: aws.String("txn"), Key: key("missing")}},
		{Get: &types.Get{TableName: aws.String("txn"), Key: key("a"), ProjectionExpression: aws.String("n")}},
	}})
	if err != nil || len(tg.Responses) != 3 || tg.Responses[0].Item == nil || tg.Responses[1].Item != nil || len(tg.Responses[2].Item) != 1 {
		t.Fatalf("TransactGetItems: %+v %v", tg, err)
	}
}
