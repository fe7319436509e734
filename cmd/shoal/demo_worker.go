package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/kcl"
)

// runDemoWorker is one worker process of the demo: the consumer code an application would
// write. It reports to its parent on stdout, one line per event:
//
//	ready <worker>
//	batch <shard> <id>,<id>,...   (printed before the batch is checkpointed)
//	gained <shard> / lost <shard>
//
// SIGTERM shuts it down gracefully (finish the batch, checkpoint, release the leases).
func runDemoWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo-worker", "demo-worker --endpoint URL --stream NAME --app NAME --id ID", stderr)
	endpoint := fs.String("endpoint", "", "Kinesis and DynamoDB endpoint")
	stream := fs.String("stream", "", "stream name")
	app := fs.String("app", "", "application (lease table) name")
	id := fs.String("id", "", "worker id")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *endpoint == "" || *stream == "" || *app == "" || *id == "" {
		fs.Usage()
		return errUsage
	}
	var outMu sync.Mutex
	emit := func(format string, a ...any) {
		outMu.Lock()
		fmt.Fprintf(stdout, format+"\n", a...)
		outMu.Unlock()
	}
	cfg := endpointConfig(*endpoint)
	store, err := newLeaseStore(ctx, dynamodb.NewFromConfig(cfg), *app)
	if err != nil {
		return err
	}
	c, err := kcl.New(kcl.Config{
		StreamName: *stream, AppName: *app, WorkerID: *id,
		Kinesis: kinesis.NewFromConfig(cfg), Leases: store,
		InitialPosition:   kcl.TrimHorizon,
		Retrieval:         kcl.Polling{Interval: 100 * time.Millisecond},
		ShardSyncInterval: 5 * time.Second,
		Logger:            slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Hooks: kcl.Hooks{
			LeaseAcquired: func(shard string) { emit("gained %s", shard) },
			LeaseLost:     func(shard string, _ error) { emit("lost %s", shard) },
		},
	}, kcl.BatchProcessor(func(ctx context.Context, b kcl.Batch) error {
		ids := make([]string, len(b.Records))
		for i, r := range b.Records {
			ids[i] = string(r.Data)
		}
		emit("batch %s %s", b.ShardID, strings.Join(ids, ","))
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
	emit("ready %s", *id)
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
