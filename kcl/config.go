package kcl

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/shoal-go/shoal/lease"
)

// Defaults: the values zero fields of Config, Polling and FanOut take.
const (
	DefaultShardSyncInterval = 30 * time.Second // Config.ShardSyncInterval
	// DefaultCheckpointInterval is Config.CheckpointInterval: Kafka's auto.commit.interval.ms
	// and franz-go's AutoCommitInterval default to the same 5s. It bounds lease-table writes to
	// 12 per busy shard per minute (a per-batch write at 250ms polling can be 240) and a crash's
	// replay to about 5s of records, the same order as the failover itself (LeaseDuration 3s
	// plus a heartbeat) during which nothing of the shard is processed.
	DefaultCheckpointInterval = 5 * time.Second
	DefaultRetryBase          = time.Second      // Config.RetryBase: processor retries
	DefaultRetryMax           = 30 * time.Second // Config.RetryMax

	DefaultPollingLimit      = 10000                  // Polling.Limit: records per GetRecords
	DefaultPollingInterval   = 250 * time.Millisecond // Polling.Interval
	DefaultPollingIdle       = time.Second            // Polling.IdleInterval (at least Interval)
	DefaultPollingMaxRetries = 10                     // Polling.MaxRetries
	DefaultPollingRetryBase  = 100 * time.Millisecond // Polling.RetryBase
	DefaultPollingRetryMax   = 5 * time.Second        // Polling.RetryMax

	DefaultFanOutRetryBase  = 200 * time.Millisecond // FanOut.RetryBase
	DefaultFanOutRetryMax   = 5 * time.Second        // FanOut.RetryMax
	DefaultFanOutMaxRetries = 10                     // FanOut.MaxRetries
)

// Config configures a Consumer. Zero fields take the defaults shown; New validates the Config,
// reports every problem at once and never modifies the caller's struct.
type Config struct {
	// StreamName or StreamARN names the stream (one is required; StreamARN wins if both are set).
	StreamName, StreamARN string
	// Kinesis is the Kinesis client, e.g. kinesis.NewFromConfig(cfg). Required. With FanOut
	// retrieval it must also implement FanOutAPI (*kinesis.Client does).
	Kinesis KinesisAPI
	// Leases is the lease store, e.g. dynamolease.New(...) over DynamoDB, or memlease for tests.
	// Required. Every worker of one application must use the same table.
	Leases lease.Store
	// AppName names the application; it is the default FanOut consumer name. Default: the
	// stream name.
	AppName string
	// WorkerID names this process in the lease table; it must be unique among running workers.
	// Default: hostname-pid-random.
	WorkerID string
	// InitialPosition is where shards without a checkpoint start. Default Latest.
	InitialPosition InitialPosition
	// Retrieval is Polling{...} (default) or FanOut{...}.
	Retrieval Retrieval
	// Lease holds the lease protocol's timings; zero fields take lease.Config's defaults
	// (1s heartbeat, 3s lease duration: a dead worker's shards move in about 4s).
	Lease LeaseTimings
	// ShardSyncInterval is how often the shard list is read to create leases for new shards and
	// delete finished ones. Reshards are also noticed at once through ChildShards. Default 30s.
	ShardSyncInterval time.Duration
	// HashRangeFilter drops de-aggregated sub-records whose hash key is outside the shard's range
	// (each one alone, never its neighbours). Turn it on only with producers that re-put such
	// records to the right shard, as the KPL and Shoal's kpl do; otherwise it loses them.
	// Default false: such sub-records are delivered (a possible duplicate, never a loss).
	HashRangeFilter bool
	// CheckpointInterval coalesces checkpoint writes per shard: Shard.Checkpoint records the
	// position at once and it is written to the lease table at most once per interval, and
	// always before a handoff, Shutdown, SHARD_END or a processor retry (see Shard.Checkpoint);
	// nothing is written when the position did not move. After a crash or a hard stop the
	// next owner replays the records checkpointed in the last interval at most. Shard.Flush
	// writes at once. CheckpointWriteThrough (negative) writes on every Checkpoint call.
	// Default 5s (DefaultCheckpointInterval).
	CheckpointInterval time.Duration
	// RetryBase and RetryMax bound the backoff before a failed processor is run again from the
	// last checkpoint. Defaults 1s and 30s.
	RetryBase, RetryMax time.Duration
	// Hooks are optional callbacks for metrics.
	Hooks Hooks
	// Logger receives consumer events with keys shard, worker, stream: start, shutdown and lease
	// changes at Info, failures that are retried at Warn. Default: slog.Default(). To discard,
	// pass slog.New(slog.DiscardHandler).
	Logger *slog.Logger
}

// LeaseTimings are the lease protocol's settings; see lease.Config for their meaning. Zero
// fields take lease.Config's defaults.
type LeaseTimings struct {
	HeartbeatInterval, HeartbeatTimeout, LeaseDuration, SafetyMargin time.Duration
	WorkerScanInterval, ScanInterval, HandoffTimeout                 time.Duration
	MaxLeasesPerWorker, MaxStealsPerCycle                            int
}

