package kinesislocal_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// TestBufferedTransportOverSocket sends many PutRecords over a real loopback socket with the SDK's
// retries off. Without BufferedTransport, some calls fail with "use of closed network connection"
// (the SDK closes the request body while Go's transport is still reading it; see
// BufferedTransport); with it, none may fail.
func TestBufferedTransportOverSocket(t *testing.T) {
	srv := newServer(t, kinesislocal.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	defer hs.Close()
	kc := kinesis.NewFromConfig(aws.Config{Region: "us-east-1",
		HTTPClient:  &http.Client{Transport: kinesislocal.BufferedTransport(nil)},
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")},
		func(o *kinesis.Options) { o.BaseEndpoint = aws.String("http://" + ln.Addr().String()) })
	ctx := context.Background()
	stream := "socket"
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	entries := make([]types.PutRecordsRequestEntry, 500)
	for i := range entries {
		entries[i] = types.PutRecordsRequestEntry{Data: make([]byte, 100), PartitionKey: aws.String("k" + strconv.Itoa(i))}
	}
	for i := range 300 {
		if _, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}
