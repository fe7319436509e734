package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// runDemo is the interim demo: until the consumer library lands it shows the local server doing
// the producer -> Kinesis -> reader round trip over a real socket and checks that nothing is lost.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "demo [--shards 4] [--records 2000]", stderr)
	shards := fs.Int("shards", 4, "shards in the demo stream")
	records := fs.Int("records", 2000, "records to produce")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *shards < 1 || *records < 1 {
		return fmt.Errorf("--shards and --records must be positive")
	}
	srv, err := kinesislocal.New(kinesislocal.Options{StateDelay: 20 * time.Millisecond})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- serveUntilDone(sctx, ln, srv) }()
	defer func() { stop(); <-done }()

	endpoint := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "1. local Kinesis + DynamoDB server (kinesislocal) listening on %s\n", endpoint)
	cfg := srv.AWSConfig()
	cfg.HTTPClient = nil // use a real socket, like an application would
	cfg.BaseEndpoint = aws.String(endpoint)
	kc := kinesis.NewFromConfig(cfg)

	stream := "shoal-demo"
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(int32(*shards))}); err != nil {
		return fmt.Errorf("create stream: %w", err)
	}
	if err := kinesis.NewStreamExistsWaiter(kc).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: &stream}, 30*time.Second,
		func(o *kinesis.StreamExistsWaiterOptions) {
			o.MinDelay = 20 * time.Millisecond
			o.MaxDelay = 200 * time.Millisecond
		}); err != nil {
		return fmt.Errorf("wait for stream: %w", err)
	}
	fmt.Fprintf(stdout, "2. stream %q created with %d shards\n", stream, *shards)

	sent := make(map[string]bool, *records)
	for start := 0; start < *records; start += 500 {
		var entries []types.PutRecordsRequestEntry
		for i := start; i < start+500 && i < *records; i++ {
			id := "record-" + strconv.Itoa(i)
			entries = append(entries, types.PutRecordsRequestEntry{Data: []byte(id), PartitionKey: aws.String("user-" + strconv.Itoa(i%97))})
			sent[id] = true
		}
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries})
		if err != nil {
			return fmt.Errorf("put records: %w", err)
		}
		if n := aws.ToInt32(out.FailedRecordCount); n > 0 {
			return fmt.Errorf("put records: %d of %d failed", n, len(entries))
		}
	}
	fmt.Fprintf(stdout, "3. produced %d records with PutRecords (97 partition keys)\n", *records)

	got := map[string]int{}
	perShard := map[string]int{}
	ls, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		return fmt.Errorf("list shards: %w", err)
	}
	for _, sh := range ls.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: sh.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			return fmt.Errorf("get shard iterator: %w", err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				return fmt.Errorf("get records: %w", err)
			}
			for _, r := range out.Records {
				got[string(r.Data)]++
				perShard[*sh.ShardId]++
			}
			if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	ids := make([]string, 0, len(perShard))
	for id := range perShard {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintln(stdout, "4. read every shard from TRIM_HORIZON:")
	for _, id := range ids {
		fmt.Fprintf(stdout, "     %s  %5d records\n", id, perShard[id])
	}
	lost, dup := 0, 0
	for id := range sent {
		switch n := got[id]; {
		case n == 0:
			lost++
		case n > 1:
			dup += n - 1
		}
	}
	fmt.Fprintf(stdout, "\nSummary: produced %d, read %d distinct, lost %d, duplicates %d\n", len(sent), len(got), lost, dup)
	fmt.Fprintln(stdout, "\nNext: the multi-worker demo (leases, a killed worker, takeover) arrives with the kcl consumer.")
	fmt.Fprintln(stdout, "Run your own code against a standalone server: go run ./cmd/shoal local --addr 127.0.0.1:4567")
	if lost > 0 {
		return fmt.Errorf("%d records lost", lost)
	}
	return nil
}
