package kinesislocal

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
	"github.com/shoal-go/shoal/kinesislocal/internal/ddb"
	"github.com/shoal-go/shoal/kinesislocal/internal/streams"
)

// Fault describes an injected failure or delay. A request is affected by a fault when every
// non-empty matching field (Operation, Stream, Shard, Table, Key, AppID, Where) matches it, Calls
// (if set) accepts its position among the requests the fault matched, and the Probability draw
// succeeds. Faults are checked in order and the first that applies wins; every fault counts the
// requests it matches whether or not an earlier fault applied, so "the 3rd GetRecords on shard 1"
// does not depend on the other faults in the list.
type Fault struct {
	// Operation is the API operation name, e.g. "GetRecords" or "UpdateItem". "*" or "" matches
	// every operation of both APIs. New refuses a name neither API has.
	Operation string
	// Stream matches requests for this stream, whether they name it by StreamName, StreamARN,
	// ConsumerARN or a shard iterator (see Request.StreamName).
	Stream string
	// Shard matches requests for this shard id, e.g. "shardId-000000000001" (see Request.ShardID).
	Shard string
	// Table matches DynamoDB requests for this table.
	Table string
	// Key matches DynamoDB item requests whose key has every listed attribute with the listed
	// value (see Request.Key), e.g. {"leaseKey": "shardId-000000000002"}.
	Key map[string]string
	// AppID matches requests from SDK clients configured with this aws.Config.AppID (see
	// Request.AppID): give each worker of a test its own AppID to fault one worker's calls.
	AppID string
	// Where, when non-nil, is a further predicate. It is called concurrently.
	Where func(Request) bool
	// Calls, when non-nil, selects by position: it is called with n = 1 for the first request
	// the fault matches, 2 for the second, and so on (counted across all clients, in the order
	// requests reach the fault check), and the fault applies only where it returns true. See
	// NthCall, FirstCalls, CallsFrom, EveryNthCall.
	Calls func(n int64) bool
	// Probability in [0,1] that a matching request is affected. 0 means 1 (always).
	Probability float64
	// Latency is added before the request is served (or failed). A client that cancels its
	// request ends the wait.
	Latency time.Duration
	// ErrorCode, when non-empty, fails the request with this AWS error type, e.g.
	// "ProvisionedThroughputExceededException", "ThrottlingException", "InternalFailure" or
	// "ServiceUnavailable" (the last two answer 500 and 503, as does DynamoDB's
	// "InternalServerError"). Empty means only Latency applies.
	ErrorCode string
}

// Request describes one API request to Options.Intercept and Fault.Where. Fields the request does
// not carry are empty.
type Request struct {
	// Service is "kinesis" or "dynamodb".
	Service string
	// Operation is the API operation, e.g. "PutRecords" or "UpdateItem".
	Operation string
	// Call is this request's 1-based position among the requests for Service and Operation the
	// server has received since it started.
	Call int64
	// StreamName is the stream the request is for: its StreamName member, or the name inside its
	// StreamARN, ConsumerARN or ShardIterator.
	StreamName string
	// StreamARN and ConsumerARN are the members of those names, as sent.
	StreamARN, ConsumerARN string
	// ShardID is the shard the request is for: its ShardId, ShardToSplit or ShardToMerge member,
	// or the shard of its ShardIterator (GetRecords). Empty for PutRecord(s): their shard follows
	// from the partition key.
	ShardID string
	// TableName is the DynamoDB table of single-table requests (empty for batches and
	// transactions).
	TableName string
	// Key is the primary key of a DynamoDB item request (GetItem, PutItem, UpdateItem,
	// DeleteItem; taken from the Item for PutItem): attribute name to value, a string as is, a
	// number as sent, binary as base64.
	Key map[string]string
	// AppID is the application id in the User-Agent ("app/ID"), as aws-sdk-go-v2 sends
	// aws.Config.AppID.
	AppID string
}

// Injection is what Options.Intercept asks for a request. The zero value injects nothing.
type Injection struct {
	// Latency is added before the request is served (or failed); a cancelled request ends it.
	Latency time.Duration
	// ErrorCode, when non-empty, fails the request with this AWS error type, as Fault.ErrorCode.
	ErrorCode string
	// Message is the error message. Default "injected fault: " + ErrorCode.
	Message string
}

