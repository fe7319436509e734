package conformance

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
)

// streamARN returns the stream's ARN.
func streamARN(t *testing.T, ctx context.Context, kc *kinesis.Client, name string) *string {
	t.Helper()
	out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	must(t, err, "DescribeStreamSummary")
	return out.StreamDescriptionSummary.StreamARN
}

// registerConsumer registers a consumer, waits until it is ACTIVE and returns its ARN.
func registerConsumer(t *testing.T, ctx context.Context, kc *kinesis.Client, arn *string, name string) *string {
	t.Helper()
	out, err := kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String(name)})
	must(t, err, "RegisterStreamConsumer "+name)
	c := out.Consumer
	if aws.ToString(c.ConsumerName) != name || !strings.Contains(aws.ToString(c.ConsumerARN), "/consumer/"+name+":") {
		t.Fatalf("RegisterStreamConsumer: name %q ARN %q", aws.ToString(c.ConsumerName), aws.ToString(c.ConsumerARN))
	}
	err = eventually(ctx, "consumer "+name+" ACTIVE", func() (bool, error) {
		d, err := kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: c.ConsumerARN})
		if err != nil {
			return false, err
		}
		return d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive, nil
	})
	must(t, err, "wait")
	return c.ConsumerARN
}

// caseStreamConsumers: register, describe (by ARN and by name), list, deregister, and a
// DeleteStream refused because a consumer is still registered.
//
// The consumer names are unique to this stream: kinesis-local 0.6.2 finishes a deregistration by
// removing the first consumer of that name it finds in any stream, so a name shared with another
// stream (another case, another test process on the same emulator) could remove the wrong one.
// The refused DeleteStream comes last because kinesis-local deletes the stream anyway
// (deviation deletestream-refused-deletes); asked earlier, it pulled the stream from under the
// next call, which then failed with ResourceNotFoundException whenever more than the emulator's
// DELETE_STREAM_DURATION passed between the two calls (often, on a busy machine).
func caseStreamConsumers(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("cons")
	createStream(t, ctx, kc, name, 1)
	arn := streamARN(t, ctx, kc, name)
	c1, c2 := name+"-c1", name+"-c2"
	if tg.deviates(t, "stream-consumers") {
		_, err := kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String(c1)})
		wantCode(t, err, "UnknownOperationException", "RegisterStreamConsumer")
		_, err = kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String(c1)})
		wantCode(t, err, "UnknownOperationException", "DescribeStreamConsumer")
		_, err = kc.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: arn})
		wantCode(t, err, "UnknownOperationException", "ListStreamConsumers")
		_, err = kc.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String(c1)})
		wantCode(t, err, "UnknownOperationException", "DeregisterStreamConsumer")
		return
	}
	// registerConsumer waits for ACTIVE: AWS documents that a consumer is usable, and can be
	// deregistered, only once ACTIVE.
	carn := registerConsumer(t, ctx, kc, arn, c1)
	byName, err := kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String(c1)})
	must(t, err, "DescribeStreamConsumer by name")
	if d := byName.ConsumerDescription; aws.ToString(d.ConsumerARN) != aws.ToString(carn) || aws.ToString(d.StreamARN) != aws.ToString(arn) {
		t.Errorf("DescribeStreamConsumer by name: ARN %q stream %q, want %q %q", aws.ToString(d.ConsumerARN), aws.ToString(d.StreamARN), aws.ToString(carn), aws.ToString(arn))
	}
	_, err = kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String(c1)})
	wantCode(t, err, "ResourceInUseException", "RegisterStreamConsumer of an existing name")
	c2arn := registerConsumer(t, ctx, kc, arn, c2)
	list, err := kc.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: arn})
	must(t, err, "ListStreamConsumers")
	var names []string
	for _, c := range list.Consumers {
		names = append(names, aws.ToString(c.ConsumerName))
	}
	slices.Sort(names)
	if !sameStrings(names, []string{c1, c2}) {
		t.Errorf("ListStreamConsumers: %v, want [%s %s]", names, c1, c2)
	}

	_, err = kc.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: carn})
	must(t, err, "DeregisterStreamConsumer")
	err = eventually(ctx, "consumer "+c1+" gone", func() (bool, error) {
		_, err := kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: carn})
		if apiCode(err) == "ResourceNotFoundException" {
			return true, nil
		}
		return false, err
	})
	must(t, err, "wait")
	_, err = kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String("nobody")})
	wantCode(t, err, "ResourceNotFoundException", "DescribeStreamConsumer of a missing consumer")

	// A stream with consumers (c2) is only deleted with EnforceConsumerDeletion; the refused call
	// changes nothing.
	_, err = kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
	wantCode(t, err, "ResourceInUseException", "DeleteStream of a stream with consumers")
	if tg.deviates(t, "deletestream-refused-deletes") {
		err = eventually(ctx, "stream removed after the refused DeleteStream", func() (bool, error) {
			_, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
			if apiCode(err) == "ResourceNotFoundException" {
				return true, nil
			}
			return false, err
		})
		must(t, err, "deviation deletestream-refused-deletes (if the emulator no longer removes the stream, delete the row)")
		return
	}
	sum, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	must(t, err, "DescribeStreamSummary after the refused DeleteStream")
	if st := sum.StreamDescriptionSummary.StreamStatus; st != types.StreamStatusActive {
		t.Errorf("stream status %s after the refused DeleteStream, want ACTIVE", st)
	}
	d, err := kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: c2arn})
	must(t, err, "DescribeStreamConsumer "+c2+" after the refused DeleteStream")
	if st := d.ConsumerDescription.ConsumerStatus; st != types.ConsumerStatusActive {
		t.Errorf("consumer %s is %s after the refused DeleteStream, want ACTIVE", c2, st)
	}
}

