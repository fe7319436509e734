package kclpeers

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shoal-go/shoal/kinesislocal"
)

// env is one scenario's stream, lease table and harness clients (not counted, never cut).
type env struct {
	srv         *kinesislocal.Server
	kc          *kinesis.Client
	db          *dynamodb.Client
	stream, app string
	rec         *recorder
	ctr         *counts
}

func newEnv(srv *kinesislocal.Server, name string) *env {
	cfg := srv.AWSConfig()
	return &env{srv: srv, kc: kinesis.NewFromConfig(cfg), db: dynamodb.NewFromConfig(cfg),
		stream: name, app: name + "-app", rec: newRecorder(), ctr: &counts{}}
}

// workerSpec says how to start one worker. Fields a library has no equivalent for are ignored.
type workerSpec struct {
	id string
	// setupSync (vmware only): shard sync loop every 1 s (+/-50%) instead of the default 60 s, for
	// workers whose loop is not what is measured (the worker that must hold leases before the
	// measurement starts); vmware takes at most one lease per loop.
	setupSync bool
	maxLeases int  // 0: the library's default
	stealing  bool // vmware only: WithLeaseStealing(true) (default false)
}

// library starts workers of one consumer library.
type library interface {
	name() string
	start(ctx context.Context, e *env, spec workerSpec) (worker, error)
}

// worker is one running consumer.
type worker interface {
	// crash cuts the worker's network and stops it without any release: what the lease table
	// sees of a SIGKILL.
	crash()
	// shutdown stops the worker gracefully; it returns when the library's shutdown returned or ctx
	// ended.
	shutdown(ctx context.Context) error
	// held counts the leases the worker holds.
	held(ctx context.Context) int
	// close stops the worker at the end of a scenario (bounded; a crashed worker is abandoned).
	close()
}