// NthCall selects only the nth matching call (1-based).
func NthCall(n int64) func(int64) bool { return func(c int64) bool { return c == n } }

// FirstCalls selects the first n matching calls.
func FirstCalls(n int64) func(int64) bool { return func(c int64) bool { return c <= n } }

// CallsFrom selects the nth matching call and every one after it.
func CallsFrom(n int64) func(int64) bool { return func(c int64) bool { return c >= n } }

// EveryNthCall selects the nth, 2nth, 3nth, ... matching calls. n must be positive.
func EveryNthCall(n int64) func(int64) bool { return func(c int64) bool { return n > 0 && c%n == 0 } }

// faultState is the server's fault injection: Options.Intercept and Options.Faults with their
// counters. All of it is read-only after New except the atomic counters.
type faultState struct {
	intercept func(Request) Injection
	faults    []Fault
	matched   []atomic.Int64 // per fault: requests that matched its predicates
	active    bool           // any fault or hook at all
	describe  bool           // a Request needs the body parsed (hook, or a body-derived matcher)
	calls     sync.Map       // "kinesis.Op" / "dynamodb.Op" -> *atomic.Int64
}

func newFaultState(opts Options) *faultState {
	fs := &faultState{intercept: opts.Intercept, faults: append([]Fault(nil), opts.Faults...)}
	fs.matched = make([]atomic.Int64, len(fs.faults))
	fs.active = fs.intercept != nil || len(fs.faults) > 0
	fs.describe = fs.intercept != nil
	for _, f := range fs.faults {
		if f.Stream != "" || f.Shard != "" || f.Table != "" || len(f.Key) > 0 || f.AppID != "" || f.Where != nil {
			fs.describe = true
		}
	}
	return fs
}

// validateFaults reports every problem with opts.Faults.
func validateFaults(faults []Fault) []error {
	var errs []error
	kinesisOps, dynamoOps := streams.Operations(), ddb.Operations()
	listed := false
	for i, f := range faults {
		if f.Operation != "" && f.Operation != "*" && !slices.Contains(kinesisOps, f.Operation) && !slices.Contains(dynamoOps, f.Operation) {
			err := fmt.Errorf("kinesislocal: Faults[%d].Operation %q is not an operation of the Kinesis or DynamoDB API", i, f.Operation)
			if !listed {
				err = fmt.Errorf("%w; valid operations (or * for all):\n  Kinesis: %s\n  DynamoDB: %s", err,
					strings.Join(kinesisOps, ", "), strings.Join(dynamoOps, ", "))
				listed = true
			}
			errs = append(errs, err)
		}
		if f.Probability < 0 || f.Probability > 1 {
			errs = append(errs, fmt.Errorf("kinesislocal: Faults[%d].Probability %v is outside [0,1]", i, f.Probability))
		}
		if f.Latency < 0 {
			errs = append(errs, fmt.Errorf("kinesislocal: Faults[%d].Latency %v is negative", i, f.Latency))
		}
		if f.ErrorCode == "" && f.Latency == 0 {
			errs = append(errs, fmt.Errorf("kinesislocal: Faults[%d] has neither ErrorCode nor Latency", i))
		}
	}
	return errs
}

func (f *Fault) matches(r *Request) bool {
	if f.Operation != "" && f.Operation != "*" && f.Operation != r.Operation {
		return false
	}
	if f.Stream != "" && f.Stream != r.StreamName || f.Shard != "" && f.Shard != r.ShardID ||
		f.Table != "" && f.Table != r.TableName || f.AppID != "" && f.AppID != r.AppID {
		return false
	}
	for k, v := range f.Key {
		if got, ok := r.Key[k]; !ok || got != v {
			return false
		}
	}
	return f.Where == nil || f.Where(*r)
}

