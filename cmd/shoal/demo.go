package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shoal-go/shoal/internal/workerproc"
	"github.com/shoal-go/shoal/kinesislocal"
)

type demoOptions struct {
	shards, workers, rate int
	duration              time.Duration
	killAt, stopAt        time.Duration
	splitAt               time.Duration
	endpoint              string
	plain                 bool
}

// runDemo tells the story Shoal exists for: several worker processes share a stream, one is
// killed, one is stopped gracefully, the others take over, nothing is lost.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "demo [--shards 8] [--workers 3] [--rate 400] [--duration 40s] [--endpoint URL]", stderr)
	var o demoOptions
	fs.IntVar(&o.shards, "shards", 8, "shards in the demo stream")
	fs.IntVar(&o.workers, "workers", 3, "worker processes (at least 2 for the kill and the graceful stop)")
	fs.IntVar(&o.rate, "rate", 400, "records produced per second")
	fs.DurationVar(&o.duration, "duration", 40*time.Second, "how long the producer runs")
	fs.DurationVar(&o.killAt, "kill-at", 0, "when to SIGKILL worker 1 (default: a quarter into the run; negative: never)")
	fs.DurationVar(&o.stopAt, "stop-at", 0, "when to stop worker 2 gracefully (default: halfway; negative: never)")
	fs.DurationVar(&o.splitAt, "split-at", 0, "when to split a shard (default: 60% into the run; negative: never)")
	fs.StringVar(&o.endpoint, "endpoint", "", "use this Kinesis+DynamoDB endpoint instead of an embedded local server")
	fs.BoolVar(&o.plain, "plain", false, "plain progress lines even on a terminal")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.shards < 1 || o.workers < 1 || o.rate < 1 || o.duration <= 0 {
		return fmt.Errorf("--shards, --workers, --rate and --duration must be positive")
	}
	def := func(d *time.Duration, frac float64) {
		if *d == 0 {
			*d = time.Duration(float64(o.duration) * frac)
		}
	}
	def(&o.killAt, 0.25)
	def(&o.stopAt, 0.5)
	def(&o.splitAt, 0.6)
	if o.workers < 3 {
		o.stopAt = -1 // keep one worker alive
	}
	if o.workers < 2 {
		o.killAt = -1
	}
	d := &demo{opts: o, out: stdout, errOut: stderr, started: time.Now(), app: fmt.Sprintf("shoal-demo-%d", time.Now().Unix()),
		stream: "shoal-demo", seen: map[int]int{}, firstBy: map[int]string{}, owner: map[string]string{},
		lastBatch: map[string]time.Time{}, procs: map[string]*demoProc{}}
	d.terminal = !o.plain && isTerminal(stdout)
	return d.run(ctx)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type demo struct {
	opts     demoOptions
	out      io.Writer
	errOut   io.Writer
	terminal bool
	started  time.Time
	app      string
	stream   string
	kc       *kinesis.Client
	endpoint string

	mu        sync.Mutex
	produced  int
	seen      map[int]int       // record id -> times processed
	firstBy   map[int]string    // record id -> worker that processed it first
	owner     map[string]string // shard -> worker that processed its latest batch
	lastBatch map[string]time.Time
	procs     map[string]*demoProc
	group     workerproc.Group
	events    []string
	gaps      []takeover
}

type demoProc struct {
	id      string
	proc    *workerproc.Proc
	state   string // running, killed, stopped
	records int
	at      time.Time // when killed or stopped
	shards  map[string]bool
}

// takeover is one shard moving to a new worker after a kill or a graceful stop.
type takeover struct {
	shard, from, to, why string
	gap                  time.Duration
}

func (d *demo) logf(format string, a ...any) {
	line := fmt.Sprintf("[%5.1fs] ", time.Since(d.started).Seconds()) + fmt.Sprintf(format, a...)
	d.mu.Lock()
	d.events = append(d.events, line)
	d.mu.Unlock()
	if !d.terminal {
		fmt.Fprintln(d.out, line)
	}
}

