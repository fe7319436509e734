package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// caseAddGSI: an index added to a table by UpdateTable is CREATING (with Backfilling) in the
// UpdateTable response, as on AWS where building an index takes minutes; it then becomes ACTIVE
// and answers a Query with the items written before it existed. The Java KCL 3.x adds its
// leaseOwner index to an existing lease table this way and waits for ACTIVE.
func caseAddGSI(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("addgsi")
	in := leaseTableInput(name)
	in.GlobalSecondaryIndexes = nil
	in.AttributeDefinitions = in.AttributeDefinitions[:1]
	_, err := dc.CreateTable(ctx, in)
	must(t, err, "CreateTable")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		dc.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	describe := func() *types.TableDescription {
		d, err := dc.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		must(t, err, "DescribeTable")
		return d.Table
	}
	must(t, eventually(ctx, "table ACTIVE", func() (bool, error) { return describe().TableStatus == types.TableStatusActive, nil }), "wait")
	putItem(t, ctx, dc, name, map[string]types.AttributeValue{"leaseKey": strAV("shard-0"), "leaseOwner": strAV("w1")})

	create := &types.CreateGlobalSecondaryIndexAction{
		IndexName: aws.String(ownerIndex),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("leaseOwner"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeRange},
		},
		Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
	}
	update := func() (*dynamodb.UpdateTableOutput, error) {
		return dc.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name),
			AttributeDefinitions:        []types.AttributeDefinition{{AttributeName: aws.String("leaseOwner"), AttributeType: types.ScalarAttributeTypeS}},
			GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: create}}})
	}
	out, err := update()
	if tg.deviates(t, "update-table-gsi") {
		wantCode(t, err, "ValidationException", "UpdateTable (create index) on an on-demand table without ProvisionedThroughput")
		create.ProvisionedThroughput = &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(1), WriteCapacityUnits: aws.Int64(1)}
		out, err = update()
		must(t, err, "UpdateTable (create index) with ProvisionedThroughput")
		if g := out.TableDescription.GlobalSecondaryIndexes; len(g) != 0 {
			t.Errorf("UpdateTable response: indexes %+v; the declared deviation is none", g)
		}
		must(t, eventually(ctx, "table ACTIVE", func() (bool, error) { return describe().TableStatus == types.TableStatusActive, nil }), "wait")
		if g := describe().GlobalSecondaryIndexes; len(g) != 0 {
			t.Errorf("DescribeTable: indexes %+v; the declared deviation is none", g)
		}
		return
	}
	must(t, err, "UpdateTable (create index)")
	if g := out.TableDescription.GlobalSecondaryIndexes; len(g) != 1 || g[0].IndexStatus != types.IndexStatusCreating {
		t.Errorf("UpdateTable response: indexes %+v, want one CREATING", g)
	}
	must(t, eventually(ctx, "index ACTIVE", func() (bool, error) {
		d := describe()
		return d.TableStatus == types.TableStatusActive && len(d.GlobalSecondaryIndexes) == 1 &&
			d.GlobalSecondaryIndexes[0].IndexStatus == types.IndexStatusActive, nil
	}), "wait")
	q, err := dc.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(name), IndexName: aws.String(ownerIndex),
		KeyConditionExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: map[string]types.AttributeValue{":o": strAV("w1")}})
	must(t, err, "Query the new index")
	if len(q.Items) != 1 || attrS(q.Items[0], "leaseKey") != "shard-0" {
		t.Errorf("Query the new index: %d items, want shard-0 (written before the index existed)", len(q.Items))
	}
}
