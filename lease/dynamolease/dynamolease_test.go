package dynamolease_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/dynamolease"
	"github.com/shoal-go/shoal/lease/leasetest"
)

var tableSeq atomic.Int64

// backend is one DynamoDB implementation the tests run against.
type backend struct {
	name   string
	config func(t *testing.T) aws.Config
}

func (b backend) client(t *testing.T) *dynamodb.Client { return dynamodb.NewFromConfig(b.config(t)) }

func backends() []backend {
	return []backend{
		{"kinesislocal", func(t *testing.T) aws.Config {
			srv, err := kinesislocal.New(kinesislocal.Options{StateDelay: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			return srv.AWSConfig()
		}},
		{"dynalite", func(t *testing.T) aws.Config {
			ep := os.Getenv("DYNALITE_ENDPOINT")
			if ep == "" {
				if os.Getenv("SHOAL_REQUIRE_EMULATORS") == "1" {
					t.Fatal("DYNALITE_ENDPOINT is not set but SHOAL_REQUIRE_EMULATORS=1: start dynalite (./test.sh does)")
				}
				t.Skip("SKIPPED: dynalite conformance NOT RUN: set DYNALITE_ENDPOINT (e.g. http://127.0.0.1:4568) to run lease/dynamolease against dynalite")
			}
			return aws.Config{
				Region:       "us-east-1",
				Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "dummy-secret", ""),
				HTTPClient:   &http.Client{Transport: &http.Transport{Proxy: nil}},
				BaseEndpoint: aws.String(ep),
			}
		}},
	}
}

func newStore(t *testing.T, c *dynamodb.Client) *dynamolease.Store {
	t.Helper()
	name := fmt.Sprintf("shoal-test-%d-%d", time.Now().UnixNano()%1e9, tableSeq.Add(1))
	st, err := dynamolease.New(c, dynamolease.Options{Table: name, PageSize: 7, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.Init(ctx); err != nil {
		t.Fatalf("init tables: %v", err)
	}
	return st
}

func TestConformance(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := b.client(t)
			leasetest.Run(t, func(t *testing.T) lease.Store { return newStore(t, c) })
		})
	}
}

// parseItems reads DynamoDB JSON items (as `aws dynamodb scan` prints them).
func parseItems(t *testing.T, path string) []map[string]types.AttributeValue {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw []map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	var out []map[string]types.AttributeValue
	for _, r := range raw {
		item := map[string]types.AttributeValue{}
		for name, typed := range r {
			for typ, v := range typed {
				var av types.AttributeValue
				switch typ {
				case "S", "N", "B":
					var sv string
					if err := json.Unmarshal(v, &sv); err != nil {
						t.Fatal(err)
					}
					switch typ {
					case "S":
						av = &types.AttributeValueMemberS{Value: sv}
					case "N":
						av = &types.AttributeValueMemberN{Value: sv}
					case "B":
						bv, err := base64.StdEncoding.DecodeString(sv)
						if err != nil {
							t.Fatal(err)
						}
						av = &types.AttributeValueMemberB{Value: bv}
					}
				case "SS":
					var ss []string
					if err := json.Unmarshal(v, &ss); err != nil {
						t.Fatal(err)
					}
					av = &types.AttributeValueMemberSS{Value: ss}
				default:
					t.Fatalf("fixture type %s not supported", typ)
				}
				item[name] = av
			}
		}
		out = append(out, item)
	}
	return out
}

