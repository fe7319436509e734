package kclpeers

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shoal-go/shoal/kinesislocal"
)

// TestAdaptersSmoke checks, in about 15 s, that both adapters consume: a worker of each library
// processes every record of a 2-shard stream, checkpointing, and shuts down; held counts its
// leases. vmware's worker uses the 1 s setup loop (the default takes its first lease 30-90 s
// after Start).
func TestAdaptersSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := kinesislocal.New(kinesislocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, tc := range []struct {
		lib  library
		spec workerSpec
	}{
		{shoalLib{}, workerSpec{id: "s"}},
		{vmwareLib{}, workerSpec{id: "v", setupSync: true}},
	} {
		t.Run(tc.lib.name(), func(t *testing.T) {
			e := newEnv(srv, "smoke-"+tc.lib.name())
			if err := createStream(ctx, e.kc, e.stream, 2); err != nil {
				t.Fatal(err)
			}
			w, err := tc.lib.start(ctx, e, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			defer w.close()
			pctx, stop := context.WithCancel(ctx)
			var prod sync.WaitGroup
			prod.Go(func() { e.rec.produce(pctx, e.kc, e.stream, 10, 100*time.Millisecond) })
			if !waitUntil(ctx, 20*time.Second, func() bool { return len(e.rec.byWorker()) == 1 && e.rec.byWorker()[tc.spec.id] == 2 }) {
				t.Errorf("worker processes %v, want both shards", e.rec.byWorker())
			}
			if n := w.held(ctx); n != 2 {
				t.Errorf("held = %d, want 2", n)
			}
			stop()
			prod.Wait()
			e.rec.awaitAll(ctx, 10*time.Second)
			if dups, lost := e.rec.duplicates(); lost != 0 || dups != 0 {
				t.Errorf("%d duplicates, %d lost; want none", dups, lost)
			}
			sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
			defer scancel()
			if err := w.shutdown(sctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if e.ctr.writes.Load() == 0 {
				t.Errorf("no DynamoDB writes counted")
			}
		})
	}
}
