package kinesislocal_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// shardIterator returns a TRIM_HORIZON iterator for shard idx of stream.
func shardIterator(t *testing.T, kc *kinesis.Client, stream string, idx int) *string {
	t.Helper()
	out, err := kc.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{
		StreamName: &stream, ShardId: aws.String(shardName(idx)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	return out.ShardIterator
}

func shardName(idx int) string { return "shardId-" + leftPad(strconv.Itoa(idx), 12) }

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

func createStream(t *testing.T, kc *kinesis.Client, name string, shards int32) {
	t.Helper()
	if _, err := kc.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: &name, ShardCount: &shards}); err != nil {
		t.Fatal(err)
	}
}

func createTable(t *testing.T, db *dynamodb.Client, name, hash, rng string) {
	t.Helper()
	in := &dynamodb.CreateTableInput{TableName: &name, BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: &hash, AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: &hash, KeyType: ddbtypes.KeyTypeHash}}}
	if rng != "" {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{AttributeName: &rng, AttributeType: ddbtypes.ScalarAttributeTypeN})
		in.KeySchema = append(in.KeySchema, ddbtypes.KeySchemaElement{AttributeName: &rng, KeyType: ddbtypes.KeyTypeRange})
	}
	if _, err := db.CreateTable(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// TestFaultNthCallOnShard scripts "throttle the 3rd GetRecords on shard 1": only that call fails,
// calls on shard 0 do not count toward it, and later calls succeed.
func TestFaultNthCallOnShard(t *testing.T) {
	srv := newServer(t, kinesislocal.Options{Faults: []kinesislocal.Fault{{
		Operation: "GetRecords", Shard: "shardId-000000000001", Calls: kinesislocal.NthCall(3),
		ErrorCode: "ProvisionedThroughputExceededException",
	}}})
	kc := kinesis.NewFromConfig(noRetry(srv.AWSConfig()))
	createStream(t, kc, "s", 2)
	it0, it1 := shardIterator(t, kc, "s", 0), shardIterator(t, kc, "s", 1)
	ctx := context.Background()
	var got []string
	for i := range 5 {
		if _, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it0}); err != nil {
			t.Fatalf("shard 0 call %d: %v", i+1, err)
		}
		_, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it1})
		var pte *types.ProvisionedThroughputExceededException
		switch {
		case err == nil:
			got = append(got, "ok")
		case errors.As(err, &pte):
			got = append(got, "throttled")
		default:
			t.Fatalf("shard 1 call %d: %v", i+1, err)
		}
	}
	want := []string{"ok", "ok", "throttled", "ok", "ok"}
	if !equalStrings(got, want) {
		t.Fatalf("shard 1 GetRecords results %v, want %v", got, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFaultOnItemKey scripts "fail the CreateLease PutItem for shardId-000000000002": the PutItem
// of that lease fails and stores nothing; other leases and other operations on it are untouched.
func TestFaultOnItemKey(t *testing.T) {
	srv := newServer(t, kinesislocal.Options{Faults: []kinesislocal.Fault{{
		Operation: "PutItem", Table: "leases", Key: map[string]string{"leaseKey": "shardId-000000000002"},
		ErrorCode: "InternalServerError",
	}}})
	db := dynamodb.NewFromConfig(noRetry(srv.AWSConfig()))
	createTable(t, db, "leases", "leaseKey", "")
	createTable(t, db, "other", "leaseKey", "")
	ctx := context.Background()
	put := func(table, key string) error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]ddbtypes.AttributeValue{
			"leaseKey": &ddbtypes.AttributeValueMemberS{Value: key}, "leaseCounter": &ddbtypes.AttributeValueMemberN{Value: "0"}},
			ConditionExpression: aws.String("attribute_not_exists(leaseKey)")})
		return err
	}
	for i := range 4 {
		err := put("leases", shardName(i))
		if (i == 2) != (err != nil) {
			t.Fatalf("PutItem %s: %v", shardName(i), err)
		}
		if i == 2 {
			var ise *ddbtypes.InternalServerError
			if !errors.As(err, &ise) {
				t.Fatalf("PutItem %s: %T %v, want InternalServerError", shardName(i), err, err)
			}
		}
	}
	if err := put("other", shardName(2)); err != nil {
		t.Fatalf("PutItem in another table: %v", err)
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("leases"),
		Key: map[string]ddbtypes.AttributeValue{"leaseKey": &ddbtypes.AttributeValueMemberS{Value: shardName(2)}}})
	if err != nil || out.Item != nil {
		t.Fatalf("failed PutItem stored something: %v, %v", out.Item, err)
	}
}

