package streams

import (
	"context"
	"math"
	"regexp"
	"sync"
	"unicode/utf8"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

// Record and request sizes (data + partition keys). A stream's MaxRecordSizeInKiB (1024 by
// default, up to 10240) caps a record; PutRecords carries at most 5 MiB, or 10 MiB on streams
// that allow records over 1 MiB.
const (
	maxModelRecordBytes   = 10 << 20
	maxPutRecordsBytes    = 5 << 20
	maxPutRecordsBytesBig = 10 << 20
)

// inRec is a validated record to write.
type inRec struct {
	pk, data []byte
	key      u128
}

// putResult is the outcome of one record.
type putResult struct {
	shard     *shard
	seqIx     uint64
	arrival   int64
	throttled bool
}

var seqPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,128})$`)

func validPK(pk []byte, present bool) error {
	if !present {
		return nullErr("partitionKey")
	}
	if n := utf8.RuneCount(pk); n < 1 || n > 256 {
		return errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'partitionKey' failed to satisfy constraint: Member must have length between 1 and 256", pk)
	}
	return nil
}

// validRecord validates one record and computes its hash key.
func validRecord(pk, data []byte, hasPK, hasData bool, ehk *string) (inRec, error) {
	if err := validPK(pk, hasPK); err != nil {
		return inRec{}, err
	}
	if !hasData {
		return inRec{}, nullErr("data")
	}
	if len(data) > maxModelRecordBytes {
		return inRec{}, errf(awsproto.Validation, "1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to %d", maxModelRecordBytes)
	}
	r := inRec{pk: pk, data: data}
	if ehk != nil {
		k, ok := parseU128(*ehk)
		if !ok {
			return inRec{}, errf(awsproto.InvalidArgument, "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s", *ehk)
		}
		r.key = k
	} else {
		r.key = hashKey(pk)
	}
	return r, nil
}

// write checks record sizes against the stream's limits, appends the records to their shards
// and logs them. It returns one result per record and the log position to commit. minSeq, if
// set, is PutRecord's SequenceNumberForOrdering.
func (e *Engine) write(s *stream, recs []inRec, minSeq *seqNum) ([]putResult, int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := e.nowMs()
	if err := e.requireData(s, now); err != nil {
		return nil, 0, err
	}
	maxRec, total := s.maxRecordKiB<<10, 0
	for i := range recs {
		size := len(recs[i].pk) + len(recs[i].data)
		if size > maxRec {
			return nil, 0, errf(awsproto.Validation, "Record size (data plus partition key) of %d bytes exceeds the maximum record size of %d KiB of stream %s under account %s.", size, s.maxRecordKiB, s.name, e.opts.AccountID)
		}
		total += size
	}
	capBytes := maxPutRecordsBytes
	if maxRec > 1<<20 {
		capBytes = maxPutRecordsBytesBig
	}
	if total > capBytes {
		return nil, 0, errf(awsproto.InvalidArgument, "Records size exceeds %d MB limit", capBytes>>20)
	}
	res := make([]putResult, len(recs))
	for i := range recs {
		res[i].shard = s.route(recs[i].key)
	}
	ret := s.retentionMs()
	var pos int64
	done := 0
	for i := range recs {
		sh := res[i].shard
		if sh == nil || res[i].seqIx != 0 || res[i].throttled {
			continue
		}
		sh.mu.Lock()
		if minSeq != nil && minSeq.shardIdx == uint32(sh.idx) && minSeq.seqIx >= sh.log.next {
			sh.mu.Unlock()
			return nil, 0, errf(awsproto.InvalidArgument, "ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s under account %s is invalid.", minSeq, s.name, e.opts.AccountID)
		}
		sh.maybeTrim(now, ret)
		var batch walBatch
		if e.wal != nil {
			batch.begin(s, sh)
		}
		for j := i; j < len(recs); j++ {
			if res[j].shard != sh {
				continue
			}
			r := &recs[j]
			if e.limits != nil && !sh.limit.allowWrite(now, e.limits, len(r.pk)+len(r.data)) {
				res[j].throttled = true
				continue
			}
			arr := sh.log.arrivalFor(now)
			res[j].seqIx = sh.log.appendRecord(arr, r.pk, r.data)
			res[j].arrival = arr
			sh.appended(arr, ret)
			if e.wal != nil {
				batch.add(res[j].seqIx, arr, r.pk, r.data)
			}
			done++
		}
		if batch.n > 0 {
			pos = e.wal.Append(walRecords, batch.bytes())
		}
		if done > 0 {
			sh.wake()
		}
		sh.mu.Unlock()
	}
	return res, pos, nil
}

type putRecordReq struct {
	streamRef
	Data                      *[]byte `json:"Data"`
	PartitionKey              *string `json:"PartitionKey"`
	ExplicitHashKey           *string `json:"ExplicitHashKey"`
	SequenceNumberForOrdering *string `json:"SequenceNumberForOrdering"`
}

func (e *Engine) putRecord(_ context.Context, body []byte) ([]byte, error) {
	var req putRecordReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	var pk, data []byte
	if req.PartitionKey != nil {
		pk = []byte(*req.PartitionKey)
	}
	if req.Data != nil {
		data = *req.Data
	}
	r, err := validRecord(pk, data, req.PartitionKey != nil, req.Data != nil, req.ExplicitHashKey)
	if err != nil {
		return nil, err
	}
	var minSeq *seqNum
	if req.SequenceNumberForOrdering != nil {
		if !seqPattern.MatchString(*req.SequenceNumberForOrdering) {
			return nil, errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'sequenceNumberForOrdering' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})", *req.SequenceNumberForOrdering)
		}
		if sn, ok := parseSeqNum(*req.SequenceNumberForOrdering); ok {
			minSeq = &sn
		}
	}
	s, err := e.lookupReq(req.StreamName, req.StreamARN)
	if err != nil {
		return nil, err
	}
	res, pos, err := e.write(s, []inRec{r}, minSeq)
	if err != nil {
		return nil, err
	}
	if res[0].throttled {
		return nil, errf(awsproto.ProvisionedThroughput, "Rate exceeded for shard %s in stream %s under account %s.", res[0].shard.id, s.name, e.opts.AccountID)
	}
	if err := e.commit(pos); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 160)
	b = append(b, `{"ShardId":"`...)
	b = append(b, res[0].shard.id...)
	b = append(b, `","SequenceNumber":"`...)
	b = res[0].shard.seq(res[0].seqIx, res[0].arrival).appendDecimal(b)
	b = append(b, `","EncryptionType":"`...)
	b = append(b, s.currentEncryptionType()...)
	b = append(b, `"}`...)
	return b, nil
}

