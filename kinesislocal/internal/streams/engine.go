package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
	"github.com/shoal-go/shoal/kinesislocal/internal/wal"
)

// Options configures an Engine. The zero value is an in-memory engine with no throughput limits.
type Options struct {
	// StateDelay is how long CREATING/UPDATING/DELETING states last. 0 means transitions are
	// immediate.
	StateDelay time.Duration
	// Limits, when non-nil, enforces AWS's per-shard throughput limits.
	Limits *Limits
	// DataDir, when non-empty, makes state durable under this directory (see the package doc
	// for the fsync policy).
	DataDir string
	// Region and AccountID appear in ARNs. Defaults: us-east-1, 000000000000.
	Region, AccountID string
	// ShardLimit caps open shards in the account (LimitExceededException beyond). 0 = 10000.
	ShardLimit int
	// Now is the clock. Default time.Now. Tests use it to move time (iterator expiry,
	// retention, throughput buckets).
	Now func() time.Time

	// Logger receives warnings about the log (a cut torn tail, a format upgrade, records
	// skipped after a repair) and log write failures. Default: discard.
	Logger *slog.Logger
	// FS is the file system under the log. Default wal.OS; the fault tests inject errors here.
	FS wal.FS

	// compactThreshold overrides the log size above which New compacts the log (tests).
	compactThreshold int64
}

// Limits are per-shard throughput limits. Zero fields take AWS's values.
type Limits struct {
	WriteBytesPerSec   int // 1 MiB
	WriteRecordsPerSec int // 1000
	ReadBytesPerSec    int // 2 MiB
	GetRecordsPerSec   int // 5
	// GetShardIteratorPerSec caps GetShardIterator calls per shard (AWS: 5 per second per open
	// shard). Default 5.
	GetShardIteratorPerSec int
}

// Engine serves the Kinesis API. It is safe for concurrent use.
type Engine struct {
	opts    Options
	now     func() time.Time
	delayMs int64
	limits  *Limits // with defaults filled in, nil if unlimited

	mu      sync.RWMutex
	streams map[string]*stream

	subsMu sync.Mutex
	subs   map[string]*subscription // by consumer ARN + "/" + shard ID

	openShards atomic.Int64 // open shards of live streams, for ShardLimit

	wal    *dataLog // nil when in memory
	closed atomic.Bool

	afterGap bool // replay (New only): a gap left by Repair has been seen
	gapDrops int  // replay (New only): frames skipped after a gap

	placeholders map[*stream]bool // replay (New only): streams recreated from their records
	orphans      []orphanShard    // replay (New only): shards recreated from their records
}

// New returns an engine, loading state from opts.DataDir if set. It starts no goroutines.
func New(opts Options) (*Engine, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.ShardLimit == 0 {
		opts.ShardLimit = 10000
	}
	if opts.StateDelay < 0 || opts.ShardLimit < 0 {
		return nil, errors.New("streams: StateDelay and ShardLimit must not be negative")
	}
	e := &Engine{opts: opts, now: opts.Now, delayMs: opts.StateDelay.Milliseconds(),
		streams: make(map[string]*stream), subs: make(map[string]*subscription)}
	if opts.StateDelay > 0 && e.delayMs == 0 {
		e.delayMs = 1
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.opts.Logger == nil {
		e.opts.Logger = slog.New(slog.DiscardHandler)
	}
	if l := opts.Limits; l != nil {
		c := *l
		if c.WriteBytesPerSec <= 0 {
			c.WriteBytesPerSec = 1 << 20
		}
		if c.WriteRecordsPerSec <= 0 {
			c.WriteRecordsPerSec = 1000
		}
		if c.ReadBytesPerSec <= 0 {
			c.ReadBytesPerSec = 2 << 20
		}
		if c.GetRecordsPerSec <= 0 {
			c.GetRecordsPerSec = 5
		}
		if c.GetShardIteratorPerSec <= 0 {
			c.GetShardIteratorPerSec = 5
		}
		e.limits = &c
	}
	if opts.DataDir != "" {
		threshold := opts.compactThreshold
		if threshold == 0 {
			threshold = defaultCompactThreshold
		}
		w, err := e.openWAL(opts.DataDir, threshold)
		if err != nil {
			return nil, err
		}
		e.wal = w
	}
	return e, nil
}

// Close flushes the log to disk and releases the data directory. Operations after Close fail
// with ServiceUnavailable.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	e.subsMu.Lock()
	for _, s := range e.subs {
		s.cancel()
	}
	e.subsMu.Unlock()
	if e.wal != nil {
		return e.wal.close()
	}
	return nil
}