// injectFault decides what Options.Intercept and Options.Faults inject into one request, sleeps
// for the latency (returning early, with canceled set, if ctx ends) and returns the error to
// answer with, if any. It parses the body only when a hook or matcher needs it.
func (s *Server) injectFault(ctx context.Context, hr *http.Request, isKinesis bool, op string, body []byte) (_ *awsproto.Error, canceled bool) {
	fs := s.faults
	if !fs.active {
		return nil, false
	}
	req := Request{Service: "dynamodb", Operation: op}
	if isKinesis {
		req.Service = "kinesis"
	}
	if fs.describe {
		s.describe(&req, hr, body)
	}
	var inj Injection
	if fs.intercept != nil {
		inj = fs.intercept(req)
	}
	applied := inj != Injection{}
	for i := range fs.faults {
		f := &fs.faults[i]
		if !f.matches(&req) {
			continue
		}
		n := fs.matched[i].Add(1)
		if applied || f.Calls != nil && !f.Calls(n) {
			continue
		}
		if f.Probability > 0 && f.Probability < 1 && rand.Float64() >= f.Probability {
			continue
		}
		inj, applied = Injection{Latency: f.Latency, ErrorCode: f.ErrorCode}, true
	}
	if !applied {
		return nil, false
	}
	if inj.Latency > 0 {
		t := time.NewTimer(inj.Latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, true
		}
	}
	if inj.ErrorCode == "" {
		return nil, false
	}
	msg := inj.Message
	if msg == "" {
		msg = "injected fault: " + inj.ErrorCode
	}
	e := &awsproto.Error{Status: http.StatusBadRequest, Type: inj.ErrorCode, Message: msg}
	switch inj.ErrorCode {
	case "InternalFailure", awsproto.InternalFailure, "InternalServerError":
		e.Status = http.StatusInternalServerError
	case awsproto.ServiceUnavailable:
		e.Status = http.StatusServiceUnavailable
	}
	return e, false
}

// requestMembers are the request members a Request is built from.
type requestMembers struct {
	StreamName, StreamARN, ConsumerARN  string
	ShardId, ShardToSplit, ShardToMerge string
	ShardIterator                       string
	TableName                           string
	Key, Item                           map[string]map[string]json.RawMessage
}

// describe fills in r from the request's headers and body. A body it cannot parse leaves the
// members empty: the engine reports the error.
func (s *Server) describe(r *Request, hr *http.Request, body []byte) {
	c, _ := s.faults.calls.Load(r.Service + "." + r.Operation)
	if c == nil {
		c, _ = s.faults.calls.LoadOrStore(r.Service+"."+r.Operation, new(atomic.Int64))
	}
	r.Call = c.(*atomic.Int64).Add(1)
	for _, ua := range []string{hr.Header.Get("User-Agent"), hr.Header.Get("X-Amz-User-Agent")} {
		for _, tok := range strings.Fields(ua) {
			if id, ok := strings.CutPrefix(tok, "app/"); ok {
				r.AppID = id
			}
		}
	}
	var m requestMembers
	_ = json.Unmarshal(body, &m)
	r.StreamName, r.StreamARN, r.ConsumerARN, r.TableName = m.StreamName, m.StreamARN, m.ConsumerARN, m.TableName
	for _, id := range []string{m.ShardId, m.ShardToSplit, m.ShardToMerge} {
		if id != "" {
			r.ShardID = id
			break
		}
	}
	if m.ShardIterator != "" {
		if name, shard, ok := streams.IteratorShard(m.ShardIterator); ok {
			r.StreamName, r.ShardID = name, shard
		}
	}
	for _, arn := range []string{m.StreamARN, m.ConsumerARN} {
		if r.StreamName != "" {
			break
		}
		if _, rest, ok := strings.Cut(arn, ":stream/"); ok {
			r.StreamName, _, _ = strings.Cut(rest, "/")
		}
	}
	switch {
	case m.Key != nil:
		r.Key = keyStrings(m.Key, nil)
	case m.Item != nil && m.TableName != "":
		if hash, rng, ok := s.dynamo.KeyAttributes(m.TableName); ok {
			r.Key = keyStrings(m.Item, []string{hash, rng})
		}
	}
}

// keyStrings returns the scalar attributes of item (only those named in only, if non-nil) as
// strings.
func keyStrings(item map[string]map[string]json.RawMessage, only []string) map[string]string {
	out := make(map[string]string, len(item))
	for name, v := range item {
		if only != nil && name != only[0] && name != only[1] {
			continue
		}
		for _, typ := range []string{"S", "N", "B"} {
			var s string
			if raw, ok := v[typ]; ok && json.Unmarshal(raw, &s) == nil {
				out[name] = s
			}
		}
	}
	return out
}
