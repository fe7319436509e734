package conformance

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// caseTransactWrite: all-or-nothing writes; a failed condition cancels every action.
func caseTransactWrite(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("txn")
	createLeaseTable(t, ctx, dc, name)
	putItem(t, ctx, dc, name, map[string]types.AttributeValue{"leaseKey": strAV("lock"), "ownerName": strAV("w1")})
	tx := func(owner string) error {
		_, err := dc.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{ConditionCheck: &types.ConditionCheck{TableName: aws.String(name), Key: key("lock"),
				ConditionExpression:       aws.String("ownerName = :owner"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":owner": strAV(owner)}}},
			{Put: &types.Put{TableName: aws.String(name), Item: map[string]types.AttributeValue{"leaseKey": strAV("new-" + owner)},
				ConditionExpression: aws.String("attribute_not_exists(leaseKey)")}},
			{Update: &types.Update{TableName: aws.String(name), Key: key("counter"),
				UpdateExpression:          aws.String("ADD n :one"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":one": numAV(1)}}},
		}})
		return err
	}
	err := tx("w1")
	if tg.deviates(t, "transact-write-items") {
		wantCode(t, err, "UnknownOperationException", "TransactWriteItems")
		return
	}
	must(t, err, "TransactWriteItems by the lock owner")
	if getItem(t, ctx, dc, name, "new-w1") == nil || attrN(getItem(t, ctx, dc, name, "counter"), "n") != "1" {
		t.Fatal("a successful transaction did not apply all its writes")
	}
	err = tx("w2")
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		t.Fatalf("TransactWriteItems with a failing condition: %v (code %q), want TransactionCanceledException", err, apiCode(err))
	}
	if len(tce.CancellationReasons) != 3 || aws.ToString(tce.CancellationReasons[0].Code) != "ConditionalCheckFailed" ||
		aws.ToString(tce.CancellationReasons[1].Code) != "None" || aws.ToString(tce.CancellationReasons[2].Code) != "None" {
		var codes []string
		for _, r := range tce.CancellationReasons {
			codes = append(codes, aws.ToString(r.Code))
		}
		t.Errorf("CancellationReasons %v, want [ConditionalCheckFailed None None]", codes)
	}
	if getItem(t, ctx, dc, name, "new-w2") != nil || attrN(getItem(t, ctx, dc, name, "counter"), "n") != "1" {
		t.Error("a cancelled transaction applied some of its writes")
	}
}

