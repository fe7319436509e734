package streams

import (
	"context"
	"testing"
	"time"
)

// TestChangeReplaysToLiveState runs every operation that goes through changeStream and checks
// that a server restarted from the log, replayed and then compacted, shows exactly the state the
// live server showed: the live path and the replay apply events with the same code.
func TestChangeReplaysToLiveState(t *testing.T) {
	for _, compact := range []bool{false, true} {
		dir := t.TempDir()
		now := time.Unix(1_760_000_000, 0)
		opts := Options{DataDir: dir, Now: func() time.Time { return now }, compactThreshold: 1 << 40}
		if compact {
			opts.compactThreshold = -1
		}
		e, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, op := range [][2]string{
			{"CreateStream", `{"StreamName":"c","ShardCount":2}`},
			{"IncreaseStreamRetentionPeriod", `{"StreamName":"c","RetentionPeriodHours":72}`},
			{"DecreaseStreamRetentionPeriod", `{"StreamName":"c","RetentionPeriodHours":48}`},
			{"UpdateMaxRecordSize", `{"StreamName":"c","MaxRecordSizeInKiB":2048}`},
			{"AddTagsToStream", `{"StreamName":"c","Tags":{"a":"1","b":"2"}}`},
			{"RemoveTagsFromStream", `{"StreamName":"c","TagKeys":["a"]}`},
			{"EnableEnhancedMonitoring", `{"StreamName":"c","ShardLevelMetrics":["ALL"]}`},
			{"DisableEnhancedMonitoring", `{"StreamName":"c","ShardLevelMetrics":["IncomingBytes"]}`},
			{"StartStreamEncryption", `{"StreamName":"c","EncryptionType":"KMS","KeyId":"alias/aws/kinesis"}`},
			{"PutRecord", `{"StreamName":"c","PartitionKey":"k","Data":"eA=="}`},
			{"SplitShard", `{"StreamName":"c","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"1000"}`},
			{"MergeShards", `{"StreamName":"c","ShardToMerge":"shardId-000000000002","AdjacentShardToMerge":"shardId-000000000003"}`},
			{"UpdateShardCount", `{"StreamName":"c","TargetShardCount":4,"ScalingType":"UNIFORM_SCALING"}`},
			{"UpdateStreamMode", `{"StreamName":"c","StreamModeDetails":{"StreamMode":"ON_DEMAND"}}`},
		} {
			if _, err := e.Handle(ctx, op[0], []byte(op[1])); err != nil {
				t.Fatalf("%s: %v", op[0], err)
			}
			now = now.Add(time.Second)
		}
		want := state(t, e, "c")
		e.Close()
		for round := range 2 {
			e, err = New(opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := state(t, e, "c"); got != want {
				t.Fatalf("compact %v, restart %d:\n%s\nwant (live):\n%s", compact, round, got, want)
			}
			e.Close()
		}
	}
}
