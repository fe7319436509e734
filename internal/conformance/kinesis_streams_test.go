package conformance

import (
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// kinesisCases lists the Kinesis cases in the order they run on each target.
func kinesisCases() []testCase {
	return []testCase{
		{name: "StreamLifecycle", smoke: true, run: caseStreamLifecycle},
		{name: "StreamARNInput", run: caseStreamARNInput},
		{name: "ListShards", run: caseListShards},
		{name: "PutRecordRouting", smoke: true, run: casePutRecordRouting},
		{name: "PutRecordsBatch", run: casePutRecordsBatch},
		{name: "ShardIterators", run: caseShardIterators},
		{name: "GetRecords", smoke: true, run: caseGetRecords},
		{name: "BogusIterator", run: caseBogusIterator},
		{name: "SplitMergeLineage", run: caseSplitMerge},
		{name: "UpdateShardCount", run: caseUpdateShardCount},
		{name: "Retention", run: caseRetention},
		{name: "Tags", run: caseTags},
		{name: "StreamEncryption", run: caseStreamEncryption},
		{name: "StreamConsumers", run: caseStreamConsumers},
		{name: "SubscribeToShard", smoke: true, run: caseSubscribeToShard},
		{name: "SubscribeShardEnd", run: caseSubscribeShardEnd},
	}
}

// caseStreamLifecycle: create, describe, list, duplicate create, delete, and the errors for a
// stream that does not exist.
func caseStreamLifecycle(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("life")
	createStream(t, ctx, kc, name, 2)

	ds, err := kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)})
	must(t, err, "DescribeStream")
	d := ds.StreamDescription
	if aws.ToString(d.StreamName) != name || d.StreamStatus != types.StreamStatusActive || len(d.Shards) != 2 {
		t.Fatalf("DescribeStream: name %q status %s shards %d, want %s ACTIVE 2", aws.ToString(d.StreamName), d.StreamStatus, len(d.Shards), name)
	}
	if !strings.HasPrefix(aws.ToString(d.StreamARN), "arn:aws:kinesis:") || !strings.HasSuffix(aws.ToString(d.StreamARN), ":stream/"+name) {
		t.Errorf("StreamARN %q, want arn:aws:kinesis:<region>:<account>:stream/%s", aws.ToString(d.StreamARN), name)
	}
	if aws.ToInt32(d.RetentionPeriodHours) != 24 {
		t.Errorf("RetentionPeriodHours %d, want the default 24", aws.ToInt32(d.RetentionPeriodHours))
	}
	checkCoverage(t, d.Shards)

	sum, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	must(t, err, "DescribeStreamSummary")
	if s := sum.StreamDescriptionSummary; aws.ToInt32(s.OpenShardCount) != 2 || aws.ToString(s.StreamARN) != aws.ToString(d.StreamARN) {
		t.Errorf("DescribeStreamSummary: OpenShardCount %d ARN %q, want 2 and %q", aws.ToInt32(s.OpenShardCount), aws.ToString(s.StreamARN), aws.ToString(d.StreamARN))
	}
	mode := sum.StreamDescriptionSummary.StreamModeDetails
	if tg.deviates(t, "stream-mode-details") {
		if mode != nil {
			t.Errorf("StreamModeDetails %+v; the declared deviation is none", *mode)
		}
	} else if mode == nil || mode.StreamMode != types.StreamModeProvisioned {
		t.Errorf("DescribeStreamSummary.StreamModeDetails %v, want PROVISIONED", mode)
	}

	// ListStreams, following pages: other cases create streams concurrently.
	found := false
	var summary *types.StreamSummary
	in := &kinesis.ListStreamsInput{Limit: aws.Int32(100)}
	for page := 0; page < 100 && !found; page++ {
		out, err := kc.ListStreams(ctx, in)
		must(t, err, "ListStreams")
		found = slices.Contains(out.StreamNames, name)
		for i, ss := range out.StreamSummaries {
			if aws.ToString(ss.StreamName) == name {
				summary = &out.StreamSummaries[i]
			}
		}
		if !aws.ToBool(out.HasMoreStreams) || len(out.StreamNames) == 0 {
			break
		}
		in = &kinesis.ListStreamsInput{Limit: aws.Int32(100), ExclusiveStartStreamName: aws.String(out.StreamNames[len(out.StreamNames)-1])}
	}
	if !found {
		t.Errorf("ListStreams does not list %s", name)
	}
	if tg.deviates(t, "liststreams-summaries") {
		if summary != nil {
			t.Errorf("ListStreams has a StreamSummary for %s; the declared deviation is none", name)
		}
	} else if summary == nil || aws.ToString(summary.StreamARN) != aws.ToString(d.StreamARN) || summary.StreamStatus != types.StreamStatusActive {
		t.Errorf("ListStreams.StreamSummaries entry for %s: %+v, want its ARN and ACTIVE", name, summary)
	}

	_, err = kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(1)})
	wantCode(t, err, "ResourceInUseException", "CreateStream of an existing stream")

	_, err = kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
	must(t, err, "DeleteStream")
	err = eventually(ctx, "stream deleted", func() (bool, error) {
		_, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if apiCode(err) == "ResourceNotFoundException" {
			return true, nil
		}
		return false, err
	})
	must(t, err, "wait")

	missing := uniqueName("missing")
	_, err = kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(missing)})
	wantCode(t, err, "ResourceNotFoundException", "DescribeStreamSummary of a missing stream")
	_, err = kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(missing)})
	wantCode(t, err, "ResourceNotFoundException", "DeleteStream of a missing stream")
	_, err = kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(missing), PartitionKey: aws.String("k"), Data: []byte("x")})
	wantCode(t, err, "ResourceNotFoundException", "PutRecord to a missing stream")
	_, err = kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(missing)})
	wantCode(t, err, "ResourceNotFoundException", "ListShards of a missing stream")
}

