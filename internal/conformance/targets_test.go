package conformance

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/kinesislocal"
)

// Target names. They are the keys of the deviations table.
const (
	kinesislocalInProc = "kinesislocal"
	kinesislocalHTTP   = "kinesislocal-http"
	kinesalite         = "kinesalite"
	kinesisLocal       = "kinesis-local"
	dynalite           = "dynalite"
)

// requireEmulatorsEnv, when "1", turns a missing emulator endpoint into a test failure.
const requireEmulatorsEnv = "SHOAL_REQUIRE_EMULATORS"

// stateDelay is kinesislocal's CREATING/UPDATING/DELETING duration in this suite.
const stateDelay = 20 * time.Millisecond

// targetSpec says how to reach one target. It is pure data, so the TestMain banner and the
// tests agree on what runs.
type targetSpec struct {
	name      string
	envVar    string // endpoint variable for an external emulator; "" for kinesislocal
	kinesis   bool   // speaks Kinesis
	dynamo    bool   // speaks DynamoDB
	smokeOnly bool   // runs only the cases marked smoke
}

// allTargets lists every target in the order they run.
var allTargets = []targetSpec{
	{name: kinesislocalInProc, kinesis: true, dynamo: true},
	{name: kinesislocalHTTP, kinesis: true, dynamo: true, smokeOnly: true},
	{name: kinesalite, envVar: "KINESALITE_ENDPOINT", kinesis: true},
	{name: kinesisLocal, envVar: "KINESIS_LOCAL_ENDPOINT", kinesis: true},
	{name: dynalite, envVar: "DYNALITE_ENDPOINT", dynamo: true},
}

// plan splits the targets into those that will run and those skipped for a missing endpoint.
func plan(getenv func(string) string) (run, skipped []string) {
	for _, s := range allTargets {
		if s.envVar != "" && getenv(s.envVar) == "" {
			skipped = append(skipped, fmt.Sprintf("%s (%s unset)", s.name, s.envVar))
			continue
		}
		run = append(run, s.name)
	}
	return run, skipped
}

// target is one reachable implementation with SDK clients pointed at it.
type target struct {
	spec targetSpec
	// kc is the Kinesis client used by the cases. For kinesis-local it carries the
	// initial-response shim (efoshim_test.go); rawKC never does.
	kc, rawKC *kinesis.Client
	dc        *dynamodb.Client
	devs      *devRecorder // shared by the targets of one top-level test
}

func (tg *target) name() string { return tg.spec.name }

// openTargets returns the targets of one API ("kinesis" or "dynamodb"). A missing emulator
// endpoint yields a target with no clients and a skip reason, reported by runCases.
func openTargets(t *testing.T, api string) []*target {
	t.Helper()
	var out []*target
	devs := &devRecorder{}
	for _, spec := range allTargets {
		if (api == "kinesis" && !spec.kinesis) || (api == "dynamodb" && !spec.dynamo) {
			continue
		}
		tg := &target{spec: spec, devs: devs}
		switch spec.name {
		case kinesislocalInProc, kinesislocalHTTP:
			srv, err := kinesislocal.New(kinesislocal.Options{StateDelay: stateDelay})
			if err != nil {
				t.Fatalf("kinesislocal.New: %v", err)
			}
			t.Cleanup(func() { srv.Close() })
			cfg := srv.AWSConfig()
			if spec.name == kinesislocalHTTP {
				ts := httptest.NewServer(srv)
				t.Cleanup(ts.Close)
				cfg = socketConfig(ts.URL, nil)
			}
			tg.kc = kinesis.NewFromConfig(cfg)
			tg.rawKC = tg.kc
			tg.dc = dynamodb.NewFromConfig(cfg)
		default:
			endpoint := os.Getenv(spec.envVar)
			if endpoint != "" {
				if err := checkLoopback(endpoint); err != nil {
					t.Fatalf("%s=%q: %v", spec.envVar, endpoint, err)
				}
				tg.rawKC = kinesis.NewFromConfig(socketConfig(endpoint, nil))
				tg.kc = tg.rawKC
				if spec.name == kinesisLocal {
					tg.kc = kinesis.NewFromConfig(socketConfig(endpoint, addInitialResponse))
				}
				tg.dc = dynamodb.NewFromConfig(socketConfig(endpoint, nil))
			}
		}
		out = append(out, tg)
	}
	return out
}

