package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/kinesislocal"
)

// TestMain lets the test binary stand in for the shoal binary: commands that start child
// processes of themselves (demo workers, bench's local server) run os.Executable(), which under
// `go test` is this test binary.
func TestMain(m *testing.M) {
	if os.Getenv("SHOAL_TEST_AS_CLI") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestUsageExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{nil, 2},
		{[]string{"help"}, 0},
		{[]string{"nope"}, 2},
		{[]string{"local", "--no-such-flag"}, 2},
		{[]string{"local", "extra-arg"}, 2},
		{[]string{"local", "--help"}, 0},
		{[]string{"local", "--fault", "bad"}, 2},
		{[]string{"local", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, 2},
		{[]string{"local", "--tls", "--tls-cert", "c.pem"}, 2},
		{[]string{"local", "--tls", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"}, 1},
		{[]string{"local", "--repair"}, 2},
		{[]string{"demo", "--shards", "0"}, 1},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if got := run(context.Background(), tt.args, &out, &errb); got != tt.want {
			t.Errorf("shoal %v: exit %d, want %d (stderr %q)", tt.args, got, tt.want, errb.String())
		}
	}
}

func TestFaultFlag(t *testing.T) {
	tests := []struct {
		in      string
		want    kinesislocal.Fault
		wantErr bool
	}{
		{in: "GetRecords:ProvisionedThroughputExceededException", want: kinesislocal.Fault{Operation: "GetRecords", ErrorCode: "ProvisionedThroughputExceededException"}},
		{in: "*:ThrottlingException:0.25", want: kinesislocal.Fault{Operation: "*", ErrorCode: "ThrottlingException", Probability: 0.25}},
		{in: "PutRecords::1:50ms", want: kinesislocal.Fault{Operation: "PutRecords", Probability: 1, Latency: 50 * time.Millisecond}},
		{in: "PutRecords", wantErr: true},
		{in: "a:b:notanumber", wantErr: true},
		{in: "a:b:1:forever", wantErr: true},
		{in: "a:b:1:2s:extra", wantErr: true},
	}
	for _, tt := range tests {
		var f faultFlags
		err := f.Set(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("Set(%q) error %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && (len(f) != 1 || !reflect.DeepEqual(f[0], tt.want)) {
			t.Errorf("Set(%q) = %+v, want %+v", tt.in, f, tt.want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLocalServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"local", "--addr", "127.0.0.1:0", "--state-delay", "0s"}, pw, &errb)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v (stderr %q)", err, errb.String())
	}
	go io.Copy(io.Discard, pr)
	_, rest, ok := strings.Cut(line, "http://")
	if !ok {
		t.Fatalf("listening line %q has no URL", line)
	}
	endpoint := "http://" + strings.Fields(rest)[0]

	kc := kinesis.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")},
		func(o *kinesis.Options) { o.BaseEndpoint = aws.String(endpoint) })
	if _, err := kc.ListStreams(ctx, &kinesis.ListStreamsInput{}); err != nil {
		t.Fatalf("ListStreams over the socket: %v", err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("shoal local exited %d (stderr %q)", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shoal local did not stop after its context ended")
	}
}

// TestDemoLosesNothing runs the demo with real worker processes: one killed, one stopped
// gracefully, a shard split; the summary must report nothing lost and a takeover for each.
func TestDemoLosesNothing(t *testing.T) {
	t.Setenv("SHOAL_TEST_AS_CLI", "1") // inherited by the worker processes only
	var out, errb syncBuffer
	code := run(context.Background(), []string{"demo", "--shards", "4", "--workers", "3", "--rate", "200",
		"--duration", "12s", "--kill-at", "3s", "--stop-at", "6s", "--split-at", "8s"}, &out, &errb)
	text := out.String()
	if code != 0 {
		t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, text, errb.String())
	}
	for _, want := range []string{"records lost:       0", "killed worker-", "stopped worker-", "split shardId-",
		"after killed", "after stopped", "Nothing was lost"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
}

// TestLocalRefusesUnknownFaultOperation: `shoal local --fault NoSuchOp:...` fails at start and
// lists the valid operation names, instead of serving with a fault that never matches.
func TestLocalRefusesUnknownFaultOperation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"local", "--addr", "127.0.0.1:0", "--fault", "NoSuchOp:ThrottlingException"}, &out, &errb)
	if code == 0 || strings.Contains(out.String(), "listening") {
		t.Fatalf("shoal local started with an unknown fault operation (exit %d, stdout %q)", code, out.String())
	}
	for _, want := range []string{"NoSuchOp", "GetRecords", "UpdateItem"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr does not mention %s: %q", want, errb.String())
		}
	}
}
