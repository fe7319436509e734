package conformance

import (
	"bytes"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// casePutRecordRouting: a partition key's record lands on the shard whose range holds MD5(key);
// ExplicitHashKey overrides the key; sequence numbers grow per shard.
func casePutRecordRouting(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("route")
	createStream(t, ctx, kc, name, 4)
	shards := listAllShards(t, ctx, kc, name)
	lastSeq := map[string]*big.Int{}
	put := func(key string, ehk *big.Int) *kinesis.PutRecordOutput {
		in := &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(key), Data: []byte("data-" + key)}
		if ehk != nil {
			in.ExplicitHashKey = aws.String(ehk.String())
		}
		out, err := kc.PutRecord(ctx, in)
		must(t, err, "PutRecord "+key)
		shard := aws.ToString(out.ShardId)
		seq := parseHash(t, out.SequenceNumber)
		if prev := lastSeq[shard]; prev != nil && seq.Cmp(prev) <= 0 {
			t.Errorf("shard %s: sequence number %s is not above the previous %s", shard, seq, prev)
		}
		lastSeq[shard] = seq
		return out
	}
	for i := range 20 {
		key := fmt.Sprintf("key-%d", i)
		out := put(key, nil)
		if got, want := aws.ToString(out.ShardId), shardFor(t, shards, hashOf(key)); got != want {
			t.Errorf("PutRecord %s (MD5 %s): shard %s, want %s", key, hashOf(key), got, want)
		}
	}
	for _, s := range shards {
		start := parseHash(t, s.HashKeyRange.StartingHashKey)
		if got := aws.ToString(put("ehk", start).ShardId); got != aws.ToString(s.ShardId) {
			t.Errorf("ExplicitHashKey %s (start of %s): shard %s", start, aws.ToString(s.ShardId), got)
		}
	}
	if got, want := aws.ToString(put("ehk", maxHashKey).ShardId), shardFor(t, shards, maxHashKey); got != want {
		t.Errorf("ExplicitHashKey 2^128-1: shard %s, want %s", got, want)
	}
	tooBig := new(big.Int).Add(maxHashKey, big.NewInt(1))
	_, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"),
		ExplicitHashKey: aws.String(tooBig.String()), Data: []byte("x")})
	wantCode(t, err, "InvalidArgumentException", "PutRecord with ExplicitHashKey 2^128")

	// Read one record back: the partition key and data survive.
	key := "key-0"
	it := iterator(t, ctx, kc, name, shardFor(t, shards, hashOf(key)), types.ShardIteratorTypeTrimHorizon, "", nil)
	recs, _ := readAll(t, ctx, kc, it, 1)
	if aws.ToString(recs[0].PartitionKey) != key || string(recs[0].Data) != "data-"+key {
		t.Errorf("first record: key %q data %q, want %q %q", aws.ToString(recs[0].PartitionKey), recs[0].Data, key, "data-"+key)
	}
}

// casePutRecordsBatch: 500 records of 100 bytes in one call; 501 are rejected.
func casePutRecordsBatch(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("batch")
	createStream(t, ctx, kc, name, 2)
	shards := listAllShards(t, ctx, kc, name)
	entries := func(n int) []types.PutRecordsRequestEntry {
		es := make([]types.PutRecordsRequestEntry, n)
		for i := range es {
			es[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("pk-%d", i)), Data: bytes.Repeat([]byte{byte('a' + i%26)}, 100)}
		}
		return es
	}
	out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries(500)})
	must(t, err, "PutRecords 500")
	if aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != 500 {
		t.Fatalf("PutRecords 500: %d failed, %d results", aws.ToInt32(out.FailedRecordCount), len(out.Records))
	}
	for i, r := range out.Records {
		if r.SequenceNumber == nil || r.ErrorCode != nil {
			t.Fatalf("result %d: sequence %v error %v", i, r.SequenceNumber, aws.ToString(r.ErrorCode))
		}
		if got, want := aws.ToString(r.ShardId), shardFor(t, shards, hashOf(fmt.Sprintf("pk-%d", i))); got != want {
			t.Fatalf("result %d: shard %s, want %s", i, got, want)
		}
	}

	out, err = kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries(501)})
	if tg.deviates(t, "putrecords-501") {
		must(t, err, "PutRecords 501 (declared deviation: accepted)")
		if aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != 501 {
			t.Fatalf("PutRecords 501: %d failed, %d results; the declared deviation is all 501 written", aws.ToInt32(out.FailedRecordCount), len(out.Records))
		}
		return
	}
	wantCode(t, err, "ValidationException", "PutRecords with 501 records")
}