// caseSubscribeToShard: records put before and after subscribing arrive through the SDK's event
// stream, with ContinuationSequenceNumber and MillisBehindLatest.
func caseSubscribeToShard(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("efo")
	createStream(t, ctx, kc, name, 1)
	arn := streamARN(t, ctx, kc, name)
	shard := listAllShards(t, ctx, kc, name)[0].ShardId
	if tg.deviates(t, "subscribe-to-shard") {
		fake := aws.String(aws.ToString(arn) + "/consumer/c1:1700000000")
		_, err := kc.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: fake, ShardId: shard,
			StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}}, ownProtocol)
		wantCode(t, err, "UnknownOperationException", "SubscribeToShard")
		return
	}
	put := func(from, n int) []string {
		var es []types.PutRecordsRequestEntry
		var data []string
		for i := from; i < from+n; i++ {
			d := fmt.Sprintf("efo-%03d", i)
			data = append(data, d)
			es = append(es, types.PutRecordsRequestEntry{PartitionKey: aws.String(d), Data: []byte(d)})
		}
		_, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: es})
		must(t, err, "PutRecords")
		return data
	}
	want := put(0, 10)
	start := &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}

	if tg.deviates(t, "subscribe-initial-response") {
		// Without the shim the SDK rejects the stream. A separate consumer keeps the failed
		// subscription's lease (held until its connection closes) out of the way.
		raw := registerConsumer(t, ctx, kc, arn, "raw")
		_, err := tg.rawKC.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: raw, ShardId: shard, StartingPosition: start}, ownProtocol)
		if err == nil || !strings.Contains(err.Error(), "initial-response") {
			t.Fatalf("SubscribeToShard without the shim: %v; the declared deviation is \"expected initial-response\"", err)
		}
	}
	carn := registerConsumer(t, ctx, kc, arn, "c1")
	sub, err := kc.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: carn, ShardId: shard, StartingPosition: start}, ownProtocol)
	must(t, err, "SubscribeToShard")
	stream := sub.GetStream()
	defer stream.Close()

	var got []string
	var events int
	deadline := time.After(20 * time.Second)
	for len(got) < 15 {
		select {
		case ev, ok := <-stream.Events():
			if !ok {
				t.Fatalf("event stream ended after %d records: %v", len(got), stream.Err())
			}
			e, isEvent := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !isEvent {
				t.Fatalf("unexpected event %T", ev)
			}
			events++
			if e.Value.ContinuationSequenceNumber == nil {
				t.Fatalf("event %d on an open shard has no ContinuationSequenceNumber", events)
			}
			if e.Value.MillisBehindLatest == nil {
				t.Errorf("event %d has no MillisBehindLatest", events)
			}
			for _, r := range e.Value.Records {
				got = append(got, string(r.Data))
			}
			if len(got) == 10 && len(want) == 10 {
				want = append(want, put(10, 5)...) // these arrive while subscribed
			}
		case <-deadline:
			t.Fatalf("after 20 s: %d events, records %q", events, got)
		}
	}
	if !sameStrings(got, want) {
		t.Fatalf("records through SubscribeToShard %q, want %q", got, want)
	}
}

