package streams

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/shoal-go/shoal/kinesislocal/internal/dirlock"
	"github.com/shoal-go/shoal/kinesislocal/internal/wal"
)

// The write-ahead log is one file, DataDir/streams.log, in the shared format of package wal.
// Control events (kind walCtl) are JSON ctlEvents; record batches (kind walRecords) are binary
// walBatches; compaction writes walSnapshot frames. New replays every frame in order.

const (
	walCtl     byte = 1
	walRecords byte = 2
)

// logName is the log's file name in DataDir.
const logName = "streams.log"

// legacy is the framing this engine wrote before the shared format (version 1).
var legacy = &wal.Legacy{KindByte: true}

// dataLog is the engine's log and the lock on its directory.
type dataLog struct {
	*wal.Log
	lock *os.File // holds the directory's flock; nil where unsupported
}

func (e *Engine) walOptions() wal.Options {
	return wal.Options{FS: e.opts.FS, Logger: e.opts.Logger, Legacy: legacy, Describe: describeFrame}
}

// openWAL replays dir/streams.log, compacts it if it is larger than compactThreshold bytes, and
// opens it for appending.
func (e *Engine) openWAL(dir string, compactThreshold int64) (*dataLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("streams: create data dir: %w", err)
	}
	lock, err := dirlock.Lock(dir)
	if err != nil {
		return nil, fmt.Errorf("streams: %w", err)
	}
	l, err := wal.Open(filepath.Join(dir, logName), e.walOptions(), e.replay)
	if err == nil && l.Size() > compactThreshold {
		if err = l.Rewrite(e.snapshotFrames); err != nil {
			l.Abandon()
		}
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	for _, o := range e.orphans {
		o.sh.closedAt = max(o.sh.log.last, o.sh.created) + 1
		e.opts.Logger.Warn("streams: a repaired log held records of a shard whose reshard was moved aside; kept them in a closed shard covering the whole hash range",
			"file", l.Path(), "stream", o.s.name, "shard", o.sh.id, "records", o.sh.log.next-o.sh.log.trimIx)
	}
	e.orphans = nil
	for s := range e.placeholders {
		e.opts.Logger.Warn("streams: a repaired log held records of a stream whose creation was moved aside; recreated it from them with evenly split shards, default retention and no tags",
			"file", l.Path(), "stream", s.name, "shards", len(s.shards))
	}
	e.placeholders = nil
	if e.gapDrops > 0 {
		e.opts.Logger.Warn("streams: a repaired log lacks the records and changes that were moved aside; changes that depended on them were skipped",
			"file", l.Path(), "skipped_frames", e.gapDrops)
	}
	return &dataLog{Log: l, lock: lock}, nil
}

// Repair repairs dir/streams.log (see wal.Repair). The directory must not be open.
func Repair(dir string, logger *slog.Logger) (wal.RepairReport, error) {
	rep, err := wal.RepairIn(dir, logName, wal.Options{Logger: logger, Legacy: legacy, Describe: describeFrame})
	if err != nil {
		return rep, fmt.Errorf("streams: %w", err)
	}
	return rep, nil
}

func (w *dataLog) close() error {
	err := w.Close()
	if w.lock != nil {
		err = errors.Join(err, w.lock.Close()) // releases the flock
	}
	return err
}

// abandon releases the files without writing what is buffered, as a crash would (tests).
func (w *dataLog) abandon() {
	w.Abandon()
	if w.lock != nil {
		w.lock.Close()
	}
}

// --- events ---

const (
	evCreate       = "create"
	evDelete       = "delete"
	evSplit        = "split"
	evMerge        = "merge"
	evScale        = "scale"
	evRetention    = "retention"
	evTags         = "tags"
	evUntag        = "untag"
	evRegister     = "register"
	evDeregister   = "deregister"
	evMaxRecord    = "maxrecord"
	evMode         = "mode"
	evMonitoring   = "monitor"
	evNoMonitoring = "nomonitor"
)