// caseShardIterators: the five iterator types, AT_TIMESTAMP between two puts.
func caseShardIterators(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("iter")
	createStream(t, ctx, kc, name, 1)
	shard := aws.ToString(listAllShards(t, ctx, kc, name)[0].ShardId)
	put := func(data string) string {
		out, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"), Data: []byte(data)})
		must(t, err, "PutRecord "+data)
		return aws.ToString(out.SequenceNumber)
	}
	put("r0")
	time.Sleep(300 * time.Millisecond) // a gap for AT_TIMESTAMP
	seq1 := put("r1")
	put("r2")

	trim, _ := readAll(t, ctx, kc, iterator(t, ctx, kc, name, shard, types.ShardIteratorTypeTrimHorizon, "", nil), 3)
	if got := recordData(trim); !sameStrings(got, []string{"r0", "r1", "r2"}) {
		t.Fatalf("TRIM_HORIZON: %q, want [r0 r1 r2]", got)
	}
	at, _ := readAll(t, ctx, kc, iterator(t, ctx, kc, name, shard, types.ShardIteratorTypeAtSequenceNumber, seq1, nil), 2)
	if got := recordData(at); !sameStrings(got, []string{"r1", "r2"}) {
		t.Errorf("AT_SEQUENCE_NUMBER r1: %q, want [r1 r2]", got)
	}
	afterSeq, _ := readAll(t, ctx, kc, iterator(t, ctx, kc, name, shard, types.ShardIteratorTypeAfterSequenceNumber, seq1, nil), 1)
	if got := recordData(afterSeq); !sameStrings(got, []string{"r2"}) {
		t.Errorf("AFTER_SEQUENCE_NUMBER r1: %q, want [r2]", got)
	}
	// AT_TIMESTAMP halfway between the arrivals of r0 and r1 (server clock, so no skew).
	t0, t1 := aws.ToTime(trim[0].ApproximateArrivalTimestamp), aws.ToTime(trim[1].ApproximateArrivalTimestamp)
	if t1.Sub(t0) < 100*time.Millisecond {
		t.Fatalf("arrival timestamps r0 %v r1 %v are less than 100 ms apart after a 300 ms pause", t0, t1)
	}
	mid := t0.Add(t1.Sub(t0) / 2)
	ts, _ := readAll(t, ctx, kc, iterator(t, ctx, kc, name, shard, types.ShardIteratorTypeAtTimestamp, "", &mid), 2)
	if got := recordData(ts); !sameStrings(got, []string{"r1", "r2"}) {
		t.Errorf("AT_TIMESTAMP between r0 and r1: %q, want [r1 r2]", got)
	}
	_, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String("shardId-000000009999"),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	wantCode(t, err, "ResourceNotFoundException", "GetShardIterator of a missing shard")
	_, err = kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(shard),
		ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber})
	wantCode(t, err, "InvalidArgumentException", "GetShardIterator AT_SEQUENCE_NUMBER without a sequence number")

	latest := iterator(t, ctx, kc, name, shard, types.ShardIteratorTypeLatest, "", nil)
	put("r3")
	lr, _ := readAll(t, ctx, kc, latest, 1)
	if got := recordData(lr); !sameStrings(got, []string{"r3"}) {
		t.Errorf("LATEST then put r3: %q, want [r3]", got)
	}
}

