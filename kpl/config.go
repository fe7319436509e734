package kpl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// KinesisAPI is the part of the Kinesis API the producer calls. *kinesis.Client
// satisfies it. Implementations must be safe for concurrent use: the producer
// calls PutRecords from up to Config.MaxInFlight goroutines at once. Like
// io.Writer's Write, PutRecords must not keep in.Records or their Data after
// it returns: the producer reuses its aggregate buffers.
type KinesisAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

// Defaults of the zero Config fields.
const (
	DefaultLinger             = 100 * time.Millisecond // the KPL's RecordMaxBufferedTime
	DefaultRecordTTL          = 30 * time.Second       // the KPL's RecordTtl
	DefaultMaxInFlight        = 8
	DefaultMaxBufferedRecords = 100_000
	DefaultMaxBufferedBytes   = 64 << 20
	DefaultAggregationMaxSize = 50 << 10 // the KPL's AggregationMaxSize (51,200 bytes)
	DefaultBatchMaxRecords    = 500      // PutRecords limit
	DefaultBatchMaxBytes      = 5 << 20  // PutRecords request cap, partition keys included
	DefaultMaxRecordSize      = 1 << 20  // Kinesis record limit, data plus partition key
	DefaultShardBytesPerSec   = 1 << 20  // Kinesis per-shard write limit
	DefaultShardRecordsPerSec = 1000     // Kinesis per-shard write limit
	DefaultRateLimit          = 100      // percent of the shard limits
	DefaultRetryBackoff       = 100 * time.Millisecond
	DefaultMaxRetryBackoff    = 5 * time.Second
	DefaultRequestTimeout     = 10 * time.Second
)

// Config configures a Producer. Zero fields take the documented defaults; New
// never modifies the caller's Config.
type Config struct {
	// Client is the Kinesis client. Required.
	Client KinesisAPI
	// StreamName or StreamARN names the stream; at least one is required. When
	// both are set, both are sent (AWS requires that they agree).
	StreamName, StreamARN string

	// Linger is how long a record may wait in the buffer for others to share
	// its PutRecords request or aggregate: the KPL's RecordMaxBufferedTime.
	// Requests also leave early when full. Default 100 ms; negative means 0.
	Linger time.Duration
	// MaxInFlight caps concurrent PutRecords requests. Default 8.
	MaxInFlight int
	// MaxBufferedRecords and MaxBufferedBytes bound the records accepted but
	// not yet completed; Put blocks (back-pressure) while either is reached.
	// Defaults 100,000 records and 64 MiB.
	MaxBufferedRecords, MaxBufferedBytes int
	// BatchMaxRecords and BatchMaxBytes cap one PutRecords request (entries,
	// and data plus partition keys). Defaults and maxima: 500 and 5 MiB.
	BatchMaxRecords, BatchMaxBytes int
	// MaxRecordSize is the largest Kinesis record (data plus partition key)
	// the stream accepts. Default 1 MiB; set up to 10 MiB for streams whose
	// MaxRecordSizeInKiB was raised.
	MaxRecordSize int

	// DisableAggregation sends every user record as its own Kinesis record.
	// Aggregation (the KPL format, package aggregate) is on by default and is
	// turned off automatically when the stream's RecordDistributionStrategy
	// is AUTO or the shard map cannot be read.
	DisableAggregation bool
	// AggregationMaxSize caps an aggregated record (protobuf, magic and MD5).
	// Records larger than it are sent alone. Default 50 KiB like the KPL;
	// maximum MaxRecordSize-1.
	AggregationMaxSize int

	// ShardBytesPerSec and ShardRecordsPerSec are the per-shard write limits
	// the rate limiter paces each predicted shard to, scaled by RateLimit.
	// Defaults 1 MiB/s and 1000 records/s, AWS's limits. An aggregated record
	// counts as one record and its full size in bytes.
	ShardBytesPerSec, ShardRecordsPerSec int
	// RateLimit is the percentage of the shard limits to pace to. Default
	// 100. The KPL uses 150 and relies on retries; 100 avoids throttling when
	// this producer is the shard's only writer.
	RateLimit int
	// DisableRateLimit turns the per-shard limiter off; throttled records are
	// still retried with backoff.
	DisableRateLimit bool

	// RecordTTL bounds the time from Put to completion. A record not written
	// by then completes with an error wrapping ErrExpired. Default 30 s like
	// the KPL's RecordTtl.
	RecordTTL time.Duration
	// RetryBackoff is the first backoff after a throttled or failed attempt;
	// it doubles per consecutive failure of the shard up to MaxRetryBackoff,
	// with jitter. Defaults 100 ms and 5 s.
	RetryBackoff, MaxRetryBackoff time.Duration
	// RequestTimeout bounds one PutRecords call. Default 10 s. A request that
	// timed out may have been written: retrying it can duplicate records.
	RequestTimeout time.Duration

	// Ordered keeps records of one partition key in Put order through retries:
	// a key is in at most one in-flight request and in at most one entry of a
	// request, and retried records go before newer ones. It lowers the
	// throughput of a single hot key to one request (one aggregate) per round
	// trip. Default false: a retried record may land after newer records of
	// its key, as with the KPL.
	Ordered bool

	// Compression compresses each record's data before aggregation when that
	// makes it smaller; consumers undo it with Decompress. Default
	// CompressionNone.
	Compression Compression

	// Hooks are optional callbacks for metrics.
	Hooks Hooks
	// Logger receives shard map changes and request failures. nil discards.
	Logger *slog.Logger
}

