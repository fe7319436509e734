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
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
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

// TestClientSoak runs every client at its default settings against `shoal local` over a real
// socket, all at once: on the plain port the Node AWS SDK v3 (HTTP/2 with prior knowledge),
// boto3 and the AWS CLI (HTTP/1.1), and aws-sdk-go-v2 through BufferedTransport (its default
// client races itself over HTTP/1.1: kinesislocal TestSDKBodyRace); with --tls aws-sdk-go-v2 with
// nothing but a trusted CA (HTTP/2 by ALPN), the Node SDK and boto3. Each does PutRecords,
// GetRecords, SubscribeToShard (all but the CLI, which does not offer it) and lease-table
// traffic; each stream is then read back with the Go SDK: no error, nothing missing, nothing
// twice.
func TestClientSoak(t *testing.T) {
	node := nodeReady(t)
	python := pythonReady(t)
	awsCLIReady(t)
	plain, secure := startLocal(t), startLocal(t, "--tls")
	if secure.CAFile == "" {
		t.Fatal("shoal local --tls printed no CA file")
	}
	type client struct {
		name   string
		srv    localServer
		stream string
		want   int
		run    func(t *testing.T, ctx context.Context, srv localServer, stream string) soakResult
	}
	script := func(name string, args ...string) func(*testing.T, context.Context, localServer, string) soakResult {
		return func(t *testing.T, ctx context.Context, srv localServer, stream string) soakResult {
			var env []string
			if srv.CAFile != "" {
				env = append(env, "AWS_CA_BUNDLE="+srv.CAFile, "NODE_EXTRA_CA_CERTS="+srv.CAFile)
			}
			full := append([]string{}, args[:1]...)
			full = append(full, srv.Endpoint, stream, stream+"-leases")
			full = append(full, args[1:]...)
			return runScript(t, ctx, env, name, full...)
		}
	}
	goSoak := func(buffered bool) func(*testing.T, context.Context, localServer, string) soakResult {
		return func(t *testing.T, ctx context.Context, srv localServer, stream string) soakResult {
			return runGoSoak(t, ctx, srv, stream, buffered, 4, 3)
		}
	}
	// The CLI first: it is the slowest (a Python start per call) and subtests run only
	// GOMAXPROCS at a time.
	clients := []client{
		{"http/aws-cli", plain, "cli", 1 * 500, script("bash", "soak-cli.sh", "1")},
		{"http/node", plain, "node", 6 * 500, script(node, "soak.mjs", "6")},
		{"http/boto3", plain, "boto3", 6 * 500, script(python, "soak.py", "6")},
		{"http/go-buffered", plain, "go", 4 * 3 * 500, goSoak(true)},
		{"tls/go", secure, "go", 4 * 3 * 500, goSoak(false)},
		{"tls/node", secure, "node", 6 * 500, script(node, "soak.mjs", "6")},
		{"tls/boto3", secure, "boto3", 6 * 500, script(python, "soak.py", "6")},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			start := time.Now()
			res := c.run(t, ctx, c.srv, c.stream)
			if res.Written != c.want {
				t.Fatalf("%s wrote %d records, want %d", res.Client, res.Written, c.want)
			}
			checkStream(t, ctx, goClient(t, c.srv.Endpoint, c.srv.CAFile), c.stream, c.want)
			t.Logf("%s: %d records written and read back once each, %d through SubscribeToShard, %d lease writes, in %v",
				res.Client, res.Written, res.Subscribed, res.LeaseWrites, time.Since(start).Round(time.Millisecond))
		})
	}
}

// pythonReady returns a python3 that imports boto3, or fails/skips.
func pythonReady(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import boto3").Run() == nil {
			return path
		}
	}
	requireClient(t, "boto3", "apt-get install python3-boto3")
	return ""
}

// awsCLIReady fails or skips when the AWS CLI is missing.
func awsCLIReady(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		requireClient(t, "the AWS CLI", "apt-get install awscli")
	}
	return path
}

