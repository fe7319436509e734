// Package dynamolease is a lease.Store in Amazon DynamoDB (or any DynamoDB-compatible server:
// kinesislocal, dynalite, DynamoDB Local), through aws-sdk-go-v2.
//
// The lease table uses the Java KCL's item format (leaseKey hash key; leaseOwner, leaseCounter,
// checkpoint, checkpointSubSequenceNumber, pendingCheckpoint*, ownerSwitchesSinceCheckpoint,
// parentShardId and childShardIds string sets, startingHashKey, endingHashKey, checkpointOwner;
// plus Shoal's shoalCheckpointTimestamp, lease.Checkpoint.Timestamp, which the Java KCL ignores),
// so a table written by a Java KCL application can be adopted with its checkpoints, and the
// reverse. Attributes this package does not know are preserved: every write is a conditional
// UpdateItem of named attributes (PutItem only to create). Worker heartbeat rows live in a
// separate table (default "<table>-workers", hash key workerId) so no KCL version mistakes them
// for leases.
//
// Reads are strongly consistent (the fencing argument of package lease requires it).
//
// A conditional write has three outcomes, and the store reports each truthfully: nil means the
// write is stored; ErrConflict (ErrExists for Create) means it was not and never will be; an
// error wrapping lease.ErrUnknownOutcome means the request may have been applied (a timeout or
// cancelled ctx, a connection closed or reset after sending, a 5xx). The SDK retries a conditional
// write only after an attempt the server refused (a 4xx answer such as a throttling error, or a
// failed dial): a retry after an attempt that may have been applied would fail its condition and
// report a stored write as refused. After an unknown outcome the store reads the item back
// (strongly consistent) while ctx allows, and reports success if the item shows the write's
// result.
//
// Only
// GetItem, PutItem, UpdateItem, DeleteItem, Scan, CreateTable and DescribeTable are used: no
// transactions, and nothing depends on ReturnValuesOnConditionCheckFailure.
package dynamolease

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/shoal-go/shoal/lease"
)

// API lists the DynamoDB operations the store uses; *dynamodb.Client satisfies it.
type API interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Options configures a Store.
type Options struct {
	// Table is the lease table's name (the Java KCL's application name). Required.
	Table string
	// WorkerTable is the worker heartbeat table. Default Table + "-workers".
	WorkerTable string
	// BillingMode for tables Init creates. Default PAY_PER_REQUEST.
	BillingMode types.BillingMode
	// ReadCapacity and WriteCapacity apply when BillingMode is PROVISIONED. Default 10 each.
	ReadCapacity, WriteCapacity int64
	// PageSize is the Scan Limit per page (0 = DynamoDB's 1 MB pages).
	PageSize int32
	// ActiveTimeout bounds Init's wait for a table to become ACTIVE. Default 10 minutes.
	ActiveTimeout time.Duration
	// PollInterval is how often Init polls DescribeTable while waiting. Default 1s.
	PollInterval time.Duration
	// WorkerAPI, when non-nil, serves the worker table (heartbeats, wakes, worker scans).
	// Default: when the API is a *dynamodb.Client, a copy of it with a connection pool of its own
	// (if its HTTPClient is the SDK's default or an *http.Client over an *http.Transport; another
	// HTTPClient, e.g. an in-process round tripper, is shared) and a retryer of its own (so
	// throttled checkpoints cannot use up the retry quota heartbeats need, and heartbeats never
	// wait for a connection behind checkpoint writes); otherwise the API itself.
	WorkerAPI API
}

// Store is a lease.Store in DynamoDB. It is safe for concurrent use; it holds no state besides
// its options.
type Store struct {
	api     API
	workers API // the worker table's client (Options.WorkerAPI)
	opts    Options
}

var (
	_ lease.Store       = (*Store)(nil)
	_ lease.Initializer = (*Store)(nil)
)

