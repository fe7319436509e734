package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// dynamoCases lists the DynamoDB cases in the order they run on each target.
func dynamoCases() []testCase {
	return []testCase{
		{name: "TableLifecycle", smoke: true, run: caseTableLifecycle},
		{name: "PutIfNotExists", smoke: true, run: casePutIfNotExists},
		{name: "ConditionalIncrement", smoke: true, run: caseConditionalIncrement},
		{name: "RemoveAdd", run: caseRemoveAdd},
		{name: "GetItemConsistentRead", run: caseGetItem},
		{name: "ScanPagination", run: caseScanPagination},
		{name: "ParallelScan", run: caseParallelScan},
		{name: "QueryGSI", run: caseQueryGSI},
		{name: "AddGSI", run: caseAddGSI},
		{name: "ConditionalDelete", run: caseConditionalDelete},
		{name: "BatchWriteGet", run: caseBatch},
		{name: "ConditionGrammar", run: caseConditionGrammar},
		{name: "UpdateExpressions", run: caseUpdateExpressions},
		{name: "ExpressionErrors", run: caseExpressionErrors},
		{name: "TransactWriteItems", run: caseTransactWrite},
		{name: "LegacyKCLConditions", run: caseLegacyKCL},
		{name: "ReturnValuesOnConditionCheckFailure", run: caseReturnValuesOnCCF},
	}
}

// ownerIndex is the KCL 3.x lease-owner GSI.
const ownerIndex = "leaseOwner-to-leaseKey-index"

// strAV and numAV build string and number attribute values.
func strAV(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func numAV(v int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: fmt.Sprint(v)} }
func key(k string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"leaseKey": strAV(k)}
}

// createLeaseTable creates a KCL-shaped lease table (hash key leaseKey, KEYS_ONLY GSI on
// leaseOwner), waits until it and its index are ACTIVE, and deletes it when the test ends.
func createLeaseTable(t *testing.T, ctx context.Context, dc *dynamodb.Client, name string) *types.TableDescription {
	t.Helper()
	out, err := dc.CreateTable(ctx, leaseTableInput(name))
	must(t, err, "CreateTable "+name)
	if st := out.TableDescription.TableStatus; st != types.TableStatusCreating && st != types.TableStatusActive {
		t.Errorf("CreateTable: status %s, want CREATING or ACTIVE", st)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		dc.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	var desc *types.TableDescription
	err = eventually(ctx, "table "+name+" ACTIVE", func() (bool, error) {
		d, err := dc.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return false, err
		}
		desc = d.Table
		if desc.TableStatus != types.TableStatusActive {
			return false, nil
		}
		for _, g := range desc.GlobalSecondaryIndexes {
			if g.IndexStatus != types.IndexStatusActive {
				return false, nil
			}
		}
		return true, nil
	})
	must(t, err, "wait")
	return desc
}

func leaseTableInput(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("leaseKey"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("leaseOwner"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(ownerIndex),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String("leaseOwner"), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
	}
}

// getItem reads an item with a consistent read; nil if it does not exist.
func getItem(t *testing.T, ctx context.Context, dc *dynamodb.Client, table, k string) map[string]types.AttributeValue {
	t.Helper()
	out, err := dc.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(k), ConsistentRead: aws.Bool(true)})
	must(t, err, "GetItem "+k)
	return out.Item
}

// putItem writes an item unconditionally.
func putItem(t *testing.T, ctx context.Context, dc *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	_, err := dc.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
	must(t, err, "PutItem")
}

// attrS and attrN read a string or number attribute ("" if absent or of another type).
func attrS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func attrN(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}

// wantCCF fails unless err is a *types.ConditionalCheckFailedException, which it returns.
func wantCCF(t *testing.T, err error, what string) *types.ConditionalCheckFailedException {
	t.Helper()
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("%s: %v (code %q), want ConditionalCheckFailedException", what, err, apiCode(err))
	}
	return ccf
}