// runGoSoak is the aws-sdk-go-v2 client soak: callers x batches PutRecords of 500 records,
// SubscribeToShard on both shards from TRIM_HORIZON until every record arrived, and lease-table
// traffic, with the SDK's default HTTP client and retryer (wrapped in BufferedTransport when
// buffered). The caller reads the stream back.
func runGoSoak(t *testing.T, ctx context.Context, srv localServer, stream string, buffered bool, callers, batches int) soakResult {
	t.Helper()
	cfg := goConfig(t, srv.CAFile)
	if buffered {
		cfg.HTTPClient = &http.Client{Transport: kinesislocal.BufferedTransport(awshttp.NewBuildableClient().GetTransport())}
	}
	newKinesis := func() *kinesis.Client {
		return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(srv.Endpoint) })
	}
	kc := newKinesis()
	res := soakResult{Client: "aws-sdk-go-v2"}
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	var arn string
	waitFor(t, ctx, "stream ACTIVE", func() bool {
		d, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &stream})
		if err != nil {
			t.Fatal(err)
		}
		arn = aws.ToString(d.StreamDescriptionSummary.StreamARN)
		return d.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive
	})
	reg, err := kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: &arn, ConsumerName: aws.String("soak")})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "consumer ACTIVE", func() bool {
		d, err := kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: reg.Consumer.ConsumerARN})
		if err != nil {
			t.Fatal(err)
		}
		return d.ConsumerDescription.ConsumerStatus == ktypes.ConsumerStatusActive
	})
	total := callers * batches * 500

	// Subscriptions from TRIM_HORIZON, one client each (smithy-go shares an event-stream decode
	// buffer per client protocol).
	type subResult struct {
		data []string
		err  error
	}
	subc := make(chan subResult, 2)
	subCtx, stopSubs := context.WithCancel(ctx)
	defer stopSubs()
	var delivered atomic.Int64
	for _, shard := range []string{"shardId-000000000000", "shardId-000000000001"} {
		go func() {
			var r subResult
			defer func() { subc <- r }()
			sub, err := newKinesis().SubscribeToShard(subCtx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN,
				ShardId: &shard, StartingPosition: &ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeTrimHorizon}})
			if err != nil {
				r.err = err
				return
			}
			es := sub.GetStream()
			defer es.Close()
			for ev := range es.Events() {
				if e, ok := ev.(*ktypes.SubscribeToShardEventStreamMemberSubscribeToShardEvent); ok {
					for _, rec := range e.Value.Records {
						r.data = append(r.data, string(rec.Data))
					}
					delivered.Add(int64(len(e.Value.Records)))
				}
			}
			if subCtx.Err() == nil {
				r.err = fmt.Errorf("event stream of %s ended: %v", shard, es.Err())
			}
		}()
	}

	errc := make(chan error, callers)
	for c := range callers {
		go func() {
			for b := range batches {
				entries := make([]ktypes.PutRecordsRequestEntry, 500)
				for i := range entries {
					id := fmt.Sprintf("go-%d-%d-%d", c, b, i)
					entries[i] = ktypes.PutRecordsRequestEntry{Data: []byte(id), PartitionKey: aws.String(id)}
				}
				out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries})
				if err == nil && aws.ToInt32(out.FailedRecordCount) != 0 {
					err = fmt.Errorf("PutRecords: %d records failed", aws.ToInt32(out.FailedRecordCount))
				}
				if err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range callers {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	res.Written = total
	waitFor(t, ctx, "SubscribeToShard events", func() bool { return delivered.Load() >= int64(total) })
	stopSubs()
	seen := map[string]bool{}
	for range 2 {
		r := <-subc
		if r.err != nil {
			t.Fatal(r.err)
		}
		for _, d := range r.data {
			seen[d] = true
		}
		res.Subscribed += len(r.data)
	}
	if res.Subscribed != total || len(seen) != total {
		t.Errorf("SubscribeToShard delivered %d records (%d unique), want %d", res.Subscribed, len(seen), total)
	}

	// Lease-table traffic.
	dc := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(srv.Endpoint) })
	table := stream + "-leases"
	if _, err := dc.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: &table, BillingMode: dtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: dtypes.KeyTypeHash}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "table ACTIVE", func() bool {
		d, err := dc.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
		if err != nil {
			t.Fatal(err)
		}
		return d.Table.TableStatus == dtypes.TableStatusActive
	})
	for _, shard := range []string{"shardId-000000000000", "shardId-000000000001"} {
		if _, err := dc.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, ConditionExpression: aws.String("attribute_not_exists(leaseKey)"),
			Item: map[string]dtypes.AttributeValue{"leaseKey": &dtypes.AttributeValueMemberS{Value: shard},
				"leaseOwner": &dtypes.AttributeValueMemberS{Value: "go"}, "leaseCounter": &dtypes.AttributeValueMemberN{Value: "0"}}}); err != nil {
			t.Fatal(err)
		}
		res.LeaseWrites++
		for c := range 20 {
			if _, err := dc.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table,
				Key:                 map[string]dtypes.AttributeValue{"leaseKey": &dtypes.AttributeValueMemberS{Value: shard}},
				ConditionExpression: aws.String("leaseCounter = :c AND leaseOwner = :o"), UpdateExpression: aws.String("SET leaseCounter = :n"),
				ExpressionAttributeValues: map[string]dtypes.AttributeValue{":c": &dtypes.AttributeValueMemberN{Value: fmt.Sprint(c)},
					":n": &dtypes.AttributeValueMemberN{Value: fmt.Sprint(c + 1)}, ":o": &dtypes.AttributeValueMemberS{Value: "go"}}}); err != nil {
				t.Fatal(err)
			}
			res.LeaseWrites++
		}
	}
	scan, err := dc.Scan(ctx, &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range scan.Items {
		if n := it["leaseCounter"].(*dtypes.AttributeValueMemberN).Value; n != "20" {
			t.Errorf("lease counter %s, want 20", n)
		}
	}
	if res.LeaseItems = len(scan.Items); res.LeaseItems != 2 {
		t.Errorf("Scan returned %d leases, want 2", res.LeaseItems)
	}
	return res
}

// waitFor polls cond every 20 ms until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
