package conformance

import (
	"context"
	"math/big"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// caseSplitMerge: split and merge lineage, and how a closed shard ends.
//
// Two shards s0 [0, 2^127) and s1 [2^127, 2^128). Split s0 at 2^126 into c1 and c2, then merge
// c2 with s1 into m. s0 must end with children c1 and c2; s1 with m, whose parents are c2 and s1.
func caseSplitMerge(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("reshard")
	createStream(t, ctx, kc, name, 2)
	initial := listAllShards(t, ctx, kc, name)
	s0, s1 := aws.ToString(initial[0].ShardId), aws.ToString(initial[1].ShardId)
	putAt := func(data string, ehk *big.Int) string {
		out, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"),
			ExplicitHashKey: aws.String(ehk.String()), Data: []byte(data)})
		must(t, err, "PutRecord "+data)
		return aws.ToString(out.ShardId)
	}
	if got := putAt("in-s0", big.NewInt(0)); got != s0 {
		t.Fatalf("hash key 0 went to %s, want %s", got, s0)
	}
	if got := putAt("in-s1", maxHashKey); got != s1 {
		t.Fatalf("hash key 2^128-1 went to %s, want %s", got, s1)
	}

	split := new(big.Int).Lsh(big.NewInt(1), 126)
	_, err := kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(name), ShardToSplit: aws.String(s0), NewStartingHashKey: aws.String(split.String())})
	must(t, err, "SplitShard")
	waitStreamActive(t, ctx, kc, name)
	_, err = kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(name), ShardToSplit: aws.String("shardId-000000009999"), NewStartingHashKey: aws.String("1")})
	wantCode(t, err, "ResourceNotFoundException", "SplitShard of a missing shard")
	afterSplit := listAllShards(t, ctx, kc, name)
	children := childrenOf(afterSplit, s0)
	if len(afterSplit) != 4 || len(children) != 2 {
		t.Fatalf("after split: %d shards, %d with ParentShardId %s; want 4 and 2", len(afterSplit), len(children), s0)
	}
	for _, c := range children {
		if c.AdjacentParentShardId != nil {
			t.Errorf("split child %s has AdjacentParentShardId %s", aws.ToString(c.ShardId), aws.ToString(c.AdjacentParentShardId))
		}
	}
	c1, c2 := children[0], children[1]
	if parseHash(t, c1.HashKeyRange.StartingHashKey).Cmp(parseHash(t, c2.HashKeyRange.StartingHashKey)) > 0 {
		c1, c2 = c2, c1
	}
	if parseHash(t, c2.HashKeyRange.StartingHashKey).Cmp(split) != 0 || parseHash(t, c1.HashKeyRange.StartingHashKey).Sign() != 0 {
		t.Errorf("split children start at %s and %s, want 0 and 2^126", aws.ToString(c1.HashKeyRange.StartingHashKey), aws.ToString(c2.HashKeyRange.StartingHashKey))
	}
	checkCoverage(t, openShards(afterSplit))
	if got := putAt("after-split", big.NewInt(0)); got != aws.ToString(c1.ShardId) {
		t.Errorf("after the split, hash key 0 went to %s, want child %s", got, aws.ToString(c1.ShardId))
	}

	_, err = kc.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(name), ShardToMerge: c2.ShardId, AdjacentShardToMerge: aws.String(s1)})
	must(t, err, "MergeShards")
	waitStreamActive(t, ctx, kc, name)
	afterMerge := listAllShards(t, ctx, kc, name)
	merged := childrenOf(afterMerge, aws.ToString(c2.ShardId))
	if len(afterMerge) != 5 || len(merged) != 1 {
		t.Fatalf("after merge: %d shards, %d with ParentShardId %s; want 5 and 1", len(afterMerge), len(merged), aws.ToString(c2.ShardId))
	}
	m := merged[0]
	if aws.ToString(m.AdjacentParentShardId) != s1 {
		t.Errorf("merged shard %s: AdjacentParentShardId %q, want %s", aws.ToString(m.ShardId), aws.ToString(m.AdjacentParentShardId), s1)
	}
	if open := openShards(afterMerge); len(open) != 2 {
		t.Errorf("after merge: open shards %v, want 2", shardIDs(open))
	} else {
		checkCoverage(t, open)
	}

	// Read the closed parents to their end.
	checkShardEnd(t, ctx, tg, name, s0, []string{"in-s0"}, map[string][]string{
		aws.ToString(c1.ShardId): {s0}, aws.ToString(c2.ShardId): {s0}})
	checkShardEnd(t, ctx, tg, name, s1, []string{"in-s1"}, map[string][]string{
		aws.ToString(m.ShardId): {aws.ToString(c2.ShardId), s1}})
}