// TestInterceptDescribesRequests checks what the hook is told about each kind of request.
func TestInterceptDescribesRequests(t *testing.T) {
	var mu sync.Mutex
	var seen []kinesislocal.Request
	srv := newServer(t, kinesislocal.Options{Intercept: func(r kinesislocal.Request) kinesislocal.Injection {
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		return kinesislocal.Injection{}
	}})
	cfg := srv.AWSConfig()
	cfg.AppID = "worker-7"
	kc := kinesis.NewFromConfig(cfg)
	db := dynamodb.NewFromConfig(cfg)
	ctx := context.Background()
	createStream(t, kc, "orders", 2)
	desc, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	arn := *desc.StreamDescriptionSummary.StreamARN
	if _, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamARN: &arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("orders"), Data: []byte("x"), PartitionKey: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	it := shardIterator(t, kc, "orders", 1)
	for range 2 {
		if _, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it}); err != nil {
			t.Fatal(err)
		}
	}
	createTable(t, db, "events", "pk", "sk")
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("events"), Item: map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "a"}, "sk": &ddbtypes.AttributeValueMemberN{Value: "7"},
		"payload": &ddbtypes.AttributeValueMemberS{Value: "not a key"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("events"),
		Key:              map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "a"}, "sk": &ddbtypes.AttributeValueMemberN{Value: "7"}},
		UpdateExpression: aws.String("SET v = :v"), ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": &ddbtypes.AttributeValueMemberN{Value: "1"}}}); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	find := func(op string, call int64) kinesislocal.Request {
		t.Helper()
		for _, r := range seen {
			if r.Operation == op && r.Call == call {
				return r
			}
		}
		t.Fatalf("no request %s #%d among %d", op, call, len(seen))
		return kinesislocal.Request{}
	}
	checks := []struct {
		got, want kinesislocal.Request
	}{
		{find("CreateStream", 1), kinesislocal.Request{Service: "kinesis", Operation: "CreateStream", Call: 1, StreamName: "orders"}},
		{find("ListShards", 1), kinesislocal.Request{Service: "kinesis", Operation: "ListShards", Call: 1, StreamName: "orders", StreamARN: arn}},
		{find("PutRecord", 1), kinesislocal.Request{Service: "kinesis", Operation: "PutRecord", Call: 1, StreamName: "orders"}},
		{find("GetShardIterator", 1), kinesislocal.Request{Service: "kinesis", Operation: "GetShardIterator", Call: 1, StreamName: "orders", ShardID: "shardId-000000000001"}},
		{find("GetRecords", 2), kinesislocal.Request{Service: "kinesis", Operation: "GetRecords", Call: 2, StreamName: "orders", ShardID: "shardId-000000000001"}},
		{find("PutItem", 1), kinesislocal.Request{Service: "dynamodb", Operation: "PutItem", Call: 1, TableName: "events", Key: map[string]string{"pk": "a", "sk": "7"}}},
		{find("UpdateItem", 1), kinesislocal.Request{Service: "dynamodb", Operation: "UpdateItem", Call: 1, TableName: "events", Key: map[string]string{"pk": "a", "sk": "7"}}},
	}
	for _, c := range checks {
		c.want.AppID = "worker-7"
		if !sameRequest(c.got, c.want) {
			t.Errorf("got  %+v\nwant %+v", c.got, c.want)
		}
	}
}

