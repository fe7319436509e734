package fleetbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/internal/workerproc"
)

// Worker states, as the parent knows them.
const (
	running    = "running"
	terminated = "terminated" // sent SIGTERM
	killed     = "killed"     // sent SIGKILL
)

// fleet is one stream, one lease table behind a Proxy, a producer writing to every shard, and
// worker processes sharing the stream. Everything it learns comes from the workers' event lines.
type fleet struct {
	run    *Config
	store  Store
	name   string // stream and application name
	kc     *kinesis.Client
	db     *dynamodb.Client // the store, directly (for cleanup)
	proxy  *Proxy
	shards []shard
	rate   float64 // records per second per shard
	group  workerproc.Group

	prodStop context.CancelFunc
	prodDone chan struct{}

	mu        sync.Mutex
	workers   map[string]*worker
	seen      []uint8 // record id -> times processed (saturating)
	produced  int
	putErrs   int                      // failed PutRecords calls (their ids are sent again: a duplicate if one was stored)
	dups      []time.Time              // when a record was processed again
	fences    []fence                  // lease-lost events of workers the parent did not stop
	failures  []time.Time              // processor (checkpoint) failures
	last      map[string]mark          // shard -> its latest batch
	watch     map[string]*move         // shard -> a move being measured
	stall     map[string]time.Duration // shard -> longest time without a batch while stallOn
	stallOn   bool
	stallFrom time.Time
	changed   time.Time // the last change of any worker's owned set
	exits     []string  // workers that exited without being stopped
	closing   bool
}

type shard struct{ id, hashKey string }

type mark struct {
	worker string
	at     time.Time
}

type fence struct {
	worker, shard string
	at            time.Time
}

// move is a shard of a stopped worker, waiting for another worker's first batch.
type move struct {
	from        string
	since, done time.Time
}

type worker struct {
	id       string
	proc     *workerproc.Proc
	state    string
	owned    map[string]time.Time // shard -> the report before the one it appeared in
	reported time.Time            // when the latest owned set was reported
	batch    map[string]time.Time // shard -> this worker's latest batch of it
}

// newFleet creates a stream of n shards and starts the producer at rate records per second per
// shard. Workers are started with startWorker; close stops everything.
func newFleet(ctx context.Context, run *Config, store Store, name string, n int, rate float64) (*fleet, error) {
	proxy, err := NewProxy(store.Endpoint)
	if err != nil {
		return nil, err
	}
	f := &fleet{run: run, store: store, name: name, proxy: proxy, rate: rate,
		kc: kinesis.NewFromConfig(run.AWSConfig(run.KinesisEndpoint)), db: dynamodb.NewFromConfig(run.AWSConfig(store.Endpoint)),
		workers: map[string]*worker{}, last: map[string]mark{}, watch: map[string]*move{}, stall: map[string]time.Duration{}}
	if _, err := f.kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &f.name, ShardCount: aws.Int32(int32(n))}); err != nil {
		proxy.Close()
		return nil, fmt.Errorf("create stream %s: %w", name, err)
	}
	err = kinesis.NewStreamExistsWaiter(f.kc).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: &f.name}, time.Minute,
		func(o *kinesis.StreamExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 50*time.Millisecond, 500*time.Millisecond
		})
	if err == nil {
		err = f.listShards(ctx)
	}
	if err != nil {
		f.close(ctx)
		return nil, err
	}
	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	f.prodStop, f.prodDone = stop, make(chan struct{})
	go func() { defer close(f.prodDone); f.produce(pctx) }()
	return f, nil
}

func (f *fleet) listShards(ctx context.Context) error {
	in := &kinesis.ListShardsInput{StreamName: &f.name}
	for {
		out, err := f.kc.ListShards(ctx, in)
		if err != nil {
			return fmt.Errorf("list shards: %w", err)
		}
		for _, s := range out.Shards {
			f.shards = append(f.shards, shard{id: aws.ToString(s.ShardId), hashKey: aws.ToString(s.HashKeyRange.StartingHashKey)})
		}
		if out.NextToken == nil {
			return nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// produce writes records round-robin to every shard (an explicit hash key per shard) at the
// fleet's rate until ctx ends. Each record's data is its id; an id counts as produced once
// PutRecords accepted it.
func (f *fleet) produce(ctx context.Context) {
	const tick = 100 * time.Millisecond
	perTick := max(1, int(f.rate*float64(len(f.shards))*tick.Seconds()+0.5))
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
		var entries []types.PutRecordsRequestEntry
		for i := range perTick {
			id := first + i
			s := f.shards[id%len(f.shards)]
			entries = append(entries, types.PutRecordsRequestEntry{Data: []byte(strconv.Itoa(id)),
				PartitionKey: aws.String(strconv.Itoa(id)), ExplicitHashKey: aws.String(s.hashKey)})
		}
		for len(entries) > 0 && ctx.Err() == nil {
			out, err := f.kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &f.name, Records: entries})
			if err != nil {
				f.mu.Lock()
				f.putErrs++
				f.mu.Unlock()
				sleepCtx(ctx, tick) // then the same ids again: none of them was acknowledged
				continue
			}
			var retry []types.PutRecordsRequestEntry
			for i, r := range out.Records {
				if r.ErrorCode != nil {
					retry = append(retry, entries[i])
				}
			}
			entries = retry
		}
		if len(entries) > 0 {
			return // stopped mid-tick: these ids are not counted
		}
		f.mu.Lock()
		f.produced = first + perTick
		f.mu.Unlock()
	}
}

