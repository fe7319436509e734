package dynamolease_test

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shoal-go/shoal/lease/dynamolease"
)

// The worker table gets a client of its own: its own connection pool (for the SDK's default
// HTTP client and for an *http.Client over an *http.Transport) and its own retryer, so
// heartbeats never wait for a connection or a retry token behind checkpoint writes.
func TestWorkerTableOwnLane(t *testing.T) {
	for name, hc := range map[string]aws.HTTPClient{
		"sdk default":    awshttp.NewBuildableClient(),
		"http.Transport": &http.Client{Transport: &http.Transport{MaxConnsPerHost: 4}},
	} {
		t.Run(name, func(t *testing.T) {
			c := dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: hc,
				Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
			s, err := dynamolease.New(c, dynamolease.Options{Table: "t"})
			if err != nil {
				t.Fatal(err)
			}
			w, ok := s.WorkerAPI().(*dynamodb.Client)
			if !ok || w == c {
				t.Fatalf("worker table client %T (same as the lease table's: %v)", s.WorkerAPI(), w == c)
			}
			if w.Options().HTTPClient == c.Options().HTTPClient {
				t.Error("worker table shares the lease table's HTTP client (connection pool)")
			}
			if w.Options().Retryer == c.Options().Retryer {
				t.Error("worker table shares the lease table's retryer (retry quota)")
			}
			if hcw, ok := w.Options().HTTPClient.(*http.Client); ok {
				if hcw.Transport.(*http.Transport).MaxConnsPerHost != 4 {
					t.Error("the copied transport lost the caller's settings")
				}
			}
		})
	}
	// A client that is not an SDK client is used as is.
	var api dynamolease.API = throttling{}
	s, err := dynamolease.New(api, dynamolease.Options{Table: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if s.WorkerAPI() != api {
		t.Error("a custom API was replaced")
	}
}