// caseGetRecords: order, Limit, binary round trip, MillisBehindLatest.
func caseGetRecords(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("get")
	createStream(t, ctx, kc, name, 1)
	shard := aws.ToString(listAllShards(t, ctx, kc, name)[0].ShardId)
	var want [][]byte
	_, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"), Data: []byte("first")})
	must(t, err, "PutRecord")
	want = append(want, []byte("first"))
	var entries []types.PutRecordsRequestEntry
	for i := range 19 {
		data := []byte{byte(i), 0x00, 0xff, 0x80, '\n', '"', '\\'} // bytes JSON and base64 must carry intact
		data = append(data, []byte(strings.Repeat("x", i))...)
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("k%d", i)), Data: data})
		want = append(want, data)
	}
	_, err = kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
	must(t, err, "PutRecords")
	// Every record is now at least half a second old: a reader at the start is behind, whether
	// the age is taken from the last record returned or the next one unread.
	time.Sleep(500 * time.Millisecond)

	it := iterator(t, ctx, kc, name, shard, types.ShardIteratorTypeTrimHorizon, "", nil)
	first, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(1)})
	must(t, err, "GetRecords Limit 1")
	if len(first.Records) != 1 || first.MillisBehindLatest == nil {
		t.Fatalf("GetRecords Limit 1: %d records, MillisBehindLatest %v", len(first.Records), first.MillisBehindLatest)
	}
	if tg.deviates(t, "millis-behind-latest") {
		if aws.ToInt64(first.MillisBehindLatest) != 0 {
			t.Errorf("MillisBehindLatest %d; the declared deviation is 0", aws.ToInt64(first.MillisBehindLatest))
		}
	} else if aws.ToInt64(first.MillisBehindLatest) <= 0 {
		t.Errorf("MillisBehindLatest %d while 19 records written 500 ms ago are unread, want > 0", aws.ToInt64(first.MillisBehindLatest))
	}
	got := first.Records
	it = first.NextShardIterator
	for len(got) < len(want) {
		out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(5)})
		must(t, err, "GetRecords Limit 5")
		if len(out.Records) > 5 {
			t.Fatalf("GetRecords Limit 5 returned %d records", len(out.Records))
		}
		if len(out.Records) == 0 {
			t.Fatalf("GetRecords returned nothing after %d of %d records", len(got), len(want))
		}
		got = append(got, out.Records...)
		it = out.NextShardIterator
	}
	for i := range want {
		if !bytes.Equal(got[i].Data, want[i]) {
			t.Fatalf("record %d: data %q, want %q (order or round trip broken)", i, got[i].Data, want[i])
		}
	}
	tip, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it})
	must(t, err, "GetRecords at the tip")
	if len(tip.Records) != 0 || tip.NextShardIterator == nil || tip.MillisBehindLatest == nil || aws.ToInt64(tip.MillisBehindLatest) != 0 {
		t.Errorf("GetRecords at the tip of an open shard: %d records, next iterator %v, MillisBehindLatest %v; want 0, non-nil, 0",
			len(tip.Records), tip.NextShardIterator != nil, aws.ToInt64(tip.MillisBehindLatest))
	}
	_, err = kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(10001)})
	if tg.deviates(t, "getrecords-limit") {
		wantCode(t, err, "ValidationException", "GetRecords Limit 10001")
		return
	}
	wantCode(t, err, "InvalidArgumentException", "GetRecords Limit 10001")
}

// caseBogusIterator: a malformed iterator is a client error.
func caseBogusIterator(t *testing.T, tg *target) {
	ctx, kc := caseContext(t), tg.kc
	bogus := "AAAAAAAAAAFbogusbogusbogusbogusbogusbogusbogusbogusbogusbogusbogusbogus=="
	noRetry := func(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} }
	_, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(bogus)}, noRetry)
	if err == nil {
		t.Fatal("GetRecords with a bogus iterator succeeded")
	}
	if tg.deviates(t, "bogus-iterator") {
		if httpStatus(err) != 500 {
			t.Fatalf("bogus iterator: HTTP %d (%v); the declared deviation is HTTP 500", httpStatus(err), err)
		}
		return
	}
	if httpStatus(err) != 400 {
		t.Errorf("bogus iterator: HTTP %d, want 400", httpStatus(err))
	}
	wantCode(t, err, "InvalidArgumentException", "GetRecords with a bogus iterator")
}
