package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// The client tests run AWS clients nobody here wrote, at their default settings, against
// `shoal local` over a real socket: the Node AWS SDK v3 (test/clients, installed by
// test/clients/install.sh), boto3 and the AWS CLI. A client that is not installed skips the
// test with a message, or fails it under SHOAL_REQUIRE_EMULATORS=1 (as ./test.sh runs).

// localServer is a `shoal local` started in-process on a loopback port.
type localServer struct {
	Endpoint string // http://127.0.0.1:PORT or https://...
	CAFile   string // with --tls: the generated CA certificate
}

// startLocal runs `shoal local` with args on 127.0.0.1:0 until the test ends.
func startLocal(t *testing.T, args ...string) localServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"local", "--addr", "127.0.0.1:0", "--state-delay", "0s"}, args...), pw, &errb)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("shoal local exited %d (stderr %q)", code, errb.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("shoal local did not stop after its context ended")
		}
	})
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v (stderr %q)", err, errb.String())
	}
	var s localServer
	for _, scheme := range []string{"http://", "https://"} {
		if _, rest, ok := strings.Cut(line, scheme); ok {
			s.Endpoint = scheme + strings.Fields(rest)[0]
			break
		}
	}
	if s.Endpoint == "" {
		t.Fatalf("listening line %q has no URL", line)
	}
	if strings.HasPrefix(s.Endpoint, "https://") {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("no certificate line: %v", err)
		}
		if _, rest, ok := strings.Cut(line, "CA certificate: "); ok {
			s.CAFile = strings.Fields(rest)[0]
		}
	}
	go io.Copy(io.Discard, br)
	// Both scheme and host as users type them: "localhost" must match the certificate too.
	s.Endpoint = strings.Replace(s.Endpoint, "127.0.0.1", "localhost", 1)
	return s
}

// requireClient fails (under SHOAL_REQUIRE_EMULATORS=1) or skips loudly when a client is missing.
func requireClient(t *testing.T, what, how string) {
	t.Helper()
	if os.Getenv("SHOAL_REQUIRE_EMULATORS") == "1" {
		t.Fatalf("%s is not installed but SHOAL_REQUIRE_EMULATORS=1: %s", what, how)
	}
	t.Skipf("SKIPPED: %s is not installed (%s); ./test.sh installs it", what, how)
}

// clientsDir is test/clients, where the Node packages and the client scripts live.
func clientsDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "..", "test", "clients"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// nodeReady returns the node binary, or fails/skips when node or the pinned SDK is missing.
func nodeReady(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		requireClient(t, "node", "install Node 18+")
	}
	if _, err := os.Stat(filepath.Join(clientsDir(t), "node_modules", "@aws-sdk", "client-kinesis")); err != nil {
		requireClient(t, "the Node AWS SDK v3", "run bash test/clients/install.sh")
	}
	return node
}

// soakResult is the JSON line a client script prints.
type soakResult struct {
	Client           string   `json:"client"`
	Written          int      `json:"written"`
	Read             int      `json:"read"`
	ReadUnique       int      `json:"readUnique"`
	Subscribed       int      `json:"subscribed"`
	SubscribedUnique int      `json:"subscribedUnique"`
	LeaseWrites      int      `json:"leaseWrites"`
	LeaseItems       int      `json:"leaseItems"`
	Problems         []string `json:"problems"`
	Error            string   `json:"error"`
}

// runScript runs a client script with env added and decodes the JSON line it prints last.
func runScript(t *testing.T, ctx context.Context, env []string, name string, args ...string) soakResult {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = clientsDir(t)
	cmd.Env = append(os.Environ(), env...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res soakResult
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &res); jerr != nil {
		t.Fatalf("%s %v: %v; no result line in %q (stderr %q)", name, args, err, out, tail(stderr.String(), 2000))
	}
	if err != nil || res.Error != "" || len(res.Problems) > 0 {
		t.Fatalf("%s: %v: error %q, problems %q, counts %+v (stderr %q)", res.Client, err, res.Error, res.Problems, res, tail(stderr.String(), 2000))
	}
	return res
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// checkStream reads stream back with the Go SDK and checks it holds exactly want records, each
// once: the server's own count, independent of what the client script reported.
func checkStream(t *testing.T, ctx context.Context, kc *kinesis.Client, stream string, want int) {
	t.Helper()
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	total := 0
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: sh.ShardId, ShardIteratorType: "TRIM_HORIZON"})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				seen[string(r.Data)]++
				total++
			}
			if len(out.Records) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	if total != want || dups != 0 {
		t.Errorf("stream %s holds %d records (%d unique, %d duplicates), want %d", stream, total, len(seen), dups, want)
	}
}

// goConfig returns an aws.Config with the SDK's defaults (its own HTTP client and retryer) and only
// the region and dummy credentials set; with caFile, the client trusts that CA as AWS_CA_BUNDLE
// would make config.LoadDefaultConfig do.
func goConfig(t *testing.T, caFile string) aws.Config {
	t.Helper()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDGO", "go", "")}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatalf("%s holds no certificate", caFile)
		}
		cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{}
			}
			tr.TLSClientConfig.RootCAs = pool
		})
	}
	return cfg
}

func goClient(t *testing.T, endpoint, caFile string) *kinesis.Client {
	return kinesis.NewFromConfig(goConfig(t, caFile), func(o *kinesis.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// TestNodeSDKDefaults runs the Node AWS SDK v3 soak (PutRecords, GetRecords, SubscribeToShard
// events, lease-table traffic) against `shoal local` over plain http (the Kinesis client speaks
// HTTP/2 with prior knowledge) and over --tls (HTTP/2 by ALPN).
func TestNodeSDKDefaults(t *testing.T) {
	node := nodeReady(t)
	for _, tc := range []struct {
		name string
		args []string
	}{{"h2c", nil}, {"tls", []string{"--tls"}}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			srv := startLocal(t, tc.args...)
			var env []string
			if srv.CAFile != "" {
				env = append(env, "NODE_EXTRA_CA_CERTS="+srv.CAFile)
			}
			const batches = 6
			res := runScript(t, ctx, env, node, "soak.mjs", srv.Endpoint, "node", "node-leases", fmt.Sprint(batches))
			if res.Written != batches*500 || res.Subscribed != res.Written {
				t.Fatalf("counts %+v", res)
			}
			checkStream(t, ctx, goClient(t, srv.Endpoint, srv.CAFile), "node", batches*500)
		})
	}
}
