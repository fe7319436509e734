// Package leasebench measures the lease protocol end to end, in real time, with kcl consumers
// in one process over an in-process kinesislocal (Kinesis and DynamoDB through the real SDK
// clients, the lease table in dynamolease): crash failover, graceful handoff, rebalance when a
// worker joins, DynamoDB requests per lease per minute, and one worker holding many leases.
package leasebench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/kinesislocal"
	"github.com/shoal-go/shoal/lease/dynamolease"
)

// countingDB counts DynamoDB requests by kind; it implements dynamolease.API.
type countingDB struct {
	*dynamodb.Client
	writes, reads, scannedItems atomic.Int64
}

func (c *countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.writes.Add(1)
	return c.Client.PutItem(ctx, in, o...)
}

func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.writes.Add(1)
	return c.Client.UpdateItem(ctx, in, o...)
}

func (c *countingDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.writes.Add(1)
	return c.Client.DeleteItem(ctx, in, o...)
}

func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.reads.Add(1)
	return c.Client.GetItem(ctx, in, o...)
}

func (c *countingDB) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.reads.Add(1)
	out, err := c.Client.Scan(ctx, in, o...)
	if err == nil {
		c.scannedItems.Add(int64(len(out.Items)))
	}
	return out, err
}

// fleet is a stream, a lease table and the workers sharing it.
type fleet struct {
	kc     *kinesis.Client
	db     *countingDB
	stream string
	app    string

	mu       sync.Mutex
	workers  map[string]*member
	seen     map[int]int
	firstAt  map[string]time.Time // shard -> first batch by a worker other than the event's
	watch    map[string]string    // shard -> worker whose shards we wait to move
	lastAt   map[string]time.Time // watched shard -> latest batch by the worker it moves from
	produced int
}

type member struct {
	c      *kcl.Consumer
	cancel context.CancelFunc
	done   chan error
}

func newFleet(ctx context.Context, srv *kinesislocal.Server, shards int, name string) (*fleet, error) {
	cfg := srv.AWSConfig()
	f := &fleet{kc: kinesis.NewFromConfig(cfg), db: &countingDB{Client: dynamodb.NewFromConfig(cfg)},
		stream: name, app: name + "-app", workers: map[string]*member{}, seen: map[int]int{},
		firstAt: map[string]time.Time{}, watch: map[string]string{}, lastAt: map[string]time.Time{}}
	if _, err := f.kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &f.stream, ShardCount: aws.Int32(int32(shards))}); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *fleet) start(ctx context.Context, id string) error {
	store, err := dynamolease.New(f.db, dynamolease.Options{Table: f.app, PollInterval: 20 * time.Millisecond})
	if err != nil {
		return err
	}
	c, err := kcl.New(kcl.Config{StreamName: f.stream, Kinesis: f.kc, Leases: store, WorkerID: id,
		InitialPosition: kcl.TrimHorizon, Retrieval: kcl.Polling{Interval: 100 * time.Millisecond}},
		kcl.BatchProcessor(func(ctx context.Context, b kcl.Batch) error { f.processed(id, b); return nil }))
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	m := &member{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- c.Run(rctx) }()
	f.mu.Lock()
	f.workers[id] = m
	f.mu.Unlock()
	return nil
}

func (f *fleet) processed(worker string, b kcl.Batch) {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range b.Records {
		if id, err := strconv.Atoi(string(r.Data)); err == nil {
			f.seen[id]++
		}
	}
	if from, ok := f.watch[b.ShardID]; ok && from == worker {
		f.lastAt[b.ShardID] = now
	} else if ok {
		if _, done := f.firstAt[b.ShardID]; !done {
			f.firstAt[b.ShardID] = now
		}
	}
}

// produce writes n records per tick until ctx ends.
func (f *fleet) produce(ctx context.Context, perTick int, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		first := f.produced
		f.mu.Unlock()
		entries := make([]types.PutRecordsRequestEntry, perTick)
		for i := range entries {
			entries[i] = types.PutRecordsRequestEntry{Data: []byte(strconv.Itoa(first + i)), PartitionKey: aws.String(strconv.Itoa(first + i))}
		}
		out, err := f.kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &f.stream, Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) > 0 {
			continue // the ids are reused next tick
		}
		f.mu.Lock()
		f.produced = first + perTick
		f.mu.Unlock()
	}
}

func (f *fleet) held(id string) int {
	f.mu.Lock()
	m := f.workers[id]
	f.mu.Unlock()
	if m == nil {
		return 0
	}
	return m.c.Stats().Leases.Held
}

// leasesLost sums the leases every worker lost (not released) since it started.
func (f *fleet) leasesLost() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for _, m := range f.workers {
		n += m.c.Stats().Leases.Lost
	}
	return n
}

func (f *fleet) stopAll() {
	f.mu.Lock()
	ms := make([]*member, 0, len(f.workers))
	for _, m := range f.workers {
		ms = append(ms, m)
	}
	f.mu.Unlock()
	for _, m := range ms {
		m.cancel()
		<-m.done
	}
}

// awaitAll waits (up to 2 minutes) until every record produced so far was processed. It counts
// ids below f.produced only: a PutRecords cancelled when production stopped may have stored
// its records without being counted as produced, and its ids must not stand in for missing ones.
func (f *fleet) awaitAll(ctx context.Context) {
	f.mu.Lock()
	total := f.produced
	f.mu.Unlock()
	waitUntil(ctx, 2*time.Minute, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for id := range total {
			if f.seen[id] == 0 {
				return false
			}
		}
		return true
	})
}

func (f *fleet) duplicates() (dups, lost int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id := 0; id < f.produced; id++ {
		switch n := f.seen[id]; {
		case n == 0:
			lost++
		case n > 1:
			dups += n - 1
		}
	}
	return dups, lost
}

// waitUntil polls cond every 20ms until it holds or limit passes.
func waitUntil(ctx context.Context, limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// shardsOf returns the shards worker processes now (its consumer's view). The last batch of a
// shard is not a measure of that: a shard handed over is still "last processed" by its previous
// owner until the new one's first batch, which a loaded machine delays past any fixed settle time.
func (f *fleet) shardsOf(worker string) []string {
	f.mu.Lock()
	m := f.workers[worker]
	f.mu.Unlock()
	var out []string
	for s := range m.c.Stats().Shards {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Percentile returns the p-th percentile (0..100) of ds (nearest rank).
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func errf(format string, a ...any) error { return fmt.Errorf("leasebench: "+format, a...) }
