package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/internal/workerproc"
	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/lease"
)

// runDemoWorker is one worker process of the demo and of `shoal bench leases --fleet`: the
// consumer code an application would write (kcl.BatchProcessor: process, then checkpoint, every
// batch). It reports to its parent on stdout in the workerproc protocol (ready, batch, gained,
// lost, owned, failed). SIGTERM shuts it down gracefully (finish the batch, checkpoint, release
// the leases); with --exit-with-parent it exits at once when its stdin closes (its parent is gone).
func runDemoWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo-worker", "demo-worker --endpoint URL --stream NAME --app NAME --id ID [--dynamodb-endpoint URL] [--kcl-defaults]", stderr)
	endpoint := fs.String("endpoint", "", "Kinesis endpoint (and DynamoDB unless --dynamodb-endpoint)")
	dynamoEndpoint := fs.String("dynamodb-endpoint", "", "DynamoDB endpoint for the lease table (default --endpoint)")
	stream := fs.String("stream", "", "stream name")
	app := fs.String("app", "", "application (lease table) name")
	id := fs.String("id", "", "worker id")
	withParent := fs.Bool("exit-with-parent", false, "exit at once when stdin closes (for the parent that started this worker with a pipe)")
	defaults := fs.Bool("kcl-defaults", false, "kcl's default polling interval and shard sync interval (default: the demo's quicker 100ms and 5s)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *endpoint == "" || *stream == "" || *app == "" || *id == "" {
		fs.Usage()
		return errUsage
	}
	if *dynamoEndpoint == "" {
		*dynamoEndpoint = *endpoint
	}
	if *withParent {
		workerproc.ExitWithParent()
	}
	rep := workerproc.NewReporter(stdout)
	store, err := newLeaseStore(ctx, dynamodb.NewFromConfig(endpointConfig(*dynamoEndpoint)), *app)
	if err != nil {
		return err
	}
	cfg := kcl.Config{
		StreamName: *stream, AppName: *app, WorkerID: *id,
		Kinesis: kinesis.NewFromConfig(endpointConfig(*endpoint)), Leases: store,
		InitialPosition:   kcl.TrimHorizon,
		Retrieval:         kcl.Polling{Interval: 100 * time.Millisecond},
		ShardSyncInterval: 5 * time.Second,
		Logger:            slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Hooks: kcl.Hooks{
			LeaseAcquired: rep.Gained,
			LeaseLost: func(shard string, cause error) {
				c := workerproc.CauseLeaseLost
				if errors.Is(cause, lease.ErrShutdown) {
					c = workerproc.CauseShutdown
				}
				rep.Lost(shard, c)
			},
			ProcessorFailed: func(shard string, _ error, attempt int, _ time.Duration) { rep.Failed(shard, attempt) },
		},
	}
	if *defaults {
		cfg.Retrieval, cfg.ShardSyncInterval = nil, 0
	}
	c, err := kcl.New(cfg, kcl.BatchProcessor(func(ctx context.Context, b kcl.Batch) error {
		data := make([][]byte, len(b.Records))
		for i, r := range b.Records {
			data[i] = r.Data
		}
		rep.Batch(b.ShardID, data)
		return nil
	}))
	if err != nil {
		return err
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() { defer close(watched); reportOwned(watchCtx, c, rep) }()
	defer func() { stopWatch(); <-watched }()
	rep.Ready(*id)
	select {
	case err := <-done:
		return err
	case <-term:
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	if err := c.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return <-done
}

// reportOwned reports the consumer's set of processed shards whenever it changes (checked every
// 50ms) until ctx ends.
func reportOwned(ctx context.Context, c *kcl.Consumer, rep *workerproc.Reporter) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var last []string
	first := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := c.Stats()
		now := make([]string, 0, len(st.Shards))
		for s := range st.Shards {
			now = append(now, s)
		}
		slices.Sort(now)
		if first || !slices.Equal(now, last) {
			rep.Owned(now)
			last, first = now, false
		}
	}
}