// ctlEvent is a logged control-plane change.
type ctlEvent struct {
	T       string            `json:"t"`
	Stream  string            `json:"s"`
	Created int64             `json:"c,omitempty"`
	At      int64             `json:"at"`
	N       int               `json:"n,omitempty"`
	Mode    string            `json:"m,omitempty"`
	Shard   int               `json:"sh,omitempty"`
	Shard2  int               `json:"sh2,omitempty"`
	Key     string            `json:"k,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
	Keys    []string          `json:"keys,omitempty"`
	Name    string            `json:"name,omitempty"`
	MaxKiB  int               `json:"max,omitempty"`
}

// logCtl appends a control event; it returns the position to commit (0 in memory).
func (e *Engine) logCtl(ev *ctlEvent) int64 {
	if e.wal == nil {
		return 0
	}
	b, _ := json.Marshal(ev)
	return e.wal.Append(walCtl, b)
}

// walBatch encodes records appended to one shard under its lock:
// [u8 name length][name][i64 stream created][u32 shard][u64 first seqIx][u32 count] then per
// record [i64 arrival][u16 key length][u32 data length][key][data].
type walBatch struct {
	b []byte
	n int
}

func (wb *walBatch) begin(s *stream, sh *shard) {
	wb.b = make([]byte, 0, 4096)
	wb.b = append(wb.b, byte(len(s.name)))
	wb.b = append(wb.b, s.name...)
	wb.b = binary.LittleEndian.AppendUint64(wb.b, uint64(s.created))
	wb.b = binary.LittleEndian.AppendUint32(wb.b, uint32(sh.idx))
	wb.b = binary.LittleEndian.AppendUint64(wb.b, 0)
	wb.b = binary.LittleEndian.AppendUint32(wb.b, 0)
}

func (wb *walBatch) add(seqIx uint64, arrival int64, pk, data []byte) {
	if wb.n == 0 {
		binary.LittleEndian.PutUint64(wb.b[1+int(wb.b[0])+12:], seqIx)
	}
	wb.n++
	wb.b = binary.LittleEndian.AppendUint64(wb.b, uint64(arrival))
	wb.b = binary.LittleEndian.AppendUint16(wb.b, uint16(len(pk)))
	wb.b = binary.LittleEndian.AppendUint32(wb.b, uint32(len(data)))
	wb.b = append(wb.b, pk...)
	wb.b = append(wb.b, data...)
}

func (wb *walBatch) bytes() []byte {
	binary.LittleEndian.PutUint32(wb.b[1+int(wb.b[0])+20:], uint32(wb.n))
	return wb.b
}

var errCorrupt = errors.New("corrupt record batch")

// replay applies one logged frame during New. After a gap left by Repair, a frame that cannot
// be applied (a change to a shard or stream whose creation was moved aside) is skipped and
// counted; before any gap it fails New, since an intact log never holds one.
func (e *Engine) replay(kind byte, p []byte) error {
	var err error
	switch kind {
	case wal.KindGap:
		e.afterGap = true
		return nil
	case walCtl:
		var ev ctlEvent
		if err = json.Unmarshal(p, &ev); err == nil {
			err = e.replayCtl(&ev)
		}
	case walRecords:
		err = e.replayRecords(p)
	case walSnapshot:
		err = e.restoreStream(p)
	default:
		err = fmt.Errorf("unknown frame kind %d", kind)
	}
	if err != nil && e.afterGap {
		e.gapDrops++
		return nil
	}
	return err
}

func (e *Engine) replayCtl(ev *ctlEvent) error {
	if ev.T == evCreate {
		e.applyCreate(ev)
		return nil
	}
	if ev.T == evDelete {
		e.applyDelete(ev)
		return nil
	}
	s := e.streams[ev.Stream]
	if s == nil || s.created != ev.Created {
		return nil // a change to a stream that was deleted later
	}
	return e.applyStreamEvent(s, ev)
}

func (e *Engine) replayRecords(p []byte) error {
	if len(p) < 1 {
		return errCorrupt
	}
	nl := int(p[0])
	if len(p) < 1+nl+24 {
		return errCorrupt
	}
	name := string(p[1 : 1+nl])
	q := p[1+nl:]
	created := int64(binary.LittleEndian.Uint64(q))
	idx := int(binary.LittleEndian.Uint32(q[8:]))
	first := binary.LittleEndian.Uint64(q[12:])
	n := int(binary.LittleEndian.Uint32(q[20:]))
	q = q[24:]
	s := e.streams[name]
	if s == nil && e.afterGap {
		s = e.placeholder(name, created)
	}
	if s == nil || s.created != created {
		return nil // a stream deleted later
	}
	if idx >= len(s.shards) && e.placeholders[s] {
		e.growPlaceholder(s, idx+1)
	}
	for idx >= len(s.shards) && e.afterGap {
		// The reshard that created this shard was moved aside: keep its records in a closed
		// shard (closed after its last record once replay ends; openWAL does that).
		sh := newShard(len(s.shards), u128{}, maxU128, s.created)
		sh.closedAt = s.created
		s.shards = append(s.shards, sh)
		e.orphans = append(e.orphans, orphanShard{s, sh})
	}
	if idx >= len(s.shards) {
		return errCorrupt
	}
	sh := s.shards[idx]
	if first < sh.log.next {
		return fmt.Errorf("record batch for %s %s starts at %d, expected %d", name, sh.id, first, sh.log.next)
	}
	if first > sh.log.next {
		// A hole: a batch moved aside by Repair (and kept as a hole through compaction).
		sh.log.skipTo(first)
	}
	for i := 0; i < n; i++ {
		if len(q) < 14 {
			return errCorrupt
		}
		arr := int64(binary.LittleEndian.Uint64(q))
		kl := int(binary.LittleEndian.Uint16(q[8:]))
		dl := int(binary.LittleEndian.Uint32(q[10:]))
		q = q[14:]
		if len(q) < kl+dl {
			return errCorrupt
		}
		sh.log.appendRecord(arr, q[:kl], q[kl:kl+dl])
		q = q[kl+dl:]
	}
	return nil
}

// describeFrame says what a frame holds, for damage reports. p may be damaged.
func describeFrame(kind byte, p []byte) string {
	switch kind {
	case walRecords:
		if len(p) < 1 || len(p) < 1+int(p[0])+24 {
			return "a record batch (its header is damaged)"
		}
		nl := int(p[0])
		q := p[1+nl:]
		first := binary.LittleEndian.Uint64(q[12:])
		n := binary.LittleEndian.Uint32(q[20:])
		recs := "records"
		if n == 1 {
			recs = "record"
		}
		return fmt.Sprintf("%d %s of stream %q, shard %s, sequence indexes %d..%d", n, recs, p[1:1+nl],
			shardID(int(binary.LittleEndian.Uint32(q[8:]))), first, first+uint64(n)-1)
	case walCtl:
		var ev ctlEvent
		if json.Unmarshal(p, &ev) != nil {
			return fmt.Sprintf("a control event (%.80q)", p)
		}
		return fmt.Sprintf("the control event %q of stream %q", ev.T, ev.Stream)
	case walSnapshot:
		var snap streamSnap
		if json.Unmarshal(p, &snap) != nil {
			return fmt.Sprintf("a stream snapshot (%.80q)", p)
		}
		return fmt.Sprintf("the snapshot of stream %q (%d shards)", snap.Name, len(snap.Shards))
	}
	return ""
}

// placeholder recreates, during replay of a repaired log, a stream whose creation was moved
// aside with the damaged bytes, so that its intact records are kept: provisioned, with as many
// evenly split shards as its records name, default retention and no tags. New logs a warning
// naming it.
func (e *Engine) placeholder(name string, created int64) *stream {
	e.applyCreate(&ctlEvent{T: evCreate, Stream: name, At: created, N: 1, Mode: modeProvisioned})
	s := e.streams[name]
	s.pendingStatus, s.pendingUntil = "", 0
	if e.placeholders == nil {
		e.placeholders = map[*stream]bool{}
	}
	e.placeholders[s] = true
	return s
}

// growPlaceholder gives a placeholder stream n evenly split shards, keeping the records of
// those it has (their hash ranges were a guess).
func (e *Engine) growPlaceholder(s *stream, n int) {
	for i, r := range evenRanges(n) {
		if i < len(s.shards) {
			s.shards[i].start, s.shards[i].end = r[0], r[1]
		} else {
			s.shards = append(s.shards, newShard(i, r[0], r[1], s.created))
		}
	}
	s.rebuildOpen()
}

// orphanShard is a shard recreated closed during replay of a repaired log.
type orphanShard struct {
	s  *stream
	sh *shard
}
