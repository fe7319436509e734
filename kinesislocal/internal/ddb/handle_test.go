package ddb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

func TestBadRequests(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	call(t, e, "CreateTable", leaseTable)
	tests := []struct{ op, body, typ, msg string }{
		{"PutItem", `{`, typeSerialization, ""},
		{"PutItem", `[]`, typeSerialization, ""},
		{"PutItem", `{"TableName":5}`, typeSerialization, ""},
		{"PutItem", `{"TableName":"leases","Item":{"leaseKey":{"S":1}}}`, typeSerialization, ""},
		{"PutItem", `{"TableName":"leases","Item":{"leaseKey":{"B":"!!"}}}`, typeSerialization, ""},
		{"PutItem", `{"TableName":"leases","Item":{"leaseKey":{}}}`, typeValidation, "Supplied AttributeValue is empty"},
		{"PutItem", `{"TableName":"leases","Item":{"leaseKey":{"S":"a","N":"1"}}}`, typeValidation, "more than one datatypes"},
		{"PutItem", `{"TableName":"leases","Item":{"leaseKey":{"S":"a"},"n":{"N":"1e999"}}}`, typeValidation, "Number overflow"},
		{"PutItem", `{"TableName":"leases","Item":{"leaseKey":{"S":"a"},"s":{"SS":[]}}}`, typeValidation, "may not be empty"},
		{"PutItem", `{"TableName":"leases"}`, typeValidation, "Value null at 'item'"},
		{"PutItem", `{"Item":{"leaseKey":{"S":"a"}}}`, typeValidation, "Value null at 'tableName'"},
		{"GetItem", `{"TableName":"leases","Key":{"leaseKey":{"S":"a"}},"ExpressionAttributeNames":{}}`, typeValidation, "ExpressionAttributeNames must not be empty"},
		{"Scan", `{"TableName":"leases","Limit":0}`, typeValidation, "greater than or equal to 1"},
		{"Frobnicate", `{}`, typeUnknownOp, ""},
		{"TransactWriteItems", `{"TransactItems":[{}]}`, typeValidation, "only contain one of"},
	}
	for _, tt := range tests {
		_, err := e.Handle(context.Background(), tt.op, []byte(tt.body))
		var ae *awsproto.Error
		if !errors.As(err, &ae) || ae.Type != tt.typ || !strings.Contains(ae.Message, tt.msg) {
			t.Errorf("%s %s: %v; want %s containing %q", tt.op, tt.body, err, tt.typ, tt.msg)
		}
	}
}

