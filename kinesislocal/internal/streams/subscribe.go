package streams

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

// Subscription timing, like AWS: a subscription lasts 5 minutes; a second one for the same
// consumer and shard within 5 s of the first fails, later it takes over.
const (
	subscriptionLifetime = 5 * time.Minute
	subscribeGuardMs     = 5000
	// idleEventInterval is how often an event is sent while no records arrive.
	idleEventInterval = 500 * time.Millisecond
	// maxEventBytes caps the key+data bytes of one event.
	maxEventBytes = 2 << 20
)

type subscription struct {
	started int64 // ms
	cancel  context.CancelFunc
	// takeOver ends the subscription with a ResourceInUseException event.
	takeOver func()
}

var errTakenOver = errors.New("streams: subscription taken over by a newer one")

type startingPositionJSON struct {
	Type           *string  `json:"Type"`
	SequenceNumber *string  `json:"SequenceNumber"`
	Timestamp      *float64 `json:"Timestamp"`
}

type subscribeReq struct {
	ConsumerARN      *string               `json:"ConsumerARN"`
	ShardId          *string               `json:"ShardId"`
	StartingPosition *startingPositionJSON `json:"StartingPosition"`
}

// cancelSubscriptions ends the subscriptions whose key starts with prefix.
func (e *Engine) cancelSubscriptions(prefix string) {
	e.subsMu.Lock()
	defer e.subsMu.Unlock()
	for k, s := range e.subs {
		if strings.HasPrefix(k, prefix) {
			s.cancel()
		}
	}
}

// SubscribeToShard validates the request and, if it is valid, streams events to w until the
// subscription ends (5 minutes), ctx is done, or the shard ends. A validation error is returned
// before anything is written to w. It blocks for the life of the subscription and is safe for
// concurrent use.
func (e *Engine) SubscribeToShard(ctx context.Context, body []byte, w http.ResponseWriter) error {
	if e.closed.Load() {
		return &awsproto.Error{Status: http.StatusServiceUnavailable, Type: awsproto.ServiceUnavailable, Message: "the engine is closed"}
	}
	var req subscribeReq
	if err := decode(body, &req); err != nil {
		return err
	}
	if req.ConsumerARN == nil || req.ShardId == nil || req.StartingPosition == nil {
		return errf(awsproto.Validation, "1 validation error detected: ConsumerARN, ShardId and StartingPosition must not be null")
	}
	if err := validName("shardId", *req.ShardId); err != nil {
		return err
	}
	sp := req.StartingPosition
	p, err := parseStart(sp.Type, sp.SequenceNumber, sp.Timestamp, "SubscribeToShard")
	if err != nil {
		return err
	}
	s, c, err := e.findConsumer(consumerRef{ConsumerARN: req.ConsumerARN}, false)
	if err != nil {
		return err
	}
	now := e.nowMs()
	if st, _ := c.status(now, e.delayMs); st != "ACTIVE" {
		s.mu.RUnlock()
		return errf(awsproto.ResourceInUse, "Consumer %s under stream %s is not ACTIVE, instead in state %s.", c.arn, s.name, st)
	}
	if err := e.requireData(s, now); err != nil {
		s.mu.RUnlock()
		return err
	}
	sh := s.shardByID(*req.ShardId)
	if sh == nil || s.expired(sh, now) {
		s.mu.RUnlock()
		return e.shardNotFound(s, *req.ShardId)
	}
	sh.mu.Lock()
	sh.maybeTrim(now, s.retentionMs())
	pos, minArr, err := e.position(sh, p)
	sh.mu.Unlock()
	s.mu.RUnlock()
	if err != nil {
		return err
	}

	key := c.arn + "/" + sh.id
	ctx, cancelCause := context.WithCancelCause(ctx)
	cancel := func() { cancelCause(context.Canceled) }
	defer cancel()
	sub := &subscription{started: now, cancel: cancel, takeOver: func() { cancelCause(errTakenOver) }}
	e.subsMu.Lock()
	if old := e.subs[key]; old != nil {
		if now-old.started < subscribeGuardMs {
			e.subsMu.Unlock()
			return errf(awsproto.ResourceInUse, "Another active subscription exists for consumer %s on shard %s.", c.arn, sh.id)
		}
		old.takeOver()
	}
	e.subs[key] = sub
	e.subsMu.Unlock()
	defer func() {
		e.subsMu.Lock()
		if e.subs[key] == sub {
			delete(e.subs, key)
		}
		e.subsMu.Unlock()
	}()

	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	es := &eventWriter{w: w, enc: eventstream.NewEncoder()}
	if es.event("initial-response", []byte("{}")) != nil {
		return nil
	}
	e.pushEvents(ctx, es, s, sh, pos, minArr)
	if errors.Is(context.Cause(ctx), errTakenOver) {
		es.exception(awsproto.ResourceInUse, "Another subscription for consumer "+c.arn+" on shard "+sh.id+" took over this one.")
	}
	return nil
}