// Hooks are optional metrics callbacks. They run on producer goroutines, never
// with a lock held, and must return quickly; they may be called concurrently.
type Hooks struct {
	// RequestDone is called after each PutRecords call.
	RequestDone func(RequestInfo)
	// Throttled is called once per throttled Kinesis record (entry).
	Throttled func(shardID string)
	// ShardMapUpdated is called after the shard map is (re)read: the number of
	// open shards and whether shard-predicted aggregation is in use.
	ShardMapUpdated func(openShards int, aggregating bool)
}

// RequestInfo describes one PutRecords call, for Hooks.RequestDone.
type RequestInfo struct {
	Entries     int // Kinesis records in the request
	UserRecords int // user records carried
	Bytes       int // data plus partition keys
	Failed      int // entries that failed (retried or not)
	Throttled   int // entries failed with ProvisionedThroughputExceededException
	Latency     time.Duration
	Err         error // the request's error, if the whole call failed
}

// Compression selects the payload compression; see Config.Compression.
type Compression int

const (
	// CompressionNone sends data as given.
	CompressionNone Compression = iota
	// CompressionGzip gzips data, prefixed with CompressedMagic.
	CompressionGzip
)

// settings is a validated Config with defaults filled in.
type settings struct {
	Config
	aggregate bool
	logger    *slog.Logger
}

func (c Config) withDefaults() (settings, error) {
	var errs []error
	s := settings{Config: c}
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("kpl: "+format, a...)) }
	if c.Client == nil {
		bad("Client is nil")
	}
	if c.StreamName == "" && c.StreamARN == "" {
		bad("StreamName and StreamARN are both empty")
	}
	def := func(v *int, d int, name string, max int) {
		switch {
		case *v < 0:
			bad("%s %d is negative", name, *v)
		case *v == 0:
			*v = d
		case max > 0 && *v > max:
			bad("%s %d is above the maximum %d", name, *v, max)
		}
	}
	defDur := func(v *time.Duration, d time.Duration, name string) {
		switch {
		case *v < 0:
			bad("%s %v is negative", name, *v)
		case *v == 0:
			*v = d
		}
	}
	if s.Linger == 0 {
		s.Linger = DefaultLinger
	} else if s.Linger < 0 {
		s.Linger = 0
	}
	def(&s.MaxInFlight, DefaultMaxInFlight, "MaxInFlight", 0)
	def(&s.MaxBufferedRecords, DefaultMaxBufferedRecords, "MaxBufferedRecords", 0)
	def(&s.MaxBufferedBytes, DefaultMaxBufferedBytes, "MaxBufferedBytes", 0)
	def(&s.BatchMaxRecords, DefaultBatchMaxRecords, "BatchMaxRecords", DefaultBatchMaxRecords)
	def(&s.BatchMaxBytes, DefaultBatchMaxBytes, "BatchMaxBytes", 10<<20)
	def(&s.MaxRecordSize, DefaultMaxRecordSize, "MaxRecordSize", 10<<20)
	def(&s.AggregationMaxSize, DefaultAggregationMaxSize, "AggregationMaxSize", 0)
	def(&s.ShardBytesPerSec, DefaultShardBytesPerSec, "ShardBytesPerSec", 0)
	def(&s.ShardRecordsPerSec, DefaultShardRecordsPerSec, "ShardRecordsPerSec", 0)
	def(&s.RateLimit, DefaultRateLimit, "RateLimit", 0)
	defDur(&s.RecordTTL, DefaultRecordTTL, "RecordTTL")
	defDur(&s.RetryBackoff, DefaultRetryBackoff, "RetryBackoff")
	defDur(&s.MaxRetryBackoff, DefaultMaxRetryBackoff, "MaxRetryBackoff")
	defDur(&s.RequestTimeout, DefaultRequestTimeout, "RequestTimeout")
	if s.AggregationMaxSize >= s.MaxRecordSize {
		bad("AggregationMaxSize %d must be below MaxRecordSize %d", s.AggregationMaxSize, s.MaxRecordSize)
	}
	if s.MaxRecordSize > s.BatchMaxBytes {
		bad("MaxRecordSize %d is above BatchMaxBytes %d", s.MaxRecordSize, s.BatchMaxBytes)
	}
	if s.MaxBufferedBytes < s.MaxRecordSize {
		bad("MaxBufferedBytes %d is below MaxRecordSize %d", s.MaxBufferedBytes, s.MaxRecordSize)
	}
	if s.MaxRetryBackoff < s.RetryBackoff {
		bad("MaxRetryBackoff %v is below RetryBackoff %v", s.MaxRetryBackoff, s.RetryBackoff)
	}
	if c.Compression != CompressionNone && c.Compression != CompressionGzip {
		bad("unknown Compression %d", c.Compression)
	}
	if err := errors.Join(errs...); err != nil {
		return settings{}, err
	}
	s.aggregate = !s.DisableAggregation
	s.logger = s.Logger
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s, nil
}