var handleSeeds = []struct{ op, body string }{
	{"PutItem", `{"TableName":"leases","Item":{"leaseKey":{"S":"a"},"leaseOwner":{"S":"w"},"m":{"M":{"l":{"L":[{"N":"1"},{"NULL":true},{"BOOL":false},{"BS":["AA=="]}]}}}},"ConditionExpression":"attribute_not_exists(leaseKey)"}`},
	{"UpdateItem", `{"TableName":"leases","Key":{"leaseKey":{"S":"a"}},"UpdateExpression":"SET c = if_not_exists(c, :z) + :one REMOVE m.l[1]","ExpressionAttributeValues":{":z":{"N":"0"},":one":{"N":"1"}},"ReturnValues":"ALL_NEW"}`},
	{"UpdateItem", `{"TableName":"leases","Key":{"leaseKey":{"S":"a"}},"AttributeUpdates":{"c":{"Action":"ADD","Value":{"N":"1"}}},"Expected":{"c":{"ComparisonOperator":"GT","AttributeValueList":[{"N":"0"}]}}}`},
	{"DeleteItem", `{"TableName":"leases","Key":{"leaseKey":{"S":"a"}},"Expected":{"leaseKey":{"Exists":false}},"ReturnValues":"ALL_OLD"}`},
	{"GetItem", `{"TableName":"leases","Key":{"leaseKey":{"S":"a"}},"ProjectionExpression":"#a, m.l[0]","ExpressionAttributeNames":{"#a":"leaseOwner"}}`},
	{"Query", `{"TableName":"leases","IndexName":"byOwner","KeyConditionExpression":"leaseOwner = :o","ExpressionAttributeValues":{":o":{"S":"w"}},"Limit":1}`},
	{"Scan", `{"TableName":"leases","Segment":0,"TotalSegments":2,"FilterExpression":"size(m) > :n","ExpressionAttributeValues":{":n":{"N":"0"}},"ExclusiveStartKey":{"leaseKey":{"S":"a"}}}`},
	{"BatchGetItem", `{"RequestItems":{"leases":{"Keys":[{"leaseKey":{"S":"a"}},{"leaseKey":{"S":"b"}}]}}}`},
	{"BatchWriteItem", `{"RequestItems":{"leases":[{"PutRequest":{"Item":{"leaseKey":{"S":"b"}}}},{"DeleteRequest":{"Key":{"leaseKey":{"S":"a"}}}}]}}`},
	{"TransactWriteItems", `{"TransactItems":[{"ConditionCheck":{"TableName":"leases","Key":{"leaseKey":{"S":"a"}},"ConditionExpression":"attribute_exists(leaseKey)"}},{"Put":{"TableName":"leases","Item":{"leaseKey":{"S":"c"}}}}]}`},
	{"TransactGetItems", `{"TransactItems":[{"Get":{"TableName":"leases","Key":{"leaseKey":{"S":"a"}}}}]}`},
	{"CreateTable", `{"TableName":"other","AttributeDefinitions":[{"AttributeName":"h","AttributeType":"B"},{"AttributeName":"r","AttributeType":"N"}],"KeySchema":[{"AttributeName":"h","KeyType":"HASH"},{"AttributeName":"r","KeyType":"RANGE"}],"ProvisionedThroughput":{"ReadCapacityUnits":1,"WriteCapacityUnits":1}}`},
	{"UpdateTable", `{"TableName":"leases","BillingMode":"PROVISIONED","ProvisionedThroughput":{"ReadCapacityUnits":1,"WriteCapacityUnits":1}}`},
	{"DescribeTable", `{"TableName":"leases"}`},
	{"ListTables", `{"Limit":1,"ExclusiveStartTableName":"a"}`},
	{"UpdateTimeToLive", `{"TableName":"leases","TimeToLiveSpecification":{"Enabled":true,"AttributeName":"x"}}`},
	{"DeleteTable", `{"TableName":"leases"}`},
}

var handleOps = []string{"CreateTable", "DescribeTable", "DeleteTable", "ListTables", "UpdateTable", "DescribeTimeToLive",
	"UpdateTimeToLive", "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
	"BatchWriteItem", "TransactWriteItems", "TransactGetItems", "TagResource", "UntagResource", "ListTagsOfResource",
	"DescribeContinuousBackups", "UpdateContinuousBackups", "DescribeLimits"}

// FuzzHandle feeds arbitrary bodies to every operation: nothing may panic (Handle would turn a
// panic into an InternalServerError, which the fuzzer reports) or return a non-API error.
func FuzzHandle(f *testing.F) {
	for _, s := range handleSeeds {
		for i, op := range handleOps {
			if op == s.op {
				f.Add(uint8(i), s.body)
			}
		}
	}
	f.Fuzz(func(t *testing.T, opIdx uint8, body string) {
		e, _ := New(Options{})
		call(t, e, "CreateTable", leaseTable)
		call(t, e, "PutItem", `{"TableName":"leases","Item":{"leaseKey":{"S":"a"},"leaseOwner":{"S":"w"},"m":{"M":{"x":{"L":[{"N":"1"}]}}}}}`)
		op := handleOps[int(opIdx)%len(handleOps)]
		_, err := e.Handle(context.Background(), op, []byte(body))
		if err == nil {
			return
		}
		var ae *awsproto.Error
		if !errors.As(err, &ae) {
			t.Fatalf("%s: non-API error %T %v", op, err, err)
		}
		if ae.Type == typeInternal {
			t.Fatalf("%s %q: %v", op, body, err)
		}
	})
}

