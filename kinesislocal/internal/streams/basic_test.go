package streams_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"math/big"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

func TestPutGetRoundTrip(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createStream(t, c, "s1", 3)
	// PutRecord and PutRecords; each record must land in the shard whose range holds MD5(pk).
	shards := listAllShards(t, c, &kinesis.ListShardsInput{StreamName: aws.String("s1")})
	if len(shards) != 3 {
		t.Fatalf("got %d shards", len(shards))
	}
	want := map[string][][]byte{}
	for i := 0; i < 20; i++ {
		pk := fmt.Sprintf("key-%d", i)
		data := []byte(fmt.Sprintf("data-%d", i))
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s1"), PartitionKey: aws.String(pk), Data: data})
		if err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum([]byte(pk))
		h := new(big.Int).SetBytes(sum[:])
		if got := shardFor(t, shards, h); got != *out.ShardId {
			t.Fatalf("pk %s went to %s, want %s", pk, *out.ShardId, got)
		}
		if n := len(*out.SequenceNumber); n < 50 || n > 60 {
			t.Fatalf("sequence number %s has %d digits", *out.SequenceNumber, n)
		}
		want[*out.ShardId] = append(want[*out.ShardId], data)
	}
	var entries []types.PutRecordsRequestEntry
	for i := 20; i < 520; i++ {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("key-%d", i)), Data: []byte(fmt.Sprintf("data-%d", i))})
	}
	pr, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/s1"), Records: entries[:500]})
	if err != nil {
		t.Fatal(err)
	}
	if *pr.FailedRecordCount != 0 || len(pr.Records) != 500 {
		t.Fatalf("failed %d, %d results", *pr.FailedRecordCount, len(pr.Records))
	}
	for i, r := range pr.Records {
		want[*r.ShardId] = append(want[*r.ShardId], entries[i].Data)
	}
	total := 0
	for _, sh := range shards {
		recs, last := readAll(t, c, "s1", *sh.ShardId)
		if len(recs) != len(want[*sh.ShardId]) {
			t.Fatalf("%s: read %d records, want %d", *sh.ShardId, len(recs), len(want[*sh.ShardId]))
		}
		prev := new(big.Int)
		for i, r := range recs {
			if !bytes.Equal(r.Data, want[*sh.ShardId][i]) {
				t.Fatalf("%s record %d = %q, want %q", *sh.ShardId, i, r.Data, want[*sh.ShardId][i])
			}
			n, ok := new(big.Int).SetString(*r.SequenceNumber, 10)
			if !ok || n.Cmp(prev) <= 0 {
				t.Fatalf("sequence numbers not increasing: %s after %s", *r.SequenceNumber, prev)
			}
			prev = n
			if r.ApproximateArrivalTimestamp == nil || r.PartitionKey == nil {
				t.Fatal("record without timestamp or key")
			}
		}
		if last.MillisBehindLatest == nil || *last.MillisBehindLatest != 0 || last.NextShardIterator == nil || len(last.ChildShards) != 0 {
			t.Fatalf("caught-up read of open shard: %+v", last)
		}
		total += len(recs)
	}
	if total != 520 {
		t.Fatalf("read %d records", total)
	}
}

// shardFor returns the shard whose hash range contains h.
func shardFor(t testing.TB, shards []types.Shard, h *big.Int) string {
	t.Helper()
	for _, s := range shards {
		lo, _ := new(big.Int).SetString(*s.HashKeyRange.StartingHashKey, 10)
		hi, _ := new(big.Int).SetString(*s.HashKeyRange.EndingHashKey, 10)
		if h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0 && s.SequenceNumberRange.EndingSequenceNumber == nil {
			return *s.ShardId
		}
	}
	t.Fatalf("no open shard holds %s", h)
	return ""
}

var _ = context.Background
