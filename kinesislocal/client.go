package kinesislocal

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Endpoint is the base endpoint the in-process transport answers for. The host is never resolved.
const Endpoint = "http://kinesislocal.invalid"

// RoundTripper returns an http.RoundTripper that serves every request in-process through h, with no
// socket. Streaming responses (SubscribeToShard) are delivered as they are written. Each request's
// handler runs in its own goroutine, which ends when the handler returns; closing the response
// body (or cancelling the request context) cancels the handler's context.
func RoundTripper(h http.Handler) http.RoundTripper {
	return inProcess{h: h}
}

// AWSConfig returns an aws.Config whose Kinesis and DynamoDB clients reach s in-process, with no
// socket: static dummy credentials, Options.Region, BaseEndpoint Endpoint. The SDK's default
// retryer is kept, as it would be against AWS.
func (s *Server) AWSConfig() aws.Config {
	return aws.Config{
		Region:       s.opts.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDKINESISLOCAL", "kinesislocal-secret", ""),
		HTTPClient:   &http.Client{Transport: RoundTripper(s)},
		BaseEndpoint: aws.String(Endpoint),
	}
}

type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	// The request body must be fully read before the handler sees it: the SDK may reuse or rewind it.
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	ctx, cancel := context.WithCancel(req.Context())
	sreq := req.Clone(ctx)
	sreq.Body = io.NopCloser(bytes.NewReader(body))
	sreq.ContentLength = int64(len(body))
	sreq.RequestURI = req.URL.RequestURI()
	if sreq.Host == "" {
		sreq.Host = req.URL.Host
	}
	sreq.RemoteAddr = "127.0.0.1:0"

	pr, pw := io.Pipe()
	rw := &pipeWriter{header: make(http.Header), pw: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				rw.finish(errors.New("kinesislocal: handler panicked"))
				panic(p)
			}
			rw.finish(nil)
		}()
		t.h.ServeHTTP(rw, sreq)
	}()
	select {
	case <-rw.ready:
	case <-ctx.Done():
		cancel()
		pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
	resp := &http.Response{
		Status:        strconv.Itoa(rw.status) + " " + http.StatusText(rw.status),
		StatusCode:    rw.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rw.sent,
		Body:          &cancelBody{ReadCloser: pr, cancel: cancel},
		ContentLength: -1,
		Request:       req,
	}
	if cl, err := strconv.ParseInt(rw.sent.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = cl
	}
	return resp, nil
}

// cancelBody cancels the handler's context when the client closes the body.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	b.cancel()
	return b.ReadCloser.Close()
}

// pipeWriter is an http.ResponseWriter (and http.Flusher) that hands the status and headers over
// once, then streams the body through a pipe.
type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter

	once   sync.Once
	ready  chan struct{}
	status int
	sent   http.Header
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.status = code
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}

// Flush is a no-op: every Write is already handed to the reader.
func (w *pipeWriter) Flush() {}

func (w *pipeWriter) finish(err error) {
	w.WriteHeader(http.StatusOK)
	w.pw.CloseWithError(err)
}

// BufferedTransport wraps base (http.DefaultTransport if nil) so that every request body is read
// into memory before it is sent. aws-sdk-go-v2 clients need it when they speak HTTP/1.1, which
// they do to any http:// endpoint (this server's plain port, kinesalite, dynalite, ...): with
// --tls (or any https endpoint that offers HTTP/2, as AWS does) the SDK's default client
// negotiates HTTP/2 and needs no wrapper, and neither does a client set to h2c.
//
// The race it removes is in the client, not in any server (smithy-go v1.28, Go 1.26): the SDK
// closes its request body as soon as the response headers arrive, and its body wrapper answers
// WriteTo with io.EOF once closed. Go's HTTP/1.1 transport, after sending Content-Length bytes,
// checks for extra bytes with io.Copy(io.Discard, body), takes that io.EOF for a write failure
// and closes the connection while the response body is still being read. The call fails with
// "use of closed network connection" although the server did the work, and the SDK's default
// retryer retries it: a PutRecords stored twice. A fast loopback server and a busy machine (the
// writing goroutine descheduled right after its last write) make it frequent; TestSDKBodyRace
// reproduces it. A buffered body is never closed by the SDK, so the check sees a clean EOF. The
// in-process transport (AWSConfig) needs no wrapper.
func BufferedTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return bufferedTransport{base: base}
}

type bufferedTransport struct{ base http.RoundTripper }

func (t bufferedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return t.base.RoundTrip(req)
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.ContentLength = int64(len(b))
	return t.base.RoundTrip(r)
}
