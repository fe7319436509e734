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
// UpdateShardCount, retention, tags, stream consumers and SubscribeToShard (an event stream that
// starts with the initial-response the Go SDK requires). DynamoDB: the subset a lease table
// needs: tables with GSIs, Get/Put/Update/Delete with condition and update expressions, Query,
// Scan with pagination and segments, batches and TransactWriteItems.
//
// Options.Limits enforces AWS's per-shard throughput limits and Options.Faults injects errors and
// latency per operation, so consumers can be tested against throttling and failures.
//
// State is in memory unless Options.DataDir is set.
package kinesislocal
