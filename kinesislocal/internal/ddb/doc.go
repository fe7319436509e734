// Package ddb is kinesislocal's DynamoDB engine: the subset of the DynamoDB API a lease table
// needs (tables, GSIs, items, condition and update expressions, queries, scans, batches,
// transactions), with DynamoDB's validation messages and error types.
//
// # Model
//
// Each table keeps its items in one slice sorted by (hash of the hash key, hash key, range key):
// Query reads one contiguous run in range-key order, Scan walks the slice in a stable order that
// does not depend on insertion, and Scan segments are equal slices of the 64-bit hash space. A GSI
// is computed on demand from the table's items (lease tables are small), so it is always
// consistent with the table. Items are immutable once stored: updates build a new item.
//
// Table states are computed lazily from timestamps: a table is CREATING for Options.StateDelay
// after CreateTable (item operations then get ResourceNotFoundException, as on AWS), UPDATING
// for StateDelay after UpdateTable, DELETING for StateDelay after DeleteTable. No goroutines run.
//
// # Concurrency
//
// An Engine is safe for concurrent use. Each table has one mutex; a conditional write holds it
// from the condition check to the in-memory update, so check and write are atomic. Batches and
// transactions lock their tables in name order. Table creation, deletion and metadata changes run
// alone (an engine-wide RWMutex taken exclusively).
//
// # Durability and fsync policy
//
// With Options.DataDir set, every committed mutation is appended, as an after-image (the whole
// new item, or the key of a deleted item), to the log file DataDir/dynamodb.log (format, recovery
// and repair in package wal): one JSON record per request (a batch or transaction is one record,
// so it is all-or-nothing after a crash). The record is appended while the table lock is held
// (so the log order is the commit order) and fsynced before the response is returned; concurrent
// writers share one fsync (group commit). An acknowledged write therefore survives kill -9 and
// power loss (to the extent the disk honours fsync). A reader may see a write a few microseconds
// before it is on disk; if the process dies in that window the write was never acknowledged.
// After a failed write or fsync every later write fails with InternalServerError until restart.
//
// New replays the log: a torn tail left by a crash is cut (and kept aside, with a warning on
// Options.Logger); damage before the tail fails New with a *wal.DamageError; Repair keeps every
// intact record. The log is compacted (rewritten as a snapshot of 32 items per record, fsynced,
// atomically renamed) on Close and when it grows past four times its compacted size (and at
// least 16 MiB). An engine holds an exclusive flock on DataDir/LOCK (on Unix), so a second engine
// or process on the same directory fails in New; the kernel drops the lock when a process dies,
// so kill -9 never blocks a restart.
//
// TimeToLive settings are stored and reported; expired items are not deleted.
package ddb
