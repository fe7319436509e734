package streams

import (
	"context"
	"sort"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

type streamRef struct {
	StreamName *string `json:"StreamName"`
	StreamARN  *string `json:"StreamARN"`
}

type hashRangeJSON struct {
	StartingHashKey string `json:"StartingHashKey"`
	EndingHashKey   string `json:"EndingHashKey"`
}

type seqRangeJSON struct {
	StartingSequenceNumber string `json:"StartingSequenceNumber"`
	EndingSequenceNumber   string `json:"EndingSequenceNumber,omitempty"`
}

type shardJSON struct {
	ShardId               string        `json:"ShardId"`
	ParentShardId         string        `json:"ParentShardId,omitempty"`
	AdjacentParentShardId string        `json:"AdjacentParentShardId,omitempty"`
	HashKeyRange          hashRangeJSON `json:"HashKeyRange"`
	SequenceNumberRange   seqRangeJSON  `json:"SequenceNumberRange"`
}

type modeJSON struct {
	StreamMode string `json:"StreamMode"`
}

type monitoringJSON struct {
	ShardLevelMetrics []string `json:"ShardLevelMetrics"`
}

func toShardJSON(sh *shard) shardJSON {
	j := shardJSON{ShardId: sh.id, ParentShardId: sh.parent, AdjacentParentShardId: sh.adjParent,
		HashKeyRange:        hashRangeJSON{sh.start.String(), sh.end.String()},
		SequenceNumberRange: seqRangeJSON{StartingSequenceNumber: sh.startSeq().String()}}
	if sh.closedAt != 0 {
		j.SequenceNumberRange.EndingSequenceNumber = sh.endSeq().String()
	}
	return j
}

// visibleShards returns the shards that have not expired, by index, and frees the records of
// expired ones. Callers hold s.mu.
func (s *stream) visibleShards(nowMs int64) []*shard {
	out := make([]*shard, 0, len(s.shards))
	for _, sh := range s.shards {
		if !s.expired(sh, nowMs) {
			out = append(out, sh)
			continue
		}
		sh.mu.Lock()
		if sh.log.segs != nil {
			sh.log.trim(1<<62 - 1)
		}
		sh.mu.Unlock()
	}
	return out
}

// freeExpired drops the records of expired shards and makes every shard recheck its trim
// deadline (the retention period may have changed). Callers hold s.mu.
func (s *stream) freeExpired(nowMs int64) {
	for _, sh := range s.shards {
		sh.mu.Lock()
		sh.trimValid = false
		if s.expired(sh, nowMs) && sh.log.segs != nil {
			sh.log.trim(1<<62 - 1)
		}
		sh.mu.Unlock()
	}
}

// --- CreateStream / DeleteStream ---

type createStreamReq struct {
	StreamName         *string           `json:"StreamName"`
	ShardCount         *int              `json:"ShardCount"`
	StreamModeDetails  *modeJSON         `json:"StreamModeDetails"`
	Tags               map[string]string `json:"Tags"`
	MaxRecordSizeInKiB *int              `json:"MaxRecordSizeInKiB"`
}

func (e *Engine) createStream(_ context.Context, body []byte) ([]byte, error) {
	var req createStreamReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.StreamName == nil {
		return nil, nullErr("streamName")
	}
	if err := validName("streamName", *req.StreamName); err != nil {
		return nil, err
	}
	mode := modeProvisioned
	if req.StreamModeDetails != nil {
		mode = req.StreamModeDetails.StreamMode
		if mode != modeProvisioned && mode != modeOnDemand {
			return nil, errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'streamModeDetails.streamMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]", mode)
		}
	}
	n := 4
	if mode == modeProvisioned {
		if req.ShardCount == nil {
			return nil, errf(awsproto.Validation, "1 validation error detected: Value null at 'shardCount' failed to satisfy constraint: Member must not be null for a PROVISIONED stream")
		}
		n = *req.ShardCount
		if n < 1 || n > 100000 {
			return nil, errf(awsproto.Validation, "1 validation error detected: Value '%d' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1", n)
		}
	}
	if err := validTags(req.Tags, 50); err != nil {
		return nil, err
	}
	maxKiB := 1024
	if req.MaxRecordSizeInKiB != nil {
		maxKiB = *req.MaxRecordSizeInKiB
		if err := validMaxRecordKiB(maxKiB); err != nil {
			return nil, err
		}
	}
	name := *req.StreamName
	e.mu.Lock()
	now := e.nowMs()
	e.sweep(now)
	if _, ok := e.streams[name]; ok {
		e.mu.Unlock()
		return nil, errf(awsproto.ResourceInUse, "Stream %s under account %s already exists.", name, e.opts.AccountID)
	}
	creating := 0
	for _, s := range e.streams {
		s.mu.RLock()
		if st, _ := s.status(now, e.delayMs); st == statusCreating {
			creating++
		}
		s.mu.RUnlock()
	}
	open := int(e.openShards.Load())
	if creating >= 5 {
		e.mu.Unlock()
		return nil, errf(awsproto.LimitExceeded, "Only 5 streams can be in CREATING state at once.")
	}
	if open+n > e.opts.ShardLimit {
		e.mu.Unlock()
		return nil, errf(awsproto.LimitExceeded, "This request would exceed the shard limit for the account %s in %s. Current shard count for the account: %d. Limit: %d. Number of additional shards that would have resulted from this request: %d.", e.opts.AccountID, e.opts.Region, open, e.opts.ShardLimit, n)
	}
	ev := ctlEvent{T: evCreate, Stream: name, At: now, N: n, Mode: mode, Tags: req.Tags, MaxKiB: maxKiB}
	pos := e.logCtl(&ev)
	e.applyCreate(&ev)
	e.mu.Unlock()
	return []byte("{}"), e.commit(pos)
}

// applyCreate adds a stream. Callers hold e.mu for writing.
func (e *Engine) applyCreate(ev *ctlEvent) {
	s := &stream{name: ev.Stream, arn: e.streamARN(ev.Stream), created: ev.At, mode: ev.Mode,
		retentionHours: 24, maxRecordKiB: max(ev.MaxKiB, 1024), tags: map[string]string{}, consumers: map[string]*consumer{},
		pendingStatus: statusCreating, pendingUntil: ev.At + e.delayMs, openCount: &e.openShards}
	for k, v := range ev.Tags {
		s.tags[k] = v
	}
	for i, r := range evenRanges(ev.N) {
		s.shards = append(s.shards, newShard(i, r[0], r[1], ev.At))
	}
	s.rebuildOpen()
	e.streams[ev.Stream] = s
}

// sweep forgets streams whose deletion has completed. Callers hold e.mu for writing.
func (e *Engine) sweep(nowMs int64) {
	for name, s := range e.streams {
		s.mu.RLock()
		_, gone := s.status(nowMs, e.delayMs)
		s.mu.RUnlock()
		if gone {
			delete(e.streams, name)
		}
	}
}

type deleteStreamReq struct {
	streamRef
	EnforceConsumerDeletion *bool `json:"EnforceConsumerDeletion"`
}

func (e *Engine) deleteStream(_ context.Context, body []byte) ([]byte, error) {
	var req deleteStreamReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	name, err := e.streamNameFrom(req.StreamName, req.StreamARN)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.streams[name]
	now := e.nowMs()
	if s == nil {
		return nil, e.notFound(name)
	}
	s.mu.Lock()
	st, gone := s.status(now, e.delayMs)
	if gone {
		s.mu.Unlock()
		return nil, e.notFound(name)
	}
	if st == statusDeleting || st == statusCreating {
		s.mu.Unlock()
		return nil, errf(awsproto.ResourceInUse, "Stream %s under account %s is in %s state.", name, e.opts.AccountID, st)
	}
	if len(s.liveConsumers(now, e.delayMs)) > 0 && (req.EnforceConsumerDeletion == nil || !*req.EnforceConsumerDeletion) {
		s.mu.Unlock()
		return nil, errf(awsproto.ResourceInUse, "Stream %s under account %s has registered consumers. Set EnforceConsumerDeletion to delete it with them.", name, e.opts.AccountID)
	}
	ev := ctlEvent{T: evDelete, Stream: name, Created: s.created, At: now}
	pos := e.logCtl(&ev)
	s.mu.Unlock()
	e.applyDelete(&ev)
	e.cancelSubscriptions(s.arn + "/")
	return []byte("{}"), e.commit(pos)
}

// applyDelete starts deleting a stream. Callers hold e.mu for writing.
func (e *Engine) applyDelete(ev *ctlEvent) {
	s := e.streams[ev.Stream]
	if s == nil || s.created != ev.Created {
		return
	}
	s.mu.Lock()
	s.deletingAt = ev.At
	e.openShards.Add(-int64(len(s.open)))
	for _, c := range s.consumers {
		if c.deletingAt == 0 {
			c.deletingAt = ev.At
		}
	}
	s.mu.Unlock()
	if e.delayMs == 0 {
		delete(e.streams, ev.Stream)
	}
}

// --- DescribeStream / DescribeStreamSummary ---

type describeStreamReq struct {
	streamRef
	Limit                 *int    `json:"Limit"`
	ExclusiveStartShardId *string `json:"ExclusiveStartShardId"`
}

type streamDescription struct {
	StreamName              string           `json:"StreamName"`
	StreamARN               string           `json:"StreamARN"`
	StreamStatus            string           `json:"StreamStatus"`
	StreamModeDetails       modeJSON         `json:"StreamModeDetails"`
	Shards                  []shardJSON      `json:"Shards"`
	HasMoreShards           bool             `json:"HasMoreShards"`
	RetentionPeriodHours    int              `json:"RetentionPeriodHours"`
	StreamCreationTimestamp epoch            `json:"StreamCreationTimestamp"`
	EnhancedMonitoring      []monitoringJSON `json:"EnhancedMonitoring"`
	EncryptionType          string           `json:"EncryptionType"`
	KeyId                   string           `json:"KeyId,omitempty"`
}

func (e *Engine) describeStream(_ context.Context, body []byte) ([]byte, error) {
	var req describeStreamReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	limit, err := intParam(req.Limit, "limit", 100, 10000)
	if err != nil {
		return nil, err
	}
	after := -1
	if req.ExclusiveStartShardId != nil {
		if err := validName("exclusiveStartShardId", *req.ExclusiveStartShardId); err != nil {
			return nil, err
		}
		after = shardOrder(*req.ExclusiveStartShardId)
	}
	s, err := e.lookupReq(req.StreamName, req.StreamARN)
	if err != nil {
		return nil, err
	}
	now := e.nowMs()
	s.mu.RLock()
	st, _ := s.status(now, e.delayMs)
	d := streamDescription{StreamName: s.name, StreamARN: s.arn, StreamStatus: st,
		StreamModeDetails: modeJSON{s.mode}, Shards: []shardJSON{}, RetentionPeriodHours: s.retentionHours,
		StreamCreationTimestamp: msEpoch(s.created), EnhancedMonitoring: []monitoringJSON{{ShardLevelMetrics: s.monitoringList()}},
		EncryptionType: s.encryptionType(), KeyId: s.keyID}
	for _, sh := range s.visibleShards(now) {
		if sh.idx <= after {
			continue
		}
		if len(d.Shards) == limit {
			d.HasMoreShards = true
			break
		}
		d.Shards = append(d.Shards, toShardJSON(sh))
	}
	s.mu.RUnlock()
	return marshal(struct {
		StreamDescription streamDescription `json:"StreamDescription"`
	}{d})
}

// shardOrder maps an exclusive-start shard ID to the index after which listing resumes: shard IDs
// that are not of the canonical form compare as strings against the canonical ones.
func shardOrder(id string) int {
	if idx, ok := parseShardID(id); ok {
		return idx
	}
	if id < "shardId-" {
		return -1
	}
	return 1 << 40
}

type summaryJSON struct {
	StreamName              string           `json:"StreamName"`
	StreamARN               string           `json:"StreamARN"`
	StreamStatus            string           `json:"StreamStatus"`
	StreamModeDetails       modeJSON         `json:"StreamModeDetails"`
	RetentionPeriodHours    int              `json:"RetentionPeriodHours"`
	StreamCreationTimestamp epoch            `json:"StreamCreationTimestamp"`
	EnhancedMonitoring      []monitoringJSON `json:"EnhancedMonitoring"`
	EncryptionType          string           `json:"EncryptionType"`
	KeyId                   string           `json:"KeyId,omitempty"`
	OpenShardCount          int              `json:"OpenShardCount"`
	ConsumerCount           int              `json:"ConsumerCount"`
	MaxRecordSizeInKiB      int              `json:"MaxRecordSizeInKiB"`
}

func (e *Engine) describeStreamSummary(_ context.Context, body []byte) ([]byte, error) {
	var req streamRef
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	s, err := e.lookupReq(req.StreamName, req.StreamARN)
	if err != nil {
		return nil, err
	}
	now := e.nowMs()
	s.mu.RLock()
	st, _ := s.status(now, e.delayMs)
	d := summaryJSON{StreamName: s.name, StreamARN: s.arn, StreamStatus: st, StreamModeDetails: modeJSON{s.mode},
		RetentionPeriodHours: s.retentionHours, StreamCreationTimestamp: msEpoch(s.created),
		EnhancedMonitoring: []monitoringJSON{{ShardLevelMetrics: s.monitoringList()}}, EncryptionType: s.encryptionType(), KeyId: s.keyID,
		OpenShardCount: len(s.open), ConsumerCount: len(s.liveConsumers(now, e.delayMs)), MaxRecordSizeInKiB: s.maxRecordKiB}
	s.mu.RUnlock()
	return marshal(struct {
		StreamDescriptionSummary summaryJSON `json:"StreamDescriptionSummary"`
	}{d})
}

// --- ListStreams ---

type listStreamsReq struct {
	Limit                    *int    `json:"Limit"`
	ExclusiveStartStreamName *string `json:"ExclusiveStartStreamName"`
	NextToken                *string `json:"NextToken"`
}

type streamSummaryJSON struct {
	StreamName              string   `json:"StreamName"`
	StreamARN               string   `json:"StreamARN"`
	StreamStatus            string   `json:"StreamStatus"`
	StreamModeDetails       modeJSON `json:"StreamModeDetails"`
	StreamCreationTimestamp epoch    `json:"StreamCreationTimestamp"`
}

func (e *Engine) listStreams(_ context.Context, body []byte) ([]byte, error) {
	var req listStreamsReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	limit, err := intParam(req.Limit, "limit", 100, 10000)
	if err != nil {
		return nil, err
	}
	after := ""
	if req.ExclusiveStartStreamName != nil {
		if err := validName("exclusiveStartStreamName", *req.ExclusiveStartStreamName); err != nil {
			return nil, err
		}
		after = *req.ExclusiveStartStreamName
	}
	if req.NextToken != nil {
		if err := e.parseToken("ListStreams", *req.NextToken, &after); err != nil {
			return nil, err
		}
	}
	now := e.nowMs()
	e.mu.RLock()
	var names []string
	for name, s := range e.streams {
		s.mu.RLock()
		_, gone := s.status(now, e.delayMs)
		s.mu.RUnlock()
		if !gone && name > after {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	more := len(names) > limit
	if more {
		names = names[:limit]
	}
	out := struct {
		StreamNames     []string            `json:"StreamNames"`
		HasMoreStreams  bool                `json:"HasMoreStreams"`
		NextToken       string              `json:"NextToken,omitempty"`
		StreamSummaries []streamSummaryJSON `json:"StreamSummaries"`
	}{StreamNames: append([]string{}, names...), HasMoreStreams: more, StreamSummaries: []streamSummaryJSON{}}
	for _, name := range names {
		s := e.streams[name]
		s.mu.RLock()
		st, _ := s.status(now, e.delayMs)
		out.StreamSummaries = append(out.StreamSummaries, streamSummaryJSON{StreamName: name, StreamARN: s.arn,
			StreamStatus: st, StreamModeDetails: modeJSON{s.mode}, StreamCreationTimestamp: msEpoch(s.created)})
		s.mu.RUnlock()
	}
	e.mu.RUnlock()
	if more {
		out.NextToken = e.makeToken("ListStreams", names[len(names)-1])
	}
	return marshal(out)
}

// --- retention ---

type retentionReq struct {
	streamRef
	RetentionPeriodHours *int `json:"RetentionPeriodHours"`
}

func (e *Engine) increaseRetention(_ context.Context, body []byte) ([]byte, error) {
	return e.changeRetention(body, true)
}

func (e *Engine) decreaseRetention(_ context.Context, body []byte) ([]byte, error) {
	return e.changeRetention(body, false)
}

func (e *Engine) changeRetention(body []byte, increase bool) ([]byte, error) {
	return changeStream(e, body, streamChange[retentionReq]{
		check: func(req *retentionReq) error {
			if req.RetentionPeriodHours == nil {
				return nullErr("retentionPeriodHours")
			}
			h := *req.RetentionPeriodHours
			if h < 24 {
				return errf(awsproto.InvalidArgument, "Minimum allowed retention period is 24 hours. Requested retention period (%d hours) is too short.", h)
			}
			if h > 8760 {
				return errf(awsproto.InvalidArgument, "Maximum allowed retention period is 8760 hours. Requested retention period (%d hours) is too long.", h)
			}
			return nil
		},
		decide: func(s *stream, now int64, req *retentionReq) (ctlEvent, error) {
			h := *req.RetentionPeriodHours
			if increase && h < s.retentionHours {
				return ctlEvent{}, errf(awsproto.InvalidArgument, "Requested retention period (%d hours) for stream %s can not be shorter than existing retention period (%d hours). Use DecreaseRetentionPeriod API.", h, s.name, s.retentionHours)
			}
			if !increase && h > s.retentionHours {
				return ctlEvent{}, errf(awsproto.InvalidArgument, "Requested retention period (%d hours) for stream %s can not be longer than existing retention period (%d hours). Use IncreaseRetentionPeriod API.", h, s.name, s.retentionHours)
			}
			return ctlEvent{T: evRetention, N: h}, nil
		},
	})
}

// --- UpdateMaxRecordSize ---

func validMaxRecordKiB(n int) error {
	if n < 1024 || n > 10240 {
		return errf(awsproto.Validation, "1 validation error detected: Value '%d' at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value between 1024 and 10240", n)
	}
	return nil
}

type maxRecordReq struct {
	streamRef
	MaxRecordSizeInKiB *int `json:"MaxRecordSizeInKiB"`
}

func (e *Engine) updateMaxRecordSize(_ context.Context, body []byte) ([]byte, error) {
	return changeStream(e, body, streamChange[maxRecordReq]{
		check: func(req *maxRecordReq) error {
			if req.MaxRecordSizeInKiB == nil {
				return nullErr("maxRecordSizeInKiB")
			}
			return validMaxRecordKiB(*req.MaxRecordSizeInKiB)
		},
		decide: func(_ *stream, _ int64, req *maxRecordReq) (ctlEvent, error) {
			return ctlEvent{T: evMaxRecord, N: *req.MaxRecordSizeInKiB}, nil
		},
	})
}

// --- UpdateStreamMode ---

type updateModeReq struct {
	streamRef
	StreamModeDetails *modeJSON `json:"StreamModeDetails"`
}

func (e *Engine) updateStreamMode(_ context.Context, body []byte) ([]byte, error) {
	return changeStream(e, body, streamChange[updateModeReq]{
		check: func(req *updateModeReq) error {
			if req.StreamModeDetails == nil {
				return nullErr("streamModeDetails")
			}
			if mode := req.StreamModeDetails.StreamMode; mode != modeProvisioned && mode != modeOnDemand {
				return errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'streamModeDetails.streamMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]", mode)
			}
			return nil
		},
		decide: func(s *stream, _ int64, req *updateModeReq) (ctlEvent, error) {
			mode := req.StreamModeDetails.StreamMode
			if s.mode == mode {
				return ctlEvent{}, errf(awsproto.InvalidArgument, "Stream %s under account %s is already in %s mode.", s.name, e.opts.AccountID, mode)
			}
			return ctlEvent{T: evMode, Mode: mode}, nil
		},
	})
}

// --- DescribeLimits ---

func (e *Engine) describeLimits(_ context.Context, body []byte) ([]byte, error) {
	var req struct{}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	now := e.nowMs()
	open, onDemand := int(e.openShards.Load()), 0
	e.mu.RLock()
	for _, s := range e.streams {
		s.mu.RLock()
		if _, gone := s.status(now, e.delayMs); !gone {
			if s.mode == modeOnDemand {
				onDemand++
			}
		}
		s.mu.RUnlock()
	}
	e.mu.RUnlock()
	return marshal(map[string]int{"ShardLimit": e.opts.ShardLimit, "OpenShardCount": open,
		"OnDemandStreamCount": onDemand, "OnDemandStreamCountLimit": 50})
}
