// Package wal is the append-only log both kinesislocal engines keep under a data directory
// (kinesis/streams.log, dynamodb/dynamodb.log): one format, one recovery, one repair.
//
// # Format
//
// A log file starts with a 16-byte header ("SHOALWAL", format version 2, checksum). Each record
// (frame) carries a 36-byte header: a 4-byte marker, the payload length, the frame's own file
// offset, its sync base (below), a CRC-32C of the payload, the engine's record kind and a
// CRC-32C of the header itself. A reader trusts a length only after the header checksum
// matches, so a flipped length byte cannot make it skip intact records; and it trusts a frame
// only when the frame names its own offset, so a copy of a frame inside a record's data is
// never taken for a frame. After damage, a reader finds the next frame by its marker.
//
// Logs written before version 2 (no file header; length, CRC-32C, kind and payload) are read:
// Open replays them and rewrites them as version 2 (logging it), with the same handling of
// damage, except that version 1 records no sync base, so any damage with an intact record
// after it is refused rather than cut. A file that is neither is refused.
//
// # fsync policy: what survives what
//
// Append only buffers a frame; Sync writes the buffer with one write(2) and fsyncs the file,
// and an engine answers a request only after Sync covering its frames returned. Concurrent
// requests share writes and fsyncs (group commit: the first waiter writes and fsyncs everything
// appended so far; the others wait for it). Creating a log, cutting a torn tail and renaming a
// rewritten log also fsync the directory. Hence:
//
//   - Process crash (kill -9, panic, OOM): every acknowledged write survives, and so usually do
//     unacknowledged ones already handed to the kernel. A write cut short by the crash leaves a
//     torn tail.
//   - Power loss or kernel crash: every acknowledged write survives, as far as the disk honours
//     fsync (a disk with a volatile write cache that ignores flushes can lose anything). Bytes
//     written but not yet fsynced may be lost, zeroed or partly written in any page order.
//   - A failed write or fsync: the request fails, and the log accepts no more writes until it
//     is reopened (Sync returns the first error for ever). After a failed fsync the kernel may
//     have dropped the dirty pages and cleared the error, so retrying could report success for
//     data that is gone; and the engine's memory already holds the change the log lacks, so
//     later writes would be logged on top of a hole. Reads keep working; restarting the server
//     recovers from what is on disk.
//
// # Recovery: torn tail or damage
//
// Open replays frames until one does not check. If nothing after that point proves the bad
// bytes had been fsynced, they are a torn tail: the last write(s), interrupted by a crash before
// their fsync returned, so never acknowledged. Open moves them to LOG.torn-OFFSET, cuts them off
// and logs a warning with the byte count and the reason. Otherwise Open returns a *DamageError
// naming the file, the byte offset, the damaged length, the reason and, if the frame header
// survived, what the frame held (stream and shard, or table and key), and changes nothing.
//
// The proof is the sync base: every frame records how much of the log had been fsynced when it
// was appended. An acknowledged frame was fsynced before its ack, so a frame appended after the
// ack has a sync base past it. Damage at offset D followed by a frame whose sync base is past D
// is damage to fsynced bytes: refused. Damage followed only by frames whose sync base is at or
// before D means those frames, and the damage, all belong to writes whose fsync had not
// returned: a group commit torn by power loss can leave a later page of one write on disk and
// an earlier one not, so intact frames after the damage do not by themselves prove anything.
//
// Can an acknowledged record be torn and still be the last one? Not by a crash: its fsync
// returned before the ack, so its bytes were on stable storage, and a crash loses only
// unsynced bytes. Only the disk itself, or someone editing the file, can damage it later, and
// if nothing was written after it nothing on disk can tell that apart from a torn write. Close
// narrows that window: it appends a close frame (sync base = everything) and fsyncs it, so the
// last records of a cleanly closed log are protected like any other. The one case left, damage
// after fsync to the final write of a process that then crashed, is cut as a torn tail, but its
// bytes are kept in LOG.torn-OFFSET and the warning says what they held, so it is never silent.
//
// # Repair
//
// Repair keeps every intact frame before and after any damage, moves each damaged byte range to
// LOG.damaged-OFFSET next to the log, puts a KindGap frame (describing the damage) where the
// bytes were, and writes the result through LOG.tmp and a rename. The engines accept, after a
// gap, what an intact log never holds: a shard whose record sequence has a hole, records or
// changes of a stream or table whose creation was lost (skipped and counted in a warning).
package wal