// New returns a Store; it does no I/O (call Init to create the tables).
func New(api API, opts Options) (*Store, error) {
	var errs []error
	if api == nil {
		errs = append(errs, errors.New("dynamolease: API is required"))
	}
	if opts.Table == "" {
		errs = append(errs, errors.New("dynamolease: Options.Table is required"))
	}
	if opts.PageSize < 0 || opts.ActiveTimeout < 0 || opts.PollInterval < 0 || opts.ReadCapacity < 0 || opts.WriteCapacity < 0 {
		errs = append(errs, errors.New("dynamolease: Options values must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.WorkerTable == "" {
		opts.WorkerTable = opts.Table + "-workers"
	}
	if opts.BillingMode == "" {
		opts.BillingMode = types.BillingModePayPerRequest
	}
	if opts.ReadCapacity == 0 {
		opts.ReadCapacity = 10
	}
	if opts.WriteCapacity == 0 {
		opts.WriteCapacity = 10
	}
	if opts.ActiveTimeout == 0 {
		opts.ActiveTimeout = 10 * time.Minute
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Second
	}
	workers := opts.WorkerAPI
	if workers == nil {
		workers = ownLane(api)
	}
	return &Store{api: api, workers: workers, opts: opts}, nil
}

// ownLane returns a copy of api for the worker table with its own connection pool and retryer,
// when api is a *dynamodb.Client; else api.
func ownLane(api API) API {
	c, ok := api.(*dynamodb.Client)
	if !ok {
		return api
	}
	o := c.Options()
	switch hc := o.HTTPClient.(type) {
	case *awshttp.BuildableClient:
		o.HTTPClient = hc.WithTransportOptions()
	case *http.Client:
		if tr, ok := hc.Transport.(*http.Transport); ok {
			cp := *hc
			cp.Transport = tr.Clone()
			o.HTTPClient = &cp
		}
	}
	// The coordinator retries a failed heartbeat itself within its deadline; the SDK's own
	// retries here are quick and draw on no quota shared with the lease table's calls.
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 3
		so.MaxBackoff = 100 * time.Millisecond
		so.RateLimiter = ratelimit.None
	})
	return dynamodb.New(o)
}

// WorkerAPI returns the client that serves the worker table.
func (st *Store) WorkerAPI() API { return st.workers }

// translate maps an SDK error to the lease package's sentinels, keeping the original.
func translate(op, key string, err error, conflict error) error {
	var ccf *types.ConditionalCheckFailedException
	var rnf *types.ResourceNotFoundException
	var pte *types.ProvisionedThroughputExceededException
	var rle *types.RequestLimitExceeded
	var api smithy.APIError
	switch {
	case errors.As(err, &ccf):
		return fmt.Errorf("%s %s: %w", op, key, conflict)
	case errors.As(err, &rnf):
		return fmt.Errorf("%s %s: %w: %w", op, key, lease.ErrNoTable, err)
	case errors.As(err, &pte), errors.As(err, &rle):
		return fmt.Errorf("%s %s: %w: %w", op, key, lease.ErrThrottled, err)
	case errors.As(err, &api) && (api.ErrorCode() == "ThrottlingException" || api.ErrorCode() == "LimitExceededException"):
		return fmt.Errorf("%s %s: %w: %w", op, key, lease.ErrThrottled, err)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

func keyOf(k string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrKey: s(k)}
}

// Create implements lease.Store.
func (st *Store) Create(ctx context.Context, l lease.Lease) error {
	_, err := st.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(st.opts.Table),
		Item:                encode(l),
		ConditionExpression: aws.String("attribute_not_exists(leaseKey)"),
	}, retryRefusedOnly)
	if err != nil && !refused(err) {
		_, err = st.resolve(ctx, "create lease", l.Key, err, func(got lease.Lease) bool {
			return got.Counter == l.Counter && got.Owner == l.Owner &&
				got.Checkpoint.Sequence == l.Checkpoint.Sequence && got.Checkpoint.SubSequence == l.Checkpoint.SubSequence
		})
		return err
	}
	if err != nil {
		return translate("create lease", l.Key, err, lease.ErrExists)
	}
	return nil
}