// caseTableLifecycle: create with a GSI, wait for ACTIVE, the ResourceInUse and ResourceNotFound
// errors, list, delete.
func caseTableLifecycle(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("tbl")
	desc := createLeaseTable(t, ctx, dc, name)
	if aws.ToString(desc.TableName) != name || len(desc.GlobalSecondaryIndexes) != 1 || aws.ToString(desc.GlobalSecondaryIndexes[0].IndexName) != ownerIndex {
		t.Errorf("DescribeTable: name %q, %d GSIs", aws.ToString(desc.TableName), len(desc.GlobalSecondaryIndexes))
	}
	if !strings.HasPrefix(aws.ToString(desc.TableArn), "arn:aws:dynamodb:") || !strings.HasSuffix(aws.ToString(desc.TableArn), ":table/"+name) {
		t.Errorf("TableArn %q", aws.ToString(desc.TableArn))
	}
	_, err := dc.CreateTable(ctx, leaseTableInput(name))
	wantCode(t, err, "ResourceInUseException", "CreateTable of an existing table")

	lt, err := dc.ListTables(ctx, &dynamodb.ListTablesInput{})
	must(t, err, "ListTables")
	for lt.LastEvaluatedTableName != nil && !slices.Contains(lt.TableNames, name) {
		lt, err = dc.ListTables(ctx, &dynamodb.ListTablesInput{ExclusiveStartTableName: lt.LastEvaluatedTableName})
		must(t, err, "ListTables")
	}
	if !slices.Contains(lt.TableNames, name) {
		t.Errorf("ListTables does not list %s", name)
	}

	missing := uniqueName("missing")
	_, err = dc.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(missing)})
	wantCode(t, err, "ResourceNotFoundException", "DescribeTable of a missing table")
	_, err = dc.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(missing), Item: key("k")})
	wantCode(t, err, "ResourceNotFoundException", "PutItem to a missing table")
	_, err = dc.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(missing), Key: key("k")})
	wantCode(t, err, "ResourceNotFoundException", "GetItem from a missing table")

	_, err = dc.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	must(t, err, "DeleteTable")
	err = eventually(ctx, "table deleted", func() (bool, error) {
		_, err := dc.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if apiCode(err) == "ResourceNotFoundException" {
			return true, nil
		}
		return false, err
	})
	must(t, err, "wait")
	_, err = dc.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	wantCode(t, err, "ResourceNotFoundException", "DeleteTable of a deleted table")
}

// casePutIfNotExists: PutItem with attribute_not_exists creates once, then fails typed;
// ALL_OLD on an overwrite; the 400 KB item limit.
func casePutIfNotExists(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("pine")
	createLeaseTable(t, ctx, dc, name)
	in := &dynamodb.PutItemInput{
		TableName:           aws.String(name),
		Item:                map[string]types.AttributeValue{"leaseKey": strAV("shardId-000000000000"), "leaseCounter": numAV(0), "checkpoint": strAV("TRIM_HORIZON")},
		ConditionExpression: aws.String("attribute_not_exists(leaseKey)"),
	}
	_, err := dc.PutItem(ctx, in)
	must(t, err, "PutItem attribute_not_exists (new)")
	_, err = dc.PutItem(ctx, in)
	ccf := wantCCF(t, err, "PutItem attribute_not_exists (existing)")
	if httpStatus(err) != 400 {
		t.Errorf("ConditionalCheckFailedException with HTTP %d, want 400", httpStatus(err))
	}
	if ccf.Item != nil {
		t.Errorf("ConditionalCheckFailedException.Item is set without ReturnValuesOnConditionCheckFailure")
	}
	if got := attrS(getItem(t, ctx, dc, name, "shardId-000000000000"), "checkpoint"); got != "TRIM_HORIZON" {
		t.Errorf("checkpoint %q after the failed put, want TRIM_HORIZON", got)
	}

	// An unconditional overwrite returns the old item with ReturnValues ALL_OLD.
	out, err := dc.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), ReturnValues: types.ReturnValueAllOld,
		Item: map[string]types.AttributeValue{"leaseKey": strAV("shardId-000000000000"), "checkpoint": strAV("SHARD_END")}})
	must(t, err, "PutItem ALL_OLD")
	if attrS(out.Attributes, "checkpoint") != "TRIM_HORIZON" || attrN(out.Attributes, "leaseCounter") != "0" {
		t.Errorf("PutItem ALL_OLD: %v, want the previous item", out.Attributes)
	}

	// Items are limited to 400 KB.
	big := strings.Repeat("x", 401*1024)
	_, err = dc.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name),
		Item: map[string]types.AttributeValue{"leaseKey": strAV("big"), "blob": strAV(big)}})
	wantCode(t, err, "ValidationException", "PutItem of a 401 KB item")
}

