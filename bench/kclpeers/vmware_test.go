package kclpeers

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
	"github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"
	vkcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"
	vworker "github.com/vmware/vmware-go-kcl-v2/clientlibrary/worker"
	"github.com/vmware/vmware-go-kcl-v2/logger"
)

// vmwareLib runs github.com/vmware/vmware-go-kcl-v2 v1.0.0 at its defaults, with the Kinesis and
// DynamoDB clients injected (WithKinesis, WithCheckpointer(NewDynamoCheckpoint(cfg).WithDynamoDB))
// so it uses the same in-process transport as Shoal.
type vmwareLib struct{}

func (vmwareLib) name() string { return "vmware" }

func (vmwareLib) start(_ context.Context, e *env, spec workerSpec) (worker, error) {
	awsCfg, tr := workerConfig(e.srv, e.ctr)
	cfg := config.NewKinesisClientLibConfigWithCredential(e.app, e.stream, awsCfg.Region, spec.id, awsCfg.Credentials).
		WithInitialPositionInStream(config.TRIM_HORIZON).
		WithLogger(quietLogger{})
	if spec.setupSync {
		cfg = cfg.WithShardSyncIntervalMillis(1000)
	}
	if spec.maxLeases > 0 {
		cfg = cfg.WithMaxLeasesForWorker(spec.maxLeases)
	}
	if spec.stealing {
		cfg = cfg.WithLeaseStealing(true)
	}
	ck := checkpoint.NewDynamoCheckpoint(cfg).WithDynamoDB(dynamodb.NewFromConfig(awsCfg))
	w := vworker.NewWorker(vmFactory{id: spec.id, rec: e.rec}, cfg).
		WithKinesis(kinesis.NewFromConfig(awsCfg)).WithCheckpointer(ck)
	// Start creates the lease table if it is missing (check then create: two workers starting at
	// once race and one fails), then starts the event loop and returns.
	if err := w.Start(); err != nil {
		return nil, err
	}
	return &vmWorker{w: w, tr: tr, e: e, id: spec.id}, nil
}

type vmWorker struct {
	w       *vworker.Worker
	tr      *workerTransport
	e       *env
	id      string
	once    sync.Once
	stopped chan struct{}
	crashed bool
}

// crash cuts the network. vmware has no stop without release (Shutdown is its only stop, and it
// releases every lease), so the worker's goroutines are abandoned: they fail every request and
// end with the test binary.
func (w *vmWorker) crash() {
	w.tr.cut.Store(true)
	w.crashed = true
}

// shutdown runs vmware's Shutdown (it takes no context and has no timeout) in a goroutine.
func (w *vmWorker) shutdown(ctx context.Context) error {
	w.once.Do(func() {
		w.stopped = make(chan struct{})
		go func() { w.w.Shutdown(); close(w.stopped) }()
	})
	select {
	case <-w.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// held counts the lease rows assigned to this worker whose LeaseTimeout is in the future.
func (w *vmWorker) held(ctx context.Context) int {
	out, err := w.e.db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(w.e.app), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0
	}
	n := 0
	for _, it := range out.Items {
		owner, _ := it["AssignedTo"].(*dtypes.AttributeValueMemberS)
		to, _ := it["LeaseTimeout"].(*dtypes.AttributeValueMemberS)
		if owner == nil || to == nil || owner.Value != w.id {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, to.Value); err == nil && t.After(time.Now()) {
			n++
		}
	}
	return n
}

func (w *vmWorker) close() {
	if w.crashed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.shutdown(ctx)
}

// vmFactory makes one processor per shard; each checkpoints after every batch, like Shoal's
// BatchProcessor.
type vmFactory struct {
	id  string
	rec *recorder
}

func (f vmFactory) CreateProcessor() vkcl.IRecordProcessor { return &vmProcessor{id: f.id, rec: f.rec} }

type vmProcessor struct {
	id, shard string
	rec       *recorder
	last      *string
}

func (p *vmProcessor) Initialize(in *vkcl.InitializationInput) { p.shard = in.ShardId }

func (p *vmProcessor) ProcessRecords(in *vkcl.ProcessRecordsInput) {
	if len(in.Records) == 0 {
		return
	}
	data := make([][]byte, len(in.Records))
	for i, r := range in.Records {
		data[i] = r.Data
	}
	p.rec.processed(p.id, p.shard, data)
	p.last = in.Records[len(in.Records)-1].SequenceNumber
	in.Checkpointer.Checkpoint(p.last)
}

func (p *vmProcessor) Shutdown(in *vkcl.ShutdownInput) {
	switch in.ShutdownReason {
	case vkcl.TERMINATE:
		in.Checkpointer.Checkpoint(nil) // SHARD_END, or the children never start
	case vkcl.REQUESTED:
		if p.last != nil {
			in.Checkpointer.Checkpoint(p.last)
		}
	}
}

// quietLogger discards vmware's logging (its configured logger; renewLease logs through the
// global logrus logger, silenced in TestMain).
type quietLogger struct{}

func (quietLogger) Debugf(string, ...interface{})            {}
func (quietLogger) Infof(string, ...interface{})             {}
func (quietLogger) Warnf(string, ...interface{})             {}
func (quietLogger) Errorf(string, ...interface{})            {}
func (quietLogger) Fatalf(string, ...interface{})            {}
func (quietLogger) Panicf(string, ...interface{})            {}
func (q quietLogger) WithFields(logger.Fields) logger.Logger { return q }