// Get implements lease.Store.
func (st *Store) Get(ctx context.Context, key string) (lease.Lease, error) {
	out, err := st.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(st.opts.Table), Key: keyOf(key), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return lease.Lease{}, translate("get lease", key, err, lease.ErrConflict)
	}
	if out.Item == nil {
		return lease.Lease{}, fmt.Errorf("get lease %s: %w", key, lease.ErrNotFound)
	}
	l, err := decode(out.Item)
	if err != nil {
		return lease.Lease{}, fmt.Errorf("get lease %s: %w", key, err)
	}
	return l, nil
}

func (st *Store) scan(ctx context.Context, api API, table string, each func(map[string]types.AttributeValue) error) error {
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	if st.opts.PageSize > 0 {
		in.Limit = aws.Int32(st.opts.PageSize)
	}
	for {
		out, err := api.Scan(ctx, in)
		if err != nil {
			return translate("scan", table, err, lease.ErrConflict)
		}
		for _, item := range out.Items {
			if err := each(item); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// List implements lease.Store: Scan without the invalid items.
func (st *Store) List(ctx context.Context) ([]lease.Lease, error) {
	ls, _, err := st.Scan(ctx)
	return ls, err
}

// Scan implements lease.Store. An item that cannot be decoded (edited by hand, or not a lease) is
// returned as a lease.InvalidItem naming its key, attribute and problem; it is never written to.
func (st *Store) Scan(ctx context.Context) ([]lease.Lease, []lease.InvalidItem, error) {
	var out []lease.Lease
	var bad []lease.InvalidItem
	err := st.scan(ctx, st.api, st.opts.Table, func(item map[string]types.AttributeValue) error {
		l, err := decode(item)
		var inv lease.InvalidItem
		switch {
		case err == nil:
			out = append(out, l)
		case errors.As(err, &inv):
			bad = append(bad, inv)
		default:
			return err
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list leases: %w", err)
	}
	return out, bad, nil
}

// update runs one conditional UpdateItem returning the new item. applied reports whether a
// lease read back after an unknown outcome shows this write's result.
func (st *Store) update(ctx context.Context, op, key, cond, upd string, vals map[string]types.AttributeValue, applied func(lease.Lease) bool) (lease.Lease, error) {
	out, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(st.opts.Table),
		Key:                       keyOf(key),
		ConditionExpression:       aws.String(cond),
		UpdateExpression:          aws.String(upd),
		ExpressionAttributeValues: vals,
		ReturnValues:              types.ReturnValueAllNew,
	}, retryRefusedOnly)
	if err != nil && !refused(err) {
		return st.resolve(ctx, op, key, err, applied)
	}
	if err != nil {
		return lease.Lease{}, translate(op, key, err, lease.ErrConflict)
	}
	l, err := decode(out.Attributes)
	if err != nil {
		return lease.Lease{}, fmt.Errorf("%s %s: %w", op, key, err)
	}
	return l, nil
}

// ownerCond is "leaseOwner = :owner", or "attribute_not_exists(leaseOwner)" for "".
func ownerCond(owner string, vals map[string]types.AttributeValue) string {
	if owner == "" {
		return "attribute_not_exists(leaseOwner)"
	}
	vals[":owner"] = s(owner)
	return "leaseOwner = :owner"
}

// Take implements lease.Store.
func (st *Store) Take(ctx context.Context, key string, from lease.Expect, to string) (lease.Lease, error) {
	vals := map[string]types.AttributeValue{":c": n(from.Counter), ":one": n(1), ":to": s(to)}
	cond := "leaseCounter = :c AND " + ownerCond(from.Owner, vals)
	upd := "SET leaseOwner = :to, leaseCounter = leaseCounter + :one REMOVE checkpointOwner"
	if from.Owner != to {
		upd += " ADD ownerSwitchesSinceCheckpoint :one"
	}
	// A handoff request (which keeps the counter) may follow the take before the read-back.
	return st.update(ctx, "take lease", key, cond, upd, vals, func(l lease.Lease) bool {
		return l.Counter == from.Counter+1 && ((l.Owner == to && l.CheckpointOwner == "") || l.CheckpointOwner == to)
	})
}

// RequestHandoff implements lease.Store.
func (st *Store) RequestHandoff(ctx context.Context, key string, from lease.Expect, to string) (lease.Lease, error) {
	if from.Owner == "" {
		return lease.Lease{}, fmt.Errorf("request handoff of lease %s: no owner: %w", key, lease.ErrConflict)
	}
	vals := map[string]types.AttributeValue{":c": n(from.Counter), ":to": s(to), ":owner": s(from.Owner)}
	return st.update(ctx, "request handoff of lease", key,
		"leaseOwner = :owner AND leaseCounter = :c AND attribute_not_exists(checkpointOwner)",
		"SET leaseOwner = :to, checkpointOwner = :owner", vals, func(l lease.Lease) bool {
			return l.Counter == from.Counter && l.Owner == to && l.CheckpointOwner == from.Owner
		})
}

// CompleteHandoff implements lease.Store.
func (st *Store) CompleteHandoff(ctx context.Context, key string, from lease.Expect) (lease.Lease, error) {
	vals := map[string]types.AttributeValue{":c": n(from.Counter), ":one": n(1), ":owner": s(from.Owner)}
	return st.update(ctx, "complete handoff of lease", key,
		"checkpointOwner = :owner AND leaseCounter = :c",
		"SET leaseCounter = leaseCounter + :one REMOVE checkpointOwner ADD ownerSwitchesSinceCheckpoint :one", vals,
		func(l lease.Lease) bool { return l.Counter == from.Counter+1 && l.CheckpointOwner != from.Owner })
}

// Release implements lease.Store.
func (st *Store) Release(ctx context.Context, key string, from lease.Expect) (lease.Lease, error) {
	if from.Owner == "" {
		return lease.Lease{}, fmt.Errorf("release lease %s: no owner: %w", key, lease.ErrConflict)
	}
	vals := map[string]types.AttributeValue{":c": n(from.Counter), ":one": n(1), ":owner": s(from.Owner)}
	return st.update(ctx, "release lease", key,
		"leaseOwner = :owner AND attribute_not_exists(checkpointOwner) AND leaseCounter = :c",
		"SET leaseCounter = leaseCounter + :one REMOVE leaseOwner", vals,
		func(l lease.Lease) bool { return l.Counter == from.Counter+1 && l.Owner == "" })
}

const mayCheckpoint = "leaseCounter = :c AND ((leaseOwner = :owner AND attribute_not_exists(checkpointOwner)) OR checkpointOwner = :owner)"

// Checkpoint implements lease.Store.
func (st *Store) Checkpoint(ctx context.Context, key string, from lease.Expect, cp lease.Checkpoint) (lease.Lease, error) {
	if from.Owner == "" {
		return lease.Lease{}, fmt.Errorf("checkpoint lease %s: no owner: %w", key, lease.ErrConflict)
	}
	vals := map[string]types.AttributeValue{":c": n(from.Counter), ":one": n(1), ":owner": s(from.Owner),
		":cp": s(cp.Sequence), ":sub": n(cp.SubSequence), ":zero": n(0)}
	set := "SET checkpoint = :cp, checkpointSubSequenceNumber = :sub, ownerSwitchesSinceCheckpoint = :zero, leaseCounter = leaseCounter + :one"
	remove := " REMOVE pendingCheckpoint, pendingCheckpointSubSequenceNumber, pendingCheckpointState"
	if cp.Timestamp.IsZero() {
		remove += ", " + attrCheckpointTime
	} else {
		vals[":ts"] = n(cp.Timestamp.UnixMilli())
		set += ", " + attrCheckpointTime + " = :ts"
	}
	return st.update(ctx, "checkpoint lease", key, mayCheckpoint, set+remove, vals, func(l lease.Lease) bool {
		return l.Counter == from.Counter+1 && l.Checkpoint.Sequence == cp.Sequence && l.Checkpoint.SubSequence == cp.SubSequence &&
			((l.Owner == from.Owner && l.CheckpointOwner == "") || l.CheckpointOwner == from.Owner)
	})
}

// Finish implements lease.Store.
func (st *Store) Finish(ctx context.Context, key string, from lease.Expect, children []string) (lease.Lease, error) {
	if from.Owner == "" {
		return lease.Lease{}, fmt.Errorf("finish lease %s: no owner: %w", key, lease.ErrConflict)
	}
	vals := map[string]types.AttributeValue{":c": n(from.Counter), ":one": n(1), ":owner": s(from.Owner),
		":cp": s(lease.ShardEnd), ":zero": n(0)}
	upd := "SET checkpoint = :cp, checkpointSubSequenceNumber = :zero, ownerSwitchesSinceCheckpoint = :zero, leaseCounter = leaseCounter + :one"
	remove := " REMOVE leaseOwner, checkpointOwner, pendingCheckpoint, pendingCheckpointSubSequenceNumber, pendingCheckpointState, " + attrCheckpointTime
	if len(children) > 0 {
		vals[":children"] = &types.AttributeValueMemberSS{Value: children}
		upd += ", childShardIds = :children"
	} else {
		remove += ", childShardIds"
	}
	return st.update(ctx, "finish lease", key, mayCheckpoint, upd+remove, vals, func(l lease.Lease) bool {
		return l.Counter == from.Counter+1 && l.Finished() && l.Owner == ""
	})
}

// Delete implements lease.Store.
func (st *Store) Delete(ctx context.Context, key string) error {
	_, err := st.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(st.opts.Table),
		Key:                       keyOf(key),
		ConditionExpression:       aws.String("checkpoint = :end"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":end": s(lease.ShardEnd)},
	}, retryRefusedOnly)
	if err == nil {
		return nil
	}
	if !refused(err) {
		if _, gerr := st.Get(ctx, key); errors.Is(gerr, lease.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("delete lease %s: %w: %w", key, lease.ErrUnknownOutcome, err)
	}
	err = translate("delete lease", key, err, lease.ErrConflict)
	if errors.Is(err, lease.ErrConflict) {
		if _, gerr := st.Get(ctx, key); errors.Is(gerr, lease.ErrNotFound) {
			return fmt.Errorf("delete lease %s: %w", key, lease.ErrNotFound)
		}
	}
	return err
}

func workerKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrWorkerID: s(id)}
}

