// Package aggregate reads and writes the KPL aggregated-record format, the
// way the Kinesis Producer Library packs many user records into one Kinesis
// record, and computes Kinesis hash keys for shard routing.
//
// # Format
//
// An aggregated record is
//
//	F3 89 9A C2                 magic
//	AggregatedRecord protobuf   proto2, below
//	MD5(protobuf)               16 bytes, over the protobuf only (not the magic)
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	  repeated Tag    tags                    = 4;
//	}
//	message Tag { required string key = 1; optional string value = 2; }
//
// The protobuf is encoded and decoded by hand (no protobuf library).
//
// # Producing
//
// An Encoder collects the records of one aggregate. Keys go into the tables
// once each, in order of first use, and every record points at its own keys.
// Size and SizeWith give the exact encoded size, so a producer can cap an
// aggregate (the KPL's default is 50 KiB; Kinesis allows 1 MiB per record,
// partition key included: see OuterSize). Outer applies the KPL's rules for
// the Kinesis record to put: a single record is sent raw; an aggregate gets
// partition key "a" and, as explicit hash key, the first record's hash key,
// so it lands on that record's shard. A producer should aggregate only
// records it predicts for the same shard; otherwise a consumer that filters by
// hash range (below, or the Java KCL) discards the strays.
//
// # Consuming
//
// IsAggregated applies the KCL's test (magic, length > 20, MD5). Decode,
// AppendDecode and DecodeFunc return the user records, in order, their Data
// aliasing the input. Decoding validates the whole aggregate before returning
// any record, so a corrupt aggregate yields no records and an error (a
// *CorruptError, matching ErrCorrupt) and never a partial set. Decoding never
// panics, and never allocates more than a small multiple of the input's size
// whatever lengths the input claims. Unknown fields are skipped, as protobuf
// requires; tags are validated and ignored (neither the KPL nor the KCL uses
// them).
//
// Deaggregate turns one Kinesis record into user records with sub-sequence
// numbers 0..n-1 (0 for a plain record), the unit a consumer checkpoints.
// A corrupt aggregate is delivered whole as one plain record with the error
// reported, so nothing is lost. Its optional hash range filter drops only
// the sub-records outside the shard's range, for producers that, like the
// KPL, re-put records that the service stored in the wrong shard after a
// reshard; the Java KCL drops the whole aggregate in that case.
//
// # Hash keys
//
// Hash128 is a 128-bit hash key with decimal parsing and formatting that do
// not allocate. HashKey computes MD5(partition key) as Kinesis does;
// Record.EffectiveHashKey applies an explicit hash key first.
//
// Everything in this package is safe for concurrent use except an Encoder,
// which belongs to one goroutine. Nothing blocks and nothing does I/O.
package aggregate
