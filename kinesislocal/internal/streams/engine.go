// Package streams is kinesislocal's Kinesis engine: streams, shards, records, iterators,
// resharding, stream consumers and SubscribeToShard.
package streams

import (
	"context"
	"net/http"
	"time"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

// Options configures an Engine. The zero value is an in-memory engine with no throughput limits.
type Options struct {
	// StateDelay is how long CREATING/UPDATING/DELETING states last. 0 means transitions are
	// immediate.
	StateDelay time.Duration
	// Limits, when non-nil, enforces AWS's per-shard throughput limits.
	Limits *Limits
	// DataDir, when non-empty, makes state durable under this directory.
	DataDir string
	// Region and AccountID appear in ARNs. Defaults: us-east-1, 000000000000.
	Region, AccountID string
	// ShardLimit caps open shards in the account (LimitExceededException beyond). 0 = 10000.
	ShardLimit int
}

// Limits are per-shard throughput limits. Zero fields take AWS's values.
type Limits struct {
	WriteBytesPerSec   int // 1 MiB
	WriteRecordsPerSec int // 1000
	ReadBytesPerSec    int // 2 MiB
	GetRecordsPerSec   int // 5
}

// Engine serves the Kinesis API. It is safe for concurrent use.
type Engine struct {
	opts Options
}

// New returns an engine, loading state from opts.DataDir if set.
func New(opts Options) (*Engine, error) {
	return &Engine{opts: opts}, nil
}

// Handle runs one operation (the part of X-Amz-Target after the dot) on a JSON 1.1 request body
// and returns the JSON response body, or an *awsproto.Error.
func (e *Engine) Handle(ctx context.Context, op string, body []byte) ([]byte, error) {
	return nil, awsproto.Errorf(awsproto.UnknownOperation, "operation %s is not implemented", op)
}

// SubscribeToShard validates the request and, if it is valid, streams events to w until the
// subscription ends (5 minutes), ctx is done, or the shard ends. A validation error is returned
// before anything is written to w.
func (e *Engine) SubscribeToShard(ctx context.Context, body []byte, w http.ResponseWriter) error {
	return awsproto.Errorf(awsproto.UnknownOperation, "SubscribeToShard is not implemented")
}

// Close flushes and releases resources.
func (e *Engine) Close() error { return nil }
