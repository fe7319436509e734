package streams

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

const maxConsumers = 20

// liveConsumers returns the consumers that are not gone, by name. Callers hold s.mu.
func (s *stream) liveConsumers(nowMs, delayMs int64) []*consumer {
	var out []*consumer
	for _, c := range s.consumers {
		if _, gone := c.status(nowMs, delayMs); !gone {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (e *Engine) consumerARN(s *stream, name string, createdMs int64) string {
	return s.arn + "/consumer/" + name + ":" + strconv.FormatInt(createdMs/1000, 10)
}

// parseConsumerARN splits arn:aws:kinesis:REGION:ACCT:stream/NAME/consumer/CNAME:EPOCH.
func (e *Engine) parseConsumerARN(arn string) (streamName, consumerName string, err error) {
	i := strings.Index(arn, "/consumer/")
	bad := errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'consumerARN' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+", arn)
	if i < 0 || len(arn) > 2048 {
		return "", "", bad
	}
	streamName, err = e.parseStreamARN(arn[:i])
	if err != nil {
		return "", "", err
	}
	rest := arn[i+len("/consumer/"):]
	j := strings.LastIndexByte(rest, ':')
	if j < 1 || j == len(rest)-1 {
		return "", "", bad
	}
	if _, perr := strconv.ParseUint(rest[j+1:], 10, 64); perr != nil {
		return "", "", bad
	}
	if err := validName("consumerName", rest[:j]); err != nil {
		return "", "", err
	}
	return streamName, rest[:j], nil
}

type consumerJSON struct {
	ConsumerName              string `json:"ConsumerName"`
	ConsumerARN               string `json:"ConsumerARN"`
	ConsumerStatus            string `json:"ConsumerStatus"`
	ConsumerCreationTimestamp epoch  `json:"ConsumerCreationTimestamp"`
	StreamARN                 string `json:"StreamARN,omitempty"`
}

func (e *Engine) consumerJSON(c *consumer, now int64) consumerJSON {
	st, _ := c.status(now, e.delayMs)
	return consumerJSON{ConsumerName: c.name, ConsumerARN: c.arn, ConsumerStatus: st, ConsumerCreationTimestamp: msEpoch(c.created)}
}

type registerReq struct {
	StreamARN    *string `json:"StreamARN"`
	ConsumerName *string `json:"ConsumerName"`
}

func (e *Engine) registerConsumer(_ context.Context, body []byte) ([]byte, error) {
	var req registerReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.StreamARN == nil || req.ConsumerName == nil {
		return nil, errf(awsproto.Validation, "1 validation error detected: StreamARN and ConsumerName must not be null")
	}
	if err := validName("consumerName", *req.ConsumerName); err != nil {
		return nil, err
	}
	name, err := e.parseStreamARN(*req.StreamARN)
	if err != nil {
		return nil, err
	}
	s, err := e.lookup(name)
	if err != nil {
		return nil, err
	}
	now := e.nowMs()
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, _ := s.status(now, e.delayMs); st != statusActive && st != statusUpdating {
		return nil, errf(awsproto.ResourceInUse, "Stream %s under account %s not ACTIVE, instead in state %s", s.name, e.opts.AccountID, st)
	}
	live := s.liveConsumers(now, e.delayMs)
	creating := 0
	for _, c := range live {
		if c.name == *req.ConsumerName {
			return nil, errf(awsproto.ResourceInUse, "Consumer %s under stream %s already exists for account %s.", c.arn, s.name, e.opts.AccountID)
		}
		if st, _ := c.status(now, e.delayMs); st == "CREATING" {
			creating++
		}
	}
	if len(live) >= maxConsumers {
		return nil, errf(awsproto.LimitExceeded, "Stream %s under account %s already has %d registered consumers.", s.name, e.opts.AccountID, len(live))
	}
	if creating >= 5 {
		return nil, errf(awsproto.LimitExceeded, "Stream %s under account %s already has 5 consumers in CREATING state.", s.name, e.opts.AccountID)
	}
	ev := ctlEvent{T: evRegister, Stream: s.name, Created: s.created, At: now, Name: *req.ConsumerName}
	pos := e.logCtl(&ev)
	c := e.applyRegister(s, &ev)
	if err := e.commit(pos); err != nil {
		return nil, err
	}
	return marshal(map[string]consumerJSON{"Consumer": e.consumerJSON(c, now)})
}

// applyRegister adds a consumer. Callers hold s.mu for writing.
func (e *Engine) applyRegister(s *stream, ev *ctlEvent) *consumer {
	c := &consumer{name: ev.Name, arn: e.consumerARN(s, ev.Name, ev.At), created: ev.At}
	s.consumers[ev.Name] = c
	return c
}

type consumerRef struct {
	StreamARN    *string `json:"StreamARN"`
	ConsumerName *string `json:"ConsumerName"`
	ConsumerARN  *string `json:"ConsumerARN"`
}

// findConsumer resolves ConsumerARN or StreamARN+ConsumerName to a live consumer. It returns the
// stream locked for writing if write is set, else for reading; the caller unlocks.
func (e *Engine) findConsumer(ref consumerRef, write bool) (*stream, *consumer, error) {
	var streamName, cname string
	switch {
	case ref.ConsumerARN != nil:
		var err error
		streamName, cname, err = e.parseConsumerARN(*ref.ConsumerARN)
		if err != nil {
			return nil, nil, err
		}
	case ref.StreamARN != nil && ref.ConsumerName != nil:
		var err error
		streamName, err = e.parseStreamARN(*ref.StreamARN)
		if err != nil {
			return nil, nil, err
		}
		cname = *ref.ConsumerName
		if err := validName("consumerName", cname); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, errf(awsproto.InvalidArgument, "Either ConsumerARN or both ConsumerName and StreamARN must be provided.")
	}
	s, err := e.lookup(streamName)
	if err != nil {
		return nil, nil, err
	}
	if write {
		s.mu.Lock()
	} else {
		s.mu.RLock()
	}
	unlock := func() {
		if write {
			s.mu.Unlock()
		} else {
			s.mu.RUnlock()
		}
	}
	c := s.consumers[cname]
	now := e.nowMs()
	if c != nil {
		if _, gone := c.status(now, e.delayMs); gone {
			c = nil
		}
	}
	if c == nil || (ref.ConsumerARN != nil && c.arn != *ref.ConsumerARN) {
		unlock()
		name := cname
		if ref.ConsumerARN != nil {
			name = *ref.ConsumerARN
		}
		return nil, nil, errf(awsproto.ResourceNotFound, "Consumer %s under stream %s not found for account %s.", name, streamName, e.opts.AccountID)
	}
	return s, c, nil
}

func (e *Engine) describeConsumer(_ context.Context, body []byte) ([]byte, error) {
	var req consumerRef
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	s, c, err := e.findConsumer(req, false)
	if err != nil {
		return nil, err
	}
	d := e.consumerJSON(c, e.nowMs())
	d.StreamARN = s.arn
	s.mu.RUnlock()
	return marshal(map[string]consumerJSON{"ConsumerDescription": d})
}

func (e *Engine) deregisterConsumer(_ context.Context, body []byte) ([]byte, error) {
	var req consumerRef
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	s, c, err := e.findConsumer(req, true)
	if err != nil {
		return nil, err
	}
	now := e.nowMs()
	if c.deletingAt != 0 {
		s.mu.Unlock()
		return nil, errf(awsproto.ResourceInUse, "Consumer %s is already being deregistered.", c.arn)
	}
	ev := ctlEvent{T: evDeregister, Stream: s.name, Created: s.created, At: now, Name: c.name}
	pos := e.logCtl(&ev)
	c.deletingAt = now
	arn := c.arn
	s.mu.Unlock()
	e.cancelSubscriptions(arn + "/")
	return []byte("{}"), e.commit(pos)
}

type listConsumersReq struct {
	StreamARN               *string  `json:"StreamARN"`
	NextToken               *string  `json:"NextToken"`
	MaxResults              *int     `json:"MaxResults"`
	StreamCreationTimestamp *float64 `json:"StreamCreationTimestamp"`
}

func (e *Engine) listConsumers(_ context.Context, body []byte) ([]byte, error) {
	var req listConsumersReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.StreamARN == nil {
		return nil, nullErr("streamARN")
	}
	limit, err := intParam(req.MaxResults, "maxResults", 100, 10000)
	if err != nil {
		return nil, err
	}
	after := ""
	if req.NextToken != nil {
		if err := e.parseToken("ListStreamConsumers", *req.NextToken, &after); err != nil {
			return nil, err
		}
	}
	name, err := e.parseStreamARN(*req.StreamARN)
	if err != nil {
		return nil, err
	}
	s, err := e.lookup(name)
	if err != nil {
		return nil, err
	}
	now := e.nowMs()
	s.mu.RLock()
	out := []consumerJSON{}
	more := false
	for _, c := range s.liveConsumers(now, e.delayMs) {
		if c.name <= after {
			continue
		}
		if len(out) == limit {
			more = true
			break
		}
		out = append(out, e.consumerJSON(c, now))
	}
	s.mu.RUnlock()
	resp := struct {
		Consumers []consumerJSON `json:"Consumers"`
		NextToken string         `json:"NextToken,omitempty"`
	}{Consumers: out}
	if more {
		resp.NextToken = e.makeToken("ListStreamConsumers", out[len(out)-1].ConsumerName)
	}
	return marshal(resp)
}