func (e *Engine) nowMs() int64 { return e.now().UnixMilli() }

type handler func(e *Engine, ctx context.Context, body []byte) ([]byte, error)

var handlers = map[string]handler{
	"CreateStream":                  (*Engine).createStream,
	"DeleteStream":                  (*Engine).deleteStream,
	"DescribeStream":                (*Engine).describeStream,
	"DescribeStreamSummary":         (*Engine).describeStreamSummary,
	"ListStreams":                   (*Engine).listStreams,
	"ListShards":                    (*Engine).listShards,
	"PutRecord":                     (*Engine).putRecord,
	"PutRecords":                    (*Engine).putRecords,
	"GetShardIterator":              (*Engine).getShardIterator,
	"GetRecords":                    (*Engine).getRecords,
	"SplitShard":                    (*Engine).splitShard,
	"MergeShards":                   (*Engine).mergeShards,
	"UpdateShardCount":              (*Engine).updateShardCount,
	"IncreaseStreamRetentionPeriod": (*Engine).increaseRetention,
	"DecreaseStreamRetentionPeriod": (*Engine).decreaseRetention,
	"AddTagsToStream":               (*Engine).addTags,
	"RemoveTagsFromStream":          (*Engine).removeTags,
	"ListTagsForStream":             (*Engine).listTags,
	"RegisterStreamConsumer":        (*Engine).registerConsumer,
	"DescribeStreamConsumer":        (*Engine).describeConsumer,
	"ListStreamConsumers":           (*Engine).listConsumers,
	"DeregisterStreamConsumer":      (*Engine).deregisterConsumer,
	"DescribeLimits":                (*Engine).describeLimits,
	"UpdateMaxRecordSize":           (*Engine).updateMaxRecordSize,
	"UpdateStreamMode":              (*Engine).updateStreamMode,
	"StartStreamEncryption":         (*Engine).startEncryption,
	"StopStreamEncryption":          (*Engine).stopEncryption,
	"EnableEnhancedMonitoring":      (*Engine).enableMonitoring,
	"DisableEnhancedMonitoring":     (*Engine).disableMonitoring,
}

// Handle runs one operation (the part of X-Amz-Target after the dot) on a JSON 1.1 request body
// and returns the JSON response body, or an *awsproto.Error. It blocks until a write is durable
// when DataDir is set; it is safe for concurrent use.
func (e *Engine) Handle(ctx context.Context, op string, body []byte) (out []byte, err error) {
	if e.closed.Load() {
		return nil, &awsproto.Error{Status: http.StatusServiceUnavailable, Type: awsproto.ServiceUnavailable, Message: "the engine is closed"}
	}
	h, ok := handlers[op]
	if !ok {
		if op == "SubscribeToShard" {
			return nil, errf(awsproto.InvalidArgument, "SubscribeToShard is an event stream; use the streaming endpoint")
		}
		return nil, errf(awsproto.UnknownOperation, "operation %s is not supported", op)
	}
	return h(e, ctx, body)
}

// errf builds a 400 AWS error.
// intParam returns *v, or def when v is nil, and a ValidationException naming the member when
// the value is outside [1, max].
func intParam(v *int, member string, def, max int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < 1 || *v > max {
		return 0, errf(awsproto.Validation, "1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value between 1 and %d", *v, member, max)
	}
	return *v, nil
}

// nullErr is the ValidationException for a required member that is missing.
func nullErr(member string) *awsproto.Error {
	return errf(awsproto.Validation, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

func errf(typ, format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(typ, format, args...)
}

// decode unmarshals a JSON request body. Unknown members are ignored; syntax and type errors are
// SerializationException like AWS.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errf(awsproto.Serialization, "value for %s has the wrong type (%s)", te.Field, te.Value)
		}
		return errf(awsproto.Serialization, "malformed request body: %v", err)
	}
	return nil
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("streams: encode response: %w", err)
	}
	return b, nil
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

