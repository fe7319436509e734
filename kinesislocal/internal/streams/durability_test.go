package streams_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/kinesislocal/internal/streams"
)

func TestDurabilityAcrossClose(t *testing.T) {
	dir := t.TempDir()
	srv, err := kinesislocal.New(kinesislocal.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c := kinesis.NewFromConfig(srv.AWSConfig())
	ctx := ctxT(t)
	createStream(t, c, "d", 2)
	var entries []types.PutRecordsRequestEntry
	for i := 0; i < 300; i++ {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint(i)), Data: []byte(fmt.Sprint("r", i))})
	}
	if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("d"), Records: entries}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("d"), ShardToSplit: aws.String("shardId-000000000001"), NewStartingHashKey: aws.String("200000000000000000000000000000000000000")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("d"), Records: entries[:100]}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String("d"), Tags: map[string]string{"team": "x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String("d"), RetentionPeriodHours: aws.Int32(48)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/d"), ConsumerName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	createStream(t, c, "gone", 1)
	if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	snapshot := func(c *kinesis.Client) string {
		var b strings.Builder
		for _, sh := range listAllShards(t, c, &kinesis.ListShardsInput{StreamName: aws.String("d")}) {
			recs, _ := readAll(t, c, "d", *sh.ShardId)
			fmt.Fprintf(&b, "%s %v %v %d:", *sh.ShardId, aws.ToString(sh.ParentShardId), sh.SequenceNumberRange.EndingSequenceNumber != nil, len(recs))
			for _, r := range recs {
				fmt.Fprintf(&b, " %s=%s", *r.SequenceNumber, r.Data)
			}
			b.WriteString("\n")
		}
		tags, _ := c.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String("d")})
		sum, _ := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("d")})
		streams, _ := c.ListStreams(ctx, &kinesis.ListStreamsInput{})
		fmt.Fprintf(&b, "tags %d retention %d consumers %d streams %v", len(tags.Tags), *sum.StreamDescriptionSummary.RetentionPeriodHours, *sum.StreamDescriptionSummary.ConsumerCount, streams.StreamNames)
		return b.String()
	}
	before := snapshot(c)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv2, err := kinesislocal.New(kinesislocal.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	c2 := kinesis.NewFromConfig(srv2.AWSConfig())
	after := snapshot(c2)
	if before != after {
		t.Fatalf("state changed across restart:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if !strings.Contains(after, "tags 1 retention 48 consumers 1 streams [d]") || strings.Count(after, "=r") != 400 {
		t.Fatalf("unexpected state:\n%s", after)
	}
	// New writes continue the sequence.
	out, err := c2.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("d"), PartitionKey: aws.String("0"), Data: []byte("new")})
	if err != nil || strings.Contains(before, *out.SequenceNumber) {
		t.Fatalf("put after restart: %v", err)
	}
}

// TestDurabilityKill9 runs a child process that writes records and reports each acknowledged
// batch, kills it with SIGKILL mid-stream, and checks that every acknowledged record is there.
func TestDurabilityKill9(t *testing.T) {
	if dir := os.Getenv("KINESISLOCAL_KILL9_CHILD"); dir != "" {
		kill9Child(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDurabilityKill9$", "-test.count=1")
	cmd.Env = append(os.Environ(), "KINESISLOCAL_KILL9_CHILD="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Progress, not the clock, decides when to kill: after 3000 acknowledged records (a 20 s
	// deadline here made the outcome depend on how fast a loaded machine starts the child). The
	// timer only ends a child that stopped making progress.
	const want = 3000
	stalled := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	acked := map[string]bool{}
	sc := bufio.NewScanner(stdout)
	for len(acked) < want && sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked[line] = true
		}
	}
	stalled.Stop()
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	if len(acked) < want {
		t.Fatalf("child acknowledged only %d records before it stopped or 2 minutes passed", len(acked))
	}
	e, err := streams.New(streams.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got := map[string]bool{}
	for _, shard := range []string{"shardId-000000000000", "shardId-000000000001"} {
		for _, r := range engineReadAll(t, e, "k9", shard) {
			got[r] = true
		}
	}
	for r := range acked {
		if !got[r] {
			t.Fatalf("acknowledged record %s lost (%d acked, %d recovered)", r, len(acked), len(got))
		}
	}
	t.Logf("%d acknowledged records, %d recovered after SIGKILL", len(acked), len(got))
}

func kill9Child(dir string) {
	e, err := streams.New(streams.Options{DataDir: dir})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	ctx := context.Background()
	if _, err := e.Handle(ctx, "CreateStream", []byte(`{"StreamName":"k9","ShardCount":2}`)); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		var b strings.Builder
		b.WriteString(`{"StreamName":"k9","Records":[`)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"PartitionKey":"%d","Data":"%s"}`, j, base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("rec-%d-%d", i, j))))
		}
		b.WriteString("]}")
		if _, err := e.Handle(ctx, "PutRecords", []byte(b.String())); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		for j := 0; j < 10; j++ {
			fmt.Printf("ack rec-%d-%d\n", i, j)
		}
	}
}

// engineReadAll reads a shard from TRIM_HORIZON through Handle and returns the data strings.
func engineReadAll(t testing.TB, e *streams.Engine, stream, shard string) []string {
	t.Helper()
	ctx := context.Background()
	out, err := e.Handle(ctx, "GetShardIterator", []byte(fmt.Sprintf(`{"StreamName":%q,"ShardId":%q,"ShardIteratorType":"TRIM_HORIZON"}`, stream, shard)))
	if err != nil {
		t.Fatal(err)
	}
	var it struct{ ShardIterator string }
	json.Unmarshal(out, &it)
	iter := it.ShardIterator
	var data []string
	for iter != "" {
		out, err := e.Handle(ctx, "GetRecords", []byte(fmt.Sprintf(`{"ShardIterator":%q}`, iter)))
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Records           []struct{ Data []byte }
			NextShardIterator string
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Records {
			data = append(data, string(r.Data))
		}
		if len(res.Records) == 0 {
			break
		}
		iter = res.NextShardIterator
	}
	return data
}

func TestDurabilityTornTail(t *testing.T) {
	dir := t.TempDir()
	e, err := streams.New(streams.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e.Handle(ctx, "CreateStream", []byte(`{"StreamName":"t","ShardCount":1}`))
	e.Handle(ctx, "PutRecord", []byte(`{"StreamName":"t","PartitionKey":"k","Data":"aGVsbG8="}`))
	// A second engine cannot open the directory while the first holds it.
	if _, err := streams.New(streams.Options{DataDir: dir}); err == nil {
		t.Fatal("a second engine opened a locked data directory")
	}
	// Simulate a crash in the middle of a frame (SIGKILL itself is TestDurabilityKill9).
	e.Close()
	f, err := os.OpenFile(filepath.Join(dir, "streams.log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 2, 'x', 'y'})
	f.Close()
	e2, err := streams.New(streams.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := engineReadAll(t, e2, "t", "shardId-000000000000"); len(got) != 1 || got[0] != "hello" {
		t.Fatalf("after torn tail: %v", got)
	}
	// Writes after recovery land after the cut and survive another restart.
	if _, err := e2.Handle(ctx, "PutRecord", []byte(`{"StreamName":"t","PartitionKey":"k","Data":"d29ybGQ="}`)); err != nil {
		t.Fatal(err)
	}
	e2.Close()
	e3, err := streams.New(streams.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e3.Close()
	if got := engineReadAll(t, e3, "t", "shardId-000000000000"); len(got) != 2 || got[1] != "world" {
		t.Fatalf("after second restart: %v", got)
	}
}
