package ddb_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

func TestLeaseConditionalWrites(t *testing.T) {
	c := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createLeaseTable(t, c, "leases", false)
	tbl := aws.String("leases")
	lease := map[string]types.AttributeValue{"leaseKey": str("shardId-000"), "leaseCounter": num(0), "checkpoint": str("TRIM_HORIZON")}

	// Create the lease only if absent.
	create := &dynamodb.PutItemInput{TableName: tbl, Item: lease, ConditionExpression: aws.String("attribute_not_exists(leaseKey)")}
	if _, err := c.PutItem(ctx, create); err != nil {
		t.Fatal(err)
	}
	_, err := c.PutItem(ctx, create)
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) || apiMessage(err) != "The conditional request failed" {
		t.Fatalf("second create: %v", err)
	}
	if ccf.Item != nil {
		t.Fatalf("Item returned without ALL_OLD: %v", ccf.Item)
	}

	// Take the lease: counter fencing, ALL_NEW.
	take := func(owner string, expect int) (*dynamodb.UpdateItemOutput, error) {
		return c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           tbl,
			Key:                                 map[string]types.AttributeValue{"leaseKey": str("shardId-000")},
			UpdateExpression:                    aws.String("SET leaseOwner = :o, leaseCounter = leaseCounter + :one"),
			ConditionExpression:                 aws.String("leaseCounter = :c"),
			ExpressionAttributeValues:           map[string]types.AttributeValue{":o": str(owner), ":one": num(1), ":c": num(expect)},
			ReturnValues:                        types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
	}
	out, err := take("w1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if getS(out.Attributes, "leaseOwner") != "w1" || getN(out.Attributes, "leaseCounter") != "1" || getS(out.Attributes, "checkpoint") != "TRIM_HORIZON" {
		t.Fatalf("ALL_NEW: %v", out.Attributes)
	}
	// A stale counter fails, and ALL_OLD brings the current item back.
	_, err = take("w2", 0)
	if !errors.As(err, &ccf) {
		t.Fatalf("stale take: %v", err)
	}
	if getS(ccf.Item, "leaseOwner") != "w1" || getN(ccf.Item, "leaseCounter") != "1" {
		t.Fatalf("ALL_OLD item in exception: %v", ccf.Item)
	}

	// Checkpoint with UPDATED_OLD / UPDATED_NEW and nested paths.
	u, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 tbl,
		Key:                       map[string]types.AttributeValue{"leaseKey": str("shardId-000")},
		UpdateExpression:          aws.String("SET checkpoint = :cp, #m = :m ADD leaseCounter :one REMOVE nothing"),
		ConditionExpression:       aws.String("leaseOwner = :o AND leaseCounter = :c"),
		ExpressionAttributeNames:  map[string]string{"#m": "meta"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":cp": str("49590"), ":o": str("w1"), ":c": num(1), ":one": num(1), ":m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"hist": &types.AttributeValueMemberL{Value: []types.AttributeValue{str("a")}}}}},
		ReturnValues:              types.ReturnValueUpdatedOld,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Attributes) != 2 || getS(u.Attributes, "checkpoint") != "TRIM_HORIZON" || getN(u.Attributes, "leaseCounter") != "1" {
		t.Fatalf("UPDATED_OLD: %v", u.Attributes)
	}
	u, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 tbl,
		Key:                       map[string]types.AttributeValue{"leaseKey": str("shardId-000")},
		UpdateExpression:          aws.String("SET meta.hist[1] = :b, meta.hist = list_append(meta.hist, :l)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": str("b"), ":l": &types.AttributeValueMemberL{Value: []types.AttributeValue{str("c")}}},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err == nil || apiCode(err) != "ValidationException" || !strings.Contains(apiMessage(err), "overlap") {
		t.Fatalf("overlapping paths: %v", err)
	}
	u, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 tbl,
		Key:                       map[string]types.AttributeValue{"leaseKey": str("shardId-000")},
		UpdateExpression:          aws.String("SET meta.hist[1] = :b, meta.n = if_not_exists(meta.n, :z)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": str("b"), ":z": num(0)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := u.Attributes["meta"].(*types.AttributeValueMemberM).Value
	if l := m["hist"].(*types.AttributeValueMemberL).Value; len(l) != 1 || l[0].(*types.AttributeValueMemberS).Value != "b" || getN(m, "n") != "0" {
		t.Fatalf("UPDATED_NEW nested: %#v", m)
	}

	// GetItem with projection and consistent read.
	g, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"leaseKey": str("shardId-000")},
		ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("leaseOwner, meta.hist[0]")})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Item) != 2 || getS(g.Item, "leaseOwner") != "w1" {
		t.Fatalf("projected GetItem: %v", g.Item)
	}
	g, err = c.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"leaseKey": str("nope")}})
	if err != nil || g.Item != nil {
		t.Fatalf("missing item: %v %v", g.Item, err)
	}

	// Conditional delete.
	_, err = c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"leaseKey": str("shardId-000")},
		ConditionExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: map[string]types.AttributeValue{":o": str("w9")}})
	if !errors.As(err, &ccf) {
		t.Fatalf("conditional delete: %v", err)
	}
	d, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"leaseKey": str("shardId-000")},
		ConditionExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: map[string]types.AttributeValue{":o": str("w1")},
		ReturnValues: types.ReturnValueAllOld})
	if err != nil || getS(d.Attributes, "leaseOwner") != "w1" {
		t.Fatalf("delete ALL_OLD: %v %v", d, err)
	}
	// UpdateItem on a missing item creates it from the key.
	u, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"leaseKey": str("new")},
		UpdateExpression: aws.String("ADD leaseCounter :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1)},
		ReturnValues: types.ReturnValueAllNew})
	if err != nil || getS(u.Attributes, "leaseKey") != "new" || getN(u.Attributes, "leaseCounter") != "1" {
		t.Fatalf("upsert: %v %v", u, err)
	}
}

