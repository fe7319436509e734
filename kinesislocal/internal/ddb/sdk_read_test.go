package ddb_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

func TestScanPagination(t *testing.T) {
	c := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createLeaseTable(t, c, "scan", false)
	for i := range 26 {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("scan"),
			Item: map[string]types.AttributeValue{"leaseKey": str(fmt.Sprintf("shardId-%012d", i)), "n": num(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	scanAll := func(in *dynamodb.ScanInput) (keys []string, pages int) {
		p := dynamodb.NewScanPaginator(c, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, it := range out.Items {
				keys = append(keys, getS(it, "leaseKey"))
			}
		}
		return keys, pages
	}
	keys, pages := scanAll(&dynamodb.ScanInput{TableName: aws.String("scan"), Limit: aws.Int32(7)})
	if pages != 4 || len(keys) != 26 {
		t.Fatalf("Limit 7 over 26: %d pages, %d items", pages, len(keys))
	}
	once, _ := scanAll(&dynamodb.ScanInput{TableName: aws.String("scan")})
	if !slices.Equal(keys, once) {
		t.Fatal("paged scan order differs from a single scan")
	}
	sorted := slices.Sorted(slices.Values(keys))
	if len(slices.Compact(sorted)) != 26 {
		t.Fatalf("duplicates in scan: %v", keys)
	}

	// Parallel scan: 4 segments cover every item exactly once.
	var seg []string
	for s := range 4 {
		k, _ := scanAll(&dynamodb.ScanInput{TableName: aws.String("scan"), Segment: aws.Int32(int32(s)), TotalSegments: aws.Int32(4), Limit: aws.Int32(5)})
		seg = append(seg, k...)
	}
	slices.Sort(seg)
	if !slices.Equal(seg, slices.Sorted(slices.Values(keys))) {
		t.Fatalf("segments cover %d items: %v", len(seg), seg)
	}

	// Filter, projection, COUNT.
	out, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("scan"), FilterExpression: aws.String("n >= :ten"),
		ProjectionExpression: aws.String("leaseKey"), ExpressionAttributeValues: map[string]types.AttributeValue{":ten": num(10)}})
	if err != nil || out.Count != 16 || out.ScannedCount != 26 || len(out.Items[0]) != 1 {
		t.Fatalf("filtered scan: %+v %v", out, err)
	}
	out, err = c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("scan"), Select: types.SelectCount})
	if err != nil || out.Count != 26 || out.Items != nil {
		t.Fatalf("COUNT scan: %+v %v", out, err)
	}
	_, err = c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("scan"), Segment: aws.Int32(4), TotalSegments: aws.Int32(4)})
	wantCode(t, err, "ValidationException")
}