// caseStreamARNInput: StreamARN in place of StreamName on the data plane.
func caseStreamARNInput(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("arn")
	createStream(t, ctx, kc, name, 1)
	sum, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	must(t, err, "DescribeStreamSummary")
	arn := sum.StreamDescriptionSummary.StreamARN

	_, err = kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: arn, PartitionKey: aws.String("k"), Data: []byte("by-arn")})
	if tg.deviates(t, "stream-arn-input") {
		wantCode(t, err, "ValidationException", "PutRecord with StreamARN only")
		_, err = kc.ListShards(ctx, &kinesis.ListShardsInput{StreamARN: arn})
		wantCode(t, err, "InvalidArgumentException", "ListShards with StreamARN only")
		return
	}
	must(t, err, "PutRecord with StreamARN")
	ls, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamARN: arn})
	must(t, err, "ListShards with StreamARN")
	if len(ls.Shards) != 1 {
		t.Fatalf("ListShards with StreamARN: %d shards, want 1", len(ls.Shards))
	}
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamARN: arn, ShardId: ls.Shards[0].ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	must(t, err, "GetShardIterator with StreamARN")
	recs, _ := readAll(t, ctx, kc, it.ShardIterator, 1)
	if got := recordData(recs); !sameStrings(got, []string{"by-arn"}) {
		t.Fatalf("records %q, want [by-arn]", got)
	}
}

// caseListShards: hash ranges, pagination, and ShardFilter after a split.
func caseListShards(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("ls")
	createStream(t, ctx, kc, name, 4)
	all := listAllShards(t, ctx, kc, name)
	if len(all) != 4 {
		t.Fatalf("ListShards: %d shards, want 4", len(all))
	}
	checkCoverage(t, all)

	p1, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name), MaxResults: aws.Int32(3)})
	must(t, err, "ListShards MaxResults 3")
	if tg.deviates(t, "listshards-pagination") {
		if len(p1.Shards) != 4 || p1.NextToken != nil {
			t.Fatalf("ListShards MaxResults 3: %d shards, NextToken %v; the declared deviation is all 4 and no token", len(p1.Shards), p1.NextToken != nil)
		}
	} else {
		if len(p1.Shards) != 3 || p1.NextToken == nil {
			t.Fatalf("ListShards MaxResults 3: %d shards, NextToken %v, want 3 and a token", len(p1.Shards), p1.NextToken != nil)
		}
		p2, err := kc.ListShards(ctx, &kinesis.ListShardsInput{NextToken: p1.NextToken, MaxResults: aws.Int32(3)})
		must(t, err, "ListShards NextToken")
		if len(p2.Shards) != 1 || p2.NextToken != nil {
			t.Fatalf("ListShards page 2: %d shards, NextToken %v, want 1 and none", len(p2.Shards), p2.NextToken != nil)
		}
		if got, want := append(shardIDs(p1.Shards), shardIDs(p2.Shards)...), shardIDs(all); !sameStrings(got, want) {
			t.Fatalf("pages list %v, want %v", got, want)
		}
		_, err = kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name), NextToken: p1.NextToken})
		wantCode(t, err, "InvalidArgumentException", "ListShards with StreamName and NextToken")
	}

	// Split the first shard in the middle of its range: 3 untouched + 2 children open, 1 closed.
	parent := all[0]
	lo, hi := parseHash(t, parent.HashKeyRange.StartingHashKey), parseHash(t, parent.HashKeyRange.EndingHashKey)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
	_, err = kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(name), ShardToSplit: parent.ShardId, NewStartingHashKey: aws.String(mid.String())})
	must(t, err, "SplitShard")
	waitStreamActive(t, ctx, kc, name)
	after := listAllShards(t, ctx, kc, name)
	if len(after) != 6 || len(openShards(after)) != 5 {
		t.Fatalf("after split: %d shards, %d open, want 6 and 5", len(after), len(openShards(after)))
	}
	checkCoverage(t, openShards(after))

	latest, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	must(t, err, "ListShards AT_LATEST")
	afterID, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: all[1].ShardId}})
	must(t, err, "ListShards AFTER_SHARD_ID")
	if tg.deviates(t, "listshards-filter") {
		if len(latest.Shards) != 6 || len(afterID.Shards) != 6 {
			t.Fatalf("ShardFilter: AT_LATEST %d, AFTER_SHARD_ID %d shards; the declared deviation is all 6 for both", len(latest.Shards), len(afterID.Shards))
		}
		return
	}
	if got, want := shardIDs(latest.Shards), shardIDs(openShards(after)); !sameStrings(got, want) {
		t.Errorf("AT_LATEST lists %v, want the open shards %v", got, want)
	}
	var wantAfter []string
	for _, id := range shardIDs(after) {
		if id > aws.ToString(all[1].ShardId) {
			wantAfter = append(wantAfter, id)
		}
	}
	if got := shardIDs(afterID.Shards); !sameStrings(got, wantAfter) {
		t.Errorf("AFTER_SHARD_ID %s lists %v, want %v", aws.ToString(all[1].ShardId), got, wantAfter)
	}
}