func validName(field, name string) error {
	if !nameRE.MatchString(name) {
		return errf(awsproto.Validation, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 128", name, field)
	}
	return nil
}

func (e *Engine) streamARN(name string) string {
	return "arn:aws:kinesis:" + e.opts.Region + ":" + e.opts.AccountID + ":stream/" + name
}

// streamNameFrom resolves StreamName and/or StreamARN to a stream name.
func (e *Engine) streamNameFrom(name, arn *string) (string, error) {
	if arn != nil && *arn != "" {
		n, err := e.parseStreamARN(*arn)
		if err != nil {
			return "", err
		}
		if name != nil && *name != "" && *name != n {
			return "", errf(awsproto.InvalidArgument, "StreamName %s does not match StreamARN %s", *name, *arn)
		}
		return n, nil
	}
	if name == nil || *name == "" {
		return "", errf(awsproto.Validation, "Either StreamName or StreamARN should be provided.")
	}
	if err := validName("streamName", *name); err != nil {
		return "", err
	}
	return *name, nil
}

func (e *Engine) parseStreamARN(arn string) (string, error) {
	// arn:aws:kinesis:REGION:ACCT:stream/NAME
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "kinesis" ||
		!strings.HasPrefix(parts[5], "stream/") || len(arn) > 2048 {
		return "", errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'streamARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+", arn)
	}
	name := strings.TrimPrefix(parts[5], "stream/")
	if err := validName("streamARN", name); err != nil {
		return "", err
	}
	if parts[3] != e.opts.Region || parts[4] != e.opts.AccountID {
		return "", errf(awsproto.ResourceNotFound, "Stream %s under account %s not found.", name, parts[4])
	}
	return name, nil
}

func (e *Engine) notFound(name string) error {
	return errf(awsproto.ResourceNotFound, "Stream %s under account %s not found.", name, e.opts.AccountID)
}

// lookup returns the live stream called name (in any state but gone).
func (e *Engine) lookup(name string) (*stream, error) {
	e.mu.RLock()
	s := e.streams[name]
	e.mu.RUnlock()
	if s == nil {
		return nil, e.notFound(name)
	}
	s.mu.RLock()
	_, gone := s.status(e.nowMs(), e.delayMs)
	s.mu.RUnlock()
	if gone {
		return nil, e.notFound(name)
	}
	return s, nil
}

// lookupReq resolves StreamName/StreamARN and looks the stream up.
func (e *Engine) lookupReq(name, arn *string) (*stream, error) {
	n, err := e.streamNameFrom(name, arn)
	if err != nil {
		return nil, err
	}
	return e.lookup(n)
}

// requireData checks that data-plane calls may use s (ACTIVE, UPDATING or DELETING, as AWS keeps
// serving data while a stream is being deleted). Callers hold s.mu.
func (e *Engine) requireData(s *stream, nowMs int64) error {
	st, gone := s.status(nowMs, e.delayMs)
	if gone || st == statusCreating {
		return e.notFound(s.name)
	}
	return nil
}

// requireActive checks that control operations that change shards may run. Callers hold s.mu.
func (e *Engine) requireActive(s *stream, nowMs int64) error {
	st, gone := s.status(nowMs, e.delayMs)
	if gone {
		return e.notFound(s.name)
	}
	if st != statusActive {
		return errf(awsproto.ResourceInUse, "Stream %s under account %s not ACTIVE, instead in state %s", s.name, e.opts.AccountID, st)
	}
	return nil
}

// epoch is a timestamp on the wire: epoch seconds with millisecond precision.
type epoch float64

func msEpoch(ms int64) epoch { return epoch(float64(ms) / 1000) }

// commit makes a logged change durable before the caller answers. pos is what wal.append returned.
func (e *Engine) commit(pos int64) error {
	if e.wal == nil {
		return nil
	}
	if err := e.wal.Sync(pos); err != nil {
		return &awsproto.Error{Status: http.StatusInternalServerError, Type: awsproto.InternalFailure, Message: "write log: " + err.Error()}
	}
	return nil
}

// Operations returns the names of the Kinesis operations the engine serves, sorted, including
// SubscribeToShard (served by SubscribeToShard, not Handle).
func Operations() []string {
	ops := []string{"SubscribeToShard"}
	for op := range handlers {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return ops
}