func sameRequest(a, b kinesislocal.Request) bool {
	if len(a.Key) != len(b.Key) {
		return false
	}
	for k, v := range a.Key {
		if b.Key[k] != v {
			return false
		}
	}
	return a.Service == b.Service && a.Operation == b.Operation && a.Call == b.Call && a.StreamName == b.StreamName &&
		a.StreamARN == b.StreamARN && a.ConsumerARN == b.ConsumerARN && a.ShardID == b.ShardID &&
		a.TableName == b.TableName && a.AppID == b.AppID
}

// TestInterceptDelaysTable scripts "delay every worker-table UpdateItem by 600 ms" in fake time:
// those calls take 600 ms, other tables' calls none, and a caller whose context ends first gets
// its error at once while the server stops waiting (the bubble would not end otherwise).
func TestInterceptDelaysTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newServer(t, kinesislocal.Options{Faults: []kinesislocal.Fault{{
			Operation: "UpdateItem", Table: "app-workers", Latency: 600 * time.Millisecond}}})
		db := dynamodb.NewFromConfig(srv.AWSConfig())
		createTable(t, db, "app-workers", "workerId", "")
		createTable(t, db, "app", "leaseKey", "")
		update := func(ctx context.Context, table, keyAttr string) (time.Duration, error) {
			start := time.Now()
			_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table,
				Key:              map[string]ddbtypes.AttributeValue{keyAttr: &ddbtypes.AttributeValueMemberS{Value: "w1"}},
				UpdateExpression: aws.String("SET hb = :v"), ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": &ddbtypes.AttributeValueMemberN{Value: "1"}}})
			return time.Since(start), err
		}
		ctx := context.Background()
		if d, err := update(ctx, "app-workers", "workerId"); err != nil || d != 600*time.Millisecond {
			t.Fatalf("worker-table UpdateItem: %v after %v, want success after 600ms", err, d)
		}
		if d, err := update(ctx, "app", "leaseKey"); err != nil || d != 0 {
			t.Fatalf("lease-table UpdateItem: %v after %v, want success at once", err, d)
		}
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if d, err := update(cctx, "app-workers", "workerId"); !errors.Is(err, context.DeadlineExceeded) || d != 100*time.Millisecond {
			t.Fatalf("cancelled UpdateItem: %v after %v, want DeadlineExceeded after 100ms", err, d)
		}
		synctest.Wait()
	})
}

// TestFaultCallsConcurrent sends 100 concurrent PutRecords; exactly the 50th to arrive fails.
func TestFaultCallsConcurrent(t *testing.T) {
	var intercepted atomic.Int64
	srv := newServer(t, kinesislocal.Options{
		Faults: []kinesislocal.Fault{{Operation: "PutRecord", Stream: "s", Calls: kinesislocal.NthCall(50), ErrorCode: "InternalFailure"}},
		Intercept: func(r kinesislocal.Request) kinesislocal.Injection {
			if r.Operation == "PutRecord" {
				intercepted.Add(1)
			}
			return kinesislocal.Injection{}
		},
	})
	kc := kinesis.NewFromConfig(noRetry(srv.AWSConfig()))
	createStream(t, kc, "s", 1)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			_, err := kc.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("s"), Data: []byte("x"), PartitionKey: aws.String(strconv.Itoa(i))})
			if err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 1 || intercepted.Load() != 100 {
		t.Fatalf("%d of 100 PutRecord calls failed (want 1); hook saw %d (want 100)", failed.Load(), intercepted.Load())
	}
}