// caseRetention: increase and decrease the retention period, the 24-hour floor and the
// 8760-hour (365-day) ceiling.
func caseRetention(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("ret")
	createStream(t, ctx, kc, name, 1)
	hours := func() int32 {
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		must(t, err, "DescribeStreamSummary")
		return aws.ToInt32(out.StreamDescriptionSummary.RetentionPeriodHours)
	}
	_, err := kc.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String(name), RetentionPeriodHours: aws.Int32(48)})
	must(t, err, "IncreaseStreamRetentionPeriod 48")
	waitStreamActive(t, ctx, kc, name)
	if h := hours(); h != 48 {
		t.Fatalf("retention %d h after increase, want 48", h)
	}
	_, err = kc.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String(name), RetentionPeriodHours: aws.Int32(24)})
	must(t, err, "DecreaseStreamRetentionPeriod 24")
	waitStreamActive(t, ctx, kc, name)
	if h := hours(); h != 24 {
		t.Fatalf("retention %d h after decrease, want 24", h)
	}
	_, err = kc.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String(name), RetentionPeriodHours: aws.Int32(12)})
	wantCode(t, err, "InvalidArgumentException", "DecreaseStreamRetentionPeriod below 24 h")

	_, err = kc.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String(name), RetentionPeriodHours: aws.Int32(8760)})
	if tg.deviates(t, "retention-max") {
		wantCode(t, err, "ValidationException", "IncreaseStreamRetentionPeriod 8760 h")
		return
	}
	must(t, err, "IncreaseStreamRetentionPeriod 8760 (365 days)")
	waitStreamActive(t, ctx, kc, name)
	if h := hours(); h != 8760 {
		t.Fatalf("retention %d h after increase, want 8760", h)
	}
	_, err = kc.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String(name), RetentionPeriodHours: aws.Int32(8761)})
	wantCode(t, err, "InvalidArgumentException", "IncreaseStreamRetentionPeriod above 8760 h")
}

// caseTags: add, list, remove.
func caseTags(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("tags")
	createStream(t, ctx, kc, name, 1)
	list := func() map[string]string {
		out, err := kc.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String(name)})
		must(t, err, "ListTagsForStream")
		m := map[string]string{}
		for _, tag := range out.Tags {
			m[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		return m
	}
	_, err := kc.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(name), Tags: map[string]string{"team": "shoal", "env": "test"}})
	must(t, err, "AddTagsToStream")
	if got, want := list(), map[string]string{"team": "shoal", "env": "test"}; !maps.Equal(got, want) {
		t.Fatalf("tags %v, want %v", got, want)
	}
	_, err = kc.RemoveTagsFromStream(ctx, &kinesis.RemoveTagsFromStreamInput{StreamName: aws.String(name), TagKeys: []string{"env"}})
	must(t, err, "RemoveTagsFromStream")
	if got, want := list(), map[string]string{"team": "shoal"}; !maps.Equal(got, want) {
		t.Fatalf("tags after removal %v, want %v", got, want)
	}
}