// socketConfig returns an aws.Config for an http:// endpoint on loopback: static dummy
// credentials, us-east-1, no proxy; wrap, when set, wraps the transport.
func socketConfig(endpoint string, wrap func(http.RoundTripper) http.RoundTripper) aws.Config {
	var rt http.RoundTripper = &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	if wrap != nil {
		rt = wrap(rt)
	}
	rt = detachRequestBody{next: rt}
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "dummy-secret", ""),
		HTTPClient:   &http.Client{Transport: rt},
		BaseEndpoint: aws.String(endpoint),
	}
}

// detachRequestBody gives the transport its own copy of the request body.
//
// It works around a race in aws-sdk-go-v2 (smithy-go v1.28.8) over HTTP/1.1 that kills event
// streams from fast servers: smithy's ClientHandler closes the request body as soon as
// http.Client.Do returns, while net/http's writeLoop may still be doing its final read of a
// Content-Length body (transfer.go, "nextra" check); smithy's closed body answers that read
// from WriteTo with io.EOF as an error, so the transport records a write error and closes the
// connection under the streaming response ("use of closed network connection"). kinesislocal over
// a socket answers SubscribeToShard within microseconds and lost about 1 subscription in 10 to
// it; kinesis-local answers after about a second and never does. With a copy, the SDK's Close
// cannot reach what the transport reads.
type detachRequestBody struct{ next http.RoundTripper }

func (d detachRequestBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return d.next.RoundTrip(r)
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(b))
	r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r2.ContentLength = int64(len(b))
	return d.next.RoundTrip(r2)
}

// checkLoopback refuses endpoints that are not on the loopback interface: the suite must never
// talk to a real service or another machine.
func checkLoopback(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	if u.Scheme != "http" {
		return fmt.Errorf("scheme %q: the suite uses plain http:// endpoints", u.Scheme)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || strings.EqualFold(host, "localhost") {
		return nil
	}
	return fmt.Errorf("host %q is not loopback", host)
}

// testCase is one conformance case; run gets a context bounded by caseTimeout.
type testCase struct {
	name  string
	smoke bool // also runs on kinesislocal-http
	run   func(t *testing.T, tg *target)
}

const caseTimeout = 60 * time.Second

// runCases runs every case on every target. Targets run concurrently (they are separate
// processes, and most time is spent waiting for state changes); the cases of one target run in
// order. A target without an endpoint is skipped loudly, or fails under SHOAL_REQUIRE_EMULATORS=1.
func runCases(t *testing.T, targets []*target, cases []testCase) {
	done := make(chan struct{}, len(targets))
	for _, tg := range targets {
		go func() {
			defer func() { done <- struct{}{} }()
			t.Run(tg.name(), func(t *testing.T) {
				if tg.kc == nil && tg.dc == nil {
					msg := fmt.Sprintf("!!! TARGET %s NOT TESTED: %s is unset; start the emulators with "+
						"`bash test/emulators/start.sh` and `. test/emulators/.run/env`", tg.name(), tg.spec.envVar)
					if os.Getenv(requireEmulatorsEnv) == "1" {
						t.Fatal(msg + " (" + requireEmulatorsEnv + "=1)")
					}
					t.Skip(msg)
				}
				for _, c := range cases {
					if tg.spec.smokeOnly && !c.smoke {
						continue
					}
					t.Run(c.name, func(t *testing.T) { c.run(t, tg) })
				}
			})
		}()
	}
	for range targets {
		<-done
	}
}