// caseConditionalIncrement: the lease-renewal write: SET leaseCounter = leaseCounter + :one
// conditioned on the counter and owner, returning ALL_NEW.
func caseConditionalIncrement(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("incr")
	createLeaseTable(t, ctx, dc, name)
	putItem(t, ctx, dc, name, map[string]types.AttributeValue{"leaseKey": strAV("l1"), "leaseOwner": strAV("w1"), "leaseCounter": numAV(7)})
	renew := func(expected int) (*dynamodb.UpdateItemOutput, error) {
		return dc.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(name),
			Key:                       key("l1"),
			UpdateExpression:          aws.String("SET #c = #c + :one"),
			ConditionExpression:       aws.String("#c = :expected AND #o = :prev"),
			ExpressionAttributeNames:  map[string]string{"#c": "leaseCounter", "#o": "leaseOwner"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": numAV(1), ":expected": numAV(expected), ":prev": strAV("w1")},
			ReturnValues:              types.ReturnValueAllNew,
		})
	}
	out, err := renew(7)
	must(t, err, "UpdateItem renew")
	if attrN(out.Attributes, "leaseCounter") != "8" || attrS(out.Attributes, "leaseOwner") != "w1" || attrS(out.Attributes, "leaseKey") != "l1" {
		t.Errorf("ALL_NEW attributes %v, want leaseKey l1, leaseOwner w1, leaseCounter 8", out.Attributes)
	}
	_, err = renew(7)
	wantCCF(t, err, "UpdateItem renew with a stale counter")
	if got := attrN(getItem(t, ctx, dc, name, "l1"), "leaseCounter"); got != "8" {
		t.Errorf("leaseCounter %s after the failed renew, want 8", got)
	}
}

// caseRemoveAdd: ADD creates and increments a number, REMOVE deletes an attribute,
// attribute_exists guards, and UpdateItem on a missing key creates the item.
func caseRemoveAdd(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("radd")
	createLeaseTable(t, ctx, dc, name)
	putItem(t, ctx, dc, name, map[string]types.AttributeValue{"leaseKey": strAV("l1"), "checkpointOwner": strAV("w2"), "leaseCounter": numAV(1)})
	update := func(k string) error {
		_, err := dc.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(name),
			Key:                       key(k),
			UpdateExpression:          aws.String("ADD ownerSwitchesSinceCheckpoint :one, leaseCounter :one REMOVE checkpointOwner"),
			ConditionExpression:       aws.String("attribute_exists(leaseKey)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": numAV(1)},
		})
		return err
	}
	must(t, update("l1"), "UpdateItem ADD/REMOVE")
	must(t, update("l1"), "UpdateItem ADD/REMOVE again")
	item := getItem(t, ctx, dc, name, "l1")
	if attrN(item, "ownerSwitchesSinceCheckpoint") != "2" || attrN(item, "leaseCounter") != "3" {
		t.Errorf("after two ADDs: ownerSwitchesSinceCheckpoint %q leaseCounter %q, want 2 and 3", attrN(item, "ownerSwitchesSinceCheckpoint"), attrN(item, "leaseCounter"))
	}
	if _, ok := item["checkpointOwner"]; ok {
		t.Errorf("checkpointOwner survived REMOVE")
	}
	wantCCF(t, update("absent"), "UpdateItem attribute_exists on a missing item")
	if item := getItem(t, ctx, dc, name, "absent"); item != nil {
		t.Errorf("failed conditional update created %v", item)
	}
	_, err := dc.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(name), Key: key("upsert"),
		UpdateExpression: aws.String("ADD leaseCounter :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": numAV(1)}})
	must(t, err, "UpdateItem ADD on a missing item")
	if got := attrN(getItem(t, ctx, dc, name, "upsert"), "leaseCounter"); got != "1" {
		t.Errorf("UpdateItem on a missing item: leaseCounter %q, want 1 (UpdateItem creates)", got)
	}
}

