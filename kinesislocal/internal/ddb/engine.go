package ddb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
	"github.com/shoal-go/shoal/kinesislocal/internal/wal"
)

// Options configures an Engine. The zero value is an in-memory engine.
type Options struct {
	// StateDelay is how long CREATING/UPDATING/DELETING table states last. 0 = immediate.
	StateDelay time.Duration
	// DataDir, when non-empty, makes state durable under this directory (see the package doc).
	DataDir string
	// Region and AccountID appear in ARNs. Defaults: us-east-1, 000000000000.
	Region, AccountID string
	// Logger receives warnings about the log (a cut torn tail, a format upgrade, mutations
	// skipped after a repair) and log write failures. Default: discard.
	Logger *slog.Logger
	// FS is the file system under the log. Default wal.OS; the fault tests inject errors here.
	FS wal.FS
}

// Engine serves the DynamoDB API. It is safe for concurrent use; it starts no goroutines.
type Engine struct {
	opts Options
	now  func() time.Time

	// mu is held shared by every operation for its whole duration (including the fsync of its
	// log record) and exclusively by table creation/deletion and log compaction.
	mu     sync.RWMutex
	tables map[string]*table
	wal    *dataLog // nil when in memory
	closed bool

	afterGap bool // replay (New only): a gap left by Repair has been seen
	gapDrops int  // replay (New only): mutations skipped after a gap

	placeholders []string // replay (New only): tables recreated from their items

	tokMu  sync.Mutex
	tokens map[string]tokenRec // TransactWriteItems ClientRequestToken -> request digest
}

// New returns an engine, loading state from opts.DataDir if set. It validates opts and never
// modifies them.
func New(opts Options) (*Engine, error) {
	if opts.StateDelay < 0 {
		return nil, fmt.Errorf("ddb: StateDelay %v is negative", opts.StateDelay)
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{opts: opts, now: time.Now, tables: map[string]*table{}, tokens: map[string]tokenRec{}}
	if opts.DataDir != "" {
		w, err := e.openWAL(opts.DataDir)
		if err != nil {
			return nil, err
		}
		e.wal = w
	}
	return e, nil
}

type handler func(e *Engine, body []byte) ([]byte, error)

// exclusive operations change the set of tables or their metadata and run alone.
var exclusive = map[string]bool{"CreateTable": true, "DeleteTable": true, "UpdateTable": true, "UpdateTimeToLive": true,
	"TagResource": true, "UntagResource": true, "UpdateContinuousBackups": true}

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"CreateTable":               (*Engine).createTable,
		"DescribeTable":             (*Engine).describeTable,
		"DeleteTable":               (*Engine).deleteTable,
		"ListTables":                (*Engine).listTables,
		"UpdateTable":               (*Engine).updateTable,
		"DescribeTimeToLive":        (*Engine).describeTTL,
		"UpdateTimeToLive":          (*Engine).updateTTL,
		"GetItem":                   (*Engine).getItem,
		"PutItem":                   (*Engine).putItem,
		"UpdateItem":                (*Engine).updateItem,
		"DeleteItem":                (*Engine).deleteItem,
		"Query":                     (*Engine).query,
		"Scan":                      (*Engine).scan,
		"BatchGetItem":              (*Engine).batchGetItem,
		"BatchWriteItem":            (*Engine).batchWriteItem,
		"TransactWriteItems":        (*Engine).transactWriteItems,
		"TransactGetItems":          (*Engine).transactGetItems,
		"TagResource":               (*Engine).tagResource,
		"UntagResource":             (*Engine).untagResource,
		"ListTagsOfResource":        (*Engine).listTags,
		"DescribeContinuousBackups": (*Engine).describeContinuousBackups,
		"UpdateContinuousBackups":   (*Engine).updateContinuousBackups,
		"DescribeLimits":            (*Engine).describeLimits,
	}
}

// Handle runs one operation (the part of X-Amz-Target after the dot) on a JSON 1.0 request body
// and returns the JSON response body, or an *awsproto.Error. It blocks while the operation's
// tables are locked and, with a DataDir, until its log record is on disk. Safe for concurrent use.
func (e *Engine) Handle(ctx context.Context, op string, body []byte) ([]byte, error) {
	out, err := e.handle(ctx, op, body)
	e.maybeCompact()
	return out, err
}

func (e *Engine) handle(ctx context.Context, op string, body []byte) (out []byte, err error) {
	h, ok := handlers[op]
	if !ok {
		return nil, awsproto.Errorf(typeUnknownOp, "An unknown operation was requested.")
	}
	if err := ctx.Err(); err != nil {
		return nil, internal(err)
	}
	defer func() {
		// A bug must not take the server down; report it as a 500 instead.
		if r := recover(); r != nil {
			out, err = nil, internal(fmt.Errorf("panic in %s: %v", op, r))
		}
	}()
	if exclusive[op] {
		e.mu.Lock()
		defer e.mu.Unlock()
	} else {
		e.mu.RLock()
		defer e.mu.RUnlock()
	}
	if e.closed {
		return nil, internal(errors.New("engine is closed"))
	}
	out, err = h(e, body)
	if err == nil && e.wal != nil && e.wal.needsCompaction() {
		e.wal.wantCompact.Store(true)
	}
	return out, err
}

// maybeCompact compacts the log if a writer asked for it. It takes mu exclusively.
func (e *Engine) maybeCompact() {
	if e.wal == nil || !e.wal.wantCompact.Load() {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || !e.wal.wantCompact.Load() {
		return
	}
	e.compactLocked() // a failed compaction leaves the old log in place; it is retried later
}

// Close compacts the log, closes it and makes later calls fail. Safe to call twice.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	if e.wal == nil {
		return nil
	}
	err := e.compactLocked()
	return errors.Join(err, e.wal.close())
}

// lookup returns a live table (any status but deleted) or ResourceNotFoundException.
func (e *Engine) lookup(name string) (*table, error) {
	t := e.tables[name]
	if t == nil || !t.deleted.IsZero() {
		return nil, notFound("Requested resource not found: Table: %s not found", name)
	}
	return t, nil
}

// active returns a table that accepts item operations: CREATING and DELETING tables are not found.
func (e *Engine) active(name *string) (*table, error) {
	if name == nil {
		return nil, validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	if err := checkTableName("tableName", *name); err != nil {
		return nil, err
	}
	t := e.tables[*name]
	if t == nil || !t.deleted.IsZero() {
		return nil, notFound("Requested resource not found")
	}
	if t.status(e.now(), e.opts.StateDelay) == "CREATING" {
		return nil, notFound("Requested resource not found")
	}
	return t, nil
}

func (e *Engine) arn(table string) string {
	return "arn:aws:dynamodb:" + e.opts.Region + ":" + e.opts.AccountID + ":table/" + table
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, internal(err)
	}
	return b, nil
}

// KeyAttributes returns the names of a live table's hash and range key attributes (range empty
// for a hash-only table), and false if there is no such table.
func (e *Engine) KeyAttributes(table string) (hash, rng string, ok bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	t, err := e.lookup(table)
	if err != nil {
		return "", "", false
	}
	return t.meta.Key.Hash, t.meta.Key.Range, true
}

// Operations returns the names of the DynamoDB operations the engine serves, sorted.
func Operations() []string {
	ops := make([]string, 0, len(handlers))
	for op := range handlers {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return ops
}