func (e *Engine) putRecords(_ context.Context, body []byte) ([]byte, error) {
	req, err := parsePutRecords(body)
	if err != nil {
		return nil, err
	}
	if !req.hasRecords {
		return nil, nullErr("records")
	}
	if n := len(req.records); n < 1 || n > 500 {
		return nil, errf(awsproto.Validation, "1 validation error detected: Value '%d records' at 'records' failed to satisfy constraint: Member must have length between 1 and 500", n)
	}
	recs := make([]inRec, len(req.records))
	total := 0
	for i, pe := range req.records {
		total += len(pe.pk) + len(pe.data)
		if total > maxPutRecordsBytesBig {
			return nil, errf(awsproto.InvalidArgument, "Records size exceeds 10 MB limit")
		}
		var ehk *string
		if pe.hasEHK {
			str := string(pe.ehk)
			ehk = &str
		}
		r, err := validRecord(pe.pk, pe.data, pe.hasPK, pe.hasData, ehk)
		if err != nil {
			return nil, err
		}
		recs[i] = r
	}
	s, err := e.lookupReq(req.streamName, req.streamARN)
	if err != nil {
		return nil, err
	}
	res, pos, err := e.write(s, recs, nil)
	if err != nil {
		return nil, err
	}
	if err := e.commit(pos); err != nil {
		return nil, err
	}
	failed := 0
	for i := range res {
		if res[i].throttled {
			failed++
		}
	}
	b := make([]byte, 0, 64+len(res)*128) // about 112 bytes per entry
	b = append(b, `{"FailedRecordCount":`...)
	b = appendUint(b, uint64(failed))
	b = append(b, `,"Records":[`...)
	for i := range res {
		if i > 0 {
			b = append(b, ',')
		}
		r := &res[i]
		if r.throttled {
			b = append(b, `{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded for shard `...)
			b = append(b, r.shard.id...)
			b = append(b, " in stream "...)
			b = append(b, s.name...)
			b = append(b, " under account "...)
			b = append(b, e.opts.AccountID...)
			b = append(b, `."}`...)
			continue
		}
		b = append(b, `{"SequenceNumber":"`...)
		b = r.shard.seq(r.seqIx, r.arrival).appendDecimal(b)
		b = append(b, `","ShardId":"`...)
		b = append(b, r.shard.id...)
		b = append(b, `"}`...)
	}
	b = append(b, `],"EncryptionType":"`...)
	b = append(b, s.currentEncryptionType()...)
	b = append(b, `"}`...)
	return b, nil
}

// --- GetShardIterator ---