// caseGetItem: ConsistentRead round trip of every attribute type; a missing item has no Item.
func caseGetItem(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("get")
	createLeaseTable(t, ctx, dc, name)
	item := map[string]types.AttributeValue{
		"leaseKey":      strAV("l1"),
		"leaseCounter":  numAV(42),
		"parentShardId": &types.AttributeValueMemberSS{Value: []string{"shardId-000000000001", "shardId-000000000002"}},
		"bytes":         &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 0xff}},
		"flag":          &types.AttributeValueMemberBOOL{Value: true},
		"nothing":       &types.AttributeValueMemberNULL{Value: true},
		"hashRange":     &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"start": strAV("0"), "end": strAV("340282366920938463463374607431768211455")}},
		"list":          &types.AttributeValueMemberL{Value: []types.AttributeValue{strAV("a"), numAV(1)}},
	}
	putItem(t, ctx, dc, name, item)
	got := getItem(t, ctx, dc, name, "l1")
	if len(got) != len(item) {
		t.Fatalf("GetItem returned %d attributes, want %d: %v", len(got), len(item), got)
	}
	ss, _ := got["parentShardId"].(*types.AttributeValueMemberSS)
	b, _ := got["bytes"].(*types.AttributeValueMemberB)
	bo, _ := got["flag"].(*types.AttributeValueMemberBOOL)
	m, _ := got["hashRange"].(*types.AttributeValueMemberM)
	l, _ := got["list"].(*types.AttributeValueMemberL)
	if ss == nil || len(ss.Value) != 2 || b == nil || string(b.Value) != "\x00\x01\x02\xff" || bo == nil || !bo.Value ||
		m == nil || attrS(m.Value, "end") != "340282366920938463463374607431768211455" || l == nil || len(l.Value) != 2 || attrN(got, "leaseCounter") != "42" {
		t.Errorf("round trip: %#v", got)
	}
	if missing := getItem(t, ctx, dc, name, "nope"); missing != nil {
		t.Errorf("GetItem of a missing key: %v, want no Item", missing)
	}
}