// caseLegacyKCL: the legacy Expected/AttributeUpdates writes of the Java KCL's
// DynamoDBLeaseSerializer: create, renew, take, evict, and a stale renew.
func caseLegacyKCL(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("kcl")
	createLeaseTable(t, ctx, dc, name)
	const lease = "shardId-000000000000"
	put := func(a types.AttributeAction, v types.AttributeValue) types.AttributeValueUpdate {
		return types.AttributeValueUpdate{Action: a, Value: v}
	}
	// create: Expected{leaseKey: Exists false}
	create := &dynamodb.PutItemInput{TableName: aws.String(name),
		Item:     map[string]types.AttributeValue{"leaseKey": strAV(lease), "leaseCounter": numAV(0), "checkpoint": strAV("TRIM_HORIZON"), "ownerSwitchesSinceCheckpoint": numAV(0)},
		Expected: map[string]types.ExpectedAttributeValue{"leaseKey": {Exists: aws.Bool(false)}}}
	_, err := dc.PutItem(ctx, create)
	must(t, err, "create lease")
	_, err = dc.PutItem(ctx, create)
	wantCCF(t, err, "create an existing lease")

	// take: Expected leaseCounter; PUT leaseOwner, DELETE checkpointOwner, ADD leaseCounter 1,
	// ADD ownerSwitchesSinceCheckpoint 1.
	_, err = dc.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(name), Key: key(lease),
		Expected: map[string]types.ExpectedAttributeValue{"leaseCounter": {Value: numAV(0)}},
		AttributeUpdates: map[string]types.AttributeValueUpdate{
			"leaseOwner":                   put(types.AttributeActionPut, strAV("w1")),
			"checkpointOwner":              {Action: types.AttributeActionDelete},
			"leaseCounter":                 put(types.AttributeActionAdd, numAV(1)),
			"ownerSwitchesSinceCheckpoint": put(types.AttributeActionAdd, numAV(1)),
		}})
	must(t, err, "take lease")

	// renew: Expected{leaseCounter: Value 1}, AttributeUpdates{leaseCounter: PUT 2}.
	renew := func(expect, next int) error {
		_, err := dc.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(name), Key: key(lease),
			Expected:         map[string]types.ExpectedAttributeValue{"leaseCounter": {Value: numAV(expect)}},
			AttributeUpdates: map[string]types.AttributeValueUpdate{"leaseCounter": put(types.AttributeActionPut, numAV(next))}})
		return err
	}
	must(t, renew(1, 2), "renew lease")
	wantCCF(t, renew(1, 2), "renew with a stale counter")
	item := getItem(t, ctx, dc, name, lease)
	if attrS(item, "leaseOwner") != "w1" || attrN(item, "leaseCounter") != "2" || attrN(item, "ownerSwitchesSinceCheckpoint") != "1" {
		t.Fatalf("after take and renew: %v, want leaseOwner w1, leaseCounter 2, ownerSwitchesSinceCheckpoint 1", item)
	}

	// evict: Expected{leaseOwner: Value w1, checkpointOwner: Exists false}; DELETE leaseOwner,
	// ADD leaseCounter 1.
	evict := func(owner string) error {
		_, err := dc.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(name), Key: key(lease),
			Expected: map[string]types.ExpectedAttributeValue{
				"leaseOwner":      {Value: strAV(owner)},
				"checkpointOwner": {Exists: aws.Bool(false)},
			},
			AttributeUpdates: map[string]types.AttributeValueUpdate{
				"leaseOwner":   {Action: types.AttributeActionDelete},
				"leaseCounter": put(types.AttributeActionAdd, numAV(1)),
			}})
		return err
	}
	wantCCF(t, evict("w9"), "evict by the wrong owner")
	must(t, evict("w1"), "evict")
	item = getItem(t, ctx, dc, name, lease)
	if _, ok := item["leaseOwner"]; ok || attrN(item, "leaseCounter") != "3" || attrS(item, "checkpoint") != "TRIM_HORIZON" {
		t.Fatalf("after evict: %v, want no leaseOwner, leaseCounter 3, checkpoint TRIM_HORIZON", item)
	}

	// Legacy conditions and expressions cannot be mixed.
	_, err = dc.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(name), Key: key(lease),
		Expected:                  map[string]types.ExpectedAttributeValue{"leaseCounter": {Value: numAV(3)}},
		UpdateExpression:          aws.String("SET leaseCounter = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": numAV(4)}})
	wantCode(t, err, "ValidationException", "UpdateItem mixing Expected and UpdateExpression")
}

// caseReturnValuesOnCCF: ReturnValuesOnConditionCheckFailure=ALL_OLD puts the current item in
// the error.
func caseReturnValuesOnCCF(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("rvccf")
	createLeaseTable(t, ctx, dc, name)
	putItem(t, ctx, dc, name, map[string]types.AttributeValue{"leaseKey": strAV("l1"), "leaseOwner": strAV("w1"), "leaseCounter": numAV(5)})
	_, err := dc.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(name), Key: key("l1"),
		UpdateExpression:                    aws.String("SET leaseOwner = :me"),
		ConditionExpression:                 aws.String("leaseCounter = :c"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":me": strAV("w2"), ":c": numAV(4)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	ccf := wantCCF(t, err, "UpdateItem with a failing condition")
	_, perr := dc.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: map[string]types.AttributeValue{"leaseKey": strAV("l1")},
		ConditionExpression:                 aws.String("attribute_not_exists(leaseKey)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	pccf := wantCCF(t, perr, "PutItem with a failing condition")
	if tg.deviates(t, "return-values-on-ccf") {
		if ccf.Item != nil || pccf.Item != nil {
			t.Fatalf("ConditionalCheckFailedException.Item %v / %v; the declared deviation is none", ccf.Item, pccf.Item)
		}
		return
	}
	for what, item := range map[string]map[string]types.AttributeValue{"UpdateItem": ccf.Item, "PutItem": pccf.Item} {
		if attrS(item, "leaseOwner") != "w1" || attrN(item, "leaseCounter") != "5" || attrS(item, "leaseKey") != "l1" {
			t.Errorf("%s: ConditionalCheckFailedException.Item %v, want the old item (leaseOwner w1, leaseCounter 5)", what, item)
		}
	}
}