func putRaw(t *testing.T, c *dynamodb.Client, table string, items ...map[string]types.AttributeValue) {
	t.Helper()
	for _, it := range items {
		if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
}

func getRaw(t *testing.T, c *dynamodb.Client, table, key string) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{"leaseKey": &types.AttributeValueMemberS{Value: key}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func tableOf(st *dynamolease.Store) string { return st.Table() }

// A lease table written by the Java KCL is adopted with its checkpoints; Shoal's writes keep
// the Java KCL's attribute names and types and leave unknown attributes alone.
func TestAdoptJavaKCLTable(t *testing.T) {
	const (
		w1 = "ip-10-0-1-17.ec2.internal:6b1e8a1c-1f0e-4a53-9a59-3b6b4b2b3f10"
		w2 = "ip-10-0-2-33.ec2.internal:0c5d2b7e-77a4-4a0f-8d7b-1d5a9a0c6e22"
		h  = "170141183460469231731687303715884105727"
		h1 = "170141183460469231731687303715884105728"
		hm = "340282366920938463463374607431768211455"
	)
	want := []lease.Lease{
		{Key: "shardId-000000000000", Owner: w1, Counter: 412, Checkpoint: lease.Checkpoint{Sequence: lease.ShardEnd},
			ChildShardIDs: []string{"shardId-000000000002"}, StartingHashKey: "0", EndingHashKey: h},
		{Key: "shardId-000000000001", Owner: w2, Counter: 398, Checkpoint: lease.Checkpoint{Sequence: lease.ShardEnd},
			ChildShardIDs: []string{"shardId-000000000002"}, StartingHashKey: h1, EndingHashKey: hm},
		{Key: "shardId-000000000002", Owner: w1, Counter: 57,
			Checkpoint:                   lease.Checkpoint{Sequence: "49659817392837456190213427365712387329185701746529501218", SubSequence: 3},
			OwnerSwitchesSinceCheckpoint: 1, ParentShardIDs: []string{"shardId-000000000000", "shardId-000000000001"},
			StartingHashKey: "0", EndingHashKey: hm},
		{Key: "shardId-000000000003", Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon},
			ParentShardIDs: []string{"shardId-000000000002"}, StartingHashKey: "0", EndingHashKey: h},
		{Key: "shardId-000000000004", Owner: w2, Counter: 9, Checkpoint: lease.Checkpoint{Sequence: lease.Latest},
			OwnerSwitchesSinceCheckpoint: 2, CheckpointOwner: w1, StartingHashKey: h1, EndingHashKey: hm},
		{Key: "shardId-000000000005", Counter: 1, Checkpoint: lease.Checkpoint{Sequence: lease.AtTimestamp},
			PendingCheckpoint:      &lease.Checkpoint{Sequence: "49659817392837456190213427365712387329185701746529509999"},
			PendingCheckpointState: []byte("state")},
		{Key: "shardId-000000000006", Counter: 3, Checkpoint: lease.Checkpoint{Sequence: "49659817392837456190213427365712387329185701746529000001"},
			PendingCheckpoint: &lease.Checkpoint{Sequence: "49659817392837456190213427365712387329185701746529000002"}},
	}
	items := parseItems(t, "testdata/java_kcl_items.json")
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := b.client(t)
			st := newStore(t, c)
			ctx := context.Background()
			putRaw(t, c, tableOf(st), items...)
			ls, err := st.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			byKey := map[string]lease.Lease{}
			for _, l := range ls {
				byKey[l.Key] = l
			}
			for _, w := range want {
				if got, ok := byKey[w.Key]; !ok || !leasetest.Equal(got, w) {
					t.Errorf("adopted %s:\n got %+v\nwant %+v", w.Key, got, w)
				}
			}
			// Parent-before-child: the merge child is countable (both parents SHARD_END), its
			// own child is blocked by it.
			if !lease.Countable(byKey["shardId-000000000002"], byKey) || lease.Countable(byKey["shardId-000000000003"], byKey) {
				t.Errorf("merge child countable=%v, grandchild countable=%v; want true, false",
					lease.Countable(byKey["shardId-000000000002"], byKey), lease.Countable(byKey["shardId-000000000003"], byKey))
			}
			// A Shoal worker takes over the merge child from the Java worker and checkpoints.
			l, err := st.Take(ctx, "shardId-000000000002", lease.Expect{Owner: w1, Counter: 57}, "shoal-1")
			if err != nil {
				t.Fatal(err)
			}
			cp := lease.Checkpoint{Sequence: "49659817392837456190213427365712387329185701746529501300", SubSequence: 0}
			if _, err := st.Checkpoint(ctx, l.Key, lease.Expect{Owner: "shoal-1", Counter: l.Counter}, cp); err != nil {
				t.Fatal(err)
			}
			raw := getRaw(t, c, tableOf(st), "shardId-000000000002")
			// Written the way the Java KCL reads them, unknown attributes preserved.
			checks := map[string]string{
				"leaseKey": "S", "leaseOwner": "S", "leaseCounter": "N", "checkpoint": "S",
				"checkpointSubSequenceNumber": "N", "ownerSwitchesSinceCheckpoint": "N", "parentShardId": "SS",
				"startingHashKey": "S", "endingHashKey": "S", "throughputKBps": "N",
			}
			for attr, typ := range checks {
				if got := typeOf(raw[attr]); got != typ {
					t.Errorf("after Shoal's writes, %s is %s, want %s", attr, got, typ)
				}
			}
			if v := raw["leaseCounter"].(*types.AttributeValueMemberN).Value; v != "59" {
				t.Errorf("leaseCounter %s, want 59", v)
			}
			if v := raw["checkpoint"].(*types.AttributeValueMemberS).Value; v != cp.Sequence {
				t.Errorf("checkpoint %s", v)
			}
			if v := raw["throughputKBps"].(*types.AttributeValueMemberN).Value; v != "12.53" {
				t.Errorf("unknown attribute throughputKBps changed to %s", v)
			}
			// The reverse: a lease Shoal creates has exactly the Java KCL's names and types.
			full := leasetest.Full("shardId-000000000009")
			if err := st.Create(ctx, full); err != nil {
				t.Fatal(err)
			}
			raw = getRaw(t, c, tableOf(st), full.Key)
			wantTypes := map[string]string{
				"leaseKey": "S", "leaseOwner": "S", "leaseCounter": "N", "checkpoint": "S", "checkpointSubSequenceNumber": "N",
				"pendingCheckpoint": "S", "pendingCheckpointSubSequenceNumber": "N", "pendingCheckpointState": "B",
				"ownerSwitchesSinceCheckpoint": "N", "parentShardId": "SS", "childShardIds": "SS",
				"startingHashKey": "S", "endingHashKey": "S", "checkpointOwner": "S",
			}
			for attr, typ := range wantTypes {
				if got := typeOf(raw[attr]); got != typ {
					t.Errorf("created item: %s is %s, want %s", attr, got, typ)
				}
			}
			if len(raw) != len(wantTypes) {
				t.Errorf("created item has %d attributes, want %d: %v", len(raw), len(wantTypes), raw)
			}
		})
	}
}