func (d *demo) run(ctx context.Context) error {
	if d.opts.endpoint == "" {
		srv, err := kinesislocal.New(kinesislocal.Options{StateDelay: 20 * time.Millisecond})
		if err != nil {
			return err
		}
		defer srv.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		served := make(chan error, 1)
		go func() { served <- serveUntilDone(sctx, ln, srv) }()
		defer func() { stop(); <-served }()
		d.endpoint = "http://" + ln.Addr().String()
		d.logf("local Kinesis + DynamoDB server (kinesislocal) on %s", d.endpoint)
	} else {
		d.endpoint = d.opts.endpoint
		d.logf("using the endpoint %s", d.endpoint)
	}
	d.kc = kinesis.NewFromConfig(endpointConfig(d.endpoint))
	if err := d.createStream(ctx); err != nil {
		return err
	}
	defer d.kc.DeleteStream(context.WithoutCancel(ctx), &kinesis.DeleteStreamInput{StreamName: &d.stream})

	for i := 1; i <= d.opts.workers; i++ {
		if err := d.startWorker(ctx, fmt.Sprintf("worker-%d", i)); err != nil {
			d.stopAll()
			return err
		}
	}
	defer d.stopAll()

	var wg sync.WaitGroup
	viewCtx, stopView := context.WithCancel(ctx)
	wg.Go(func() { d.view(viewCtx) })
	defer func() { stopView(); wg.Wait() }()

	if err := d.produceAndDisrupt(ctx); err != nil {
		return err
	}
	d.logf("producer done: %d records; waiting for the workers to catch up", d.produced)
	deadline := time.Now().Add(60 * time.Second)
	for d.distinct() < d.produced && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
	}
	stopView()
	wg.Wait()
	d.stopAll()
	return d.summary()
}

func (d *demo) createStream(ctx context.Context) error {
	if _, err := d.kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &d.stream, ShardCount: aws.Int32(int32(d.opts.shards))}); err != nil {
		var inUse *types.ResourceInUseException
		if !errors.As(err, &inUse) {
			return fmt.Errorf("create stream: %w", err)
		}
		return fmt.Errorf("create stream: a stream named %s exists already on %s; delete it first", d.stream, d.endpoint)
	}
	err := kinesis.NewStreamExistsWaiter(d.kc).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: &d.stream}, time.Minute,
		func(o *kinesis.StreamExistsWaiterOptions) {
			o.MinDelay = 50 * time.Millisecond
			o.MaxDelay = 500 * time.Millisecond
		})
	if err != nil {
		return fmt.Errorf("wait for stream: %w", err)
	}
	d.logf("stream %s created with %d shards; starting %d worker processes (application %s)", d.stream, d.opts.shards, d.opts.workers, d.app)
	return nil
}

// startWorker runs this binary's demo-worker as a child process and reads its reports.
func (d *demo) startWorker(ctx context.Context, id string) error {
	p := &demoProc{id: id, state: "running", shards: map[string]bool{}}
	proc, err := d.group.Start(workerproc.Options{
		Args:   []string{"demo-worker", "--endpoint", d.endpoint, "--stream", d.stream, "--app", d.app, "--id", id, "--exit-with-parent"},
		Stderr: d.errOut,
		OnLine: func(line string) { d.report(p, line) },
	})
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	p.proc = proc
	d.mu.Lock()
	d.procs[id] = p
	d.mu.Unlock()
	return nil
}

// report handles one line from a worker.
func (d *demo) report(p *demoProc, line string) {
	ev, err := workerproc.ParseEvent(line)
	if err != nil {
		return
	}
	switch ev.Kind {
	case workerproc.Gained:
		d.mu.Lock()
		p.shards[ev.Shard] = true
		d.mu.Unlock()
	case workerproc.Lost:
		d.mu.Lock()
		delete(p.shards, ev.Shard)
		d.mu.Unlock()
	case workerproc.Batch:
		now := time.Now()
		d.mu.Lock()
		defer d.mu.Unlock()
		prev := d.owner[ev.Shard]
		if prev != "" && prev != p.id {
			if old := d.procs[prev]; old != nil && old.state != "running" {
				d.gaps = append(d.gaps, takeover{shard: ev.Shard, from: prev, to: p.id, why: old.state, gap: now.Sub(old.at)})
			}
		}
		d.owner[ev.Shard] = p.id
		d.lastBatch[ev.Shard] = now
		for _, id := range ev.IDs {
			if d.seen[id] == 0 {
				d.firstBy[id] = p.id
			}
			d.seen[id]++
			p.records++
		}
	}
}

