// Package serverbench measures a Kinesis server's PutRecords and GetRecords throughput and its
// memory per stored record, the same way for any endpoint (kinesislocal, kinesalite, ...), so
// results from one run can be compared as ratios.
package serverbench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// Config describes one measurement. Zero fields take the defaults in brackets.
type Config struct {
	Endpoint    string        // http://127.0.0.1:PORT (required)
	PID         int           // server process id, for RSS; 0 = memory not measured
	Shards      int           // [4]
	RecordSize  int           // [100] bytes of data per record
	BatchSize   int           // [500] records per PutRecords
	Callers     int           // [4] concurrent PutRecords callers
	PutDuration time.Duration // [10s]
	MaxRecords  int           // [3,000,000] stop putting after this many
	GetLimit    int           // [10000] GetRecords Limit
	// Raw sends pre-encoded JSON over net/http instead of the aws-sdk-go-v2 client, so the client
	// costs less CPU than the server on a small machine. Both are valid AWS requests.
	Raw bool
	// Protocol is HTTP1 [default] (through kinesislocal.BufferedTransport, which the SDK needs
	// over HTTP/1.1) or H2C (HTTP/2 with prior knowledge, one connection per caller or shard
	// reader, whichever is more).
	Protocol string
}

// roundRobin spreads requests over several transports, one connection each.
type roundRobin struct {
	trs  []*http.Transport
	next atomic.Uint64
}

func (r *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	return r.trs[r.next.Add(1)%uint64(len(r.trs))].RoundTrip(req)
}

func (r *roundRobin) CloseIdleConnections() {
	for _, tr := range r.trs {
		tr.CloseIdleConnections()
	}
}

// Protocols for Config.Protocol.
const (
	HTTP1 = "http1"
	H2C   = "h2c"
)

// Result is one server's figures.
type Result struct {
	Records       int64   // records put (and read back)
	PutPerSec     float64 // records/s
	GetPerSec     float64 // records/s
	BytesPerRec   float64 // RSS growth per stored record; 0 when PID was 0
	PutErrors     int64   // failed PutRecords entries (throttled or otherwise)
	PutCallP50Ms  float64
	GetCallsTotal int64
}

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Shards, 4)
	def(&c.RecordSize, 100)
	def(&c.BatchSize, 500)
	def(&c.Callers, 4)
	def(&c.MaxRecords, 3_000_000)
	def(&c.GetLimit, 10000)
	if c.PutDuration == 0 {
		c.PutDuration = 10 * time.Second
	}
}

