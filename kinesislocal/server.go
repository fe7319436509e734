package kinesislocal

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
	"github.com/shoal-go/shoal/kinesislocal/internal/ddb"
	"github.com/shoal-go/shoal/kinesislocal/internal/streams"
)

// MaxRequestBytes caps a request body. PutRecords may carry 10 MiB of data, which base64 and JSON
// framing grow by about a third.
const MaxRequestBytes = 16 << 20

const (
	kinesisTargetPrefix  = "Kinesis_20131202."
	dynamoDBTargetPrefix = "DynamoDB_20120810."
	kinesisContentType   = "application/x-amz-json-1.1"
	dynamoDBContentType  = "application/x-amz-json-1.0"
)

// Options configures a Server. The zero value is a valid in-memory server with no throughput
// limits, no faults and immediate state transitions.
type Options struct {
	// StateDelay is how long a stream or table stays CREATING/UPDATING/DELETING before it becomes
	// ACTIVE (or disappears). Default 0: transitions are immediate. Tests of code that must wait
	// for ACTIVE should set a few tens of milliseconds.
	StateDelay time.Duration
	// DataDir, when non-empty, makes the server durable: state is kept under this directory and
	// survives restarts. See the package documentation for the fsync policy.
	DataDir string
	// Limits, when non-nil, enforces AWS's per-shard throughput limits
	// (ProvisionedThroughputExceededException like AWS). Zero fields take AWS's values.
	Limits *Limits
	// Faults are injected into matching requests, checked in order; the first match applies.
	Faults []Fault
	// Intercept, when non-nil, is called for every Kinesis and DynamoDB request, before Faults,
	// with a description of the request; a non-zero Injection it returns is applied and Faults
	// are not consulted for that request. It is called concurrently and must not block.
	Intercept func(Request) Injection
	// Region and AccountID appear in ARNs. Defaults: "us-east-1" and "000000000000".
	Region, AccountID string
	// ShardLimit caps the open shards in the account (LimitExceededException beyond).
	// Default 10000.
	ShardLimit int
	// Logger receives one line per request at debug level, server errors at error level and
	// the data logs' warnings (a cut torn tail, a repair). Default: discard.
	Logger *slog.Logger
	// Repair makes New run Repair on DataDir before opening it: a damaged log is rewritten with
	// every intact record and its damaged bytes moved aside (reported on Logger), instead of
	// New failing with a DamageError.
	Repair bool
}

// Limits are per-shard throughput limits. A zero field takes AWS's value (shown in brackets).
type Limits = streams.Limits

// Server is a Kinesis and DynamoDB compatible HTTP server. It is an http.Handler; it is safe for
// concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	kinesis *streams.Engine
	dynamo  *ddb.Engine
	faults  *faultState
}

