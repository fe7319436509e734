// Package streams is kinesislocal's Kinesis engine: streams, shards, records, iterators,
// resharding, stream consumers and SubscribeToShard.
//
// # Model
//
// Each stream has its own lock for its shard list and metadata; each shard has its own lock for
// its records, so writers to different shards and readers of different shards do not contend,
// and no lock is held while a GetRecords response is encoded. Records are stored per shard in
// append-only segments (about 24 bytes of bookkeeping per record plus its key and data);
// retention trimming drops whole segments. Stream states (CREATING, UPDATING, DELETING) are
// computed from timestamps and Options.StateDelay; no timers run.
//
// Sequence numbers follow AWS's v2 layout (about 56 decimal digits, shard index in bits 4..35)
// around a per-shard 64-bit counter, so they are strictly increasing per shard and compare as
// big integers. Shard iterators and pagination tokens are opaque, checksummed strings.
//
// # Durability and fsync policy
//
// With Options.DataDir set, every change is appended to one log file, DataDir/streams.log (format,
// recovery and repair in package wal), in the order it is applied: control events (create,
// delete, split, merge, scale, retention, tags, consumers) and record batches (one frame per
// shard per PutRecords call). A request is answered only after its frames are written and
// fsynced; concurrent writers share fsyncs (group commit), so an acknowledged PutRecord or
// PutRecords survives kill -9 and power loss (as far as the disk honours fsync). After a failed
// write or fsync every later write fails with InternalFailure until restart (reads go on). New
// replays the log: a torn tail left by a crash is cut (and kept aside, with a warning on
// Options.Logger); damage before the tail fails New with a *wal.DamageError; Repair keeps every
// intact frame. After a repair, a shard may have a hole in its sequence numbers where a batch was
// moved aside: readers step over it. When New finds a log over 4 MiB it compacts it into a
// snapshot of the live state (streams, lineage, consumers, tags and the records still within
// retention), so the log stays proportional to the live data across restarts (it grows between
// restarts). New takes an exclusive flock on DataDir/LOCK (on Unix), so a second engine on the
// same directory fails instead of corrupting the log; the lock is released by Close or when the
// process dies.
package streams