func typeOf(v types.AttributeValue) string {
	switch v.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberSS:
		return "SS"
	case nil:
		return "missing"
	}
	return fmt.Sprintf("%T", v)
}

// Items edited by hand: a clear error naming key and attribute, never a panic, and a
// checkpoint is never lost (the conditional write does not match, nothing is written).
func TestHandEditedItems(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := b.client(t)
			st := newStore(t, c)
			ctx := context.Background()
			S := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
			N := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
			putRaw(t, c, tableOf(st),
				map[string]types.AttributeValue{"leaseKey": S("counter-as-string"), "leaseCounter": S("7"), "checkpoint": S("123"), "leaseOwner": S("w")},
				map[string]types.AttributeValue{"leaseKey": S("no-checkpoint"), "leaseCounter": N("7")},
				map[string]types.AttributeValue{"leaseKey": S("bad-checkpoint"), "leaseCounter": N("7"), "checkpoint": S("12x")},
				map[string]types.AttributeValue{"leaseKey": S("parents-as-number"), "leaseCounter": N("7"), "checkpoint": S("1"), "parentShardId": N("3")},
			)
			for key, attr := range map[string]string{"counter-as-string": "leaseCounter", "no-checkpoint": "checkpoint",
				"bad-checkpoint": "checkpoint", "parents-as-number": "parentShardId"} {
				_, err := st.Get(ctx, key)
				if !errors.Is(err, lease.ErrInvalidItem) || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), attr) {
					t.Errorf("get %s: %v; want ErrInvalidItem naming the key and %s", key, err, attr)
				}
			}
			if ls, bad, err := st.Scan(ctx); err != nil || len(ls) != 0 || len(bad) != 4 {
				t.Errorf("scan: %d leases, %d invalid items (%v), %v; want 0 and 4", len(ls), len(bad), bad, err)
			}
			_, err := st.Checkpoint(ctx, "counter-as-string", lease.Expect{Owner: "w", Counter: 7}, lease.Checkpoint{Sequence: "5"})
			if !errors.Is(err, lease.ErrConflict) {
				t.Errorf("checkpoint over a mistyped counter: %v, want ErrConflict", err)
			}
			if v := getRaw(t, c, tableOf(st), "counter-as-string")["checkpoint"].(*types.AttributeValueMemberS).Value; v != "123" {
				t.Errorf("stored checkpoint changed to %s", v)
			}
		})
	}
}

func TestMissingTable(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st, err := dynamolease.New(b.client(t), dynamolease.Options{Table: "shoal-no-such-table"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = st.Get(context.Background(), "k")
			if !errors.Is(err, lease.ErrNoTable) {
				t.Fatalf("get from a missing table: %v, want ErrNoTable", err)
			}
			_, err = st.Heartbeat(context.Background(), "w", "i")
			if !errors.Is(err, lease.ErrNoTable) {
				t.Fatalf("heartbeat into a missing table: %v, want ErrNoTable", err)
			}
		})
	}
}

// throttling answers every call with ProvisionedThroughputExceededException.
type throttling struct{ dynamolease.API }

func (throttling) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
}

func (throttling) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, &types.RequestLimitExceeded{Message: aws.String("slow down")}
}

func TestThrottlingTranslated(t *testing.T) {
	st, err := dynamolease.New(throttling{}, dynamolease.Options{Table: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(context.Background(), "k"); !errors.Is(err, lease.ErrThrottled) {
		t.Errorf("get: %v, want ErrThrottled", err)
	}
	if _, err := st.Heartbeat(context.Background(), "w", "i"); !errors.Is(err, lease.ErrThrottled) {
		t.Errorf("heartbeat: %v, want ErrThrottled", err)
	}
	// A throttled conditional write was refused: not an unknown outcome.
	_, err = st.Checkpoint(context.Background(), "k", lease.Expect{Owner: "w", Counter: 1}, lease.Checkpoint{Sequence: "5"})
	if !errors.Is(err, lease.ErrThrottled) || errors.Is(err, lease.ErrUnknownOutcome) {
		t.Errorf("checkpoint: %v, want ErrThrottled", err)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := dynamolease.New(nil, dynamolease.Options{PageSize: -1})
	if err == nil || !strings.Contains(err.Error(), "API is required") || !strings.Contains(err.Error(), "Table is required") {
		t.Fatalf("New: %v; want every problem reported", err)
	}
}
