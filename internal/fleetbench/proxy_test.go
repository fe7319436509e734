package fleetbench

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

func TestSampleDelayHasTheRequestedP99(t *testing.T) {
	p99 := 500 * time.Millisecond
	if got := sampleDelay(p99, lognormalZ99); got != p99 {
		t.Errorf("at z = z99 the delay is %v, want exactly %v", got, p99)
	}
	if got := sampleDelay(p99, 0); math.Abs(float64(got)/float64(p99)-1/10.24) > 0.01 {
		t.Errorf("median %v, want p99/10.24", got)
	}
	if got := sampleDelay(0, 3); got != 0 {
		t.Errorf("p99 0 gives %v, want no delay", got)
	}
	// The sampled distribution: about 1% of samples above p99 (a fixed seed: deterministic).
	rng := rand.New(rand.NewPCG(1, 2))
	ds := make([]time.Duration, 100_000)
	over := 0
	for i := range ds {
		ds[i] = sampleDelay(p99, rng.NormFloat64())
		if ds[i] > p99 {
			over++
		}
	}
	if frac := float64(over) / float64(len(ds)); frac < 0.008 || frac > 0.012 {
		t.Errorf("%.4f of samples above p99, want about 0.01", frac)
	}
	slices.Sort(ds)
	if got := Percentile(ds, 99); math.Abs(float64(got)/float64(p99)-1) > 0.05 {
		t.Errorf("sampled p99 %v, want %v +/- 5%%", got, p99)
	}
}

func TestHistogramPercentile(t *testing.T) {
	h := make(histogram, histBuckets)
	for ms := 1; ms <= 100; ms++ {
		h[ms]++
	}
	if got := h.percentile(50); got != 50*time.Millisecond {
		t.Errorf("p50 %v", got)
	}
	if got := h.percentile(99); got != 99*time.Millisecond {
		t.Errorf("p99 %v", got)
	}
	if got := (histogram(make([]int64, 3))).percentile(99); got != 0 {
		t.Errorf("empty p99 %v", got)
	}
	d := h.sub(h)
	if got := d.percentile(50); got != 0 {
		t.Errorf("h - h has p50 %v", got)
	}
}

// TestProxyCountsAndDelays runs the real DynamoDB client through the proxy to a kinesislocal
// server on loopback: requests are forwarded intact (signed Host kept), counted by operation and
// table, and delayed when latency is set.
func TestProxyCountsAndDelays(t *testing.T) {
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv) // 127.0.0.1, a free port
	defer hs.Close()
	p, err := NewProxy(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	db := dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(p.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
		HTTPClient:  &http.Client{Transport: kinesislocal.BufferedTransport(nil)}})
	ctx := context.Background()
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("leases"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: types.KeyTypeHash}}})
	if err != nil {
		t.Fatal(err)
	}
	before := p.Counts()
	for range 3 {
		if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("leases")}); err != nil {
			t.Fatal(err)
		}
	}
	got := p.Counts().Sub(before)
	if got.Requests != 3 || got.ByOp["DescribeTable"] != 3 || got.ByTable["leases"] != 3 || got.Failed != 0 {
		t.Errorf("counts %+v, want 3 DescribeTable on leases", got)
	}

	p.SetLatency(time.Hour) // every sample is capped at a minute: far above what the test waits
	rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = db.DescribeTable(rctx, &dynamodb.DescribeTableInput{TableName: aws.String("leases")}, func(o *dynamodb.Options) {
		o.RetryMaxAttempts = 1
	})
	cancel()
	if err == nil {
		t.Error("a request delayed by about a minute answered within 300 ms")
	}
	p.SetLatency(0)

	p.SetThrottle(true)
	before = p.Counts()
	_, err = db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("leases")}, func(o *dynamodb.Options) {
		o.RetryMaxAttempts = 2
	})
	var pte *types.ProvisionedThroughputExceededException
	if !errors.As(err, &pte) {
		t.Errorf("throttled call returned %v, want ProvisionedThroughputExceededException", err)
	}
	if got := p.Counts().Sub(before); got.Throttled != 2 || got.Requests != 2 {
		t.Errorf("throttled %d of %d requests, want 2 of 2 (the SDK retries a throttle)", got.Throttled, got.Requests)
	}
	p.SetFilter(func(table string) bool { return table == "other" })
	if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("leases")}); err != nil {
		t.Errorf("throttling filtered to another table throttled this one: %v", err)
	}
	p.SetFilter(nil)
	p.SetThrottle(false)
	if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("leases")}); err != nil {
		t.Errorf("after the delay was removed: %v", err)
	}
}

// TestProxyFinishesRequestsTheClientAbandons: dynalite dies when a request is aborted mid-way,
// so the proxy lets every forwarded request run to its end upstream.
func TestProxyFinishesRequestsTheClientAbandons(t *testing.T) {
	done := make(chan error, 1)
	arrived, release := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		done <- r.Context().Err() // nil: the upstream connection was not cut
		w.WriteHeader(http.StatusOK)
	}))
	defer up.Close()
	p, err := NewProxy(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.URL(), http.NoBody)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	cancel()
	time.Sleep(50 * time.Millisecond) // give a cut connection time to show (it makes the test pass less, never more)
	if err := <-errc; err == nil {
		t.Fatal("the cancelled client got an answer")
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the upstream request was cut when the client gave up: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the upstream request never finished")
	}
}
