package fleetbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is an HTTP proxy on loopback in front of a DynamoDB endpoint (dynalite, kinesislocal,
// anything that speaks the DynamoDB JSON protocol). It counts requests by operation and table,
// records how long each took as seen by the client (injected delay plus the server's time), and
// can delay every request before forwarding it by a sample of a log-normal distribution with a
// given 99th percentile. Its methods are safe for concurrent use.
type Proxy struct {
	upstream *url.URL
	rp       *httputil.ReverseProxy
	ln       net.Listener
	srv      *http.Server
	served   chan error
	p99      atomic.Int64 // nanoseconds; 0 = no delay
	throttle atomic.Bool  // answer every request with ProvisionedThroughputExceededException
	only     atomic.Pointer[func(table string) bool]

	mu   sync.Mutex
	cur  Counts
	tail histogram
}

// Counts is a snapshot of a Proxy's counters since it started.
type Counts struct {
	Requests int64
	ByOp     map[string]int64 // X-Amz-Target operation, e.g. UpdateItem
	ByTable  map[string]int64
	Failed   int64 // requests the upstream did not answer (connection errors)
	// LastError is the latest such error.
	LastError string
	// Throttled requests were answered by the proxy with ProvisionedThroughputExceededException
	// (included in Requests).
	Throttled int64
	latency   histogram
}

// Sub returns c minus an earlier snapshot.
func (c Counts) Sub(prev Counts) Counts {
	out := Counts{Requests: c.Requests - prev.Requests, Failed: c.Failed - prev.Failed, LastError: c.LastError, Throttled: c.Throttled - prev.Throttled,
		ByOp: map[string]int64{}, ByTable: map[string]int64{}}
	for k, v := range c.ByOp {
		if d := v - prev.ByOp[k]; d != 0 {
			out.ByOp[k] = d
		}
	}
	for k, v := range c.ByTable {
		if d := v - prev.ByTable[k]; d != 0 {
			out.ByTable[k] = d
		}
	}
	out.latency = c.latency.sub(prev.latency)
	return out
}

// Latency returns the p-th percentile (0..100) of the requests' time at the proxy, with a
// resolution of 1 ms (requests over 10 s count as 10 s).
func (c Counts) Latency(p float64) time.Duration { return c.latency.percentile(p) }

// histogram counts durations in 1 ms buckets up to 10 s.
type histogram []int64

const histBuckets = 10_000

func (h histogram) sub(prev histogram) histogram {
	out := make(histogram, len(h))
	copy(out, h)
	for i := range prev {
		if i < len(out) {
			out[i] -= prev[i]
		}
	}
	return out
}

func (h histogram) percentile(p float64) time.Duration {
	var n int64
	for _, c := range h {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(p / 100 * float64(n)))
	rank = max(rank, 1)
	var seen int64
	for i, c := range h {
		seen += c
		if seen >= rank {
			return time.Duration(i) * time.Millisecond
		}
	}
	return time.Duration(len(h)-1) * time.Millisecond
}

// NewProxy starts a proxy on 127.0.0.1 (a free port) in front of upstream.
func NewProxy(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{upstream: u, ln: ln, served: make(chan error, 1),
		cur: Counts{ByOp: map[string]int64{}, ByTable: map[string]int64{}}, tail: make(histogram, histBuckets)}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // the SDK signed the Host it sent
			// A request the client gives up on (a timeout, a hedged duplicate) still runs to
			// its end upstream: dynalite 4.0.0 throws on an aborted request and dies. Real
			// DynamoDB does not see a client's cancellation either.
			pr.Out = pr.Out.WithContext(context.WithoutCancel(pr.Out.Context()))
		},
		// Idle connections close after 2 s, before the upstream's own keep-alive timeout (Node's
		// default is 5 s), so a request is not sent on a connection the server is closing.
		Transport: &http.Transport{MaxIdleConnsPerHost: 512, IdleConnTimeout: 2 * time.Second, DisableCompression: true},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.mu.Lock()
			p.cur.Failed++
			p.cur.LastError = err.Error()
			p.mu.Unlock()
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), IdleTimeout: 5 * time.Minute}
	go func() { p.served <- p.srv.Serve(ln) }()
	return p, nil
}

// URL returns the proxy's endpoint, e.g. http://127.0.0.1:41234.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// SetLatency makes every later request wait a sample of a log-normal distribution whose 99th
// percentile is p99 (sigma 1, so the median is p99/10.2 and the mean p99/6.2) before it is
// forwarded; 0 turns the delay off.
func (p *Proxy) SetLatency(p99 time.Duration) { p.p99.Store(int64(p99)) }

// SetFilter limits the injected latency and throttling to requests whose TableName satisfies
// match (nil: every request).
func (p *Proxy) SetFilter(match func(table string) bool) {
	if match == nil {
		p.only.Store(nil)
		return
	}
	p.only.Store(&match)
}

// SetThrottle makes the proxy answer every later request itself, with DynamoDB's
// ProvisionedThroughputExceededException (HTTP 400, which the SDK retries with backoff), until
// it is called with false.
func (p *Proxy) SetThrottle(on bool) { p.throttle.Store(on) }

// Counts returns a snapshot of the counters.
func (p *Proxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := Counts{Requests: p.cur.Requests, Failed: p.cur.Failed, LastError: p.cur.LastError, Throttled: p.cur.Throttled, ByOp: make(map[string]int64, len(p.cur.ByOp)),
		ByTable: make(map[string]int64, len(p.cur.ByTable)), latency: make(histogram, len(p.tail))}
	for k, v := range p.cur.ByOp {
		c.ByOp[k] = v
	}
	for k, v := range p.cur.ByTable {
		c.ByTable[k] = v
	}
	copy(c.latency, p.tail)
	return c
}

// Close stops the proxy; requests in flight are cut.
func (p *Proxy) Close() error {
	err := p.srv.Close()
	if serr := <-p.served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// lognormalZ99 is the standard normal's 99th percentile.
const lognormalZ99 = 2.3263478740408408

// sampleDelay returns a log-normal sample (sigma 1) whose 99th percentile is p99, given a
// standard normal sample z.
func sampleDelay(p99 time.Duration, z float64) time.Duration {
	if p99 <= 0 {
		return 0
	}
	d := float64(p99) * math.Exp(z-lognormalZ99)
	return time.Duration(min(d, float64(time.Minute)))
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	op := r.Header.Get("X-Amz-Target")
	if _, after, ok := strings.Cut(op, "."); ok {
		op = after
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	r.Body.Close()
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var named struct{ TableName string }
	json.Unmarshal(body, &named) // best effort: only for counting
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	// A rewindable body lets the transport resend a request that found a stale connection.
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	affected := true
	if m := p.only.Load(); m != nil {
		affected = (*m)(named.TableName)
	}
	if d := sampleDelay(time.Duration(p.p99.Load()), rand.NormFloat64()); d > 0 && affected {
		if !sleepCtx(r.Context(), d) {
			return
		}
	}
	throttled := p.throttle.Load() && affected
	if throttled {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Errortype", "ProvisionedThroughputExceededException")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"throttled by the benchmark proxy"}`)
	} else {
		p.rp.ServeHTTP(w, r)
	}
	took := time.Since(start)
	p.mu.Lock()
	if throttled {
		p.cur.Throttled++
	}
	p.cur.Requests++
	p.cur.ByOp[op]++
	if named.TableName != "" {
		p.cur.ByTable[named.TableName]++
	}
	p.tail[min(int(took/time.Millisecond), histBuckets-1)]++
	p.mu.Unlock()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