func (d *demo) distinct() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

// produceAndDisrupt writes records at the configured rate and, on schedule, kills a worker,
// stops one gracefully and splits a shard.
func (d *demo) produceAndDisrupt(ctx context.Context) error {
	tick := 100 * time.Millisecond
	perTick := max(1, d.opts.rate/10)
	t := time.NewTicker(tick)
	defer t.Stop()
	killed, stopped, split := d.opts.killAt < 0, d.opts.stopAt < 0, d.opts.splitAt < 0
	start := time.Now()
	for time.Since(start) < d.opts.duration {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		el := time.Since(start)
		// The busiest running worker is the victim; if none holds a shard yet (a slow start),
		// the event waits for the next tick.
		if !killed && el >= d.opts.killAt {
			killed = d.signalBusiest(syscall.SIGKILL, "killed")
		}
		if !stopped && el >= d.opts.stopAt && el >= d.opts.killAt+time.Second {
			stopped = d.signalBusiest(syscall.SIGTERM, "stopped")
		}
		if !split && el >= d.opts.splitAt {
			split = true
			d.split(ctx)
		}
		if err := d.put(ctx, perTick); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) put(ctx context.Context, n int) error {
	d.mu.Lock()
	first := d.produced
	d.mu.Unlock()
	entries := make([]types.PutRecordsRequestEntry, n)
	for i := range entries {
		id := first + i
		entries[i] = types.PutRecordsRequestEntry{Data: []byte(strconv.Itoa(id)), PartitionKey: aws.String("user-" + strconv.Itoa(id%101))}
	}
	for len(entries) > 0 {
		out, err := d.kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &d.stream, Records: entries})
		if err != nil {
			return fmt.Errorf("put records: %w", err)
		}
		var retry []types.PutRecordsRequestEntry
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				retry = append(retry, entries[i])
			}
		}
		entries = retry
	}
	d.mu.Lock()
	d.produced = first + n
	d.mu.Unlock()
	return nil
}

// signalBusiest sends sig to the running worker that processes the most shards, if it processes
// any and another worker would be left running, and reports whether it did.
func (d *demo) signalBusiest(sig syscall.Signal, state string) bool {
	d.mu.Lock()
	var p *demoProc
	running, most := 0, 0
	for _, q := range d.sortedProcs() {
		if q.state != "running" {
			continue
		}
		running++
		if n := len(d.shardsOf(q)); n > most {
			p, most = q, n
		}
	}
	if p == nil || running < 2 {
		d.mu.Unlock()
		return false
	}
	shards := d.shardsOf(p)
	p.state, p.at = state, time.Now()
	id := p.id
	d.mu.Unlock()
	how := "SIGKILL: no goodbye, its leases expire"
	if sig == syscall.SIGTERM {
		how = "SIGTERM: graceful, it checkpoints and releases its leases"
	}
	d.logf("%s %s (%s); it was processing shards %s", state, id, how, strings.Join(shards, " "))
	p.proc.Signal(sig)
	return true
}

func (d *demo) split(ctx context.Context) {
	ls, err := d.kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &d.stream, ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	if err != nil || len(ls.Shards) == 0 {
		d.logf("split skipped: %v", err)
		return
	}
	s := ls.Shards[0]
	mid, ok := midHash(aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey))
	if !ok {
		return
	}
	if _, err := d.kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: &d.stream, ShardToSplit: s.ShardId, NewStartingHashKey: &mid}); err != nil {
		d.logf("split %s failed: %v", aws.ToString(s.ShardId), err)
		return
	}
	d.logf("split %s: its two children start only after it is read to the end", aws.ToString(s.ShardId))
}

// stopAll stops every worker gracefully (SIGTERM), killing by PID those still running after 25 s.
func (d *demo) stopAll() { d.group.Stop(25 * time.Second) }