type getShardIteratorReq struct {
	streamRef
	ShardId                *string  `json:"ShardId"`
	ShardIteratorType      *string  `json:"ShardIteratorType"`
	StartingSequenceNumber *string  `json:"StartingSequenceNumber"`
	Timestamp              *float64 `json:"Timestamp"`
}

// startPos is a validated starting position (GetShardIterator or SubscribeToShard).
type startPos struct {
	typ   string
	seq   seqNum
	seqOK bool
	ms    int64
}

func parseStart(typ, seq *string, ts *float64, op string) (startPos, error) {
	if typ == nil {
		return startPos{}, nullErr("shardIteratorType")
	}
	p := startPos{typ: *typ}
	switch *typ {
	case "TRIM_HORIZON", "LATEST":
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		if seq == nil {
			return p, errf(awsproto.InvalidArgument, "StartingSequenceNumber must be specified for %s with %s.", op, *typ)
		}
		if !seqPattern.MatchString(*seq) {
			return p, errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'startingSequenceNumber' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})", *seq)
		}
		p.seq, p.seqOK = parseSeqNum(*seq)
		if !p.seqOK {
			return p, errf(awsproto.InvalidArgument, "StartingSequenceNumber %s used in %s is invalid.", *seq, op)
		}
	case "AT_TIMESTAMP":
		if ts == nil {
			return p, errf(awsproto.InvalidArgument, "The timestampInMillis parameter cannot be null for ShardIteratorType AT_TIMESTAMP.")
		}
		if math.IsNaN(*ts) || *ts < 0 || *ts > 1e13 {
			return p, errf(awsproto.InvalidArgument, "Timestamp %v is out of range.", *ts)
		}
		p.ms = int64(math.Floor(*ts * 1000))
	default:
		return p, errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]", *typ)
	}
	return p, nil
}

// position resolves a starting position on sh to the next seqIx to read and, for a time after the
// newest record, the minimum arrival time of records to return. Callers hold sh.mu.
func (e *Engine) position(sh *shard, p startPos) (uint64, int64, error) {
	if p.seqOK && p.seq.shardIdx != uint32(sh.idx) {
		return 0, 0, errf(awsproto.InvalidArgument, "Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard with %s", shardID(int(p.seq.shardIdx)), sh.id)
	}
	switch p.typ {
	case "TRIM_HORIZON":
		return sh.log.trimIx, 0, nil
	case "LATEST":
		return sh.log.next, 0, nil
	case "AT_SEQUENCE_NUMBER":
		return max(p.seq.seqIx, 1), 0, nil
	case "AFTER_SEQUENCE_NUMBER":
		if p.seq.seqIx >= 1<<63-1 {
			return 1<<63 - 1, 0, nil
		}
		return p.seq.seqIx + 1, 0, nil
	default: // AT_TIMESTAMP
		pos := sh.log.firstAtOrAfter(p.ms)
		if pos == sh.log.next {
			return pos, p.ms, nil
		}
		return pos, 0, nil
	}
}

func (e *Engine) shardNotFound(s *stream, id string) error {
	return errf(awsproto.ResourceNotFound, "Shard %s in stream %s under account %s does not exist", id, s.name, e.opts.AccountID)
}

func (e *Engine) getShardIterator(_ context.Context, body []byte) ([]byte, error) {
	var req getShardIteratorReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.ShardId == nil {
		return nil, nullErr("shardId")
	}
	if err := validName("shardId", *req.ShardId); err != nil {
		return nil, err
	}
	p, err := parseStart(req.ShardIteratorType, req.StartingSequenceNumber, req.Timestamp, "GetShardIterator")
	if err != nil {
		return nil, err
	}
	s, err := e.lookupReq(req.StreamName, req.StreamARN)
	if err != nil {
		return nil, err
	}
	now := e.nowMs()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := e.requireData(s, now); err != nil {
		return nil, err
	}
	sh := s.shardByID(*req.ShardId)
	if sh == nil || s.expired(sh, now) {
		return nil, e.shardNotFound(s, *req.ShardId)
	}
	sh.mu.Lock()
	if e.limits != nil && !sh.limit.allowIterator(now, e.limits) {
		sh.mu.Unlock()
		return nil, errf(awsproto.ProvisionedThroughput, "Rate exceeded for shard %s in stream %s under account %s.", sh.id, s.name, e.opts.AccountID)
	}
	sh.maybeTrim(now, s.retentionMs())
	pos, minArr, err := e.position(sh, p)
	sh.mu.Unlock()
	if err != nil {
		return nil, err
	}
	it := iterator{streamCreated: s.created, shardIdx: uint32(sh.idx), pos: pos, issued: now, minArrival: minArr, stream: s.name}
	b := append([]byte(`{"ShardIterator":"`), it.encode()...)
	return append(b, `"}`...), nil
}

