package streams_test

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

var maxHash = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

// checkCoverage asserts that the open shards cover [0, 2^128-1] exactly, without gaps or
// overlaps, and returns them sorted by starting hash key.
func checkCoverage(t *testing.T, shards []types.Shard) []types.Shard {
	t.Helper()
	var open []types.Shard
	for _, s := range shards {
		if s.SequenceNumberRange.EndingSequenceNumber == nil {
			open = append(open, s)
		}
	}
	start := func(s types.Shard) *big.Int {
		v, _ := new(big.Int).SetString(*s.HashKeyRange.StartingHashKey, 10)
		return v
	}
	end := func(s types.Shard) *big.Int {
		v, _ := new(big.Int).SetString(*s.HashKeyRange.EndingHashKey, 10)
		return v
	}
	sort.Slice(open, func(i, j int) bool { return start(open[i]).Cmp(start(open[j])) < 0 })
	next := big.NewInt(0)
	for _, s := range open {
		if start(s).Cmp(next) != 0 {
			t.Fatalf("open shard %s starts at %s, want %s", *s.ShardId, start(s), next)
		}
		next = new(big.Int).Add(end(s), big.NewInt(1))
	}
	if new(big.Int).Sub(next, big.NewInt(1)).Cmp(maxHash) != 0 {
		t.Fatalf("open shards end at %s", next)
	}
	return open
}

func TestSplitMergeLineageAndChildShards(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createStream(t, c, "rs", 2)
	put := func(pk string) *kinesis.PutRecordOutput {
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("rs"), PartitionKey: aws.String(pk), Data: []byte(pk), ExplicitHashKey: aws.String("5")})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	put("before")
	// Errors first.
	for _, tc := range []struct {
		shard, key, code string
	}{
		{"shardId-000000000000", "1", "InvalidArgumentException"},                                       // not > start+1
		{"shardId-000000000000", "170141183460469231731687303715884105727", "InvalidArgumentException"}, // not < end
		{"shardId-000000000009", "1000", "ResourceNotFoundException"},
		{"shardId-000000000000", "-5", "ValidationException"},
		{"shardId-000000000000", "340282366920938463463374607431768211456", "InvalidArgumentException"},
	} {
		_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("rs"), ShardToSplit: aws.String(tc.shard), NewStartingHashKey: aws.String(tc.key)})
		if code(err) != tc.code {
			t.Fatalf("split %s at %s: %q, want %q", tc.shard, tc.key, code(err), tc.code)
		}
	}
	_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("rs"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("1000")})
	if err != nil {
		t.Fatal(err)
	}
	shards := listAllShards(t, c, &kinesis.ListShardsInput{StreamName: aws.String("rs")})
	if len(shards) != 4 || shards[0].SequenceNumberRange.EndingSequenceNumber == nil {
		t.Fatalf("after split: %d shards, parent end %v", len(shards), shards[0].SequenceNumberRange.EndingSequenceNumber)
	}
	if *shards[2].ParentShardId != "shardId-000000000000" || *shards[3].ParentShardId != "shardId-000000000000" ||
		*shards[2].HashKeyRange.EndingHashKey != "999" || *shards[3].HashKeyRange.StartingHashKey != "1000" {
		t.Fatalf("children: %+v %+v", shards[2], shards[3])
	}
	checkCoverage(t, shards)
	// The parent is readable to its end; the last read carries ChildShards and no iterator.
	recs, last := readAll(t, c, "rs", "shardId-000000000000")
	if len(recs) != 1 || last.NextShardIterator != nil || len(last.ChildShards) != 2 {
		t.Fatalf("parent read: %d records, next %v, children %d", len(recs), last.NextShardIterator, len(last.ChildShards))
	}
	if *last.ChildShards[0].ShardId != "shardId-000000000002" || last.ChildShards[0].ParentShards[0] != "shardId-000000000000" {
		t.Fatalf("child shards: %+v", last.ChildShards)
	}
	// New writes go to the child; a write to a closed shard is impossible.
	if out := put("after"); *out.ShardId != "shardId-000000000002" {
		t.Fatalf("after split, record went to %s", *out.ShardId)
	}
	_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("rs"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("1000")})
	wantCode(t, err, "InvalidArgumentException")

	// Merge: non-adjacent fails, adjacent works.
	_, err = c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("rs"), ShardToMerge: aws.String("shardId-000000000002"), AdjacentShardToMerge: aws.String("shardId-000000000001")})
	wantCode(t, err, "InvalidArgumentException")
	_, err = c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("rs"), ShardToMerge: aws.String("shardId-000000000003"), AdjacentShardToMerge: aws.String("shardId-000000000001")})
	if err != nil {
		t.Fatal(err)
	}
	shards = listAllShards(t, c, &kinesis.ListShardsInput{StreamName: aws.String("rs")})
	m := shards[4]
	if *m.ShardId != "shardId-000000000004" || *m.ParentShardId != "shardId-000000000003" || *m.AdjacentParentShardId != "shardId-000000000001" ||
		*m.HashKeyRange.StartingHashKey != "1000" || *m.HashKeyRange.EndingHashKey != maxHash.String() {
		t.Fatalf("merged shard: %+v", m)
	}
	checkCoverage(t, shards)
	_, last = readAll(t, c, "rs", "shardId-000000000001")
	if last.NextShardIterator != nil || len(last.ChildShards) != 1 || fmt.Sprint(last.ChildShards[0].ParentShards) != "[shardId-000000000003 shardId-000000000001]" {
		t.Fatalf("merge parent end: %+v", last.ChildShards)
	}
	// GetShardIterator on a closed shard with LATEST is at the end at once.
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("rs"), ShardId: aws.String("shardId-000000000003"), ShardIteratorType: types.ShardIteratorTypeLatest})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || out.NextShardIterator != nil || len(out.ChildShards) != 1 {
		t.Fatalf("closed shard LATEST: %v %+v", err, out)
	}
}