// caseSubscribeShardEnd: a subscription to a closed shard delivers its records, then an event
// with no ContinuationSequenceNumber whose ChildShards name the children, then ends.
func caseSubscribeShardEnd(t *testing.T, tg *target) {
	ctx, kc, name := caseContext(t), tg.kc, uniqueName("efoend")
	if tg.deviates(t, "subscribe-to-shard") {
		return // no enhanced fan-out at all; asserted by SubscribeToShard
	}
	createStream(t, ctx, kc, name, 1)
	arn := streamARN(t, ctx, kc, name)
	parent := listAllShards(t, ctx, kc, name)[0]
	_, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"), Data: []byte("before-split")})
	must(t, err, "PutRecord")
	lo, hi := parseHash(t, parent.HashKeyRange.StartingHashKey), parseHash(t, parent.HashKeyRange.EndingHashKey)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
	_, err = kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(name), ShardToSplit: parent.ShardId, NewStartingHashKey: aws.String(mid.String())})
	must(t, err, "SplitShard")
	waitStreamActive(t, ctx, kc, name)
	children := shardIDs(childrenOf(listAllShards(t, ctx, kc, name), aws.ToString(parent.ShardId)))
	slices.Sort(children)

	carn := registerConsumer(t, ctx, kc, arn, "c1")
	sub, err := kc.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: carn, ShardId: parent.ShardId,
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}}, ownProtocol)
	must(t, err, "SubscribeToShard on a closed shard")
	stream := sub.GetStream()
	defer stream.Close()

	deviates := tg.deviates(t, "subscribe-shard-end")
	watch := 15 * time.Second
	if deviates {
		watch = 2500 * time.Millisecond // kinesis-local pushes an event every second
	}
	timeout := time.After(watch)
	var got []string
	var endEvent *types.SubscribeToShardEvent
	for {
		select {
		case ev, ok := <-stream.Events():
			if !ok {
				if deviates {
					t.Fatalf("the event stream ended (%v); the declared deviation is that it stays open", stream.Err())
				}
				if endEvent == nil {
					t.Fatalf("the event stream ended without a shard-end event: %v", stream.Err())
				}
				if err := stream.Err(); err != nil {
					t.Fatalf("the event stream ended with %v after the shard-end event", err)
				}
				return
			}
			e, isEvent := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !isEvent {
				t.Fatalf("unexpected event %T", ev)
			}
			for _, r := range e.Value.Records {
				got = append(got, string(r.Data))
			}
			if endEvent != nil {
				t.Fatalf("an event after the shard-end event: %+v", e.Value)
			}
			if e.Value.ContinuationSequenceNumber == nil || len(e.Value.ChildShards) > 0 {
				if deviates {
					t.Fatalf("shard-end event (ChildShards %d); the declared deviation is none", len(e.Value.ChildShards))
				}
				endEvent = &e.Value
				var ids []string
				for _, c := range e.Value.ChildShards {
					ids = append(ids, aws.ToString(c.ShardId))
					if !slices.Equal(c.ParentShards, []string{aws.ToString(parent.ShardId)}) {
						t.Errorf("child %s: ParentShards %v, want [%s]", aws.ToString(c.ShardId), c.ParentShards, aws.ToString(parent.ShardId))
					}
				}
				slices.Sort(ids)
				if e.Value.ContinuationSequenceNumber != nil || !slices.Equal(ids, children) {
					t.Errorf("shard-end event: ContinuationSequenceNumber %v, ChildShards %v; want nil and %v",
						aws.ToString(e.Value.ContinuationSequenceNumber), ids, children)
				}
				if !sameStrings(got, []string{"before-split"}) {
					t.Errorf("records before the shard-end event: %q, want [before-split]", got)
				}
			}
		case <-timeout:
			if deviates {
				if !sameStrings(got, []string{"before-split"}) {
					t.Fatalf("records %q, want [before-split]", got)
				}
				return // still open, no ChildShards: as declared
			}
			t.Fatalf("after %v: records %q, shard-end event seen %v, stream still open", watch, got, endEvent != nil)
		}
	}
}

// ownProtocol gives one SubscribeToShard call a protocol of its own: smithy-go v1.28.8 shares one
// event-stream decoder per client, and parallel cases subscribing through one client race on it
// (the race detector flags it). kcl does the same.
func ownProtocol(o *kinesis.Options) {
	o.Protocol = awsjson.New11(schemas.Kinesis_20131202)
}