func createOrdersTable(t *testing.T, c *dynamodb.Client) {
	t.Helper()
	_, err := c.CreateTable(ctxT(t), &dynamodb.CreateTableInput{
		TableName: aws.String("orders"),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("cust"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("seq"), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("cust"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("seq"), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestQuery(t *testing.T) {
	c := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createOrdersTable(t, c)
	// Insert out of order; numbers must sort numerically (2 < 10), not as text.
	for _, cust := range []string{"alice", "bob"} {
		for i := 25; i >= 0; i-- {
			if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"),
				Item: map[string]types.AttributeValue{"cust": str(cust), "seq": num(i), "odd": &types.AttributeValueMemberBOOL{Value: i%2 == 1}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	query := func(in *dynamodb.QueryInput) (seqs []string, pages int) {
		p := dynamodb.NewQueryPaginator(c, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, it := range out.Items {
				seqs = append(seqs, getN(it, "seq"))
			}
		}
		return seqs, pages
	}
	vals := func(kv ...any) map[string]types.AttributeValue {
		m := map[string]types.AttributeValue{}
		for i := 0; i < len(kv); i += 2 {
			switch v := kv[i+1].(type) {
			case string:
				m[kv[i].(string)] = str(v)
			case int:
				m[kv[i].(string)] = num(v)
			}
		}
		return m
	}
	seqs, pages := query(&dynamodb.QueryInput{TableName: aws.String("orders"), KeyConditionExpression: aws.String("cust = :c"),
		ExpressionAttributeValues: vals(":c", "alice"), Limit: aws.Int32(7)})
	if pages != 4 || len(seqs) != 26 || seqs[0] != "0" || seqs[2] != "2" || seqs[10] != "10" || seqs[25] != "25" {
		t.Fatalf("Limit 7 query: %d pages %v", pages, seqs)
	}
	tests := []struct {
		cond    string
		vals    map[string]types.AttributeValue
		forward bool
		filter  string
		want    string
	}{
		{"cust = :c AND seq BETWEEN :a AND :b", vals(":c", "bob", ":a", 3, ":b", 6), true, "", "3,4,5,6"},
		{"cust = :c AND seq > :a", vals(":c", "bob", ":a", 22), false, "", "25,24,23"},
		{"cust = :c AND seq <= :a", vals(":c", "bob", ":a", 2), true, "", "0,1,2"},
		{":c = cust AND :a > seq", vals(":c", "bob", ":a", 2), true, "", "0,1"},
		{"cust = :c AND seq < :a", vals(":c", "bob", ":a", 8), true, "odd = :t", "1,3,5,7"},
		{"cust = :c AND seq = :a", vals(":c", "carol", ":a", 1), true, "", ""},
	}
	for _, tt := range tests {
		in := &dynamodb.QueryInput{TableName: aws.String("orders"), KeyConditionExpression: aws.String(tt.cond),
			ExpressionAttributeValues: tt.vals, ScanIndexForward: aws.Bool(tt.forward), Limit: aws.Int32(3)}
		if tt.filter != "" {
			in.FilterExpression = aws.String(tt.filter)
			in.ExpressionAttributeValues[":t"] = &types.AttributeValueMemberBOOL{Value: true}
		}
		seqs, _ := query(in)
		if got := strings.Join(seqs, ","); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.cond, got, tt.want)
		}
	}
	bad := []struct{ cond, filter, msg string }{
		{"seq = :a", "", "Query condition missed key schema element: cust"},
		{"cust = :c OR seq = :a", "", "Invalid operator used in KeyConditionExpression: OR"},
		{"cust > :c", "", "Query key condition not supported"},
		{"cust = :c", "seq = :a", "Filter Expression can only contain non-primary key attributes: Primary key attribute: seq"},
		{"cust = :a", "", "Condition parameter type does not match schema type"},
	}
	for _, tt := range bad {
		in := &dynamodb.QueryInput{TableName: aws.String("orders"), KeyConditionExpression: aws.String(tt.cond), ExpressionAttributeValues: vals(":c", "bob", ":a", 1)}
		if !strings.Contains(tt.cond+tt.filter, ":c") {
			delete(in.ExpressionAttributeValues, ":c")
		}
		if !strings.Contains(tt.cond+tt.filter, ":a") {
			delete(in.ExpressionAttributeValues, ":a")
		}
		if tt.filter != "" {
			in.FilterExpression = aws.String(tt.filter)
		}
		_, err := c.Query(ctx, in)
		if apiCode(err) != "ValidationException" || !strings.Contains(apiMessage(err), tt.msg) {
			t.Errorf("%s / %s: %v, want %q", tt.cond, tt.filter, err, tt.msg)
		}
	}
	out, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("orders"), KeyConditionExpression: aws.String("cust = :c"),
		ExpressionAttributeValues: vals(":c", "bob"), Select: types.SelectCount})
	if err != nil || out.Count != 26 {
		t.Fatalf("COUNT: %+v %v", out, err)
	}
	// Legacy KeyConditions.
	out, err = c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("orders"), KeyConditions: map[string]types.Condition{
		"cust": {ComparisonOperator: types.ComparisonOperatorEq, AttributeValueList: []types.AttributeValue{str("bob")}},
		"seq":  {ComparisonOperator: types.ComparisonOperatorGe, AttributeValueList: []types.AttributeValue{num(24)}},
	}})
	if err != nil || out.Count != 2 {
		t.Fatalf("KeyConditions: %+v %v", out, err)
	}
}

// TestGSIQueryAfterOwnerChange is the KCL 3.x lease discoverer: query the LeaseOwnerToLeaseKeyIndex
// for a worker's leases while ownership moves.
func TestGSIQueryAfterOwnerChange(t *testing.T) {
	c := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createLeaseTable(t, c, "leases", true)
	for i := range 6 {
		owner := "w1"
		if i%2 == 1 {
			owner = "w2"
		}
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("leases"),
			Item: map[string]types.AttributeValue{"leaseKey": str(fmt.Sprintf("shard-%d", i)), "leaseOwner": str(owner), "checkpoint": str("x")}}); err != nil {
			t.Fatal(err)
		}
	}
	// One unowned lease is not in the sparse index.
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("leases"), Item: map[string]types.AttributeValue{"leaseKey": str("shard-9")}}); err != nil {
		t.Fatal(err)
	}
	owned := func(owner string) string {
		p := dynamodb.NewQueryPaginator(c, &dynamodb.QueryInput{TableName: aws.String("leases"), IndexName: aws.String("LeaseOwnerToLeaseKeyIndex"),
			KeyConditionExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: map[string]types.AttributeValue{":o": str(owner)}, Limit: aws.Int32(2)})
		var keys []string
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range out.Items {
				if _, ok := it["checkpoint"]; ok {
					t.Fatalf("KEYS_ONLY index returned a non-key attribute: %v", it)
				}
				keys = append(keys, getS(it, "leaseKey"))
			}
		}
		return strings.Join(keys, ",")
	}
	if got := owned("w1"); got != "shard-0,shard-2,shard-4" {
		t.Fatalf("w1 owns %s", got)
	}
	// w2 takes shard-2 from w1.
	if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("leases"), Key: map[string]types.AttributeValue{"leaseKey": str("shard-2")},
		UpdateExpression: aws.String("SET leaseOwner = :new"), ConditionExpression: aws.String("leaseOwner = :old"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":new": str("w2"), ":old": str("w1")}}); err != nil {
		t.Fatal(err)
	}
	if got := owned("w1"); got != "shard-0,shard-4" {
		t.Fatalf("w1 owns %s after the steal", got)
	}
	if got := owned("w2"); got != "shard-1,shard-2,shard-3,shard-5" {
		t.Fatalf("w2 owns %s after the steal", got)
	}
	_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("leases"), IndexName: aws.String("LeaseOwnerToLeaseKeyIndex"), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: map[string]types.AttributeValue{":o": str("w1")}})
	if apiCode(err) != "ValidationException" || !strings.Contains(apiMessage(err), "Consistent reads are not supported on global secondary indexes") {
		t.Fatalf("consistent GSI query: %v", err)
	}
	_, err = c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("leases"), IndexName: aws.String("nope"),
		KeyConditionExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: map[string]types.AttributeValue{":o": str("w1")}})
	wantCode(t, err, "ValidationException")
	// A GSI scan sees only indexed items.
	out, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("leases"), IndexName: aws.String("LeaseOwnerToLeaseKeyIndex")})
	if err != nil || out.Count != 6 {
		t.Fatalf("GSI scan: %+v %v", out, err)
	}
}
