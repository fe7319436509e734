package conformance

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// caseConditionGrammar: a table of condition expressions over one lease item, each of which
// must pass or fail (ConditionalCheckFailedException) as DynamoDB evaluates it.
func caseConditionGrammar(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("cond")
	createLeaseTable(t, ctx, dc, name)
	putItem(t, ctx, dc, name, map[string]types.AttributeValue{
		"leaseKey": strAV("l1"), "leaseOwner": strAV("worker-1"), "leaseCounter": numAV(5), "checkpoint": strAV("SHARD_END"),
		"parentShardId": &types.AttributeValueMemberSS{Value: []string{"shardId-000000000001", "shardId-000000000002"}},
	})
	values := map[string]types.AttributeValue{
		":1": numAV(1), ":5": numAV(5), ":10": numAV(10), ":8": numAV(8),
		":w1": strAV("worker-1"), ":w2": strAV("worker-2"), ":worker": strAV("worker-"),
		":p": strAV("shardId-000000000002"), ":N": strAV("N"), ":end": strAV("SHARD_END"),
	}
	cases := []struct {
		cond string
		pass bool
	}{
		{"leaseCounter = :5", true},
		{"leaseCounter <> :5", false},
		{"leaseCounter < :10", true}, // numeric, not lexicographic ("5" > "10" as strings)
		{"leaseCounter > :10", false},
		{"leaseCounter <= :5 AND leaseCounter >= :5", true},
		{"leaseCounter > :5 OR leaseOwner = :w1", true},
		{"leaseCounter > :5 OR leaseOwner = :w2", false},
		{"NOT (leaseOwner = :w1)", false},
		{"NOT leaseOwner = :w2 AND (checkpoint = :end)", true},
		{"attribute_exists(checkpoint) AND attribute_not_exists(checkpointOwner)", true},
		{"attribute_exists(checkpointOwner)", false},
		{"begins_with(leaseOwner, :worker)", true},
		{"leaseCounter BETWEEN :1 AND :5", true},
		{"leaseCounter BETWEEN :8 AND :10", false},
		{"leaseOwner IN (:w2, :w1)", true},
		{"contains(parentShardId, :p)", true},
		{"size(leaseOwner) = :8", true},
		{"attribute_type(leaseCounter, :N)", true},
		{"#owner = :w1 AND #n = :5", true},
		{"missingAttr = :5", false},
		{"missingAttr <> :5", true}, // a missing attribute is not equal to anything
	}
	for _, c := range cases {
		in := &dynamodb.UpdateItemInput{TableName: aws.String(name), Key: key("l1"),
			UpdateExpression:          aws.String("SET probe = :1"),
			ConditionExpression:       aws.String(c.cond),
			ExpressionAttributeValues: map[string]types.AttributeValue{":1": values[":1"]},
		}
		for _, tok := range []string{":5", ":10", ":8", ":w1", ":w2", ":worker", ":p", ":N", ":end"} {
			if containsToken(c.cond, tok) {
				in.ExpressionAttributeValues[tok] = values[tok]
			}
		}
		if containsToken(c.cond, "#owner") {
			in.ExpressionAttributeNames = map[string]string{"#owner": "leaseOwner", "#n": "leaseCounter"}
		}
		_, err := dc.UpdateItem(ctx, in)
		switch {
		case c.pass && err != nil:
			t.Errorf("%q: %v, want it to pass", c.cond, err)
		case !c.pass && err == nil:
			t.Errorf("%q: passed, want ConditionalCheckFailedException", c.cond)
		case !c.pass && apiCode(err) != "ConditionalCheckFailedException":
			t.Errorf("%q: %v, want ConditionalCheckFailedException", c.cond, err)
		}
	}
}

// containsToken reports whether expr uses the placeholder tok (not as a prefix of a longer one).
func containsToken(expr, tok string) bool {
	for i := 0; i+len(tok) <= len(expr); i++ {
		if expr[i:i+len(tok)] != tok {
			continue
		}
		end := i + len(tok)
		if end == len(expr) || !isNameByte(expr[end]) {
			return true
		}
	}
	return false
}

func isNameByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// caseUpdateExpressions: a table of update expressions applied in turn to one item, with the
// attributes expected afterwards.
func caseUpdateExpressions(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("upd")
	createLeaseTable(t, ctx, dc, name)
	putItem(t, ctx, dc, name, map[string]types.AttributeValue{"leaseKey": strAV("l1"), "leaseCounter": numAV(5), "owner": strAV("w1")})
	// "throughput" and "owner" are DynamoDB reserved words: they need #name placeholders.
	names := map[string]string{"#tp": "throughput", "#o": "owner"}
	steps := []struct {
		expr   string
		values map[string]types.AttributeValue
		wantN  map[string]string // number attributes after the step ("" = absent)
		wantS  map[string]string // string attributes after the step ("" = absent)
	}{
		{"SET leaseCounter = leaseCounter - :one, checkpoint = :cp", map[string]types.AttributeValue{":one": numAV(1), ":cp": strAV("TRIM_HORIZON")},
			map[string]string{"leaseCounter": "4"}, map[string]string{"checkpoint": "TRIM_HORIZON", "owner": "w1"}},
		{"SET #tp = if_not_exists(#tp, :zero) + :one", map[string]types.AttributeValue{":zero": numAV(0), ":one": numAV(1)},
			map[string]string{"throughput": "1"}, nil},
		{"SET #tp = if_not_exists(#tp, :zero) + :one", map[string]types.AttributeValue{":zero": numAV(0), ":one": numAV(1)},
			map[string]string{"throughput": "2"}, nil},
		{"SET #o = :w2 REMOVE checkpoint ADD leaseCounter :ten", map[string]types.AttributeValue{":w2": strAV("w2"), ":ten": numAV(10)},
			map[string]string{"leaseCounter": "14"}, map[string]string{"owner": "w2", "checkpoint": ""}},
		{"SET frac = :f", map[string]types.AttributeValue{":f": &types.AttributeValueMemberN{Value: "0.5"}},
			map[string]string{"frac": "0.5"}, nil},
		{"ADD frac :f", map[string]types.AttributeValue{":f": &types.AttributeValueMemberN{Value: "0.25"}},
			map[string]string{"frac": "0.75"}, nil},
	}
	for i, st := range steps {
		in := &dynamodb.UpdateItemInput{TableName: aws.String(name), Key: key("l1"),
			UpdateExpression: aws.String(st.expr), ExpressionAttributeValues: st.values, ReturnValues: types.ReturnValueAllNew}
		for p, a := range names {
			if containsToken(st.expr, p) {
				if in.ExpressionAttributeNames == nil {
					in.ExpressionAttributeNames = map[string]string{}
				}
				in.ExpressionAttributeNames[p] = a
			}
		}
		out, err := dc.UpdateItem(ctx, in)
		if err != nil {
			t.Fatalf("step %d %q: %v", i, st.expr, err)
		}
		for a, want := range st.wantN {
			if got := attrN(out.Attributes, a); got != want {
				t.Errorf("step %d %q: %s = %q, want %q", i, st.expr, a, got, want)
			}
		}
		for a, want := range st.wantS {
			if got := attrS(out.Attributes, a); got != want {
				t.Errorf("step %d %q: %s = %q, want %q", i, st.expr, a, got, want)
			}
		}
	}
}

// caseExpressionErrors: malformed expressions and placeholder mistakes are ValidationExceptions,
// never silently accepted.
func caseExpressionErrors(t *testing.T, tg *target) {
	ctx, dc, name := caseContext(t), tg.dc, uniqueName("experr")
	createLeaseTable(t, ctx, dc, name)
	putItem(t, ctx, dc, name, map[string]types.AttributeValue{"leaseKey": strAV("l1"), "leaseCounter": numAV(1)})
	cases := []struct {
		what   string
		update string
		cond   string
		values map[string]types.AttributeValue
		names  map[string]string
	}{
		{"unused value", "SET a = :x", "", map[string]types.AttributeValue{":x": numAV(1), ":unused": numAV(2)}, nil},
		{"undefined value", "SET a = :missing", "", map[string]types.AttributeValue{":x": numAV(1)}, nil},
		{"undefined name", "SET #nope = :x", "", map[string]types.AttributeValue{":x": numAV(1)}, nil},
		{"syntax error", "SET a = = :x", "", map[string]types.AttributeValue{":x": numAV(1)}, nil},
		{"condition syntax error", "SET a = :x", "leaseCounter = AND", map[string]types.AttributeValue{":x": numAV(1)}, nil},
		{"updating the key", "SET leaseKey = :x", "", map[string]types.AttributeValue{":x": strAV("other")}, nil},
		{"same attribute twice", "SET a = :x, a = :x", "", map[string]types.AttributeValue{":x": numAV(1)}, nil},
		{"ADD of a string", "ADD leaseKey2 :x", "", map[string]types.AttributeValue{":x": strAV("s")}, nil},
		{"reserved word", "SET throughput = :x", "", map[string]types.AttributeValue{":x": numAV(1)}, nil},
		{"unused name", "SET a = :x", "", map[string]types.AttributeValue{":x": numAV(1)}, map[string]string{"#unused": "b"}},
	}
	for _, c := range cases {
		in := &dynamodb.UpdateItemInput{TableName: aws.String(name), Key: key("l1"), UpdateExpression: aws.String(c.update),
			ExpressionAttributeValues: c.values, ExpressionAttributeNames: c.names}
		if c.cond != "" {
			in.ConditionExpression = aws.String(c.cond)
		}
		_, err := dc.UpdateItem(ctx, in)
		if apiCode(err) != "ValidationException" {
			t.Errorf("%s (%q): %v, want ValidationException", c.what, c.update, err)
		}
	}
	if item := getItem(t, ctx, dc, name, "l1"); len(item) != 2 {
		t.Errorf("rejected updates changed the item: %v", item)
	}
}