func TestUpdateShardCountLineage(t *testing.T) {
	c, _ := newClient(t, kinesislocal.Options{})
	ctx := ctxT(t)
	createStream(t, c, "usc", 4)
	for _, tc := range []struct {
		target int32
		code   string
	}{{9, "LimitExceededException"}, {1, "LimitExceededException"}, {0, "ValidationException"}} {
		_, err := c.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String("usc"), TargetShardCount: aws.Int32(tc.target), ScalingType: types.ScalingTypeUniformScaling})
		wantCode(t, err, tc.code)
	}
	// Records written before scaling must stay readable through the lineage.
	for i := 0; i < 50; i++ {
		if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("usc"), PartitionKey: aws.String(fmt.Sprint(i)), Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	for _, target := range []int32{8, 4, 6, 3, 5} {
		out, err := c.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String("usc"), TargetShardCount: aws.Int32(target), ScalingType: types.ScalingTypeUniformScaling})
		if err != nil {
			t.Fatalf("scale to %d: %v", target, err)
		}
		if *out.TargetShardCount != target {
			t.Fatalf("target %d", *out.TargetShardCount)
		}
		shards := listAllShards(t, c, &kinesis.ListShardsInput{StreamName: aws.String("usc")})
		open := checkCoverage(t, shards)
		if len(open) != int(target) {
			t.Fatalf("scale to %d: %d open shards", target, len(open))
		}
		// Uniform: each open shard is within 1 of 2^128/target wide.
		step := new(big.Int).Div(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(int64(target)))
		for i, s := range open[:len(open)-1] {
			lo, _ := new(big.Int).SetString(*s.HashKeyRange.StartingHashKey, 10)
			if want := new(big.Int).Mul(step, big.NewInt(int64(i))); lo.Cmp(want) != 0 {
				t.Fatalf("scale to %d: shard %d starts at %s, want %s", target, i, lo, want)
			}
		}
		// Lineage: every shard's parents exist and are closed; every closed shard has children.
		byID := map[string]types.Shard{}
		for _, s := range shards {
			byID[*s.ShardId] = s
		}
		hasChild := map[string]bool{}
		for _, s := range shards {
			for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
				if p == nil {
					continue
				}
				ps, ok := byID[*p]
				if !ok || ps.SequenceNumberRange.EndingSequenceNumber == nil {
					t.Fatalf("shard %s has parent %s that is missing or open", *s.ShardId, *p)
				}
				hasChild[*p] = true
			}
		}
		for _, s := range shards {
			if s.SequenceNumberRange.EndingSequenceNumber != nil && !hasChild[*s.ShardId] {
				t.Fatalf("closed shard %s has no children", *s.ShardId)
			}
		}
	}
	total := 0
	for _, s := range listAllShards(t, c, &kinesis.ListShardsInput{StreamName: aws.String("usc")}) {
		recs, _ := readAll(t, c, "usc", *s.ShardId)
		total += len(recs)
	}
	if total != 50 {
		t.Fatalf("read %d records across the lineage, want 50", total)
	}
}

var _ = context.Background