// caseScanPagination: Scan with Limit 7 over 26 items takes 4 pages; with a FilterExpression
// the Limit counts items evaluated, not items returned.
func caseScanPagination(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("scan")
	createLeaseTable(t, ctx, dc, name)
	for i := range 26 {
		putItem(t, ctx, dc, name, map[string]types.AttributeValue{"leaseKey": strAV(fmt.Sprintf("shard-%02d", i)), "leaseCounter": numAV(i)})
	}
	scan := func(filtered bool) (sizes, scanned []int, seen map[string]bool) {
		seen = map[string]bool{}
		in := &dynamodb.ScanInput{TableName: aws.String(name), Limit: aws.Int32(7), ConsistentRead: aws.Bool(true)}
		if filtered {
			in.FilterExpression = aws.String("leaseCounter >= :min")
			in.ExpressionAttributeValues = map[string]types.AttributeValue{":min": numAV(13)}
		}
		for page := 0; ; page++ {
			if page > 10 {
				t.Fatalf("Scan did not end after %d pages", page)
			}
			out, err := dc.Scan(ctx, in)
			must(t, err, "Scan")
			sizes = append(sizes, len(out.Items))
			scanned = append(scanned, int(out.ScannedCount))
			if int(out.Count) != len(out.Items) {
				t.Errorf("page %d: Count %d, %d items", page, out.Count, len(out.Items))
			}
			for _, it := range out.Items {
				k := attrS(it, "leaseKey")
				if seen[k] {
					t.Errorf("Scan returned %s twice", k)
				}
				seen[k] = true
			}
			if out.LastEvaluatedKey == nil {
				return sizes, scanned, seen
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	sizes, scanned, seen := scan(false)
	if !slices.Equal(sizes, []int{7, 7, 7, 5}) || !slices.Equal(scanned, sizes) || len(seen) != 26 {
		t.Errorf("Scan pages %v (scanned %v) over %d distinct items, want [7 7 7 5] over 26", sizes, scanned, len(seen))
	}
	sizes, scanned, seen = scan(true)
	if !slices.Equal(scanned, []int{7, 7, 7, 5}) || len(seen) != 13 {
		t.Errorf("filtered Scan: ScannedCount per page %v, %d items (pages %v); want [7 7 7 5] and 13", scanned, len(seen), sizes)
	}
	for k := range seen {
		if k < "shard-13" {
			t.Errorf("filtered Scan returned %s", k)
		}
	}

	// A parallel scan: three segments together return every item exactly once.
	all := map[string]int{}
	for seg := range int32(3) {
		in := &dynamodb.ScanInput{TableName: aws.String(name), Segment: aws.Int32(seg), TotalSegments: aws.Int32(3)}
		for page := 0; ; page++ {
			if page > 30 {
				t.Fatalf("segment %d did not end", seg)
			}
			out, err := dc.Scan(ctx, in)
			must(t, err, fmt.Sprintf("Scan segment %d", seg))
			for _, it := range out.Items {
				all[attrS(it, "leaseKey")]++
			}
			if out.LastEvaluatedKey == nil {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	if len(all) != 26 {
		t.Errorf("segments 0-2 of 3 returned %d distinct items, want 26", len(all))
	}
	for k, c := range all {
		if c != 1 {
			t.Errorf("parallel scan returned %s %d times", k, c)
		}
	}
	_, err := dc.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(name), Segment: aws.Int32(3), TotalSegments: aws.Int32(3)})
	wantCode(t, err, "ValidationException", "Scan with Segment >= TotalSegments")
}

// caseQueryGSI: Query the owner index; a consistent read on a GSI is rejected.
func caseQueryGSI(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("gsi")
	createLeaseTable(t, ctx, dc, name)
	owners := map[string]string{"l1": "w1", "l2": "w2", "l3": "w1", "l4": "w1", "l5": "w2"}
	for k, o := range owners {
		putItem(t, ctx, dc, name, map[string]types.AttributeValue{"leaseKey": strAV(k), "leaseOwner": strAV(o), "checkpoint": strAV("x")})
	}
	putItem(t, ctx, dc, name, map[string]types.AttributeValue{"leaseKey": strAV("l6")}) // no owner: not in the index
	query := func(consistent bool) (*dynamodb.QueryOutput, error) {
		return dc.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(name), IndexName: aws.String(ownerIndex),
			KeyConditionExpression:    aws.String("leaseOwner = :o"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":o": strAV("w1")},
			ConsistentRead:            aws.Bool(consistent),
		})
	}
	var out *dynamodb.QueryOutput
	// A GSI is eventually consistent: poll until the index has caught up.
	err := eventually(ctx, "GSI query", func() (bool, error) {
		var err error
		out, err = query(false)
		return err == nil && len(out.Items) == 3, err
	})
	must(t, err, "Query GSI")
	var keys []string
	for _, it := range out.Items {
		keys = append(keys, attrS(it, "leaseKey"))
		if _, ok := it["checkpoint"]; ok {
			t.Errorf("KEYS_ONLY index returned a non-key attribute: %v", it)
		}
	}
	if !slices.Equal(keys, []string{"l1", "l3", "l4"}) {
		t.Errorf("Query GSI w1: %v, want [l1 l3 l4] (sorted by the range key)", keys)
	}
	_, err = query(true)
	wantCode(t, err, "ValidationException", "Query GSI with ConsistentRead")

	// Pages of 2, newest range key first.
	var pages [][]string
	in := &dynamodb.QueryInput{TableName: aws.String(name), IndexName: aws.String(ownerIndex),
		KeyConditionExpression:    aws.String("leaseOwner = :o"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": strAV("w1")},
		ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(2)}
	for len(pages) < 5 {
		out, err := dc.Query(ctx, in)
		must(t, err, "Query GSI Limit 2 descending")
		var page []string
		for _, it := range out.Items {
			page = append(page, attrS(it, "leaseKey"))
		}
		pages = append(pages, page)
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if fmt.Sprint(pages) != "[[l4 l3] [l1]]" {
		t.Errorf("Query GSI Limit 2 descending: pages %v, want [[l4 l3] [l1]]", pages)
	}
}

// caseConditionalDelete: DeleteItem with a failing and a passing condition, ALL_OLD.
func caseConditionalDelete(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("del")
	createLeaseTable(t, ctx, dc, name)
	putItem(t, ctx, dc, name, map[string]types.AttributeValue{"leaseKey": strAV("l1"), "leaseOwner": strAV("w1")})
	del := func(owner string) (*dynamodb.DeleteItemOutput, error) {
		return dc.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(name), Key: key("l1"),
			ConditionExpression:       aws.String("leaseOwner = :o"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":o": strAV(owner)},
			ReturnValues:              types.ReturnValueAllOld})
	}
	_, err := del("w2")
	wantCCF(t, err, "DeleteItem with the wrong owner")
	if getItem(t, ctx, dc, name, "l1") == nil {
		t.Fatal("a failed conditional delete removed the item")
	}
	out, err := del("w1")
	must(t, err, "DeleteItem with the right owner")
	if attrS(out.Attributes, "leaseOwner") != "w1" {
		t.Errorf("DeleteItem ALL_OLD: %v", out.Attributes)
	}
	if item := getItem(t, ctx, dc, name, "l1"); item != nil {
		t.Errorf("item still there after delete: %v", item)
	}
}

// caseBatch: BatchWriteItem of 25 puts, BatchGetItem of them, BatchWriteItem deletes.
func caseBatch(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("batch")
	createLeaseTable(t, ctx, dc, name)
	var puts, dels []types.WriteRequest
	var keys []map[string]types.AttributeValue
	for i := range 25 {
		k := fmt.Sprintf("l%02d", i)
		puts = append(puts, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"leaseKey": strAV(k), "leaseCounter": numAV(i)}}})
		keys = append(keys, key(k))
		if i < 10 {
			dels = append(dels, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(k)}})
		}
	}
	write := func(reqs []types.WriteRequest) {
		pending := map[string][]types.WriteRequest{name: reqs}
		for range 10 {
			out, err := dc.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			must(t, err, "BatchWriteItem")
			if len(out.UnprocessedItems) == 0 {
				return
			}
			pending = out.UnprocessedItems
		}
		t.Fatal("BatchWriteItem kept returning UnprocessedItems")
	}
	read := func() map[string]string {
		got := map[string]string{}
		pending := map[string]types.KeysAndAttributes{name: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for range 10 {
			out, err := dc.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			must(t, err, "BatchGetItem")
			for _, it := range out.Responses[name] {
				got[attrS(it, "leaseKey")] = attrN(it, "leaseCounter")
			}
			if len(out.UnprocessedKeys) == 0 {
				return got
			}
			pending = out.UnprocessedKeys
		}
		t.Fatal("BatchGetItem kept returning UnprocessedKeys")
		return nil
	}
	write(puts)
	got := read()
	if len(got) != 25 || got["l07"] != "7" {
		t.Fatalf("BatchGetItem after 25 puts: %d items, l07=%q", len(got), got["l07"])
	}
	write(dels)
	got = read()
	if len(got) != 15 || got["l00"] != "" || got["l24"] != "24" {
		t.Fatalf("BatchGetItem after 10 deletes: %d items (want 15), l00=%q l24=%q", len(got), got["l00"], got["l24"])
	}
	extra := types.WriteRequest{PutRequest: &types.PutRequest{Item: key("l25")}}
	_, err := dc.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{name: append(puts, extra)}})
	wantCode(t, err, "ValidationException", "BatchWriteItem with 26 requests")
}
