package ddb_test

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

func TestTableLifecycle(t *testing.T) {
	c := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createLeaseTable(t, c, "leases", true)

	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("leases"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("duplicate CreateTable: %v", err)
	}

	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("leases"),
		Item: map[string]types.AttributeValue{"leaseKey": str("shardId-0"), "leaseOwner": str("w1"), "leaseCounter": num(1)}}); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("leases")})
	if err != nil {
		t.Fatal(err)
	}
	tb := d.Table
	if tb.TableStatus != types.TableStatusActive || aws.ToInt64(tb.ItemCount) != 1 || aws.ToInt64(tb.TableSizeBytes) == 0 ||
		aws.ToString(tb.TableArn) != "arn:aws:dynamodb:us-east-1:000000000000:table/leases" ||
		tb.BillingModeSummary == nil || tb.BillingModeSummary.BillingMode != types.BillingModePayPerRequest ||
		len(tb.KeySchema) != 1 || len(tb.AttributeDefinitions) != 2 || tb.CreationDateTime == nil {
		t.Fatalf("DescribeTable: %+v", tb)
	}
	if len(tb.GlobalSecondaryIndexes) != 1 || tb.GlobalSecondaryIndexes[0].IndexStatus != types.IndexStatusActive ||
		tb.GlobalSecondaryIndexes[0].Projection.ProjectionType != types.ProjectionTypeKeysOnly ||
		aws.ToInt64(tb.GlobalSecondaryIndexes[0].ItemCount) != 1 {
		t.Fatalf("GSI description: %+v", tb.GlobalSecondaryIndexes)
	}

	// UpdateTable: deletion protection alone is accepted; billing switch to PROVISIONED.
	if _, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("leases"), DeletionProtectionEnabled: aws.Bool(true)}); err != nil {
		t.Fatalf("UpdateTable DeletionProtectionEnabled: %v", err)
	}
	u, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("leases"), BillingMode: types.BillingModeProvisioned,
		ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(10), WriteCapacityUnits: aws.Int64(5)}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(u.TableDescription.ProvisionedThroughput.ReadCapacityUnits) != 10 || u.TableDescription.BillingModeSummary.BillingMode != types.BillingModeProvisioned {
		t.Fatalf("UpdateTable: %+v", u.TableDescription)
	}
	_, err = c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("leases")})
	wantCode(t, err, "ValidationException")

	// TTL.
	if _, err := c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String("leases"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{Enabled: aws.Bool(true), AttributeName: aws.String("expiresAt")}}); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("leases")})
	if err != nil || ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expiresAt" {
		t.Fatalf("DescribeTimeToLive: %+v %v", ttl, err)
	}

	// ListTables pagination.
	for _, n := range []string{"t-b", "t-a", "t-c"} {
		createLeaseTable(t, c, n, false)
	}
	var all []string
	pages := 0
	p := dynamodb.NewListTablesPaginator(c, &dynamodb.ListTablesInput{Limit: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, out.TableNames...)
	}
	if strings.Join(all, ",") != "leases,t-a,t-b,t-c" || pages != 2 {
		t.Fatalf("ListTables: %v in %d pages", all, pages)
	}

	// DeleteTable.
	if _, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("t-a")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("t-a")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("DescribeTable after delete: %v", err)
	}
	_, err = c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("t-a")})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestCreateTableValidation(t *testing.T) {
	c := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	def := func(n string, typ types.ScalarAttributeType) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: typ}
	}
	ks := func(n string, kt types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(n), KeyType: kt}
	}
	tests := []struct {
		name string
		in   dynamodb.CreateTableInput
		msg  string
	}{
		{"short name", dynamodb.CreateTableInput{TableName: aws.String("ab"), AttributeDefinitions: []types.AttributeDefinition{def("k", "S")},
			KeySchema: []types.KeySchemaElement{ks("k", "HASH")}, BillingMode: types.BillingModePayPerRequest}, "length greater than or equal to 3"},
		{"unused definition", dynamodb.CreateTableInput{TableName: aws.String("tbl"), AttributeDefinitions: []types.AttributeDefinition{def("k", "S"), def("x", "S")},
			KeySchema: []types.KeySchemaElement{ks("k", "HASH")}, BillingMode: types.BillingModePayPerRequest}, "does not exactly match"},
		{"undefined key", dynamodb.CreateTableInput{TableName: aws.String("tbl"), AttributeDefinitions: []types.AttributeDefinition{def("x", "S")},
			KeySchema: []types.KeySchemaElement{ks("k", "HASH")}, BillingMode: types.BillingModePayPerRequest}, "not defined in AttributeDefinitions"},
		{"range first", dynamodb.CreateTableInput{TableName: aws.String("tbl"), AttributeDefinitions: []types.AttributeDefinition{def("k", "S")},
			KeySchema: []types.KeySchemaElement{ks("k", "RANGE")}, BillingMode: types.BillingModePayPerRequest}, "not a HASH key type"},
		{"provisioned without throughput", dynamodb.CreateTableInput{TableName: aws.String("tbl"), AttributeDefinitions: []types.AttributeDefinition{def("k", "S")},
			KeySchema: []types.KeySchemaElement{ks("k", "HASH")}}, "must both be specified"},
		{"on-demand with throughput", dynamodb.CreateTableInput{TableName: aws.String("tbl"), AttributeDefinitions: []types.AttributeDefinition{def("k", "S")},
			KeySchema: []types.KeySchemaElement{ks("k", "HASH")}, BillingMode: types.BillingModePayPerRequest,
			ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(1), WriteCapacityUnits: aws.Int64(1)}}, "Neither ReadCapacityUnits"},
		{"INCLUDE without attributes", dynamodb.CreateTableInput{TableName: aws.String("tbl"), AttributeDefinitions: []types.AttributeDefinition{def("k", "S"), def("o", "S")},
			KeySchema: []types.KeySchemaElement{ks("k", "HASH")}, BillingMode: types.BillingModePayPerRequest,
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: aws.String("idx"), KeySchema: []types.KeySchemaElement{ks("o", "HASH")},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude}}}}, "NonKeyAttributes is not specified"},
	}
	for _, tt := range tests {
		_, err := c.CreateTable(ctx, &tt.in)
		if apiCode(err) != "ValidationException" || !strings.Contains(apiMessage(err), tt.msg) {
			t.Errorf("%s: %v, want ValidationException containing %q", tt.name, err, tt.msg)
		}
	}
	// A provisioned hash+range table with an INCLUDE GSI of type N is fine.
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("prov"),
		AttributeDefinitions:  []types.AttributeDefinition{def("h", "S"), def("r", "N"), def("g", "B")},
		KeySchema:             []types.KeySchemaElement{ks("h", "HASH"), ks("r", "RANGE")},
		ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(5)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: aws.String("byG"), KeySchema: []types.KeySchemaElement{ks("g", "HASH")},
			Projection:            &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"x"}},
			ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(1), WriteCapacityUnits: aws.Int64(1)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStateDelay runs in a synctest bubble. In real time its checks of the CREATING window were