// TestLegacyKCL sends the requests the Java KCL's DynamoDBLeaseRefresher sends: Expected +
// AttributeUpdates instead of expressions.
func TestLegacyKCL(t *testing.T) {
	c := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createLeaseTable(t, c, "kcl", false)
	tbl := aws.String("kcl")
	key := map[string]types.AttributeValue{"leaseKey": str("shardId-000000000001")}

	// createLeaseIfNotExists: Expected{leaseKey: Exists=false}.
	put := &dynamodb.PutItemInput{TableName: tbl,
		Item:     map[string]types.AttributeValue{"leaseKey": str("shardId-000000000001"), "leaseCounter": num(0), "checkpoint": str("TRIM_HORIZON"), "ownerSwitchesSinceCheckpoint": num(0), "parentShardId": &types.AttributeValueMemberSS{Value: []string{"shardId-000000000000"}}},
		Expected: map[string]types.ExpectedAttributeValue{"leaseKey": {Exists: aws.Bool(false)}}}
	if _, err := c.PutItem(ctx, put); err != nil {
		t.Fatal(err)
	}
	_, err := c.PutItem(ctx, put)
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("second create: %v", err)
	}

	// takeLease: Expected{leaseCounter: Value=0}, AttributeUpdates{leaseOwner PUT, leaseCounter ADD 1, ownerSwitchesSinceCheckpoint ADD 1}.
	take := func(counter int) (*dynamodb.UpdateItemOutput, error) {
		return c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: key,
			Expected: map[string]types.ExpectedAttributeValue{"leaseCounter": {Value: num(counter)}},
			AttributeUpdates: map[string]types.AttributeValueUpdate{
				"leaseOwner":                   {Value: str("worker-1"), Action: types.AttributeActionPut},
				"leaseCounter":                 {Value: num(1), Action: types.AttributeActionAdd},
				"ownerSwitchesSinceCheckpoint": {Value: num(1), Action: types.AttributeActionAdd},
			},
			ReturnValues: types.ReturnValueAllNew})
	}
	out, err := take(0)
	if err != nil {
		t.Fatal(err)
	}
	if getN(out.Attributes, "leaseCounter") != "1" || getS(out.Attributes, "leaseOwner") != "worker-1" || getN(out.Attributes, "ownerSwitchesSinceCheckpoint") != "1" {
		t.Fatalf("takeLease: %v", out.Attributes)
	}
	if _, err := take(0); !errors.As(err, &ccf) {
		t.Fatalf("stale takeLease: %v", err)
	}

	// evictLease: Expected{leaseOwner: Value=worker-1}, AttributeUpdates{leaseOwner DELETE (no value), leaseCounter ADD 1}.
	_, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: key,
		Expected: map[string]types.ExpectedAttributeValue{"leaseOwner": {Value: str("worker-1")}},
		AttributeUpdates: map[string]types.AttributeValueUpdate{
			"leaseOwner":   {Action: types.AttributeActionDelete},
			"leaseCounter": {Value: num(1), Action: types.AttributeActionAdd},
		}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: key, ConsistentRead: aws.Bool(true), AttributesToGet: []string{"leaseOwner", "leaseCounter"}})
	if err != nil || len(g.Item) != 1 || getN(g.Item, "leaseCounter") != "2" {
		t.Fatalf("after evict: %v %v", g.Item, err)
	}

	// ComparisonOperator form and ConditionalOperator OR.
	_, err = c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: tbl, Key: key,
		Expected: map[string]types.ExpectedAttributeValue{
			"leaseOwner":   {ComparisonOperator: types.ComparisonOperatorNotNull},
			"leaseCounter": {ComparisonOperator: types.ComparisonOperatorGt, AttributeValueList: []types.AttributeValue{num(5)}},
		}, ConditionalOperator: types.ConditionalOperatorOr})
	if !errors.As(err, &ccf) {
		t.Fatalf("OR condition should fail: %v", err)
	}
	// Mixing the legacy and expression forms is rejected.
	_, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: key,
		Expected:         map[string]types.ExpectedAttributeValue{"leaseKey": {Exists: aws.Bool(false)}},
		UpdateExpression: aws.String("SET a = :a"), ExpressionAttributeValues: map[string]types.AttributeValue{":a": num(1)}})
	if apiCode(err) != "ValidationException" || !strings.Contains(apiMessage(err), "Can not use both expression and non-expression parameters") {
		t.Fatalf("mixed: %v", err)
	}
}

