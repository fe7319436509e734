package dynamolease_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shoal-go/shoal/lease"
)

// applyThenFail passes requests to base, but for the first request whose X-Amz-Target ends with
// op and whose body contains match, it lets the server apply the request and then hides the
// answer: it returns fail(), as a client sees when a response is lost (a connection closed or
// reset after the request was sent, a proxy's 5xx). Deterministic: the server has stored the
// write before the client sees the failure.
type applyThenFail struct {
	base      http.RoundTripper
	op, match string
	fail      func(r *http.Request) (*http.Response, error)

	mu       sync.Mutex
	armed    bool // the next matching request is applied and its answer lost
	counting bool
	sent     int // requests of op sent to the server since arm
}

func (f *applyThenFail) arm() {
	f.mu.Lock()
	f.armed, f.counting, f.sent = true, true, 0
	f.mu.Unlock()
}

func (f *applyThenFail) sends() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent
}

func (f *applyThenFail) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), "."+f.op) {
		return f.base.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.mu.Lock()
	hit := f.armed && bytes.Contains(body, []byte(f.match))
	if f.counting {
		f.sent++
	}
	if hit {
		f.armed = false
	}
	f.mu.Unlock()
	resp, err := f.base.RoundTrip(r)
	if !hit || err != nil {
		return resp, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("applyThenFail: the server refused the write it was meant to apply: %s", resp.Status)
	}
	return f.fail(r)
}

// Ways a client loses the answer to a write the server applied.
var lostAnswers = map[string]func(r *http.Request) (*http.Response, error){
	// Go's transport reports this when the connection is closed under a finished exchange; the
	// SDK treats it as retryable.
	"closed connection": func(*http.Request) (*http.Response, error) {
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("use of closed network connection")}
	},
	"connection reset": func(*http.Request) (*http.Response, error) {
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("read: connection reset by peer")}
	},
	// DynamoDB documents that after a 500 the request may or may not have succeeded.
	"500 InternalServerError": func(r *http.Request) (*http.Response, error) {
		body := `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected after applying"}`
		return &http.Response{
			StatusCode: 500, Status: "500 Internal Server Error", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"lost"}},
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: r,
		}, nil
	},
}

// A conditional write the server applied but whose answer the client lost must never be reported
// as refused: before the fix the SDK retried it, the retry failed its condition (the first attempt
// had already moved leaseCounter), and the store returned ErrConflict for a write that was stored.
// A Claim then reported ErrLeaseLost for its own stored checkpoint. The rule: nil means stored,
// ErrConflict (and ErrExists) mean not stored, and any other error may be either
// (lease.ErrUnknownOutcome); the store re-reads the item to resolve it when it can.
func TestLostAnswerOfAppliedWrite(t *testing.T) {
	for _, b := range backends() {
		for name, fail := range lostAnswers {
			t.Run(b.name+"/"+name, func(t *testing.T) {
				cfg := b.config(t)
				base := cfg.HTTPClient.(*http.Client).Transport
				// Checkpoint sequence 4242 is unique to the write under test.
				f := &applyThenFail{base: base, op: "UpdateItem", match: "4242", fail: fail}
				cfg.HTTPClient = &http.Client{Transport: f}
				st := newStore(t, dynamodb.NewFromConfig(cfg))
				ctx := context.Background()
				const key = "shardId-000000000000"
				if err := st.Create(ctx, lease.Lease{Key: key, Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}}); err != nil {
					t.Fatal(err)
				}
				l, err := st.Take(ctx, key, lease.Expect{Counter: 0}, "w")
				if err != nil {
					t.Fatal(err)
				}
				f.arm()
				cp := lease.Checkpoint{Sequence: "4242"}
				got, err := st.Checkpoint(ctx, key, lease.Expect{Owner: "w", Counter: l.Counter}, cp)
				stored, gerr := st.Get(ctx, key)
				if gerr != nil {
					t.Fatal(gerr)
				}
				if stored.Checkpoint.Sequence != cp.Sequence || stored.Counter != l.Counter+1 {
					t.Fatalf("the injected write was not applied: stored %+v", stored)
				}
				switch {
				case err == nil:
					if got.Counter != stored.Counter || got.Checkpoint.Sequence != cp.Sequence {
						t.Errorf("acknowledged %+v, stored %+v", got, stored)
					}
				case errors.Is(err, lease.ErrConflict):
					t.Errorf("checkpoint reported refused (%v) but it was stored (%d requests sent)", err, f.sends())
				default:
					if !errors.Is(err, lease.ErrUnknownOutcome) {
						t.Errorf("checkpoint failed with %v; want nil or ErrUnknownOutcome", err)
					}
				}
				if n := f.sends(); n != 1 {
					t.Errorf("the conditional write was sent %d times; an attempt that may have been applied must not be retried", n)
				}
			})
		}
	}
}

// applyLate holds matching requests until the caller's ctx has ended, then sends them anyway:
// the server applies a write after its caller was told the call failed.
type applyLate struct {
	base      http.RoundTripper
	op, match string
	held      chan struct{} // closed when the request is held
	applied   chan struct{} // closed when the server answered it
}

func (a *applyLate) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), "."+a.op) {
		return a.base.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(body, []byte(a.match)) {
		r.Body = io.NopCloser(bytes.NewReader(body))
		return a.base.RoundTrip(r)
	}
	close(a.held)
	<-r.Context().Done()
	late := r.Clone(context.Background())
	late.Body = io.NopCloser(bytes.NewReader(body))
	if resp, err := a.base.RoundTrip(late); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	close(a.applied)
	return nil, r.Context().Err()
}

// A write whose caller's ctx ended while it was in flight may still be applied afterwards: the
// caller must be told the outcome is unknown, not that the write failed.
func TestTimedOutWriteAppliedLater(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.config(t)
			a := &applyLate{base: cfg.HTTPClient.(*http.Client).Transport, op: "UpdateItem", match: "4343",
				held: make(chan struct{}), applied: make(chan struct{})}
			cfg.HTTPClient = &http.Client{Transport: a}
			st := newStore(t, dynamodb.NewFromConfig(cfg))
			ctx := context.Background()
			const key = "shardId-000000000000"
			if err := st.Create(ctx, lease.Lease{Key: key, Checkpoint: lease.Checkpoint{Sequence: lease.TrimHorizon}}); err != nil {
				t.Fatal(err)
			}
			l, err := st.Take(ctx, key, lease.Expect{Counter: 0}, "w")
			if err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				_, err := st.Checkpoint(cctx, key, lease.Expect{Owner: "w", Counter: l.Counter}, lease.Checkpoint{Sequence: "4343"})
				done <- err
			}()
			<-a.held
			cancel()
			err = <-done
			<-a.applied
			stored, gerr := st.Get(ctx, key)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if stored.Checkpoint.Sequence != "4343" {
				t.Fatalf("the late write was not applied: stored %+v", stored)
			}
			if err == nil || !errors.Is(err, lease.ErrUnknownOutcome) {
				t.Errorf("checkpoint cancelled in flight and applied later returned %v; want ErrUnknownOutcome", err)
			}
		})
	}
}