// New validates opts and returns a Server, loading durable state from opts.DataDir if set. It
// starts no goroutines; Close releases the data directory.
func New(opts Options) (*Server, error) {
	var errs []error
	if opts.StateDelay < 0 {
		errs = append(errs, fmt.Errorf("kinesislocal: StateDelay %v is negative", opts.StateDelay))
	}
	if opts.ShardLimit < 0 {
		errs = append(errs, fmt.Errorf("kinesislocal: ShardLimit %d is negative", opts.ShardLimit))
	}
	errs = append(errs, validateFaults(opts.Faults)...)
	if opts.Repair && opts.DataDir == "" {
		errs = append(errs, errors.New("kinesislocal: Repair needs DataDir"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.ShardLimit == 0 {
		opts.ShardLimit = 10000
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Repair {
		if _, err := Repair(opts.DataDir, log); err != nil {
			return nil, err
		}
	}
	sub := func(name string) string {
		if opts.DataDir == "" {
			return ""
		}
		return filepath.Join(opts.DataDir, name)
	}
	k, err := streams.New(streams.Options{
		StateDelay: opts.StateDelay, Limits: opts.Limits, DataDir: sub("kinesis"),
		Region: opts.Region, AccountID: opts.AccountID, ShardLimit: opts.ShardLimit, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("kinesislocal: open kinesis state: %w", err)
	}
	d, err := ddb.New(ddb.Options{
		StateDelay: opts.StateDelay, DataDir: sub("dynamodb"),
		Region: opts.Region, AccountID: opts.AccountID, Logger: log,
	})
	if err != nil {
		k.Close()
		return nil, fmt.Errorf("kinesislocal: open dynamodb state: %w", err)
	}
	return &Server{opts: opts, log: log, kinesis: k, dynamo: d, faults: newFaultState(opts)}, nil
}

// Close flushes durable state and releases the data directory. Requests after Close fail.
func (s *Server) Close() error {
	return errors.Join(s.kinesis.Close(), s.dynamo.Close())
}

// ServeHTTP serves one Kinesis (JSON 1.1) or DynamoDB (JSON 1.0) request, routed on X-Amz-Target.
// Any credentials and signature are accepted.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", s.requestID())
	target := r.Header.Get("X-Amz-Target")
	var contentType, op string
	var isKinesis bool
	switch {
	case strings.HasPrefix(target, kinesisTargetPrefix):
		contentType, op, isKinesis = kinesisContentType, strings.TrimPrefix(target, kinesisTargetPrefix), true
	case strings.HasPrefix(target, dynamoDBTargetPrefix):
		contentType, op = dynamoDBContentType, strings.TrimPrefix(target, dynamoDBTargetPrefix)
	default:
		if r.Method == http.MethodGet && (r.URL.Path == "/" || r.URL.Path == "/health") {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "kinesislocal: ok\n")
			return
		}
		awsproto.WriteError(w, kinesisContentType, awsproto.Errorf(awsproto.UnknownOperation,
			"X-Amz-Target %q names no Kinesis_20131202 or DynamoDB_20120810 operation", target))
		return
	}
	if r.Method != http.MethodPost {
		awsproto.WriteError(w, contentType, awsproto.Errorf(awsproto.Serialization, "method %s is not POST", r.Method))
		return
	}
	if isCBOR(r) {
		s.log.Warn("CBOR request refused: the client must disable CBOR (AWS_CBOR_DISABLE=true)", "op", op)
		writeCBORRefusal(w)
		return
	}
	if r.Header.Get("Authorization") == "" && r.Header.Get("X-Amz-Security-Token") == "" && r.URL.Query().Get("X-Amz-Signature") == "" {
		awsproto.WriteError(w, contentType, &awsproto.Error{Status: http.StatusBadRequest, Type: awsproto.MissingAuthentication,
			Message: "Missing Authentication Token"})
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(w, contentType, op, &awsproto.Error{Status: http.StatusRequestEntityTooLarge, Type: serializationType(isKinesis),
				Message: fmt.Sprintf("request body is larger than %d bytes", MaxRequestBytes)})
			return
		}
		s.fail(w, contentType, op, awsproto.Errorf(serializationType(isKinesis), "read request body: %v", err))
		return
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	ctx := r.Context()
	if ferr, canceled := s.injectFault(ctx, r, isKinesis, op, body); canceled {
		return
	} else if ferr != nil {
		if !isKinesis && !strings.Contains(ferr.Type, "#") {
			ferr.Type = awsproto.DynamoDBPrefix + ferr.Type
		}
		s.fail(w, contentType, op, ferr)
		return
	}
	if isKinesis && op == "SubscribeToShard" {
		if err := s.kinesis.SubscribeToShard(ctx, body, w); err != nil {
			s.fail(w, contentType, op, err)
		}
		return
	}
	var out []byte
	if isKinesis {
		out, err = s.kinesis.Handle(ctx, op, body)
	} else {
		out, err = s.dynamo.Handle(ctx, op, body)
	}
	if err != nil {
		s.fail(w, contentType, op, err)
		return
	}
	s.log.Debug("request", "op", op, "bytes_in", len(body), "bytes_out", len(out))
	awsproto.WriteJSON(w, contentType, out)
}

// requestID returns a random UUID-shaped id for the x-amzn-RequestId header.
func (s *Server) requestID() string {
	a, b := rand.Uint64(), rand.Uint64()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, a>>16&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

func serializationType(isKinesis bool) string {
	if isKinesis {
		return awsproto.Serialization
	}
	return awsproto.DynamoDBSerialPrefix + "SerializationException"
}

func (s *Server) fail(w http.ResponseWriter, contentType, op string, err error) {
	var e *awsproto.Error
	if !errors.As(err, &e) {
		s.log.Error("request failed", "op", op, "err", err)
	} else {
		s.log.Debug("request rejected", "op", op, "type", e.Type, "msg", e.Message)
	}
	awsproto.WriteError(w, contentType, err)
}