// TestCallFilters checks the call-position helpers.
func TestCallFilters(t *testing.T) {
	tests := []struct {
		name string
		f    func(int64) bool
		want []int64
	}{
		{"NthCall(3)", kinesislocal.NthCall(3), []int64{3}},
		{"FirstCalls(2)", kinesislocal.FirstCalls(2), []int64{1, 2}},
		{"CallsFrom(4)", kinesislocal.CallsFrom(4), []int64{4, 5, 6}},
		{"EveryNthCall(2)", kinesislocal.EveryNthCall(2), []int64{2, 4, 6}},
	}
	for _, tt := range tests {
		var got []int64
		for n := int64(1); n <= 6; n++ {
			if tt.f(n) {
				got = append(got, n)
			}
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s selects %v, want %v", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s selects %v, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}

// TestInterceptOverSocket runs the hook behind a real listener: an injected throttle reaches the
// SDK, and a client that gives up during injected latency ends the server's wait.
func TestInterceptOverSocket(t *testing.T) {
	handlerDone := make(chan struct{}, 1)
	srv := newServer(t, kinesislocal.Options{Intercept: func(r kinesislocal.Request) kinesislocal.Injection {
		switch {
		case r.Operation == "DescribeStreamSummary" && r.Call == 2:
			return kinesislocal.Injection{ErrorCode: "LimitExceededException"}
		case r.Operation == "ListStreams":
			return kinesislocal.Injection{Latency: time.Hour}
		}
		return kinesislocal.Injection{}
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r)
		if r.Header.Get("X-Amz-Target") == "Kinesis_20131202.ListStreams" {
			handlerDone <- struct{}{}
		}
	})}
	go hs.Serve(ln)
	defer hs.Close()
	kc := kinesis.NewFromConfig(aws.Config{Region: "us-east-1",
		HTTPClient:  &http.Client{Transport: kinesislocal.BufferedTransport(nil)},
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")},
		func(o *kinesis.Options) { o.BaseEndpoint = aws.String("http://" + ln.Addr().String()) })
	ctx := context.Background()
	createStream(t, kc, "s", 1)
	var codes []string
	for range 3 {
		_, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
		codes = append(codes, apiCode(err))
	}
	if !equalStrings(codes, []string{"", "LimitExceededException", ""}) {
		t.Fatalf("DescribeStreamSummary error codes %q, want only the 2nd LimitExceededException", codes)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := kc.ListStreams(cctx, &kinesis.ListStreamsInput{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ListStreams with an hour of injected latency: %v, want DeadlineExceeded", err)
	}
	select {
	case <-handlerDone:
	case <-time.After(30 * time.Second): // an hour otherwise: the server ignored the disconnect
		t.Fatal("the server kept waiting out injected latency after the client went away")
	}
}

// TestFaultUnknownOperation: a fault naming no operation of either API is refused by New, with
// the valid names listed, instead of silently never matching.
func TestFaultUnknownOperation(t *testing.T) {
	_, err := kinesislocal.New(kinesislocal.Options{Faults: []kinesislocal.Fault{
		{Operation: "GetRecords", ErrorCode: "ProvisionedThroughputExceededException"},
		{Operation: "NoSuchOp", ErrorCode: "ThrottlingException"},
		{Operation: "getrecords", Latency: time.Second},
	}})
	if err == nil {
		t.Fatal("New accepted a fault on an operation that does not exist")
	}
	for _, want := range []string{`Faults[1].Operation "NoSuchOp"`, `Faults[2].Operation "getrecords"`, "GetRecords", "SubscribeToShard", "UpdateItem", "TransactWriteItems"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "Faults[0]") {
		t.Errorf("a valid fault is reported: %v", err)
	}
	for _, op := range []string{"", "*", "StartStreamEncryption", "Scan", "DescribeLimits"} {
		if _, err := kinesislocal.New(kinesislocal.Options{Faults: []kinesislocal.Fault{{Operation: op, Latency: time.Millisecond}}}); err != nil {
			t.Errorf("Operation %q refused: %v", op, err)
		}
	}
}
