package kpl

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shoal-go/shoal/aggregate"
)

// shardInfo is one open shard of the shard map.
type shardInfo struct {
	id  string
	rng aggregate.HashRange
}

// shardMap is an immutable view of the open shards, sorted by hash range.
// A nil *shardMap means "unknown": no prediction, no aggregation.
type shardMap struct {
	shards []shardInfo
	// auto is set when the stream's RecordDistributionStrategy is AUTO: the
	// service ignores keys, so there is nothing to predict.
	auto bool
}

// lookup returns the index of the shard whose range contains h, or -1 if the
// map has a gap there (it never should).
func (m *shardMap) lookup(h aggregate.Hash128) int {
	// The first shard ending at or after h (a plain loop: this runs once per
	// record, and the generic search's comparator call costs more).
	lo, hi := 0, len(m.shards)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if m.shards[mid].rng.End.Less(h) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(m.shards) && m.shards[lo].rng.Contains(h) {
		return lo
	}
	return -1
}

// newShardMap builds a map from ListShards results, keeping open shards
// (EndingSequenceNumber nil) only. It reports an error if the open shards do
// not cover [0, 2^128-1] exactly once, which happens when a listing raced a
// reshard.
func newShardMap(shards []types.Shard) (*shardMap, error) {
	m := &shardMap{}
	for _, s := range shards {
		if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue
		}
		if s.HashKeyRange == nil || s.ShardId == nil {
			return nil, fmt.Errorf("kpl: shard without id or hash key range")
		}
		rng, err := aggregate.ParseHashRange(aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey))
		if err != nil {
			return nil, fmt.Errorf("kpl: shard %s: %w", aws.ToString(s.ShardId), err)
		}
		m.shards = append(m.shards, shardInfo{id: *s.ShardId, rng: rng})
	}
	slices.SortFunc(m.shards, func(a, b shardInfo) int { return a.rng.Start.Cmp(b.rng.Start) })
	if len(m.shards) == 0 {
		return nil, errors.New("kpl: stream has no open shard")
	}
	next := aggregate.Hash128{}
	for i, s := range m.shards {
		if s.rng.Start != next {
			return nil, fmt.Errorf("kpl: open shards do not cover the hash key space at %s", next)
		}
		if i == len(m.shards)-1 {
			if s.rng.End != aggregate.MaxHash128 {
				return nil, fmt.Errorf("kpl: open shards end at %s", s.rng.End)
			}
			break
		}
		next = inc(s.rng.End)
	}
	return m, nil
}

func inc(h aggregate.Hash128) aggregate.Hash128 {
	h.Lo++
	if h.Lo == 0 {
		h.Hi++
	}
	return h
}

// fetchShardMap reads the stream's distribution strategy and its open shards.
// It asks ListShards for AT_LATEST (open shards only) and, if the server
// rejects the filter, lists everything and filters client-side.
func fetchShardMap(ctx context.Context, api KinesisAPI, name, arn string) (*shardMap, error) {
	dss, err := api.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: nonEmpty(name), StreamARN: nonEmpty(arn)})
	if err != nil {
		return nil, fmt.Errorf("kpl: describe stream summary: %w", err)
	}
	if d := dss.StreamDescriptionSummary; d != nil && d.RecordDistributionStrategy == types.RecordDistributionStrategyAuto {
		return &shardMap{auto: true}, nil
	}
	shards, err := listShards(ctx, api, name, arn, &types.ShardFilter{Type: types.ShardFilterTypeAtLatest})
	if err != nil {
		var pe *PutError
		if errors.As(callError(err), &pe) && pe.Code == "InvalidArgumentException" {
			shards, err = listShards(ctx, api, name, arn, nil)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kpl: list shards: %w", err)
	}
	return newShardMap(shards)
}

func listShards(ctx context.Context, api KinesisAPI, name, arn string, filter *types.ShardFilter) ([]types.Shard, error) {
	var all []types.Shard
	in := &kinesis.ListShardsInput{StreamName: nonEmpty(name), StreamARN: nonEmpty(arn), ShardFilter: filter}
	for {
		out, err := api.ListShards(ctx, in)
		if err != nil {
			return nil, err
		}
		all = append(all, out.Shards...)
		if out.NextToken == nil || *out.NextToken == "" {
			return all, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