// childrenOf returns the shards whose ParentShardId is parent.
func childrenOf(shards []types.Shard, parent string) []types.Shard {
	var out []types.Shard
	for _, s := range shards {
		if aws.ToString(s.ParentShardId) == parent {
			out = append(out, s)
		}
	}
	return out
}

// checkShardEnd reads a closed shard from TRIM_HORIZON to its end and checks its records, that
// the last NextShardIterator is nil, and (unless the target deviates) ChildShards: child id ->
// parent ids.
func checkShardEnd(t *testing.T, ctx context.Context, tg *target, stream, shard string, wantData []string, wantChildren map[string][]string) {
	t.Helper()
	recs, last := readAll(t, ctx, tg.kc, iterator(t, ctx, tg.kc, stream, shard, types.ShardIteratorTypeTrimHorizon, "", nil), -1)
	if got := recordData(recs); !sameStrings(got, wantData) {
		t.Errorf("closed shard %s holds %q, want %q", shard, got, wantData)
	}
	if last.NextShardIterator != nil {
		t.Fatalf("closed shard %s: NextShardIterator is not nil at the end", shard)
	}
	if tg.deviates(t, "child-shards") {
		if len(last.ChildShards) != 0 {
			t.Errorf("closed shard %s: %d ChildShards; the declared deviation is none", shard, len(last.ChildShards))
		}
		return
	}
	got := map[string][]string{}
	for _, c := range last.ChildShards {
		ps := slices.Clone(c.ParentShards)
		slices.Sort(ps)
		got[aws.ToString(c.ShardId)] = ps
		if c.HashKeyRange == nil {
			t.Errorf("child %s has no HashKeyRange", aws.ToString(c.ShardId))
		}
	}
	if len(got) != len(wantChildren) {
		t.Fatalf("closed shard %s: ChildShards %v, want %v", shard, got, wantChildren)
	}
	for id, ps := range wantChildren {
		ps = slices.Clone(ps)
		slices.Sort(ps)
		if !slices.Equal(got[id], ps) {
			t.Errorf("closed shard %s: child %s has parents %v, want %v", shard, id, got[id], ps)
		}
	}
}

// caseUpdateShardCount: uniform scaling from 2 to 4 open shards.
func caseUpdateShardCount(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("usc")
	createStream(t, ctx, kc, name, 2)
	out, err := kc.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String(name), TargetShardCount: aws.Int32(4),
		ScalingType: types.ScalingTypeUniformScaling})
	if tg.deviates(t, "update-shard-count") {
		wantCode(t, err, "UnknownOperationException", "UpdateShardCount")
		return
	}
	must(t, err, "UpdateShardCount 2 -> 4")
	if aws.ToInt32(out.CurrentShardCount) != 2 || aws.ToInt32(out.TargetShardCount) != 4 {
		t.Errorf("UpdateShardCount: current %d target %d, want 2 and 4", aws.ToInt32(out.CurrentShardCount), aws.ToInt32(out.TargetShardCount))
	}
	waitStreamActive(t, ctx, kc, name)
	open := openShards(listAllShards(t, ctx, kc, name))
	if len(open) != 4 {
		t.Fatalf("after UpdateShardCount: %d open shards, want 4", len(open))
	}
	checkCoverage(t, open)
	sum, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	must(t, err, "DescribeStreamSummary")
	if n := aws.ToInt32(sum.StreamDescriptionSummary.OpenShardCount); n != 4 {
		t.Errorf("OpenShardCount %d, want 4", n)
	}
}
