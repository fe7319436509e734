package kcl

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// position says where a shard reader starts.
type position struct {
	typ types.ShardIteratorType
	seq string     // AT_/AFTER_SEQUENCE_NUMBER
	ts  *time.Time // AT_TIMESTAMP
}

// page is one GetRecords result.
type page struct {
	records      []types.Record
	millisBehind int64
	end          bool               // the shard is closed and fully read
	children     []types.ChildShard // at end; empty when the server does not send ChildShards
}

// poller reads one shard with GetRecords. It is owned by a single goroutine.
type poller struct {
	api       KinesisAPI
	streamARN *string // one of streamARN / stream is set
	stream    *string
	shardID   string
	limit     int32
	interval  time.Duration // wait before the next call after a page that was caught up (or the first empty one)
	idle      time.Duration // the longest wait, reached by doubling over consecutive empty pages
	retries   int           // consecutive non-throttle failures tolerated
	start     position
	onRetry   func(err error, throttled bool, wait time.Duration)

	iter     *string
	lastSeq  string // last record fetched: where an expired iterator is renewed from
	lastCall time.Time
	hurry    bool // the previous page had records and more are waiting
	empties  int  // consecutive empty, caught-up pages
	bo       backoff
}

func newPoller(api KinesisAPI, stream, streamARN, shardID string, cfg Polling, start position, onRetry func(error, bool, time.Duration)) *poller {
	p := &poller{api: api, shardID: shardID, limit: int32(cfg.Limit), interval: cfg.Interval, idle: cfg.IdleInterval, retries: cfg.MaxRetries,
		start: start, onRetry: onRetry, bo: backoff{base: cfg.RetryBase, max: cfg.RetryMax}}
	if streamARN != "" {
		p.streamARN = aws.String(streamARN)
	} else {
		p.stream = aws.String(stream)
	}
	return p
}

// fetch returns the next page. It waits between calls as the config says, backs off on
// throttling and transient errors, and renews expired iterators from the last record fetched.
// Errors it returns are permanent (or ctx's cause).
func (p *poller) fetch(ctx context.Context) (page, error) {
	if !p.hurry && !p.lastCall.IsZero() {
		if err := sleep(ctx, pollWait(p.interval, p.idle, p.empties)-time.Since(p.lastCall)); err != nil {
			return page{}, err
		}
	}
	failures := 0
	for {
		if err := ctx.Err(); err != nil {
			return page{}, context.Cause(ctx)
		}
		if p.iter == nil {
			it, err := p.iterator(ctx)
			if err == nil {
				p.iter = it
			} else if werr := p.retry(ctx, err, &failures); werr != nil {
				return page{}, fmt.Errorf("get shard iterator for %s: %w", p.shardID, werr)
			} else {
				continue
			}
		}
		p.lastCall = time.Now()
		out, err := p.api.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: p.iter, Limit: aws.Int32(p.limit), StreamARN: p.streamARN})
		if err != nil {
			if isExpiredIterator(err) {
				p.iter = nil
				continue
			}
			if werr := p.retry(ctx, err, &failures); werr != nil {
				return page{}, fmt.Errorf("get records from %s: %w", p.shardID, werr)
			}
			continue
		}
		p.bo.reset()
		pg := page{records: out.Records, millisBehind: aws.ToInt64(out.MillisBehindLatest)}
		if n := len(out.Records); n > 0 {
			p.lastSeq = aws.ToString(out.Records[n-1].SequenceNumber)
		}
		p.iter = out.NextShardIterator
		if p.iter == nil {
			pg.end, pg.children = true, out.ChildShards
		}
		p.hurry = len(out.Records) > 0 && (pg.millisBehind > 0 || len(out.Records) >= int(p.limit))
		if len(out.Records) == 0 && pg.millisBehind == 0 {
			p.empties++
		} else {
			p.empties = 0 // records, or an empty page of a shard that is behind (a gap): not idle
		}
		return pg, nil
	}
}

// pollWait is the pause between the previous GetRecords call's start and the next one, when the
// previous page did not ask for the next at once: interval after a page with records (caught up)
// or a first empty page, then doubling with each further consecutive empty page, up to idle. So
// an idle shard costs about 1/idle calls per second, a busy one reads as often as before, and
// the first record after a quiet spell waits at most idle.
func pollWait(interval, idle time.Duration, empties int) time.Duration {
	w := interval
	for i := 1; i < empties && w < idle; i++ {
		w *= 2
	}
	return min(max(w, interval), max(idle, interval))
}

// retry decides whether err is worth another attempt; if so it waits (backoff with jitter) and
// returns nil, else it returns the error to give up with.
func (p *poller) retry(ctx context.Context, err error, failures *int) error {
	throttled := isThrottle(err)
	if !throttled {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if permanent(err) {
			return err
		}
		*failures++
		if *failures > p.retries {
			return fmt.Errorf("%d consecutive failures: %w", *failures, err)
		}
	}
	wait := p.bo.next()
	if p.onRetry != nil {
		p.onRetry(err, throttled, wait)
	}
	if serr := sleep(ctx, wait); serr != nil {
		return serr
	}
	return nil
}

// permanent reports errors that retrying cannot fix.
func permanent(err error) bool {
	switch errorCode(err) {
	case "ResourceNotFoundException", "InvalidArgumentException", "AccessDeniedException", "ValidationException",
		"KMSAccessDeniedException", "KMSDisabledException", "KMSInvalidStateException", "KMSNotFoundException", "KMSOptInRequired":
		return true
	}
	return false
}

func (p *poller) iterator(ctx context.Context) (*string, error) {
	in := &kinesis.GetShardIteratorInput{StreamName: p.stream, StreamARN: p.streamARN, ShardId: aws.String(p.shardID)}
	switch {
	case p.lastSeq != "":
		in.ShardIteratorType, in.StartingSequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(p.lastSeq)
	default:
		in.ShardIteratorType = p.start.typ
		if p.start.seq != "" {
			in.StartingSequenceNumber = aws.String(p.start.seq)
		}
		in.Timestamp = p.start.ts
	}
	out, err := p.api.GetShardIterator(ctx, in)
	if err != nil {
		return nil, err
	}
	if out.ShardIterator == nil {
		return nil, fmt.Errorf("GetShardIterator returned no iterator")
	}
	return out.ShardIterator, nil
}