// Heartbeat implements lease.Store. One UpdateItem returning the old row (ALL_OLD): the new
// heartbeat is the old one + 1 (or the random start + 1 for a new row), and the old instance is
// Previous.
func (st *Store) Heartbeat(ctx context.Context, worker, instance string) (lease.Worker, error) {
	start := lease.HeartbeatStart()
	out, err := st.workers.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(st.opts.WorkerTable),
		Key:                       workerKey(worker),
		UpdateExpression:          aws.String("SET heartbeat = if_not_exists(heartbeat, :start) + :one, instance = :inst"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":start": n(start), ":inst": s(instance)},
		ReturnValues:              types.ReturnValueAllOld,
	})
	if err != nil {
		return lease.Worker{}, translate("heartbeat worker", worker, err, lease.ErrConflict)
	}
	if len(out.Attributes) == 0 {
		return lease.Worker{ID: worker, Heartbeat: start + 1, Instance: instance}, nil
	}
	old, err := decodeWorker(out.Attributes)
	if err != nil {
		return lease.Worker{}, err
	}
	if _, ok := out.Attributes[attrHeartbeat]; !ok {
		old.Heartbeat = start
	}
	return lease.Worker{ID: worker, Heartbeat: old.Heartbeat + 1, Wake: old.Wake, Instance: instance, Previous: old.Instance}, nil
}

