package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// runLocalT runs `shoal local` in-process with args and returns a Kinesis client for it, its
// stderr and a stop function that ends it and returns its exit code.
func runLocalT(t *testing.T, args ...string) (*kinesis.Client, *syncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errb := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"local", "--addr", "127.0.0.1:0", "--state-delay", "0s"}, args...), pw, errb)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no listening line: %v (stderr %q)", err, errb.String())
	}
	go io.Copy(io.Discard, pr)
	_, rest, ok := strings.Cut(line, "http://")
	if !ok {
		cancel()
		t.Fatalf("listening line %q has no URL", line)
	}
	kc := kinesis.NewFromConfig(endpointConfig("http://" + strings.Fields(rest)[0]))
	stop := func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("shoal local did not stop after its context ended")
			return -1
		}
	}
	return kc, errb, stop
}

// TestLocalRefusesDamageAndRepairs: a damaged data file makes `shoal local` exit non-zero with
// the file and the offset in its message, and `shoal local --repair` then serves every record
// that was intact, before and after the damage (read through the aws-sdk-go-v2 client).
func TestLocalRefusesDamageAndRepairs(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	kc, _, stop := runLocalT(t, "--data-dir", dir)
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("r"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	var acked []string
	for b := range 30 {
		var entries []types.PutRecordsRequestEntry
		for i := range 20 {
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: fmt.Appendf(nil, "rec-%02d-%02d", b, i)})
		}
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("r"), Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("PutRecords: %v", err)
		}
		for _, e := range entries {
			acked = append(acked, string(e.Data))
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("shoal local exited %d", code)
	}

	path := filepath.Join(dir, "kinesis", "streams.log")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mid := len(data) / 2
	copy(data[mid:], "sixteen bytes!!!")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// A real process: the exit code and stderr are what a user sees.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "local", "--addr", "127.0.0.1:0", "--data-dir", dir)
	cmd.Env = append(os.Environ(), "SHOAL_TEST_AS_CLI=1")
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() == 0 {
		t.Fatalf("shoal local started on a damaged log: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`damaged at byte offset (\d+)`).FindSubmatch(out)
	if !strings.Contains(string(out), path) || m == nil || !strings.Contains(string(out), "--repair") {
		t.Fatalf("exit %d without the file, the offset and --repair in the message:\n%s", cmd.ProcessState.ExitCode(), out)
	}
	var off int
	fmt.Sscan(string(m[1]), &off)
	if off > mid || mid-off > 1000 {
		t.Fatalf("offset %d named, damage written at %d:\n%s", off, mid, out)
	}
	if after, _ := os.ReadFile(path); len(after) != len(data) {
		t.Fatalf("the refused log was changed: %d -> %d bytes", len(data), len(after))
	}

	kc, errb, stop := runLocalT(t, "--data-dir", dir, "--repair")
	defer stop()
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("r"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for iter := it.ShardIterator; iter != nil; {
		out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			got[string(r.Data)] = true
		}
		if len(out.Records) == 0 {
			break
		}
		iter = out.NextShardIterator
	}
	// The damage hit one batch of 20 (two if it straddles a boundary); every other is there,
	// before and after it.
	lostBatches := map[string]bool{}
	for _, r := range acked {
		if !got[r] {
			lostBatches[r[:6]] = true
		}
	}
	if len(lostBatches) == 0 || len(lostBatches) > 2 || len(got) < len(acked)-40 {
		t.Fatalf("after --repair: %d of %d records, lost batches %v\n%s", len(got), len(acked), lostBatches, errb.String())
	}
	if !got["rec-00-00"] || !got["rec-29-19"] {
		t.Fatalf("records before or after the damage missing\n%s", errb.String())
	}
	log := errb.String()
	if !strings.Contains(log, "moved damaged bytes aside") || !strings.Contains(log, fmt.Sprintf("offset=%d", off)) || !strings.Contains(log, "records of stream") {
		t.Fatalf("repair report missing from the log:\n%s", log)
	}
	if _, err := os.Stat(fmt.Sprintf("%s.damaged-%d", path, off)); err != nil {
		t.Fatalf("damaged bytes not kept: %v", err)
	}
}
