package kcl

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// KinesisAPI lists the Kinesis operations the consumer uses; *kinesis.Client satisfies it.
type KinesisAPI interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// errorCode returns the AWS error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isThrottle reports whether err is Kinesis telling the caller to slow down.
func isThrottle(err error) bool {
	var pt *types.ProvisionedThroughputExceededException
	var le *types.LimitExceededException
	if errors.As(err, &pt) || errors.As(err, &le) {
		return true
	}
	switch errorCode(err) {
	case "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException", "KMSThrottlingException":
		return true
	}
	return false
}

// isExpiredIterator reports whether err says the shard iterator is too old.
func isExpiredIterator(err error) bool {
	var ei *types.ExpiredIteratorException
	return errors.As(err, &ei) || errorCode(err) == "ExpiredIteratorException"
}

// backoff is exponential backoff with full jitter: each wait is uniform in [0, min(max, base*2^n)].
type backoff struct {
	base, max time.Duration
	n         int
}

// next returns the next wait and grows the window.
func (b *backoff) next() time.Duration {
	ceil := b.base << min(b.n, 20)
	if ceil <= 0 || ceil > b.max {
		ceil = b.max
	}
	b.n++
	return time.Duration(rand.Int64N(int64(ceil)) + 1)
}

func (b *backoff) reset() { b.n = 0 }

// sleep waits for d or until ctx ends, whichever is first, and returns ctx.Err() in the latter case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