// Wake implements lease.Store.
func (st *Store) Wake(ctx context.Context, worker string) error {
	_, err := st.workers.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(st.opts.WorkerTable),
		Key:                       workerKey(worker),
		ConditionExpression:       aws.String("attribute_exists(workerId)"),
		UpdateExpression:          aws.String("ADD wake :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1)},
	})
	if err != nil {
		return translate("wake worker", worker, err, lease.ErrNotFound)
	}
	return nil
}

// Workers implements lease.Store.
func (st *Store) Workers(ctx context.Context) ([]lease.Worker, error) {
	var out []lease.Worker
	err := st.scan(ctx, st.workers, st.opts.WorkerTable, func(item map[string]types.AttributeValue) error {
		w, err := decodeWorker(item)
		if err != nil {
			return err
		}
		out = append(out, w)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	return out, nil
}

// RemoveWorker implements lease.Store.
func (st *Store) RemoveWorker(ctx context.Context, worker string, heartbeat int64) error {
	_, err := st.workers.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(st.opts.WorkerTable),
		Key:                       workerKey(worker),
		ConditionExpression:       aws.String("heartbeat = :h"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": n(heartbeat)},
	})
	if err == nil {
		return nil
	}
	err = translate("remove worker", worker, err, lease.ErrConflict)
	if errors.Is(err, lease.ErrConflict) {
		out, gerr := st.workers.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(st.opts.WorkerTable), Key: workerKey(worker), ConsistentRead: aws.Bool(true),
		})
		if gerr == nil && out.Item == nil {
			return fmt.Errorf("remove worker %s: %w", worker, lease.ErrNotFound)
		}
	}
	return err
}

