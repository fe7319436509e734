// Package kpl is a Kinesis Data Streams producer: it batches records into
// PutRecords requests, aggregates them in the KPL format (package aggregate)
// one aggregate per predicted shard, paces each shard to its write limits and
// retries failures, and reports a per-record result.
//
// # Lifecycle
//
//	p, err := kpl.New(kpl.Config{Client: kinesis.NewFromConfig(cfg), StreamName: "orders"})
//	err = p.Put(ctx, kpl.Record{PartitionKey: id, Data: b}, func(r kpl.Result, err error) { ... })
//	results, err := p.PutSync(ctx, records...)  // blocks until each record completed
//	err = p.Flush(ctx)                           // send now, wait for what was put before
//	err = p.Close(ctx)                           // drain, stop; on ctx end, fail the rest
//
// New starts the producer's goroutines and reads the shard map in the
// background (DescribeStreamSummary, then ListShards with ShardFilter
// AT_LATEST, or an unfiltered listing filtered to open shards when the
// server refuses the filter). Close waits for all of them.
//
// # Guarantees
//
//   - Every record Put accepts (Put returned nil) completes exactly once: its
//     callback gets a Result (shard, sequence number, sub-sequence number,
//     whether it was aggregated) or an error. Nothing is dropped silently: not
//     on errors, not on Close (if Close's ctx ends first, the remaining
//     records fail with an error wrapping ErrClosed).
//   - Invalid records (partition key empty, over 256 characters or not
//     UTF-8; invalid explicit hash key; data plus key over MaxRecordSize) are
//     refused by Put with ErrInvalidRecord and never reach Kinesis, so they
//     cannot fail a batch.
//   - Delivery is at least once: a request that timed out or failed at the
//     network level is retried and may already have been written.
//   - Per-record failures (throttling, InternalFailure) and retryable call
//     failures are retried with exponential backoff and jitter per shard,
//     until Config.RecordTTL; then the record fails with ErrExpired, wrapping
//     the last error. Errors that cannot succeed later (stream not found,
//     access denied, validation) fail the record at once with a *PutError.
//   - With Config.Ordered, records of one partition key are stored in Put
//     order even through retries. Without it, a retried record can land after
//     newer records of its key (as with the KPL).
//
// # Aggregation
//
// Aggregation is on by default. Records are grouped by the shard their hash
// key falls in, per the shard map, and each aggregate holds records of one
// shard only, with correct partition-key and explicit-hash-key tables (every
// sub-record keeps its own keys). The aggregate is sent with partition key
// "a" and, as explicit hash key, the first sub-record's hash key, which lies
// in the predicted shard's range, so the aggregate lands on that shard and a
// consumer filtering sub-records by the shard's hash range (like the Java KCL)
// keeps them all. A container of one record is sent raw. Aggregates are at
// most AggregationMaxSize (default 50 KiB, the KPL's default); larger records
// go alone. A record landing on a shard other than the predicted one (after
// a reshard) triggers a shard map refresh. When the stream's
// RecordDistributionStrategy is AUTO, or the shard map cannot be read,
// records are sent raw and without per-shard pacing.
//
// After a reshard the map is stale until refreshed: an aggregate built for a
// parent shard lands on the child holding its first record's hash key. Like
// the KPL, the producer then refreshes the map and re-puts the sub-records
// outside that child's range (their Result comes from the re-put), so a
// consumer filtering by hash range reads each record once; a consumer that
// does not filter may read those sub-records twice (at least once).
//
// # The SDK's retries
//
// The producer retries on its own, per record and bounded by RecordTTL. The
// client's own retryer (3 attempts by default in aws-sdk-go-v2) still
// retries whole PutRecords calls under it; that is harmless but adds latency
// under throttling. To leave retries to the producer, build the client with
// kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} }).
//
// # Rate limiting
//
// Each predicted shard has two token buckets, for records (1000/s) and bytes
// (1 MiB/s, data plus partition key), scaled by Config.RateLimit (default
// 100 %). An aggregate counts as one record and its full size. The buckets
// hold one second like Kinesis's but keep a quarter of it in reserve, which
// absorbs request latency: a single producer runs a shard at its limit
// without being throttled.
//
// # Cost per record
//
// Put validates a record, hashes its partition key and appends it, by
// value, to the intake under one lock; hash keys of recently used partition
// keys are cached (8192 entries), so a known key costs no MD5. Records move
// by value from the intake to their shard's queue and into the aggregate's
// member list: no per-record heap object, channel send or goroutine. A
// written aggregate completes as one unit: without callbacks it costs the
// same for 1 or 500 records. Member lists and aggregate buffers are reused,
// so KinesisAPI.PutRecords must not keep a request's data after it returns.
// Put times are read from the clock once per run of up to 64 records of one
// intake batch, so Linger and RecordTTL can end early by the dispatcher's
// reaction time, never late. The largest remaining per-record costs are the
// aggregate's MD5 trailer and its encoding (package aggregate).
//
// # Compression
//
// With Config.Compression = CompressionGzip each record's data is gzipped
// (when that makes it smaller) and prefixed with CompressedMagic; a consumer
// calls Decompress on each user record after de-aggregation.
package kpl