// Run creates a fresh stream on cfg.Endpoint, puts for cfg.PutDuration, then drains every shard
// from TRIM_HORIZON, and deletes the stream. It blocks until done or ctx ends.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.defaults()
	var hc *http.Client
	switch cfg.Protocol {
	case "", HTTP1:
		hc = &http.Client{Transport: kinesislocal.BufferedTransport(&http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true})}
	case H2C:
		// One HTTP/2 connection per caller (Go's transport would multiplex every caller on one),
		// as HTTP/1.1's pool gives each concurrent caller its own connection and the Node SDK
		// opens a session per request: the comparison is of protocols, not of connection counts.
		rr := &roundRobin{}
		for range max(cfg.Callers, cfg.Shards) {
			tr := &http.Transport{Proxy: nil, DisableCompression: true, Protocols: new(http.Protocols),
				// GetRecords answers reach 2 MB: windows of the server's size, not Go's 1 MiB default.
				HTTP2: &http.HTTP2Config{MaxReceiveBufferPerStream: 8 << 20, MaxReceiveBufferPerConnection: 32 << 20}}
			tr.Protocols.SetUnencryptedHTTP2(true)
			rr.trs = append(rr.trs, tr)
		}
		hc = &http.Client{Transport: rr}
	default:
		return Result{}, fmt.Errorf("serverbench: unknown protocol %q", cfg.Protocol)
	}
	defer hc.CloseIdleConnections()
	// No SDK retries: a retried PutRecords whose first attempt was stored would store its records
	// twice, and every failure should be visible in a benchmark.
	kc := kinesis.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: hc,
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		Credentials: credentials.NewStaticCredentialsProvider("AKIDBENCH", "bench", "")},
		func(o *kinesis.Options) { o.BaseEndpoint = aws.String(cfg.Endpoint) })
	stream := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(int32(cfg.Shards))}); err != nil {
		return Result{}, fmt.Errorf("create stream: %w", err)
	}
	defer kc.DeleteStream(context.WithoutCancel(ctx), &kinesis.DeleteStreamInput{StreamName: &stream})
	if err := kinesis.NewStreamExistsWaiter(kc).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: &stream}, time.Minute,
		func(o *kinesis.StreamExistsWaiterOptions) {
			o.MinDelay = 50 * time.Millisecond
			o.MaxDelay = 500 * time.Millisecond
		}); err != nil {
		return Result{}, fmt.Errorf("wait for stream: %w", err)
	}
	rss0 := rss(cfg.PID)

	var res Result
	var put putter
	if cfg.Raw {
		put = newRawPutter(hc, cfg, stream)
	} else {
		put = newSDKPutter(kc, cfg, stream)
	}
	var total, failed atomic.Int64
	var latMu sync.Mutex
	var lats []time.Duration
	// The phase ends by the clock, not by cancelling calls: a cancelled call may still be stored
	// by the server, and every stored record must be counted.
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, cfg.Callers)
	for range cfg.Callers {
		wg.Go(func() {
			for time.Since(start) < cfg.PutDuration && total.Load() < int64(cfg.MaxRecords) {
				t0 := time.Now()
				n, f, err := put(ctx)
				if err != nil {
					errc <- err
					return
				}
				latMu.Lock()
				lats = append(lats, time.Since(t0))
				latMu.Unlock()
				total.Add(int64(n - f))
				failed.Add(int64(f))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errc:
		return Result{}, fmt.Errorf("put: %w", err)
	default:
	}
	res.Records = total.Load()
	res.PutErrors = failed.Load()
	res.PutPerSec = float64(res.Records) / elapsed.Seconds()
	res.PutCallP50Ms = float64(median(lats)) / float64(time.Millisecond)
	if cfg.PID != 0 {
		res.BytesPerRec = float64(rss(cfg.PID)-rss0) / float64(res.Records)
	}

	got, calls, getElapsed, err := drain(ctx, kc, hc, cfg, stream)
	if err != nil {
		return Result{}, fmt.Errorf("get: %w", err)
	}
	if got != res.Records {
		return Result{}, fmt.Errorf("read back %d records, put %d", got, res.Records)
	}
	res.GetPerSec = float64(got) / getElapsed.Seconds()
	res.GetCallsTotal = calls
	return res, nil
}

// putter sends one PutRecords call and returns entries sent and entries failed.
type putter func(ctx context.Context) (n, failed int, err error)

func newSDKPutter(kc *kinesis.Client, cfg Config, stream string) putter {
	return func(ctx context.Context) (int, int, error) {
		entries := make([]types.PutRecordsRequestEntry, cfg.BatchSize)
		for i := range entries {
			entries[i] = types.PutRecordsRequestEntry{Data: payload(cfg.RecordSize), PartitionKey: aws.String(randKey())}
		}
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries})
		if err != nil {
			return 0, 0, err
		}
		return len(entries), int(aws.ToInt32(out.FailedRecordCount)), nil
	}
}

