package streams

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/shoal-go/shoal/kinesislocal/internal/dirlock"
)

// The write-ahead log: one append-only file, DataDir/streams.log, of frames
//
//	[u32 payload length][u32 CRC-32C of kind+payload][u8 kind][payload]
//
// Control events (kind walCtl) are JSON ctlEvents; record batches (kind walRecords) are binary
// walBatches. New replays every frame in order; a torn or corrupt tail (a crash mid-write) is
// cut off. Every acknowledged write has been fsynced (group commit: the first writer to need a
// sync writes and fsyncs everything appended so far; writers arriving meanwhile wait and share
// the next fsync).

const (
	walCtl     byte = 1
	walRecords byte = 2
)

const walHeader = 9

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type wal struct {
	mu       sync.Mutex
	cond     *sync.Cond
	f        *os.File
	buf      []byte // appended, not yet written
	appended int64  // logical end of the log including buf
	durable  int64  // end of the fsynced prefix
	syncing  bool
	err      error // sticky write error
	closed   bool
	lock     *os.File // holds the directory's flock; nil where unsupported
}

// openWAL replays dir/streams.log through apply, rewrites it with compact if it is larger than
// compactThreshold bytes, and opens it for appending.
func openWAL(dir string, compactThreshold int64, apply func(kind byte, payload []byte) error, compact func(path string) (int64, error)) (*wal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("streams: create data dir: %w", err)
	}
	lock, err := dirlock.Lock(dir)
	if err != nil {
		return nil, fmt.Errorf("streams: %w", err)
	}
	w, err := openLog(dir, compactThreshold, apply, compact)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	w.lock = lock
	return w, nil
}

func openLog(dir string, compactThreshold int64, apply func(kind byte, payload []byte) error, compact func(path string) (int64, error)) (*wal, error) {
	path := filepath.Join(dir, "streams.log")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("streams: open log: %w", err)
	}
	good, err := replayFrames(f, apply)
	if err != nil {
		f.Close()
		return nil, err
	}
	if good > compactThreshold {
		f.Close()
		if good, err = compact(path); err != nil {
			return nil, err
		}
		if f, err = os.OpenFile(path, os.O_RDWR, 0o644); err != nil {
			return nil, fmt.Errorf("streams: open log: %w", err)
		}
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("streams: cut torn log tail: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("streams: seek log: %w", err)
	}
	w := &wal{f: f, appended: good, durable: good}
	w.cond = sync.NewCond(&w.mu)
	return w, nil
}

// replayFrames applies every whole, intact frame and returns the offset after the last one.
func replayFrames(f *os.File, apply func(kind byte, payload []byte) error) (int64, error) {
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var hdr [walHeader]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, nil // end, or a torn header
		}
		n := binary.LittleEndian.Uint32(hdr[0:])
		sum := binary.LittleEndian.Uint32(hdr[4:])
		if n > 64<<20 {
			return off, nil
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return off, nil
		}
		c := crc32.Update(crc32.Checksum(hdr[8:9], castagnoli), castagnoli, payload)
		if c != sum {
			return off, nil
		}
		if err := apply(hdr[8], payload); err != nil {
			return 0, fmt.Errorf("streams: replay log at offset %d: %w", off, err)
		}
		off += walHeader + int64(n)
	}
}

// append adds a frame to the log buffer and returns the log position that must be durable
// before the change is acknowledged. It does no I/O; callers call it inside the critical
// section that applies the change, so the log order is the apply order.
func (w *wal) append(kind byte, payload []byte) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var hdr [walHeader]byte
	binary.LittleEndian.PutUint32(hdr[0:], uint32(len(payload)))
	hdr[8] = kind
	c := crc32.Update(crc32.Checksum(hdr[8:9], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(hdr[4:], c)
	w.buf = append(w.buf, hdr[:]...)
	w.buf = append(w.buf, payload...)
	w.appended += walHeader + int64(len(payload))
	return w.appended
}

// sync blocks until the log is durable up to pos (group commit).
func (w *wal) sync(pos int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.durable < pos {
		if w.err != nil {
			return w.err
		}
		if w.syncing {
			w.cond.Wait()
			continue
		}
		if w.closed {
			return errors.New("log closed")
		}
		w.syncing = true
		data, target := w.buf, w.appended
		w.buf = nil
		w.mu.Unlock()
		_, err := w.f.Write(data)
		if err == nil {
			err = w.f.Sync()
		}
		w.mu.Lock()
		w.syncing = false
		if err != nil {
			w.err = err
		} else {
			w.durable = target
		}
		w.cond.Broadcast()
	}
	return nil
}

func (w *wal) close() error {
	w.mu.Lock()
	pos := w.appended
	w.mu.Unlock()
	err := w.sync(pos)
	w.mu.Lock()
	for w.syncing {
		w.cond.Wait()
	}
	w.closed = true
	w.mu.Unlock()
	err = errors.Join(err, w.f.Close())
	if w.lock != nil {
		err = errors.Join(err, w.lock.Close()) // releases the flock
	}
	return err
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
	return e.wal.append(walCtl, b)
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

// replay applies one logged frame during New.
func (e *Engine) replay(kind byte, p []byte) error {
	switch kind {
	case walCtl:
		var ev ctlEvent
		if err := json.Unmarshal(p, &ev); err != nil {
			return err
		}
		return e.replayCtl(&ev)
	case walRecords:
		return e.replayRecords(p)
	case walSnapshot:
		return e.restoreStream(p)
	}
	return fmt.Errorf("unknown frame kind %d", kind)
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
	if s == nil || s.created != created {
		return nil
	}
	if idx >= len(s.shards) {
		return errCorrupt
	}
	sh := s.shards[idx]
	if first != sh.log.next {
		return fmt.Errorf("record batch for %s %s starts at %d, expected %d", name, sh.id, first, sh.log.next)
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
