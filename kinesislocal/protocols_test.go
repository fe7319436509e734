package kinesislocal_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// TestProtocols serves one Server through NewHTTPServer and, over each protocol a client may
// choose (HTTP/1.1 and h2c on the plain port; HTTP/1.1 and HTTP/2 by ALPN over TLS with a
// certificate from EnsureTLSFiles), puts a record and receives it through SubscribeToShard. The
// protocol each response came over is checked, so a silent fallback to HTTP/1.1 fails.
func TestProtocols(t *testing.T) {
	files, err := kinesislocal.EnsureTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	again, err := kinesislocal.EnsureTLSFiles(filepath.Dir(files.CAFile))
	if err != nil || again != files {
		t.Fatalf("second EnsureTLSFiles: %+v, %v; want the same files", again, err)
	}
	caPEM, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate in", files.CAFile)
	}

	srv := newServer(t, kinesislocal.Options{})
	serve := func(useTLS bool) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hs := kinesislocal.NewHTTPServer(srv)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if useTLS {
				hs.ServeTLS(ln, files.CertFile, files.KeyFile)
			} else {
				hs.Serve(ln)
			}
		}()
		t.Cleanup(func() { hs.Close(); <-done })
		return ln.Addr().String()
	}
	plain, secure := serve(false), serve(true)

	for i, tc := range []struct {
		name     string
		endpoint string
		proto    func(*http.Protocols)
		major    int
	}{
		{"http1", "http://" + plain, func(p *http.Protocols) { p.SetHTTP1(true) }, 1},
		{"h2c", "http://" + plain, func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }, 2},
		{"tls-http1", "https://localhost:" + portOf(secure), func(p *http.Protocols) { p.SetHTTP1(true) }, 1},
		{"tls-h2", "https://localhost:" + portOf(secure), func(p *http.Protocols) { p.SetHTTP2(true) }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p http.Protocols
			tc.proto(&p)
			tr := &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{RootCAs: pool}}
			defer tr.CloseIdleConnections()
			var major int
			// aws-sdk-go-v2 over HTTP/1.1 needs BufferedTransport (TestSDKBodyRace); it is a no-op
			// for the protocols, which is what this test is about.
			base := kinesislocal.BufferedTransport(tr)
			hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				resp, err := base.RoundTrip(r)
				if err == nil {
					major = resp.ProtoMajor
				}
				return resp, err
			})}
			kc := kinesis.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: hc,
				Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")},
				func(o *kinesis.Options) { o.BaseEndpoint = aws.String(tc.endpoint) })
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			stream := "proto-" + tc.name
			if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(1)}); err != nil {
				t.Fatal(err)
			}
			if major != tc.major {
				t.Fatalf("response over HTTP/%d, want HTTP/%d", major, tc.major)
			}
			arn := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/" + stream)
			reg, err := kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String("c")})
			if err != nil {
				t.Fatal(err)
			}
			sub, err := kc.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN,
				ShardId: aws.String("shardId-000000000000"), StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}})
			if err != nil {
				t.Fatal(err)
			}
			es := sub.GetStream()
			defer es.Close()
			data := []byte{byte(i), 'x'}
			if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: arn, PartitionKey: aws.String("k"), Data: data}); err != nil {
				t.Fatal(err)
			}
			for {
				select {
				case ev, ok := <-es.Events():
					if !ok {
						t.Fatalf("event stream ended: %v", es.Err())
					}
					if e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent); ok && len(e.Value.Records) > 0 {
						if string(e.Value.Records[0].Data) != string(data) {
							t.Fatalf("record %q, want %q", e.Value.Records[0].Data, data)
						}
						if major != tc.major {
							t.Fatalf("event stream over HTTP/%d, want HTTP/%d", major, tc.major)
						}
						return
					}
				case <-ctx.Done():
					t.Fatal("no record through SubscribeToShard")
				}
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
