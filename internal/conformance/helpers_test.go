package conformance

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// pollEvery is how often the wait helpers poll a state.
const pollEvery = 20 * time.Millisecond

// caseContext returns a context that ends after caseTimeout or when the test ends.
func caseContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), caseTimeout)
	t.Cleanup(cancel)
	return ctx
}

// uniqueName returns a stream or table name that is unique across runs against the same
// long-lived emulator: "shoalconf-<what>-<random hex>".
func uniqueName(what string) string {
	var b [5]byte
	rand.Read(b[:])
	return "shoalconf-" + what + "-" + hex.EncodeToString(b[:])
}

// apiCode returns the AWS error code of err ("" if err carries none).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status of a failed call (0 if there was no response).
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// wantCode fails the test unless err carries the AWS error code code.
func wantCode(t *testing.T, err error, code, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want %s", what, code)
	}
	if got := apiCode(err); got != code {
		t.Fatalf("%s: error code %q (HTTP %d), want %s; error: %v", what, got, httpStatus(err), code, err)
	}
}

// must fails the test if err is not nil.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eventually polls cond until it returns true, an error, or ctx ends.
func eventually(ctx context.Context, what string, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// --- Kinesis helpers ---

// createStream creates a provisioned stream, waits until it is ACTIVE, and deletes it when the
// test ends.
func createStream(t *testing.T, ctx context.Context, kc *kinesis.Client, name string, shards int32) {
	t.Helper()
	_, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)})
	must(t, err, "CreateStream "+name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name), EnforceConsumerDeletion: aws.Bool(true)})
	})
	waitStreamActive(t, ctx, kc, name)
}

// waitStreamActive waits until the stream's status is ACTIVE.
func waitStreamActive(t *testing.T, ctx context.Context, kc *kinesis.Client, name string) {
	t.Helper()
	err := eventually(ctx, "stream "+name+" ACTIVE", func() (bool, error) {
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			return false, err
		}
		return out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive, nil
	})
	must(t, err, "wait")
}

// listAllShards returns every shard of the stream, following NextToken.
func listAllShards(t *testing.T, ctx context.Context, kc *kinesis.Client, name string) []types.Shard {
	t.Helper()
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(name)}
	for {
		out, err := kc.ListShards(ctx, in)
		must(t, err, "ListShards "+name)
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			return shards
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// openShards returns the shards without an EndingSequenceNumber.
func openShards(shards []types.Shard) []types.Shard {
	var open []types.Shard
	for _, s := range shards {
		if s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber == nil {
			open = append(open, s)
		}
	}
	return open
}

// shardIDs returns the ids of shards, in order.
func shardIDs(shards []types.Shard) []string {
	ids := make([]string, len(shards))
	for i, s := range shards {
		ids[i] = aws.ToString(s.ShardId)
	}
	return ids
}

// maxHashKey is 2^128-1, the top of the Kinesis hash key space.
var maxHashKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

// hashOf returns MD5(partitionKey) as a big-endian unsigned 128-bit integer: Kinesis's routing key.
func hashOf(partitionKey string) *big.Int {
	sum := md5.Sum([]byte(partitionKey))
	return new(big.Int).SetBytes(sum[:])
}

// parseHash parses a decimal hash key.
func parseHash(t *testing.T, s *string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(aws.ToString(s), 10)
	if !ok {
		t.Fatalf("hash key %q is not a decimal integer", aws.ToString(s))
	}
	return v
}

// shardFor returns the id of the shard whose hash key range contains h.
func shardFor(t *testing.T, shards []types.Shard, h *big.Int) string {
	t.Helper()
	for _, s := range shards {
		lo, hi := parseHash(t, s.HashKeyRange.StartingHashKey), parseHash(t, s.HashKeyRange.EndingHashKey)
		if lo.Cmp(h) <= 0 && h.Cmp(hi) <= 0 {
			return aws.ToString(s.ShardId)
		}
	}
	t.Fatalf("no shard contains hash key %s", h)
	return ""
}

// checkCoverage fails unless the shards' hash key ranges, sorted, are contiguous from 0 to
// 2^128-1 with no gap or overlap.
func checkCoverage(t *testing.T, shards []types.Shard) {
	t.Helper()
	type rng struct{ lo, hi *big.Int }
	rs := make([]rng, 0, len(shards))
	for _, s := range shards {
		if s.HashKeyRange == nil {
			t.Fatalf("shard %s has no HashKeyRange", aws.ToString(s.ShardId))
		}
		rs = append(rs, rng{parseHash(t, s.HashKeyRange.StartingHashKey), parseHash(t, s.HashKeyRange.EndingHashKey)})
	}
	for i := 1; i < len(rs); i++ { // insertion sort: a handful of shards
		for j := i; j > 0 && rs[j].lo.Cmp(rs[j-1].lo) < 0; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	next := big.NewInt(0)
	for _, r := range rs {
		if r.lo.Cmp(next) != 0 {
			t.Fatalf("hash ranges: expected a range starting at %s, got %s..%s", next, r.lo, r.hi)
		}
		next = new(big.Int).Add(r.hi, big.NewInt(1))
	}
	if want := new(big.Int).Add(maxHashKey, big.NewInt(1)); next.Cmp(want) != 0 {
		t.Fatalf("hash ranges end at %s, want 2^128-1", new(big.Int).Sub(next, big.NewInt(1)))
	}
}

// iterator returns a shard iterator of the given type; seq or ts as the type needs.
func iterator(t *testing.T, ctx context.Context, kc *kinesis.Client, stream, shard string, typ types.ShardIteratorType, seq string, ts *time.Time) *string {
	t.Helper()
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: typ, Timestamp: ts}
	if seq != "" {
		in.StartingSequenceNumber = aws.String(seq)
	}
	out, err := kc.GetShardIterator(ctx, in)
	must(t, err, fmt.Sprintf("GetShardIterator %s %s", shard, typ))
	if out.ShardIterator == nil {
		t.Fatalf("GetShardIterator %s %s: nil iterator", shard, typ)
	}
	return out.ShardIterator
}

// readAll reads a shard from it until want records arrived (want > 0) or, with want < 0, until
// the shard ends (NextShardIterator nil). It returns the records and the last response.
func readAll(t *testing.T, ctx context.Context, kc *kinesis.Client, it *string, want int) ([]types.Record, *kinesis.GetRecordsOutput) {
	t.Helper()
	var recs []types.Record
	var last *kinesis.GetRecordsOutput
	for it != nil {
		out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it})
		must(t, err, "GetRecords")
		recs = append(recs, out.Records...)
		last = out
		it = out.NextShardIterator
		if want >= 0 && len(recs) >= want {
			break
		}
		if len(out.Records) == 0 {
			select {
			case <-ctx.Done():
				t.Fatalf("reading shard: got %d of %d records: %v", len(recs), want, ctx.Err())
			case <-time.After(pollEvery):
			}
		}
	}
	return recs, last
}

// recordData returns the records' data as strings.
func recordData(recs []types.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Data)
	}
	return out
}

// sameStrings reports whether a and b are equal, element by element.
func sameStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}
