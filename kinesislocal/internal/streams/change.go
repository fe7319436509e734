package streams

import (
	"fmt"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

// Every operation that changes one existing stream has the same shape: decode the request, check
// it alone, look up the stream it names, lock the stream, check the request against the stream's
// state, log an event, apply it, answer once the event is durable. changeStream is that shape;
// an operation supplies only what differs (a streamChange), and the event is applied by
// applyStreamEvent, the same code the log replay runs, so a restarted server reaches exactly the
// state the live one had.

// streamTarget is implemented by requests that name their stream by StreamName or StreamARN
// (every request embedding streamRef).
type streamTarget interface{ target() *streamRef }

func (r *streamRef) target() *streamRef { return r }

// streamChange describes one operation on a stream for changeStream. R is its request type.
type streamChange[R any] struct {
	// check validates the request alone, before the stream is looked up. Optional.
	check func(req *R) error
	// provisionedOnly refuses the operation on an ON_DEMAND stream (checked before the status).
	provisionedOnly bool
	// decide checks the request against the stream, which is locked for writing and ACTIVE, and
	// returns the event to log: T and the event's own fields (changeStream fills in Stream,
	// Created and At). It may update bookkeeping that is not logged, but must leave the change
	// itself to applyStreamEvent.
	decide func(s *stream, now int64, req *R) (ctlEvent, error)
	// reply builds the response after the event is applied, still under the lock. Optional: the
	// default response is {}.
	reply func(s *stream, req *R, ev *ctlEvent) ([]byte, error)
}

// changeStream runs one stream-changing operation described by c on the request body.
func changeStream[R any, P interface {
	*R
	streamTarget
}](e *Engine, body []byte, c streamChange[R]) ([]byte, error) {
	req := P(new(R))
	if err := decode(body, req); err != nil {
		return nil, err
	}
	if c.check != nil {
		if err := c.check((*R)(req)); err != nil {
			return nil, err
		}
	}
	ref := req.target()
	s, err := e.lookupReq(ref.StreamName, ref.StreamARN)
	if err != nil {
		return nil, err
	}
	now := e.nowMs()
	s.mu.Lock()
	pos, out, err := changeLocked(e, s, now, (*R)(req), &c)
	s.mu.Unlock()
	if err == nil || pos != 0 { // an applied event is committed even if its reply failed
		if cerr := e.commit(pos); cerr != nil {
			return nil, cerr
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// changeLocked is the part of changeStream under s.mu; it returns the log position to commit.
func changeLocked[R any](e *Engine, s *stream, now int64, req *R, c *streamChange[R]) (int64, []byte, error) {
	if c.provisionedOnly && s.mode == modeOnDemand {
		return 0, nil, errf(awsproto.Validation, "This operation is not permitted on stream %s under account %s because it is in ON_DEMAND mode.", s.name, e.opts.AccountID)
	}
	if err := e.requireActive(s, now); err != nil {
		return 0, nil, err
	}
	ev, err := c.decide(s, now, req)
	if err != nil {
		return 0, nil, err
	}
	ev.Stream, ev.Created, ev.At = s.name, s.created, now
	pos := e.logCtl(&ev)
	if err := e.applyStreamEvent(s, &ev); err != nil {
		return 0, nil, err // not reached: decide produced the event from the live stream
	}
	out := []byte("{}")
	if c.reply != nil {
		if out, err = c.reply(s, req, &ev); err != nil {
			return pos, nil, err
		}
	}
	return pos, out, nil
}

// applyStreamEvent applies a logged change to the stream it names, live and in replay. Callers
// hold s.mu for writing.
func (e *Engine) applyStreamEvent(s *stream, ev *ctlEvent) error {
	switch ev.T {
	case evSplit:
		key, ok := parseU128(ev.Key)
		if !ok || ev.Shard >= len(s.shards) {
			return errCorrupt
		}
		s.applySplit(s.shards[ev.Shard], key, ev.At)
		s.rebuildOpen()
		s.pendingStatus, s.pendingUntil = statusUpdating, ev.At+e.delayMs
	case evMerge:
		if ev.Shard >= len(s.shards) || ev.Shard2 >= len(s.shards) {
			return errCorrupt
		}
		s.applyMerge(s.shards[ev.Shard], s.shards[ev.Shard2], ev.At)
		s.rebuildOpen()
		s.pendingStatus, s.pendingUntil = statusUpdating, ev.At+e.delayMs
	case evScale:
		s.applyScale(ev.N, ev.At)
		s.scaleOps = append(s.scaleOps, ev.At)
		s.pendingStatus, s.pendingUntil = statusUpdating, ev.At+e.delayMs
	case evRetention:
		s.retentionHours = ev.N
		s.freeExpired(ev.At)
	case evMaxRecord:
		s.maxRecordKiB = ev.N
	case evMonitoring, evNoMonitoring:
		s.applyMonitoring(ev.Keys, ev.T == evMonitoring)
	case evEncryption:
		e.applyEncryption(s, ev)
	case evMode:
		s.mode = ev.Mode
		s.pendingStatus, s.pendingUntil = statusUpdating, ev.At+e.delayMs
	case evTags:
		for k, v := range ev.Tags {
			s.tags[k] = v
		}
	case evUntag:
		for _, k := range ev.Keys {
			delete(s.tags, k)
		}
	case evRegister:
		e.applyRegister(s, ev)
	case evDeregister:
		if c := s.consumers[ev.Name]; c != nil {
			c.deletingAt = ev.At
		}
	default:
		return fmt.Errorf("unknown event %q", ev.T)
	}
	return nil
}
