package streams_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

func ids(shards []types.Shard) string {
	var s []string
	for _, sh := range shards {
		s = append(s, (*sh.ShardId)[len("shardId-00000000"):])
	}
	return fmt.Sprint(s)
}

func TestListShardsFiltersAndPagination(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := newClient(t, kinesislocal.Options{})
		ctx := t.Context()
		createStream(t, c, "ls", 2) // 0000, 0001 at T0
		time.Sleep(time.Hour)
		t1 := time.Now()
		time.Sleep(time.Hour)
		// T0+2h: split 0 -> 2, 3
		if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("ls"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("1000")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		t3 := time.Now()
		time.Sleep(time.Hour)
		// T0+4h: merge 3 + 1 -> 4
		if _, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("ls"), ShardToMerge: aws.String("shardId-000000000003"), AdjacentShardToMerge: aws.String("shardId-000000000001")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		filter := func(f *types.ShardFilter) string {
			t.Helper()
			return ids(listAllShards(t, c, &kinesis.ListShardsInput{StreamName: aws.String("ls"), ShardFilter: f}))
		}
		for _, tc := range []struct {
			name string
			f    *types.ShardFilter
			want string
		}{
			{"none", nil, "[0000 0001 0002 0003 0004]"},
			{"FROM_TRIM_HORIZON", &types.ShardFilter{Type: types.ShardFilterTypeFromTrimHorizon}, "[0000 0001 0002 0003 0004]"},
			{"AT_TRIM_HORIZON", &types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}, "[0000 0001]"},
			{"AT_LATEST", &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}, "[0002 0004]"},
			{"AT_TIMESTAMP t1", &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(t1)}, "[0000 0001]"},
			{"AT_TIMESTAMP t3", &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(t3)}, "[0001 0002 0003]"},
			{"FROM_TIMESTAMP t3", &types.ShardFilter{Type: types.ShardFilterTypeFromTimestamp, Timestamp: aws.Time(t3)}, "[0001 0002 0003 0004]"},
			{"AFTER_SHARD_ID", &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String("shardId-000000000002")}, "[0003 0004]"},
		} {
			if got := filter(tc.f); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
			}
		}
		// ExclusiveStartShardId and pagination with MaxResults.
		got := ids(listAllShards(t, c, &kinesis.ListShardsInput{StreamName: aws.String("ls"), ExclusiveStartShardId: aws.String("shardId-000000000001"), MaxResults: aws.Int32(1)}))
		if got != "[0002 0003 0004]" {
			t.Fatalf("paged after 0001: %s", got)
		}
		page, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("ls"), MaxResults: aws.Int32(2)})
		if err != nil || len(page.Shards) != 2 || page.NextToken == nil {
			t.Fatalf("first page: %v %+v", err, page)
		}
		_, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("ls"), NextToken: page.NextToken})
		wantCode(t, err, "InvalidArgumentException")
		_, err = c.ListShards(ctx, &kinesis.ListShardsInput{NextToken: aws.String("bm90IGEgdG9rZW4=")})
		wantCode(t, err, "InvalidArgumentException")
		_, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("ls"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp}})
		wantCode(t, err, "InvalidArgumentException")
		_, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("ls"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId}})
		wantCode(t, err, "InvalidArgumentException")
		_, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("nope")})
		wantCode(t, err, "ResourceNotFoundException")
		time.Sleep(301 * time.Second)
		_, err = c.ListShards(ctx, &kinesis.ListShardsInput{NextToken: page.NextToken})
		wantCode(t, err, "ExpiredNextTokenException")

		// Past the trim horizon: shard 0 (closed at T0+2h) is gone at T0+26h05; 1 and 3 (closed
		// at T0+4h) two hours later.
		time.Sleep(21 * time.Hour)
		if got := filter(nil); got != "[0001 0002 0003 0004]" {
			t.Fatalf("at T0+26h05: %s", got)
		}
		if got := filter(&types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}); got != "[0001 0002 0003]" {
			t.Fatalf("AT_TRIM_HORIZON at T0+26h05: %s", got)
		}
		time.Sleep(2 * time.Hour)
		if got := filter(nil); got != "[0002 0004]" {
			t.Fatalf("at T0+28h05: %s", got)
		}
		if got := filter(&types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}); got != "[0002 0004]" {
			t.Fatalf("AT_TRIM_HORIZON at T0+28h05: %s", got)
		}
	})
}
