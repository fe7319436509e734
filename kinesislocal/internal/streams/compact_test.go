package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// state renders what a client can observe of stream s: shards with lineage and every record.
func state(t *testing.T, e *Engine, s string) string {
	t.Helper()
	ctx := context.Background()
	out, err := e.Handle(ctx, "ListShards", []byte(`{"StreamName":"`+s+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var ls struct{ Shards []shardJSON }
	json.Unmarshal(out, &ls)
	var b strings.Builder
	for _, sh := range ls.Shards {
		fmt.Fprintf(&b, "%+v\n", sh)
		out, err := e.Handle(ctx, "GetShardIterator", []byte(`{"StreamName":"`+s+`","ShardId":"`+sh.ShardId+`","ShardIteratorType":"TRIM_HORIZON"}`))
		if err != nil {
			t.Fatal(err)
		}
		var it struct{ ShardIterator string }
		json.Unmarshal(out, &it)
		out, err = e.Handle(ctx, "GetRecords", []byte(`{"ShardIterator":"`+it.ShardIterator+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		var gr struct {
			Records []struct {
				SequenceNumber string
				Data           []byte
			}
			ChildShards []any
		}
		json.Unmarshal(out, &gr)
		fmt.Fprintf(&b, "  %d records, %d children:", len(gr.Records), len(gr.ChildShards))
		for _, r := range gr.Records {
			fmt.Fprintf(&b, " %s=%s", r.SequenceNumber, r.Data)
		}
		b.WriteString("\n")
	}
	for _, op := range []string{"DescribeStreamSummary", "ListTagsForStream"} {
		out, err := e.Handle(ctx, op, []byte(`{"StreamName":"`+s+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(out)
		b.WriteString("\n")
	}
	return b.String()
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_760_000_000, 0)
	opts := Options{DataDir: dir, Now: func() time.Time { return now }, compactThreshold: -1} // always
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	must := func(op, body string) {
		t.Helper()
		if _, err := e.Handle(ctx, op, []byte(body)); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
	}
	must("CreateStream", `{"StreamName":"c","ShardCount":2}`)
	must("CreateStream", `{"StreamName":"gone","ShardCount":3}`)
	for i := 0; i < 200; i++ {
		must("PutRecord", fmt.Sprintf(`{"StreamName":"c","PartitionKey":"%d","Data":"b2xk"}`, i))
	}
	now = now.Add(20 * time.Hour)
	must("SplitShard", `{"StreamName":"c","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"1000"}`)
	must("UpdateShardCount", `{"StreamName":"c","TargetShardCount":4,"ScalingType":"UNIFORM_SCALING"}`)
	for i := 0; i < 100; i++ {
		must("PutRecord", fmt.Sprintf(`{"StreamName":"c","PartitionKey":"%d","Data":"bmV3"}`, i))
	}
	must("AddTagsToStream", `{"StreamName":"c","Tags":{"a":"1"}}`)
	must("RegisterStreamConsumer", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/c","ConsumerName":"app"}`)
	must("DeleteStream", `{"StreamName":"gone"}`)
	now = now.Add(5 * time.Hour) // the 200 "old" records and the first generation pass retention
	want := state(t, e, "c")
	if strings.Contains(want, "=old") || strings.Count(want, "=new") != 100 {
		t.Fatalf("before restart:\n%s", want)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "streams.log")
	before, _ := os.Stat(path)
	for round := 0; round < 2; round++ {
		e, err = New(opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := state(t, e, "c"); got != want {
			t.Fatalf("round %d after compaction:\n%s\nwant:\n%s", round, got, want)
		}
		if _, err := e.Handle(ctx, "DescribeStream", []byte(`{"StreamName":"gone"}`)); err == nil {
			t.Fatal("deleted stream came back")
		}
		after, _ := os.Stat(path)
		if after.Size() >= before.Size() {
			t.Fatalf("compacted log %d bytes, before %d", after.Size(), before.Size())
		}
		e.Close()
	}
	// Writes after a compaction continue the sequence and survive the next one.
	e, _ = New(opts)
	must("PutRecord", `{"StreamName":"c","PartitionKey":"x","Data":"bGF0ZXI="}`)
	e.Close()
	e, _ = New(opts)
	defer e.Close()
	if got := state(t, e, "c"); !strings.Contains(got, "=later") || strings.Count(got, "=new") != 100 {
		t.Fatalf("after write and another compaction:\n%s", got)
	}
	if n := e.openShards.Load(); n != 4 {
		t.Fatalf("open shard count %d after restore, want 4", n)
	}
}
