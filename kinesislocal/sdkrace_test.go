package kinesislocal_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// slowConn returns from each Write only after a pause, as a descheduled goroutine on a busy
// machine would, and reads in small steps, as over a slow network. The pause opens, every time,
// the window in which aws-sdk-go-v2 and Go's HTTP/1.1 transport race: the last body bytes are on
// the socket, the server answers, the SDK closes the request body and starts reading the
// response, and only then does the transport make its final read of the request body.
type slowConn struct {
	net.Conn
}

func (c slowConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	time.Sleep(30 * time.Millisecond)
	return n, err
}

func (c slowConn) Read(p []byte) (int, error) {
	// A 40 KB PutRecords answer takes 80 ms or more to read: longer than the write pause, so
	// the transport's late read of the request body falls while the response is being read.
	time.Sleep(2 * time.Millisecond)
	return c.Conn.Read(p[:min(len(p), 1024)])
}

// TestSDKBodyRace pins down the aws-sdk-go-v2 race that BufferedTransport exists for, and shows
// which client setups are free of it. Each case sends PutRecords of 500 records (about 90 KB of
// request, 40 KB of response) from a client with the SDK's own HTTP client, over a connection
// whose writes return late, with retries off so every failure is seen.
//
// The cause (smithy-go v1.28, Go 1.26): the SDK wraps a request body in a reader that, once the SDK
// has closed it (which it does as soon as the response headers arrive), answers WriteTo with
// io.EOF. Go's HTTP/1.1 transport, after sending Content-Length bytes, checks for extra bytes with
// io.Copy(io.Discard, body); io.Copy hands the body's WriteTo error back, the transport takes
// io.EOF for a write failure and closes the connection while the response body is still being
// read: "use of closed network connection", which the SDK's default retryer retries, storing a
// PutRecords twice. No server behaviour can prevent it (the server has answered a complete
// request); HTTP/2 sends bodies without that check, and BufferedTransport hands the transport a
// body the SDK never closes.
func TestSDKBodyRace(t *testing.T) {
	srv := newServer(t, kinesislocal.Options{})
	files, err := kinesislocal.EnsureTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	listen := func(useTLS bool) string {
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
	plain, secure := listen(false), listen(true)
	_, securePort, _ := net.SplitHostPort(secure)

	entries := make([]types.PutRecordsRequestEntry, 500)
	for i := range entries {
		entries[i] = types.PutRecordsRequestEntry{Data: make([]byte, 100), PartitionKey: aws.String("k" + strconv.Itoa(i))}
	}
	for _, tc := range []struct {
		name     string
		endpoint string
		setup    func(*http.Transport)
		buffered bool
		wantRace bool
	}{
		// The SDK's default client over http:// speaks HTTP/1.1 and races.
		{name: "default-http1", endpoint: "http://" + plain, wantRace: true},
		{name: "http1-buffered", endpoint: "http://" + plain, buffered: true},
		{name: "h2c", endpoint: "http://" + plain, setup: func(tr *http.Transport) {
			tr.Protocols = new(http.Protocols)
			tr.Protocols.SetUnencryptedHTTP2(true)
		}},
		// Over TLS the SDK's default client (ForceAttemptHTTP2) negotiates HTTP/2: no race.
		{name: "default-tls", endpoint: "https://localhost:" + securePort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var d net.Dialer
			hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
				tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := d.DialContext(ctx, network, addr)
					if err != nil {
						return nil, err
					}
					return slowConn{c}, nil
				}
				tr.TLSClientConfig.RootCAs = pool
				if tc.setup != nil {
					tc.setup(tr)
				}
			})
			var doer aws.HTTPClient = hc
			if tc.buffered {
				doer = &http.Client{Transport: kinesislocal.BufferedTransport(hc.GetTransport())}
			}
			kc := kinesis.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: doer,
				Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
				Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")},
				func(o *kinesis.Options) { o.BaseEndpoint = aws.String(tc.endpoint) })
			ctx := context.Background()
			stream := "race-" + tc.name
			if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(1)}); err != nil {
				t.Fatal(err)
			}
			var raced error
			for i := range 10 {
				_, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries})
				if err != nil && strings.Contains(err.Error(), "use of closed network connection") || errors.Is(err, net.ErrClosed) {
					raced = err
					break
				}
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			switch {
			case tc.wantRace && raced == nil:
				t.Fatal("the SDK's HTTP/1.1 body race did not happen: if smithy-go or net/http fixed it, " +
					"BufferedTransport and its mentions in docs can go")
			case !tc.wantRace && raced != nil:
				t.Fatalf("raced: %v", raced)
			}
		})
	}
}