// withDefaults returns a copy of c with defaults applied, or every problem found.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.StreamName == "" && c.StreamARN == "" {
		errs = append(errs, errors.New("kcl: Config.StreamName or Config.StreamARN is required"))
	}
	if c.Kinesis == nil {
		errs = append(errs, errors.New("kcl: Config.Kinesis is required"))
	}
	if c.Leases == nil {
		errs = append(errs, errors.New("kcl: Config.Leases is required"))
	}
	if c.AppName == "" {
		c.AppName = c.StreamName
		if c.AppName == "" {
			c.AppName = "shoal"
		}
	}
	if c.WorkerID == "" {
		c.WorkerID = defaultWorkerID()
	}
	if c.InitialPosition.sentinel == "" {
		c.InitialPosition = Latest
	}
	if c.InitialPosition.sentinel == lease.AtTimestamp && c.InitialPosition.ts.IsZero() {
		errs = append(errs, errors.New("kcl: Config.InitialPosition AtTimestamp needs a non-zero time"))
	}
	switch r := c.Retrieval.(type) {
	case nil:
		c.Retrieval = Polling{}.withDefaults()
	case Polling:
		errs = append(errs, r.validate())
		c.Retrieval = r.withDefaults()
	case FanOut:
		errs = append(errs, r.validate())
		c.Retrieval = r.withDefaults(c.AppName)
		if _, ok := c.Kinesis.(FanOutAPI); c.Kinesis != nil && !ok {
			errs = append(errs, errors.New("kcl: FanOut retrieval needs a Kinesis client that implements FanOutAPI"))
		}
	}
	if c.ShardSyncInterval == 0 {
		c.ShardSyncInterval = DefaultShardSyncInterval
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	} else if c.CheckpointInterval < 0 {
		c.CheckpointInterval = CheckpointWriteThrough
	}
	if c.RetryBase == 0 {
		c.RetryBase = DefaultRetryBase
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.ShardSyncInterval < 0 || c.RetryBase < 0 || c.RetryMax < c.RetryBase {
		errs = append(errs, fmt.Errorf("kcl: ShardSyncInterval %v, RetryBase %v, RetryMax %v: want positive durations and base <= max",
			c.ShardSyncInterval, c.RetryBase, c.RetryMax))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, errors.Join(errs...)
}

func defaultWorkerID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "worker"
	}
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Retrieval selects how records are read: Polling (GetRecords) or FanOut (SubscribeToShard).
// It is a sealed interface: only this package's types implement it.
type Retrieval interface{ retrieval() }

// Polling reads with GetRecords. Zero fields take the defaults shown.
type Polling struct {
	// Limit is GetRecords' Limit: records per call (1..10000). Default 10000.
	Limit int
	// Interval is the time from one GetRecords call on a shard to the next when the previous
	// call returned records and the reader is caught up (MillisBehindLatest 0 and the page not
	// full), or returned the first empty page. While the reader is behind or the page was full,
	// the next call follows at once. Default 250ms.
	Interval time.Duration
	// IdleInterval is the longest time between calls on an idle shard: from the second
	// consecutive empty page on, the wait doubles from Interval up to IdleInterval, and the
	// first page with records returns to Interval. An idle shard then costs 1/IdleInterval
	// calls per second (AWS allows 5 GetRecords per second per shard, shared by every
	// application reading the stream), and a record arriving at an idle shard waits at most
	// IdleInterval before it is read. Default 1s, or Interval if that is longer; it may not be
	// set below Interval. Set it equal to Interval to poll at a fixed rate.
	IdleInterval time.Duration
	// MaxRetries is how many consecutive failures that are not throttling (network errors,
	// 5xx after the SDK's own retries) a shard reader tolerates before it gives the shard up;
	// throttling is retried without limit. Default 10.
	MaxRetries int
	// RetryBase and RetryMax bound the exponential backoff with full jitter used after
	// throttling and failures. Defaults 100ms and 5s.
	RetryBase, RetryMax time.Duration
}

func (Polling) retrieval() {}

func (p Polling) withDefaults() Polling {
	if p.Limit == 0 {
		p.Limit = DefaultPollingLimit
	}
	if p.Interval == 0 {
		p.Interval = DefaultPollingInterval
	}
	if p.IdleInterval == 0 {
		p.IdleInterval = max(DefaultPollingIdle, p.Interval)
	}
	if p.MaxRetries == 0 {
		p.MaxRetries = DefaultPollingMaxRetries
	}
	if p.RetryBase == 0 {
		p.RetryBase = DefaultPollingRetryBase
	}
	if p.RetryMax == 0 {
		p.RetryMax = DefaultPollingRetryMax
	}
	return p
}

func (p Polling) validate() error {
	var errs []error
	if p.Limit < 0 || p.Limit > 10000 {
		errs = append(errs, fmt.Errorf("kcl: Polling.Limit %d is outside 1..10000", p.Limit))
	}
	if p.Interval < 0 {
		errs = append(errs, fmt.Errorf("kcl: Polling.Interval %v is negative", p.Interval))
	}
	interval := p.Interval
	if interval == 0 {
		interval = DefaultPollingInterval
	}
	if p.IdleInterval < 0 || (p.IdleInterval > 0 && p.IdleInterval < interval) {
		errs = append(errs, fmt.Errorf("kcl: Polling.IdleInterval %v: want 0 (default) or at least Interval", p.IdleInterval))
	}
	if p.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("kcl: Polling.MaxRetries %d is negative", p.MaxRetries))
	}
	if p.RetryBase < 0 || p.RetryMax < 0 || (p.RetryMax > 0 && p.RetryBase > p.RetryMax) {
		errs = append(errs, fmt.Errorf("kcl: Polling.RetryBase %v / RetryMax %v: want 0 <= base <= max", p.RetryBase, p.RetryMax))
	}
	return errors.Join(errs...)
}
