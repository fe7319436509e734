package ddb_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// TestUpdateTableGSICreating: an index added by UpdateTable is CREATING (Backfilling) for
// StateDelay, like a table, and cannot be read meanwhile; then it is ACTIVE with the table's
// items. With no StateDelay it is ACTIVE at once.
func TestUpdateTableGSICreating(t *testing.T) {
	addIndex := func(t *testing.T, c *dynamodb.Client) *dynamodb.UpdateTableOutput {
		t.Helper()
		out, err := c.UpdateTable(context.Background(), &dynamodb.UpdateTableInput{TableName: aws.String("leases"),
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("leaseOwner"), AttributeType: types.ScalarAttributeTypeS}},
			GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
				IndexName:  aws.String("byOwner"),
				KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("leaseOwner"), KeyType: types.KeyTypeHash}},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
			}}}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	index := func(t *testing.T, c *dynamodb.Client) (types.TableStatus, types.GlobalSecondaryIndexDescription) {
		t.Helper()
		d, err := c.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("leases")})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Table.GlobalSecondaryIndexes) != 1 {
			t.Fatalf("%d indexes, want 1", len(d.Table.GlobalSecondaryIndexes))
		}
		return d.Table.TableStatus, d.Table.GlobalSecondaryIndexes[0]
	}
	query := func(c *dynamodb.Client) error {
		_, err := c.Query(context.Background(), &dynamodb.QueryInput{TableName: aws.String("leases"), IndexName: aws.String("byOwner"),
			KeyConditionExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: map[string]types.AttributeValue{":o": str("w1")}})
		return err
	}

	t.Run("StateDelay", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			const delay = 500 * time.Millisecond
			c := newClient(t, kinesislocal.Options{StateDelay: delay})
			createLeaseTable(t, c, "leases", false)
			time.Sleep(delay)
			if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("leases"),
				Item: map[string]types.AttributeValue{"leaseKey": str("shard-0"), "leaseOwner": str("w1")}}); err != nil {
				t.Fatal(err)
			}
			out := addIndex(t, c)
			if g := out.TableDescription.GlobalSecondaryIndexes; len(g) != 1 || g[0].IndexStatus != types.IndexStatusCreating {
				t.Fatalf("UpdateTable response: indexes %+v, want one CREATING", g)
			}
			status, g := index(t, c)
			if status != types.TableStatusUpdating || g.IndexStatus != types.IndexStatusCreating || !aws.ToBool(g.Backfilling) {
				t.Fatalf("after UpdateTable: table %s, index %s backfilling %v; want UPDATING, CREATING, true", status, g.IndexStatus, aws.ToBool(g.Backfilling))
			}
			if err := query(c); apiCode(err) != "ValidationException" {
				t.Fatalf("Query on a backfilling index: %v, want ValidationException", err)
			}
			time.Sleep(delay)
			status, g = index(t, c)
			if status != types.TableStatusActive || g.IndexStatus != types.IndexStatusActive || g.Backfilling != nil || aws.ToInt64(g.ItemCount) != 1 {
				t.Fatalf("after StateDelay: table %s, index %s backfilling %v items %d; want ACTIVE, ACTIVE, absent, 1",
					status, g.IndexStatus, g.Backfilling, aws.ToInt64(g.ItemCount))
			}
			if err := query(c); err != nil {
				t.Fatalf("Query on the active index: %v", err)
			}
		})
	})
	t.Run("NoDelay", func(t *testing.T) {
		c := newClient(t, kinesislocal.Options{})
		createLeaseTable(t, c, "leases", false)
		addIndex(t, c)
		if status, g := index(t, c); status != types.TableStatusActive || g.IndexStatus != types.IndexStatusActive {
			t.Fatalf("table %s, index %s; want both ACTIVE", status, g.IndexStatus)
		}
	})
}
