package kinesislocal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"

	"github.com/shoal-go/shoal/kinesislocal"
)

func newServer(t *testing.T, opts kinesislocal.Options) *kinesislocal.Server {
	t.Helper()
	srv, err := kinesislocal.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// post sends a raw request to h and returns status and decoded JSON body.
func post(t *testing.T, h http.Handler, target, body string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("response is not JSON: %q", rec.Body.String())
	}
	return rec.Code, m
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := kinesislocal.New(kinesislocal.Options{
		StateDelay: -1,
		ShardLimit: -2,
		Faults:     []kinesislocal.Fault{{Operation: "GetRecords", Probability: 2}, {Operation: "PutRecord"}},
	})
	if err == nil {
		t.Fatal("New accepted invalid options")
	}
	for _, want := range []string{"StateDelay", "ShardLimit", "Faults[0].Probability", "Faults[1] has neither"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestRoutingErrors(t *testing.T) {
	srv := newServer(t, kinesislocal.Options{})
	tests := []struct {
		name, target string
		hdr          map[string]string
		wantStatus   int
		wantType     string
	}{
		{"no target", "", nil, 400, "UnknownOperationException"},
		{"foreign target", "S3.ListBuckets", nil, 400, "UnknownOperationException"},
		{"unsigned", "Kinesis_20131202.ListStreams", map[string]string{"Authorization": ""}, 400, "MissingAuthenticationTokenException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(t, srv, tt.target, "{}", tt.hdr)
			if code != tt.wantStatus || body["__type"] != tt.wantType {
				t.Fatalf("got %d %v, want %d %s", code, body, tt.wantStatus, tt.wantType)
			}
		})
	}
}

func TestOversizeBodyRejected(t *testing.T) {
	srv := newServer(t, kinesislocal.Options{})
	big := `{"StreamName":"s","Data":"` + strings.Repeat("A", kinesislocal.MaxRequestBytes) + `"}`
	code, body := post(t, srv, "Kinesis_20131202.PutRecord", big, nil)
	if code != http.StatusRequestEntityTooLarge || body["__type"] != "SerializationException" {
		t.Fatalf("got %d %v", code, body)
	}
}

func TestHealth(t *testing.T) {
	srv := newServer(t, kinesislocal.Options{})
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "ok") {
		t.Fatalf("health: %d %q", rec.Code, rec.Body.String())
	}
}

func noRetry(cfg aws.Config) aws.Config {
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	return cfg
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestFaultErrorReachesSDK(t *testing.T) {
	srv := newServer(t, kinesislocal.Options{Faults: []kinesislocal.Fault{
		{Operation: "ListTables", ErrorCode: "ThrottlingException"},
		{Operation: "DescribeTable", ErrorCode: "InternalFailure"},
	}})
	db := dynamodb.NewFromConfig(noRetry(srv.AWSConfig()))
	_, err := db.ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if got := apiCode(err); got != "ThrottlingException" {
		t.Fatalf("ListTables: error code %q (%v), want ThrottlingException", got, err)
	}
	var re interface{ HTTPStatusCode() int }
	_, err = db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("t")})
	if !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Fatalf("DescribeTable: want HTTP 500, got %v", err)
	}
}

func TestFaultProbability(t *testing.T) {
	srv := newServer(t, kinesislocal.Options{Faults: []kinesislocal.Fault{
		{Operation: "*", ErrorCode: "ProvisionedThroughputExceededException", Probability: 0.5},
	}})
	failed := 0
	const n = 400
	for range n {
		_, body := post(t, srv, "Kinesis_20131202.ListStreams", "{}", nil)
		if body["__type"] == "ProvisionedThroughputExceededException" {
			failed++
		}
	}
	// Binomial(400, 0.5): mean 200, sd 10; 120..280 is 8 sd either side.
	if failed < 120 || failed > 280 {
		t.Fatalf("%d of %d requests failed with probability 0.5", failed, n)
	}
}

func TestFaultLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newServer(t, kinesislocal.Options{Faults: []kinesislocal.Fault{{Operation: "ListTables", Latency: 3 * time.Second}}})
		db := dynamodb.NewFromConfig(srv.AWSConfig())
		start := time.Now()
		if _, err := db.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil && apiCode(err) == "" {
			t.Fatalf("ListTables: %v", err)
		}
		if d := time.Since(start); d < 3*time.Second {
			t.Fatalf("request took %v, want >= 3s of injected latency", d)
		}

		// A cancelled request stops waiting.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start = time.Now()
		_, err := db.ListTables(ctx, &dynamodb.ListTablesInput{})
		if err == nil || time.Since(start) > 2*time.Second {
			t.Fatalf("cancelled request: err %v after %v", err, time.Since(start))
		}
	})
}

// TestRoundTripperStreams checks that the in-process transport hands over headers before the
// handler finishes and streams body writes as they happen.
func TestRoundTripperStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		step := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Echo", string(body))
			w.WriteHeader(201)
			w.Write([]byte("first;"))
			w.(http.Flusher).Flush()
			select {
			case <-step:
				w.Write([]byte("second"))
			case <-r.Context().Done():
			}
		})
		c := &http.Client{Transport: kinesislocal.RoundTripper(h)}
		resp, err := c.Post(kinesislocal.Endpoint+"/", "text/plain", bytes.NewReader([]byte("hi")))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 201 || resp.Header.Get("X-Echo") != "hi" {
			t.Fatalf("status %d, X-Echo %q", resp.StatusCode, resp.Header.Get("X-Echo"))
		}
		buf := make([]byte, 6)
		if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first;" {
			t.Fatalf("first chunk %q, %v", buf, err)
		}
		close(step)
		rest, _ := io.ReadAll(resp.Body)
		if string(rest) != "second" {
			t.Fatalf("rest %q", rest)
		}
		resp.Body.Close()

		// Closing the body early cancels the handler: the bubble would deadlock otherwise.
		resp, err = c.Post(kinesislocal.Endpoint+"/", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		synctest.Wait()
	})
}