// newRawPutter pre-encodes a few request bodies and sends them in turn (unique partition keys per
// body; the server treats each call as new records).
func newRawPutter(hc *http.Client, cfg Config, stream string) putter {
	bodies := make([][]byte, 8)
	for b := range bodies {
		var buf bytes.Buffer
		fmt.Fprintf(&buf, `{"StreamName":%q,"Records":[`, stream)
		for i := range cfg.BatchSize {
			if i > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"Data":"%s","PartitionKey":"%s"}`, base64.StdEncoding.EncodeToString(payload(cfg.RecordSize)), randKey())
		}
		buf.WriteString("]}")
		bodies[b] = buf.Bytes()
	}
	var next atomic.Int64
	return func(ctx context.Context) (int, int, error) {
		body := bodies[next.Add(1)%int64(len(bodies))]
		out, err := rawCall(ctx, hc, cfg.Endpoint, "PutRecords", body)
		if err != nil {
			return 0, 0, err
		}
		i := bytes.Index(out, []byte(`"FailedRecordCount":`))
		if i < 0 {
			return 0, 0, fmt.Errorf("PutRecords response has no FailedRecordCount: %.200s", out)
		}
		rest := out[i+len(`"FailedRecordCount":`):]
		j := bytes.IndexAny(rest, ",}")
		f, err := strconv.Atoi(strings.TrimSpace(string(rest[:j])))
		if err != nil {
			return 0, 0, fmt.Errorf("FailedRecordCount: %w", err)
		}
		return cfg.BatchSize, f, nil
	}
}

func rawCall(ctx context.Context, hc *http.Client, endpoint, op string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000")
	req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %.300s", op, resp.StatusCode, out)
	}
	return out, nil
}

// drain reads every shard from TRIM_HORIZON until caught up, one reader per shard.
func drain(ctx context.Context, kc *kinesis.Client, hc *http.Client, cfg Config, stream string) (int64, int64, time.Duration, error) {
	ls, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		return 0, 0, 0, err
	}
	var got, calls atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, len(ls.Shards))
	start := time.Now()
	for i, sh := range ls.Shards {
		wg.Go(func() {
			it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: sh.ShardId,
				ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			if err != nil {
				errs[i] = err
				return
			}
			iter := aws.ToString(it.ShardIterator)
			for iter != "" {
				var n int
				var behind int64
				if cfg.Raw {
					n, iter, behind, err = rawGet(ctx, hc, cfg, iter)
				} else {
					var out *kinesis.GetRecordsOutput
					out, err = kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: &iter, Limit: aws.Int32(int32(cfg.GetLimit))})
					if err == nil {
						n, iter, behind = len(out.Records), aws.ToString(out.NextShardIterator), aws.ToInt64(out.MillisBehindLatest)
					}
				}
				if err != nil {
					errs[i] = err
					return
				}
				calls.Add(1)
				got.Add(int64(n))
				// kinesalite reports MillisBehindLatest 0 always: an empty page ends the drain.
				if n == 0 && behind == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	return got.Load(), calls.Load(), time.Since(start), errors.Join(errs...)
}

func rawGet(ctx context.Context, hc *http.Client, cfg Config, iter string) (int, string, int64, error) {
	body, _ := json.Marshal(map[string]any{"ShardIterator": iter, "Limit": cfg.GetLimit})
	out, err := rawCall(ctx, hc, cfg.Endpoint, "GetRecords", body)
	if err != nil {
		return 0, "", 0, err
	}
	n := bytes.Count(out, []byte(`"SequenceNumber"`))
	next := ""
	if i := bytes.Index(out, []byte(`"NextShardIterator":"`)); i >= 0 {
		rest := out[i+len(`"NextShardIterator":"`):]
		next = string(rest[:bytes.IndexByte(rest, '"')])
	}
	var behind int64
	if i := bytes.Index(out, []byte(`"MillisBehindLatest":`)); i >= 0 {
		rest := out[i+len(`"MillisBehindLatest":`):]
		j := bytes.IndexAny(rest, ",}")
		behind, _ = strconv.ParseInt(strings.TrimSpace(string(rest[:j])), 10, 64)
	}
	return n, next, behind, nil
}

func payload(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func randKey() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// rss returns the resident set size of pid in bytes, or 0.
func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
