// Package ddb is kinesislocal's DynamoDB engine: the subset of the DynamoDB API a lease table
// needs (tables, GSIs, items, condition and update expressions, queries, scans, batches,
// transactions).
package ddb

import (
	"context"
	"time"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

// Options configures an Engine. The zero value is an in-memory engine.
type Options struct {
	// StateDelay is how long CREATING/UPDATING/DELETING table states last. 0 = immediate.
	StateDelay time.Duration
	// DataDir, when non-empty, makes state durable under this directory.
	DataDir string
	// Region and AccountID appear in ARNs. Defaults: us-east-1, 000000000000.
	Region, AccountID string
}

// Engine serves the DynamoDB API. It is safe for concurrent use.
type Engine struct {
	opts Options
}

// New returns an engine, loading state from opts.DataDir if set.
func New(opts Options) (*Engine, error) {
	return &Engine{opts: opts}, nil
}

// Handle runs one operation (the part of X-Amz-Target after the dot) on a JSON 1.0 request body
// and returns the JSON response body, or an *awsproto.Error.
func (e *Engine) Handle(ctx context.Context, op string, body []byte) ([]byte, error) {
	return nil, awsproto.Errorf(awsproto.DynamoDBCoralPrefix+"UnknownOperationException", "operation %s is not implemented", op)
}

// Close flushes and releases resources.
func (e *Engine) Close() error { return nil }