// guarded by "if less than the delay has passed", so on a loaded machine, where the 80 ms were
// often gone before DescribeTable answered, the test silently asserted nothing; in fake time
// no time passes between CreateTable and the checks, and every check runs.
func TestStateDelay(t *testing.T) {
	synctest.Test(t, testStateDelay)
}

func testStateDelay(t *testing.T) {
	const delay = 80 * time.Millisecond
	c := newClient(t, kinesislocal.Options{StateDelay: delay})
	ctx := ctxT(t)
	start := time.Now()
	createLeaseTable(t, c, "slow", false)
	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("slow")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Table.TableStatus != types.TableStatusCreating {
		t.Fatalf("status %s right after CreateTable", d.Table.TableStatus)
	}
	put := func() error {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("slow"), Item: map[string]types.AttributeValue{"leaseKey": str("a")}})
		return err
	}
	wantCode(t, put(), "ResourceNotFoundException")
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 10 * time.Millisecond
		o.MaxDelay = 20 * time.Millisecond
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("slow")}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < delay || el > delay+20*time.Millisecond {
		t.Fatalf("ACTIVE after %v, want after the %v delay (polled every 10 to 20 ms)", el, delay)
	}
	if err := put(); err != nil {
		t.Fatal(err)
	}
}

// TestServerDataDir checks the server wiring of durability: a table and an acknowledged
// conditional write survive a restart of the whole kinesislocal server.
func TestServerDataDir(t *testing.T) {
	dir := t.TempDir()
	srv, err := kinesislocal.New(kinesislocal.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c := dynamodb.NewFromConfig(srv.AWSConfig())
	ctx := ctxT(t)
	createLeaseTable(t, c, "durable", true)
	if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("durable"), Key: map[string]types.AttributeValue{"leaseKey": str("s1")},
		UpdateExpression: aws.String("SET leaseOwner = :o"), ConditionExpression: aws.String("attribute_not_exists(leaseKey)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": str("w1")}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv2, err := kinesislocal.New(kinesislocal.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	c2 := dynamodb.NewFromConfig(srv2.AWSConfig())
	out, err := c2.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("durable"), IndexName: aws.String("LeaseOwnerToLeaseKeyIndex"),
		KeyConditionExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: map[string]types.AttributeValue{":o": str("w1")}})
	if err != nil || out.Count != 1 || getS(out.Items[0], "leaseKey") != "s1" {
		t.Fatalf("after restart: %+v %v", out, err)
	}
}

func TestTagsAndBackups(t *testing.T) {
	c := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createLeaseTable(t, c, "tagged", false)
	arn := aws.String("arn:aws:dynamodb:us-east-1:000000000000:table/tagged")
	if _, err := c.TagResource(ctx, &dynamodb.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{{Key: aws.String("app"), Value: aws.String("kcl")}, {Key: aws.String("env"), Value: aws.String("dev")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &dynamodb.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: arn})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "app" {
		t.Fatalf("tags: %+v %v", tags, err)
	}
	_, err = c.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: aws.String("arn:aws:dynamodb:us-east-1:000000000000:table/nope")})
	wantCode(t, err, "ResourceNotFoundException")
	out, err := c.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{TableName: aws.String("tagged"),
		PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)}})
	if err != nil || out.ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != types.PointInTimeRecoveryStatusEnabled {
		t.Fatalf("UpdateContinuousBackups: %+v %v", out, err)
	}
	d, err := c.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String("tagged")})
	if err != nil || d.ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != types.PointInTimeRecoveryStatusEnabled {
		t.Fatalf("DescribeContinuousBackups: %+v %v", d, err)
	}
}
