// Package kinesislocal is a Kinesis and DynamoDB compatible server for development and tests.
//
// One http.Handler serves both APIs, routed on the X-Amz-Target header: Kinesis_20131202.* (JSON
// 1.1) and DynamoDB_20120810.* (JSON 1.0). Any SigV4 signature with any credentials is accepted.
// Use it in-process (Server.AWSConfig, or RoundTripper for a custom client: no socket, usable
// under testing/synctest) or standalone with `shoal local --addr 127.0.0.1:4567`.
//
// Kinesis: streams (provisioned and on-demand), shards with hash ranges, MD5 partition-key
// routing and ExplicitHashKey, AWS-shaped sequence numbers, the five iterator types (expiring
// after 5 minutes), GetRecords with MillisBehindLatest and ChildShards at the end of a closed
// shard, ListShards with every ShardFilter and pagination, SplitShard, MergeShards,
// UpdateShardCount, retention, tags, Start/StopStreamEncryption (EncryptionType and KeyId are
// recorded and reported, the key id's form is checked; records are not encrypted and no KMS is
// asked), stream consumers and SubscribeToShard (an event stream that starts with the
// initial-response the Go SDK requires). DynamoDB: the subset a lease table needs: tables with
// GSIs (an index added by UpdateTable is CREATING, backfilling and unreadable, for StateDelay),
// Get/Put/Update/Delete with condition and update expressions, Query, Scan with pagination and
// parallel segments (split by partition-key hash: each item in exactly one segment), batches and
// TransactWriteItems.
//
// Options.Limits enforces AWS's per-shard throughput limits, so consumers can be tested against
// throttling.
//
// # Fault injection
//
// Options.Faults and Options.Intercept fail or delay chosen requests, so a test can script what
// a consumer or lease store must survive. A Fault matches on the operation and, optionally, the
// stream, shard, table, item key, the client's aws.Config.AppID (one per worker) or any predicate
// (Where), and selects by position among the requests it matched (Calls: NthCall, FirstCalls,
// CallsFrom, EveryNthCall), or by Probability:
//
//	Faults: []kinesislocal.Fault{
//		// throttle the 3rd GetRecords on shard 1
//		{Operation: "GetRecords", Shard: "shardId-000000000001", Calls: kinesislocal.NthCall(3),
//			ErrorCode: "ProvisionedThroughputExceededException"},
//		// fail the PutItem that creates the lease of shard 2
//		{Operation: "PutItem", Table: "app", Key: map[string]string{"leaseKey": "shardId-000000000002"},
//			ErrorCode: "InternalServerError"},
//		// delay every UpdateItem on the worker table by 600 ms
//		{Operation: "UpdateItem", Table: "app-workers", Latency: 600 * time.Millisecond},
//	}
//
// Intercept is the general form: a function called for every request with a Request (service,
// operation, per-operation call number, stream, shard, table, key, AppID) that returns an
// Injection (latency and/or error code), e.g. to draw latencies from a distribution. Guarantees:
// both are safe for concurrent use (counters are atomic, so "the 3rd call" is exactly one call
// however many clients race); they apply the same in-process (AWSConfig, RoundTripper) and over
// a socket; injected latency ends early when the request's context is cancelled (the client
// gave up), and the request is then not served; a failed request changes no state. With neither
// set the check costs one branch; with only operation matchers, no request body is parsed; with
// Intercept or a stream/shard/table/key matcher, each body is parsed once more to describe it
// (measured: a 500-record PutRecords took about 2.3 times as long).
//
// State is in memory unless Options.DataDir is set. Then each engine keeps an append-only log
// under the directory (kinesis/streams.log, dynamodb/dynamodb.log) and fsyncs every acknowledged
// write before answering; concurrent writers share one fsync (group commit). An acknowledged
// PutRecord(s) or item write therefore survives kill -9 of the server, and power loss as far as
// the disk honours fsync. Every log record carries its length, its offset and checksums of its
// header and payload. On restart, a torn tail (bytes of a write that was never acknowledged, left
// by a crash) is moved to LOG.torn-OFFSET and cut, with a warning on Options.Logger; damage
// anywhere else makes New fail with a *DamageError naming the file, the byte offset and what the
// damaged record held, and changes nothing. Options.Repair (shoal local --repair) or Repair then
// keeps every intact record before and after the damage, moves the damaged bytes to
// LOG.damaged-OFFSET and reports what was lost. A failed write or fsync fails the request and
// stops that log (later writes fail with InternalFailure) until restart. Logs are compacted on
// open (Kinesis) or on Close and growth (DynamoDB). Each data directory is locked (flock) by one
// server at a time.
//
// Clients on a socket: the plain port serves HTTP/1.1 and HTTP/2 with prior knowledge (h2c);
// NewHTTPServer over TLS (`shoal local --tls`) serves both by ALPN, as AWS does. aws-sdk-go-v2
// clients speaking HTTP/1.1 (any http:// endpoint) race themselves and need BufferedTransport (see
// there); over TLS their default client negotiates HTTP/2 and needs nothing. In-process clients
// (AWSConfig) are not affected.
package kinesislocal