// --- GetRecords ---

type getRecordsReq struct {
	ShardIterator *string `json:"ShardIterator"`
	Limit         *int    `json:"Limit"`
	StreamARN     *string `json:"StreamARN"`
}

var refPool = sync.Pool{New: func() any { s := make([]recRef, 0, 1024); return &s }}

func (e *Engine) getRecords(_ context.Context, body []byte) ([]byte, error) {
	var req getRecordsReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.ShardIterator == nil {
		return nil, nullErr("shardIterator")
	}
	limit := 10000
	if req.Limit != nil {
		limit = *req.Limit
		if limit < 1 {
			return nil, errf(awsproto.Validation, "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", limit)
		}
		if limit > 10000 {
			return nil, errf(awsproto.InvalidArgument, "Limit %d is greater than 10000, the maximum number of records per GetRecords call.", limit)
		}
	}
	it, ok := decodeIterator(*req.ShardIterator)
	if !ok {
		return nil, errf(awsproto.InvalidArgument, "Invalid ShardIterator.")
	}
	now := e.nowMs()
	if now-it.issued > iteratorTTLMs {
		return nil, errf(awsproto.ExpiredIterator, "Iterator expired. The iterator was created at time %d while right now it is %d which is further in the future than the tolerated delay of %d milliseconds.", it.issued, now, iteratorTTLMs)
	}
	if req.StreamARN != nil {
		name, err := e.parseStreamARN(*req.StreamARN)
		if err != nil {
			return nil, err
		}
		if name != it.stream {
			return nil, errf(awsproto.InvalidArgument, "StreamARN %s does not match the shard iterator's stream.", *req.StreamARN)
		}
	}
	s, err := e.lookup(it.stream)
	if err != nil {
		return nil, err
	}
	if s.created != it.streamCreated {
		return nil, e.notFound(it.stream)
	}
	s.mu.RLock()
	if err := e.requireData(s, now); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	if int(it.shardIdx) >= len(s.shards) || s.expired(s.shards[it.shardIdx], now) {
		s.mu.RUnlock()
		return nil, e.shardNotFound(s, shardID(int(it.shardIdx)))
	}
	sh := s.shards[it.shardIdx]
	closed := sh.closedAt != 0
	var children []byte
	if closed {
		children = s.childShardsJSON(sh)
	}
	refs := refPool.Get().(*[]recRef)
	defer func() {
		clear(*refs) // do not keep trimmed segments alive from the pool
		*refs = (*refs)[:0]
		refPool.Put(refs)
	}()

	sh.mu.Lock()
	sh.maybeTrim(now, s.retentionMs())
	if e.limits != nil && !sh.limit.allowRead(now, e.limits) {
		sh.mu.Unlock()
		s.mu.RUnlock()
		return nil, errf(awsproto.ProvisionedThroughput, "Rate exceeded for Shard - %s in stream %s under account %s.", sh.id, s.name, e.opts.AccountID)
	}
	pos := it.pos
	minArr := it.minArrival
	if minArr != 0 {
		pos = max(pos, sh.log.firstAtOrAfter(minArr))
		if pos < sh.log.next {
			minArr = 0 // a record at or after the time exists: plain positions from here on
		}
	}
	recs, pos, n, full := sh.log.read(pos, limit, maxReadBytes, (*refs)[:0])
	*refs = recs
	if e.limits != nil {
		sh.limit.readDone(now, n, full)
	}
	next := sh.log.next
	var behind int64
	if pos < next {
		if a, ok := sh.log.arrivalAt(pos); ok && now > a {
			behind = now - a
		}
	}
	sh.mu.Unlock()
	s.mu.RUnlock()

	atEnd := closed && pos >= next
	b := make([]byte, 0, recordsJSONSize(recs)+len(children)+400)
	b = append(b, `{"Records":`...)
	b = appendRecords(b, sh, recs)
	if !atEnd {
		nit := iterator{streamCreated: s.created, shardIdx: it.shardIdx, pos: pos, issued: now, minArrival: minArr, stream: s.name}
		b = append(b, `,"NextShardIterator":"`...)
		b = append(b, nit.encode()...)
		b = append(b, '"')
	}
	b = append(b, `,"MillisBehindLatest":`...)
	b = appendUint(b, uint64(behind))
	if atEnd {
		b = append(b, `,"ChildShards":`...)
		b = append(b, children...)
	}
	return append(b, '}'), nil
}