// eventWriter writes event stream messages and flushes each.
type eventWriter struct {
	w   http.ResponseWriter
	enc *eventstream.Encoder
}

func (ew *eventWriter) write(msg eventstream.Message) error {
	if err := ew.enc.Encode(ew.w, msg); err != nil {
		return err
	}
	if f, ok := ew.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

func (ew *eventWriter) event(typ string, payload []byte) error {
	var m eventstream.Message
	m.Headers.Set(":message-type", eventstream.StringValue("event"))
	m.Headers.Set(":event-type", eventstream.StringValue(typ))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Payload = payload
	return ew.write(m)
}

func (ew *eventWriter) exception(typ, msg string) error {
	var m eventstream.Message
	m.Headers.Set(":message-type", eventstream.StringValue("exception"))
	m.Headers.Set(":exception-type", eventstream.StringValue(typ))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Payload, _ = json.Marshal(map[string]string{"message": msg})
	return ew.write(m)
}

// pushEvents sends SubscribeToShardEvents from pos until the shard ends, the subscription's
// lifetime passes, ctx ends or a write fails. Records that arrived before minArr (if non-zero)
// are skipped.
func (e *Engine) pushEvents(ctx context.Context, es *eventWriter, s *stream, sh *shard, pos uint64, minArr int64) {
	lifetime := time.NewTimer(subscriptionLifetime)
	defer lifetime.Stop()
	var refs []recRef
	lastSent := time.Time{}
	for {
		now := e.nowMs()
		s.mu.RLock()
		if err := e.requireData(s, now); err != nil || s.expired(sh, now) {
			s.mu.RUnlock()
			es.exception(awsproto.ResourceNotFound, "Shard "+sh.id+" in stream "+s.name+" under account "+e.opts.AccountID+" does not exist")
			return
		}
		closed := sh.closedAt != 0
		var children []byte
		if closed {
			children = s.childShardsJSON(sh)
		}
		sh.mu.Lock()
		sh.maybeTrim(now, s.retentionMs())
		if minArr != 0 {
			pos = max(pos, sh.log.firstAtOrAfter(minArr))
			if pos < sh.log.next {
				minArr = 0
			}
		}
		var recs []recRef
		recs, pos, _, _ = sh.log.read(pos, 10000, maxEventBytes, refs[:0])
		refs = recs
		next := sh.log.next
		var behind int64
		if pos < next {
			if a, ok := sh.log.arrivalAt(pos); ok && now > a {
				behind = now - a
			}
		}
		contArrival := sh.created
		if pos > 1 {
			if a, ok := sh.log.arrivalAt(pos - 1); ok {
				contArrival = a
			}
		}
		wait := sh.notify
		sh.mu.Unlock()
		s.mu.RUnlock()

		atEnd := closed && pos >= next
		if len(recs) > 0 || atEnd || time.Since(lastSent) >= idleEventInterval {
			b := make([]byte, 0, recordsJSONSize(recs)+len(children)+300)
			b = append(b, `{"Records":`...)
			b = appendRecords(b, sh, recs)
			if !atEnd {
				b = append(b, `,"ContinuationSequenceNumber":"`...)
				b = sh.seq(pos-1, contArrival).appendDecimal(b)
				b = append(b, '"')
			}
			b = append(b, `,"MillisBehindLatest":`...)
			b = appendUint(b, uint64(behind))
			if atEnd {
				b = append(b, `,"ChildShards":`...)
				b = append(b, children...)
			}
			b = append(b, '}')
			if es.event("SubscribeToShardEvent", b) != nil || atEnd {
				return
			}
			lastSent = time.Now()
			if len(recs) > 0 {
				select {
				case <-ctx.Done():
					return
				case <-lifetime.C:
					return
				default:
					continue
				}
			}
		}
		idle := time.NewTimer(idleEventInterval - time.Since(lastSent))
		select {
		case <-ctx.Done():
			idle.Stop()
			return
		case <-lifetime.C:
			idle.Stop()
			return
		case <-wait:
		case <-idle.C:
		}
		idle.Stop()
	}
}