func TestItemValidation(t *testing.T) {
	c := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createLeaseTable(t, c, "val", true)
	tbl := aws.String("val")
	tests := []struct {
		name string
		call func() error
		code string
		msg  string
	}{
		{"missing table", func() error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("nope"), Key: map[string]types.AttributeValue{"leaseKey": str("a")}})
			return err
		}, "ResourceNotFoundException", "Requested resource not found"},
		{"wrong key", func() error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"other": str("a")}})
			return err
		}, "ValidationException", "The provided key element does not match the schema"},
		{"missing key in item", func() error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"x": str("a")}})
			return err
		}, "ValidationException", "Missing the key leaseKey in the item"},
		{"key type", func() error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"leaseKey": num(1)}})
			return err
		}, "ValidationException", "Type mismatch for key leaseKey expected: S actual: N"},
		{"empty key", func() error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"leaseKey": str("")}})
			return err
		}, "ValidationException", "cannot contain an empty string value"},
		{"empty GSI key", func() error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"leaseKey": str("a"), "leaseOwner": str("")}})
			return err
		}, "ValidationException", "secondary index key"},
		{"hash key too long", func() error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"leaseKey": str(strings.Repeat("k", 2049))}})
			return err
		}, "ValidationException", "Size of hashkey has exceeded"},
		{"item too large", func() error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"leaseKey": str("a"), "blob": str(strings.Repeat("x", 400*1024))}})
			return err
		}, "ValidationException", "Item size has exceeded the maximum allowed size"},
		{"39 digits", func() error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"leaseKey": str("a"), "n": &types.AttributeValueMemberN{Value: strings.Repeat("9", 39)}}})
			return err
		}, "ValidationException", "38 significant digits"},
		{"unused value", func() error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"leaseKey": str("a")},
				ConditionExpression: aws.String("attribute_not_exists(leaseKey)"), ExpressionAttributeValues: map[string]types.AttributeValue{":x": num(1)}})
			return err
		}, "ValidationException", "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"},
		{"undefined value", func() error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"leaseKey": str("a")},
				ConditionExpression: aws.String("leaseCounter = :c")})
			return err
		}, "ValidationException", "An expression attribute value used in expression is not defined; attribute value: :c"},
		{"syntax", func() error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"leaseKey": str("a")},
				UpdateExpression: aws.String("SET a = = :x"), ExpressionAttributeValues: map[string]types.AttributeValue{":x": num(1)}})
			return err
		}, "ValidationException", "Invalid UpdateExpression: Syntax error"},
		{"update key", func() error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"leaseKey": str("a")},
				UpdateExpression: aws.String("SET leaseKey = :x"), ExpressionAttributeValues: map[string]types.AttributeValue{":x": str("b")}})
			return err
		}, "ValidationException", "Cannot update attribute leaseKey. This attribute is part of the key"},
		{"bad return values", func() error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"leaseKey": str("a")}, ReturnValues: types.ReturnValueAllNew})
			return err
		}, "ValidationException", "Return values set to invalid value"},
		{"arithmetic on a string", func() error {
			c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"leaseKey": str("s"), "x": str("str")}})
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"leaseKey": str("s")},
				UpdateExpression: aws.String("SET x = x + :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1)}})
			return err
		}, "ValidationException", "An operand in the update expression has an incorrect data type"},
	}
	for _, tt := range tests {
		err := tt.call()
		if apiCode(err) != tt.code || !strings.Contains(apiMessage(err), tt.msg) {
			t.Errorf("%s: %v; want %s containing %q", tt.name, err, tt.code, tt.msg)
		}
	}
}