// resolve handles a conditional write whose outcome is unknown: while ctx allows, it reads the
// lease back and returns it if applied(lease) shows the write's result; otherwise it returns an
// error wrapping lease.ErrUnknownOutcome and err. A read showing the old state does not prove
// the write was not applied: the request may still be in flight and land later (its condition
// then decides, as for any write).
func (st *Store) resolve(ctx context.Context, op, key string, err error, applied func(lease.Lease) bool) (lease.Lease, error) {
	if ctx.Err() == nil {
		l, gerr := st.Get(ctx, key)
		if gerr == nil && applied(l) {
			return l, nil
		}
	}
	return lease.Lease{}, fmt.Errorf("%s %s: %w: %w", op, key, lease.ErrUnknownOutcome, err)
}

// refused reports whether a failed request is known not to have been applied: the server
// answered with a 4xx (a failed condition, throttling, validation, a missing table), or the
// connection could not be opened. Everything else (no answer, a 5xx, a connection that failed
// after the request may have been written, a ctx that ended meanwhile) is an unknown outcome.
func refused(err error) bool {
	var resp interface{ HTTPStatusCode() int }
	if errors.As(err, &resp) {
		if c := resp.HTTPStatusCode(); c >= 400 && c < 500 {
			return true
		}
	}
	// A modelled client-fault error without an HTTP response (an API implementation that is not
	// the SDK client, e.g. a test double or a wrapper).
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorFault() == smithy.FaultClient {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// retryRefusedOnly makes the SDK retry a conditional write only after an attempt the server
// refused (see refused): the retry of an attempt that was applied would fail its condition.
func retryRefusedOnly(o *dynamodb.Options) {
	if o.Retryer != nil {
		o.Retryer = refusedOnlyRetryer{o.Retryer}
	}
}

// refusedOnlyRetryer is the client's retryer with retries limited to refused attempts.
type refusedOnlyRetryer struct{ aws.Retryer }

func (r refusedOnlyRetryer) IsErrorRetryable(err error) bool {
	return refused(err) && r.Retryer.IsErrorRetryable(err)
}

// GetAttemptToken keeps the client retryer's per-attempt rate limiting (adaptive mode).
func (r refusedOnlyRetryer) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	if v2, ok := r.Retryer.(aws.RetryerV2); ok {
		return v2.GetAttemptToken(ctx)
	}
	return r.Retryer.GetInitialToken(), nil
}

var _ aws.RetryerV2 = refusedOnlyRetryer{}

// Table returns the lease table's name.
func (st *Store) Table() string { return st.opts.Table }

// WorkerTable returns the worker table's name.
func (st *Store) WorkerTable() string { return st.opts.WorkerTable }