func benchEngine(b *testing.B, opts Options) *Engine {
	e, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	call(b, e, "CreateTable", leaseTable)
	for i := range 64 {
		call(b, e, "PutItem", fmt.Sprintf(`{"TableName":"leases","Item":{"leaseKey":{"S":"shardId-%012d"},"leaseOwner":{"S":"worker-%d"},"leaseCounter":{"N":"0"},"checkpoint":{"S":"TRIM_HORIZON"}}}`, i, i))
	}
	return e
}

// renew is the lease renewal a KCL worker sends: bump the counter if it still owns the lease.
func renew(b *testing.B, e *Engine, lease int, counter int64) {
	body := fmt.Sprintf(`{"TableName":"leases","Key":{"leaseKey":{"S":"shardId-%012d"}},`+
		`"UpdateExpression":"SET leaseCounter = leaseCounter + :one",`+
		`"ConditionExpression":"leaseCounter = :c AND leaseOwner = :o",`+
		`"ExpressionAttributeValues":{":one":{"N":"1"},":c":{"N":"%d"},":o":{"S":"worker-%d"}},"ReturnValues":"ALL_NEW"}`, lease, counter, lease)
	if _, err := e.Handle(context.Background(), "UpdateItem", []byte(body)); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkUpdateItemConditional measures conditional lease renewals through Handle (request
// decoding, expression parsing, the write and the response), one caller, 64 leases.
func BenchmarkUpdateItemConditional(b *testing.B) {
	e := benchEngine(b, Options{})
	counters := make([]int64, 64)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l := i % 64
		renew(b, e, l, counters[l])
		counters[l]++
		i++
	}
}

// BenchmarkUpdateItemConditionalParallel is the same with GOMAXPROCS callers, each owning its
// own leases.
func BenchmarkUpdateItemConditionalParallel(b *testing.B) {
	e := benchEngine(b, Options{})
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		lease := int(next.Add(1)-1) % 64
		var counter int64
		for pb.Next() {
			renew(b, e, lease, counter)
			counter++
		}
	})
}

// BenchmarkUpdateItemConditionalDurable adds the fsynced log (DataDir).
func BenchmarkUpdateItemConditionalDurable(b *testing.B) {
	e := benchEngine(b, Options{DataDir: b.TempDir()})
	counters := make([]int64, 64)
	i := 0
	for b.Loop() {
		l := i % 64
		renew(b, e, l, counters[l])
		counters[l]++
		i++
	}
}

func TestScanPageCap(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	call(t, e, "CreateTable", leaseTable)
	big := strings.Repeat("x", 100<<10)
	for i := range 30 {
		call(t, e, "PutItem", fmt.Sprintf(`{"TableName":"leases","Item":{"leaseKey":{"S":"k%02d"},"blob":{"S":%q}}}`, i, big))
	}
	seen := 0
	pages := 0
	esk := ""
	for {
		body := `{"TableName":"leases"` + esk + `}`
		m := call(t, e, "Scan", body)
		pages++
		n := int(m["Count"].(float64))
		if n*(100<<10) > 1<<20+(100<<10) {
			t.Fatalf("page of %d items exceeds the 1 MB cap", n)
		}
		seen += n
		lek, ok := m["LastEvaluatedKey"]
		if !ok {
			break
		}
		b, _ := json.Marshal(lek)
		esk = `,"ExclusiveStartKey":` + string(b)
	}
	if seen != 30 || pages < 3 {
		t.Fatalf("%d items in %d pages", seen, pages)
	}
}

// BenchmarkUpdateItemConditionalDurableParallel shows group commit: 16 callers share fsyncs.
func BenchmarkUpdateItemConditionalDurableParallel(b *testing.B) {
	e := benchEngine(b, Options{DataDir: b.TempDir()})
	var next atomic.Int64
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		lease := int(next.Add(1)-1) % 64
		var counter int64
		for pb.Next() {
			renew(b, e, lease, counter)
			counter++
		}
	})
}