func TestNumbersAndTypes(t *testing.T) {
	c := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createLeaseTable(t, c, "nums", false)
	tbl := aws.String("nums")
	item := map[string]types.AttributeValue{
		"leaseKey": str("k"),
		"n":        &types.AttributeValueMemberN{Value: "1.50"},
		"big":      &types.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"},
		"b":        &types.AttributeValueMemberB{Value: []byte{0, 1, 2}},
		"ss":       &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
		"ns":       &types.AttributeValueMemberNS{Value: []string{"1", "2.0"}},
		"bs":       &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}},
		"null":     &types.AttributeValueMemberNULL{Value: true},
		"bool":     &types.AttributeValueMemberBOOL{Value: true},
		"empty":    str(""),
	}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: item}); err != nil {
		t.Fatal(err)
	}
	// 1.5 == 1.50 and the 38-digit number compares exactly (float64 would round it).
	_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"leaseKey": str("k")},
		UpdateExpression:    aws.String("SET big = big + :one"),
		ConditionExpression: aws.String("n = :n AND big > :almost AND attribute_type(ss, :ss) AND contains(ns, :two) AND size(bs) = :two AND begins_with(b, :b)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: "1.5"}, ":one": num(1), ":two": num(2),
			":almost": &types.AttributeValueMemberN{Value: "12345678901234567890123456789012345677"}, ":ss": str("SS"), ":b": &types.AttributeValueMemberB{Value: []byte{0}}}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"leaseKey": str("k")}})
	if err != nil {
		t.Fatal(err)
	}
	if getN(g.Item, "n") != "1.5" || getN(g.Item, "big") != "12345678901234567890123456789012345679" || len(g.Item) != len(item) {
		t.Fatalf("round trip: %v", g.Item)
	}
	if b := g.Item["b"].(*types.AttributeValueMemberB).Value; string(b) != "\x00\x01\x02" {
		t.Fatalf("binary: %v", b)
	}
}
