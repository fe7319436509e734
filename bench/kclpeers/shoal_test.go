package kclpeers

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/kcl"
	"github.com/shoal-go/shoal/lease/dynamolease"
)

// shoalLib runs Shoal's kcl over dynamolease at their defaults.
type shoalLib struct{}

func (shoalLib) name() string { return "shoal" }

func (shoalLib) start(ctx context.Context, e *env, spec workerSpec) (worker, error) {
	cfg, tr := workerConfig(e.srv, e.ctr)
	store, err := dynamolease.New(dynamodb.NewFromConfig(cfg), dynamolease.Options{Table: e.app})
	if err != nil {
		return nil, err
	}
	id := spec.id
	c, err := kcl.New(kcl.Config{StreamName: e.stream, Kinesis: kinesis.NewFromConfig(cfg), Leases: store,
		WorkerID: id, InitialPosition: kcl.TrimHorizon, Lease: kcl.LeaseTimings{MaxLeasesPerWorker: spec.maxLeases}},
		kcl.BatchProcessor(func(_ context.Context, b kcl.Batch) error {
			data := make([][]byte, len(b.Records))
			for i, r := range b.Records {
				data[i] = r.Data
			}
			e.rec.processed(id, b.ShardID, data)
			return nil
		}))
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &shoalWorker{c: c, tr: tr, cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- c.Run(rctx) }()
	return w, nil
}

type shoalWorker struct {
	c      *kcl.Consumer
	tr     *workerTransport
	cancel context.CancelFunc
	done   chan error
}

// crash cuts the network, then cancels Run: a hard stop that releases nothing.
func (w *shoalWorker) crash() {
	w.tr.cut.Store(true)
	w.cancel()
}

func (w *shoalWorker) shutdown(ctx context.Context) error { return w.c.Shutdown(ctx) }

func (w *shoalWorker) held(context.Context) int { return w.c.Stats().Leases.Held }

func (w *shoalWorker) close() {
	w.cancel()
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
	}
}
