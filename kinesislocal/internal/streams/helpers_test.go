package streams_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shoal-go/shoal/kinesislocal"
)

// newClient starts an in-process server and returns a real SDK client for it.
func newClient(t testing.TB, opts kinesislocal.Options) (*kinesis.Client, *kinesislocal.Server) {
	t.Helper()
	srv, err := kinesislocal.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cfg := srv.AWSConfig()
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		o.RetryMaxAttempts = 1
	}), srv
}

// code returns the AWS error code of err, or "" if err is nil.
func code(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "not an API error: " + err.Error()
}

func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

// ctxT is the test's context. It has no deadline of its own: a fixed budget for a whole test
// is a speed assumption (TestLargeRecords sends about 20 MB through the SDK and took over 30 s
// with -race on a loaded machine); a hang is caught by go test -timeout, with every goroutine's
// stack.
func ctxT(t testing.TB) context.Context {
	return t.Context()
}

func createStream(t testing.TB, c *kinesis.Client, name string, shards int32) {
	t.Helper()
	_, err := c.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)})
	if err != nil {
		t.Fatal(err)
	}
}

func listAllShards(t testing.TB, c *kinesis.Client, in *kinesis.ListShardsInput) []types.Shard {
	t.Helper()
	var out []types.Shard
	for {
		res, err := c.ListShards(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Shards...)
		if res.NextToken == nil {
			return out
		}
		in = &kinesis.ListShardsInput{NextToken: res.NextToken, MaxResults: in.MaxResults}
	}
}

// readAll reads a shard from TRIM_HORIZON to the end of the available data (or shard end) and
// returns the records and the last GetRecords output.
func readAll(t testing.TB, c *kinesis.Client, stream, shardID string) ([]types.Record, *kinesis.GetRecordsOutput) {
	t.Helper()
	it, err := c.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{StreamName: aws.String(stream),
		ShardId: aws.String(shardID), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	var recs []types.Record
	iter := it.ShardIterator
	for {
		out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, out.Records...)
		if out.NextShardIterator == nil || len(out.Records) == 0 {
			return recs, out
		}
		iter = out.NextShardIterator
	}
}