// startWorker starts a worker process (the run's worker command) on this fleet.
func (f *fleet) startWorker(id string) error {
	w := &worker{id: id, state: running, owned: map[string]time.Time{}, batch: map[string]time.Time{}}
	logPath := filepath.Join(f.run.LogDir, f.name+"-"+id+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	args := append(slices.Clone(f.run.WorkerArgs), "--endpoint", f.run.KinesisEndpoint, "--dynamodb-endpoint", f.proxy.URL(),
		"--stream", f.name, "--app", f.name, "--id", id, "--kcl-defaults", "--exit-with-parent")
	p, err := f.group.Start(workerproc.Options{Path: f.run.WorkerPath, Args: args, Env: f.run.WorkerEnv, Stderr: logFile,
		OnLine: func(line string) { f.event(w, line) }})
	if err != nil {
		logFile.Close()
		return err
	}
	go func() {
		<-p.Done()
		logFile.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		if w.state == running && !f.closing {
			f.exits = append(f.exits, fmt.Sprintf("%s exited by itself (%v; log %s)", id, p.Err(), logPath))
		}
	}()
	f.mu.Lock()
	w.proc = p
	f.workers[id] = w
	f.mu.Unlock()
	return nil
}

// event handles one line from worker w.
func (f *fleet) event(w *worker, line string) {
	ev, err := workerproc.ParseEvent(line)
	if err != nil {
		return
	}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	switch ev.Kind {
	case workerproc.Batch:
		for _, id := range ev.IDs {
			if id < 0 || id >= 1<<26 {
				continue
			}
			if id >= len(f.seen) {
				f.seen = append(f.seen, make([]uint8, id+1-len(f.seen)+1024)...)
			}
			if f.seen[id] > 0 {
				f.dups = append(f.dups, now)
			}
			if f.seen[id] < 255 {
				f.seen[id]++
			}
		}
		if f.stallOn {
			from := f.last[ev.Shard].at
			if from.Before(f.stallFrom) {
				from = f.stallFrom
			}
			f.stall[ev.Shard] = max(f.stall[ev.Shard], now.Sub(from))
		}
		f.last[ev.Shard] = mark{worker: w.id, at: now}
		w.batch[ev.Shard] = now
		if m := f.watch[ev.Shard]; m != nil && m.done.IsZero() && w.id != m.from {
			m.done = now
		}
	case workerproc.Lost:
		if ev.Cause == workerproc.CauseLeaseLost && w.state == running {
			f.fences = append(f.fences, fence{worker: w.id, shard: ev.Shard, at: now})
		}
	case workerproc.Failed:
		if w.state == running {
			f.failures = append(f.failures, now)
		}
	case workerproc.Owned:
		// A shard new in this report was taken after the previous report (which lacked it), and
		// its first batch may already have been reported: count batches from then.
		owned := make(map[string]time.Time, len(ev.Shards))
		for _, s := range ev.Shards {
			if since, ok := w.owned[s]; ok {
				owned[s] = since
			} else {
				owned[s] = w.reported
			}
		}
		w.owned, w.reported = owned, now
		f.changed = now
	}
}

// signal sends sig to worker id and marks it stopped.
func (f *fleet) signal(id string, sig syscall.Signal) time.Time {
	f.mu.Lock()
	w := f.workers[id]
	if sig == syscall.SIGKILL {
		w.state = killed
	} else {
		w.state = terminated
	}
	w.owned = map[string]time.Time{}
	f.mu.Unlock()
	t := time.Now()
	w.proc.Signal(sig)
	return t
}

// Conditions over the fleet, called with f.mu held.

// processing reports whether w processed a batch of every shard it owns since it took it (since
// the last report that did not list it).
func (w *worker) processing() bool {
	for s, since := range w.owned {
		if !w.batch[s].After(since) {
			return false
		}
	}
	return true
}

// balanced reports whether the running workers own every shard once between them, within one
// of each other, each processing every shard it owns.
func (f *fleet) balanced() bool {
	lo, hi, total := len(f.shards), 0, 0
	union := map[string]bool{}
	for _, w := range f.workers {
		if w.state != running {
			continue
		}
		n := len(w.owned)
		lo, hi, total = min(lo, n), max(hi, n), total+n
		for s := range w.owned {
			union[s] = true
		}
		if !w.processing() {
			return false
		}
	}
	return total == len(f.shards) && len(union) == total && hi-lo <= 1
}

// holdsAll reports whether worker id owns every shard.
func (f *fleet) holdsAll(id string) bool {
	w := f.workers[id]
	return w != nil && len(w.owned) == len(f.shards)
}

// waitFor polls cond (under f.mu) every 20 ms until it holds, limit passes or ctx ends, and
// returns when it first held.
func (f *fleet) waitFor(ctx context.Context, limit time.Duration, cond func() bool) (time.Time, bool) {
	deadline := time.Now().Add(limit)
	for {
		f.mu.Lock()
		ok := cond()
		f.mu.Unlock()
		now := time.Now()
		if ok {
			return now, true
		}
		if now.After(deadline) || ctx.Err() != nil {
			return now, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStable waits until the fleet is balanced and no owned set changed for quiet.
func (f *fleet) waitStable(ctx context.Context, limit, quiet time.Duration) bool {
	_, ok := f.waitFor(ctx, limit, func() bool { return f.balanced() && time.Since(f.changed) >= quiet })
	return ok
}

// window is what happened between two instants: the counters at its start.
type window struct {
	from     time.Time
	counts   Counts
	dups     int
	fences   int
	failures int
	exits    int
	putErrs  int
}

func (f *fleet) openWindow() window {
	c := f.proxy.Counts()
	f.mu.Lock()
	defer f.mu.Unlock()
	return window{from: time.Now(), counts: c, dups: len(f.dups), fences: len(f.fences), failures: len(f.failures), exits: len(f.exits), putErrs: f.putErrs}
}

// closeWindow fills r's duplicates, self-fences, failures and DynamoDB figures since w.
func (f *fleet) closeWindow(w window, r *Result) {
	c := f.proxy.Counts().Sub(w.counts)
	f.mu.Lock()
	defer f.mu.Unlock()
	r.Duplicates += len(f.dups) - w.dups
	r.SelfFences += len(f.fences) - w.fences
	r.FenceEpisodes += episodes(f.fences[w.fences:])
	r.ProcessorFailures += len(f.failures) - w.failures
	r.Requests += c.Requests
	r.StoreErrors += c.Failed
	if c.Failed > 0 {
		r.Note += "last proxy error: " + c.LastError + "; "
	}
	r.ProducerErrors += f.putErrs - w.putErrs
	for _, e := range f.exits[w.exits:] {
		r.Note += e + "; "
		r.WorkerExits++
	}
	r.Throttled += c.Throttled
	r.LeaseTableRequests += c.ByTable[f.name]
	r.WorkerTableRequests += c.ByTable[f.name+"-workers"]
	r.RequestsPerSecond = float64(r.Requests) / time.Since(w.from).Seconds()
	r.LatencyP50, r.LatencyP99 = c.Latency(50), c.Latency(99)
}

// episodes counts the bursts in fences: a worker that fences itself loses every lease at once,
// so lost events of one worker less than a second apart count as one episode.
func episodes(fences []fence) int {
	last := map[string]time.Time{}
	n := 0
	for _, e := range fences {
		if t, ok := last[e.worker]; !ok || e.at.Sub(t) >= time.Second {
			n++
		}
		last[e.worker] = e.at
	}
	return n
}

// drain stops the producer and waits (up to limit) until every produced record was processed;
// it returns the number never processed.
func (f *fleet) drain(ctx context.Context, limit time.Duration) (produced, lost int) {
	f.prodStop()
	<-f.prodDone
	f.proxy.SetLatency(0)
	count := func() int {
		n := 0
		for id := range f.produced {
			if id >= len(f.seen) || f.seen[id] == 0 {
				n++
			}
		}
		return n
	}
	f.waitFor(ctx, limit, func() bool { return count() == 0 })
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.produced, count()
}

// close stops the producer and every worker (SIGTERM, SIGKILL by PID after 10 s), deletes the
// stream and the lease tables (within 20 s), and stops the proxy; once ctx has ended it allows
// 2 s for each step instead.
func (f *fleet) close(ctx context.Context) {
	grace, cleanup := 10*time.Second, 20*time.Second
	if ctx.Err() != nil {
		grace, cleanup = 2*time.Second, 2*time.Second // interrupted: do not linger
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanup)
	defer cancel()
	if f.prodStop != nil {
		f.prodStop()
		<-f.prodDone
	}
	f.mu.Lock()
	f.closing = true
	f.mu.Unlock()
	f.group.Stop(grace)
	f.kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: &f.name, EnforceConsumerDeletion: aws.Bool(true)})
	for _, t := range []string{f.name, f.name + "-workers"} {
		f.db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(t)})
	}
	f.proxy.Close()
}

// logf writes a progress line.
func (c *Config) logf(format string, a ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", a...)
	}
}
