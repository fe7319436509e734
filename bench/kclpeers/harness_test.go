package kclpeers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/kinesislocal"
)

// errCrashed is what a killed worker's every request fails with.
var errCrashed = errors.New("kclpeers: worker crashed (network cut)")

// counts are the DynamoDB requests of one scenario's workers, by kind.
type counts struct {
	writes, reads atomic.Int64 // writes: PutItem, UpdateItem, DeleteItem; reads: GetItem, Scan, Query
	claims        atomic.Int64 // vmware steal claims: PutItem conditional on attribute_not_exists(ClaimRequest)
}

// workerTransport serves a worker's requests in-process, counts its DynamoDB requests, and fails
// everything once cut (a crash as the servers see it: no release, no renewal, no reads).
type workerTransport struct {
	base http.RoundTripper
	ctr  *counts
	cut  atomic.Bool
}

func (t *workerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.cut.Load() {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errCrashed
	}
	switch op := strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "DynamoDB_20120810."); op {
	case "PutItem", "UpdateItem", "DeleteItem":
		t.ctr.writes.Add(1)
		if op == "PutItem" && req.Body != nil {
			b, err := io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				return nil, err
			}
			if bytes.Contains(b, []byte("attribute_not_exists(ClaimRequest)")) {
				t.ctr.claims.Add(1)
			}
			req.Body = io.NopCloser(bytes.NewReader(b))
		}
	case "GetItem", "Scan", "Query":
		t.ctr.reads.Add(1)
	}
	return t.base.RoundTrip(req)
}

// workerConfig returns an aws.Config for one worker and the switch that cuts its network.
func workerConfig(srv *kinesislocal.Server, ctr *counts) (aws.Config, *workerTransport) {
	cfg := srv.AWSConfig()
	tr := &workerTransport{base: kinesislocal.RoundTripper(srv), ctr: ctr}
	cfg.HTTPClient = &http.Client{Transport: tr}
	return cfg, tr
}

// recorder is what every processor of one scenario reports to: which worker processed which
// record of which shard, when.
type recorder struct {
	mu         sync.Mutex
	seen       map[int]int          // record id -> times processed
	lastBy     map[string]string    // shard -> worker that processed its last non-empty batch
	lastChange time.Time            // last time lastBy changed owner
	watch      map[string]string    // shard -> worker whose shards we wait to see elsewhere
	firstAt    map[string]time.Time // shard -> first batch by another worker than watch's
	dead       map[string]bool      // crashed workers: what they process after the cut never happened
	produced   int
}

func newRecorder() *recorder {
	return &recorder{seen: map[int]int{}, lastBy: map[string]string{}, watch: map[string]string{},
		firstAt: map[string]time.Time{}, dead: map[string]bool{}}
}

// processed records one non-empty batch of shard processed by worker.
func (r *recorder) processed(worker, shard string, data [][]byte) {
	if len(data) == 0 {
		return
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead[worker] {
		return
	}
	for _, d := range data {
		if id, err := strconv.Atoi(string(d)); err == nil {
			r.seen[id]++
		}
	}
	if from, ok := r.watch[shard]; ok && from != worker {
		if _, done := r.firstAt[shard]; !done {
			r.firstAt[shard] = now
		}
	}
	if r.lastBy[shard] != worker {
		r.lastBy[shard] = worker
		r.lastChange = now
	}
}

// byWorker counts the shards whose last batch each worker processed.
func (r *recorder) byWorker() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, w := range r.lastBy {
		out[w]++
	}
	return out
}

// settled reports whether all shards were processed, with no change of processing worker for
// quiet, and each of workers processes shards or everyone had time to try (vmware takes one shard
// per shard-sync loop, the first 30-90 s after start, so a worker can find every shard taken).
func (r *recorder) settled(shards int, workers []string, quiet time.Duration, allTried bool) bool {
	by := r.byWorker()
	for _, w := range workers {
		if by[w] == 0 && !allTried {
			return false
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lastBy) == shards && time.Since(r.lastChange) >= quiet
}

// shardsOf returns the shards whose last batch worker processed.
func (r *recorder) shardsOf(worker string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for s, w := range r.lastBy {
		if w == worker {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// produce writes perTick records with unique ids every tick to stream until ctx ends.
func (r *recorder) produce(ctx context.Context, kc *kinesis.Client, stream string, perTick int, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		first := r.produced
		r.mu.Unlock()
		entries := make([]types.PutRecordsRequestEntry, perTick)
		for i := range entries {
			entries[i] = types.PutRecordsRequestEntry{Data: []byte(strconv.Itoa(first + i)),
				PartitionKey: aws.String(strconv.FormatUint(rand.Uint64(), 36))}
		}
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) > 0 {
			continue // ids reused next tick; a partial failure leaves some ids stored twice: rare, not seen
		}
		r.mu.Lock()
		r.produced = first + perTick
		r.mu.Unlock()
	}
}

// awaitAll waits up to limit until every record produced so far was processed.
func (r *recorder) awaitAll(ctx context.Context, limit time.Duration) {
	waitUntil(ctx, limit, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.seen) >= r.produced
	})
}

// duplicates counts extra deliveries and records never processed.
func (r *recorder) duplicates() (dups, lost int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := 0; id < r.produced; id++ {
		switch n := r.seen[id]; {
		case n == 0:
			lost++
		case n > 1:
			dups += n - 1
		}
	}
	return dups, lost
}

// waitUntil polls cond every 50ms until it holds, limit passes or ctx ends.
func waitUntil(ctx context.Context, limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// percentile returns the p-th percentile (0..100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func createStream(ctx context.Context, kc *kinesis.Client, name string, shards int) error {
	_, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &name, ShardCount: aws.Int32(int32(shards))})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", name, err)
	}
	return nil
}
