package ddb

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
	"sync/atomic"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
	"github.com/shoal-go/shoal/kinesislocal/internal/dirlock"
)

// mutation is one logged change: a table's metadata (create or update), a table drop, an item
// after-image, or an item deletion by key.
type mutation struct {
	Table string     `json:"t"`
	Meta  *tableMeta `json:"meta,omitempty"`
	Drop  bool       `json:"drop,omitempty"`
	Put   attr.Item  `json:"put,omitempty"`
	Del   attr.Item  `json:"del,omitempty"`
}

type walRecord struct {
	M []mutation `json:"m"`
}

const (
	walName       = "dynamodb.log"
	walTmpName    = "dynamodb.log.tmp"
	walHeader     = 8        // uint32 length + uint32 CRC-32C of the payload
	maxWALRecord  = 64 << 20 // a record larger than this is corruption
	compactFactor = 4        // compact when the log is this many times its compacted size
	snapshotBatch = 512      // items per record in a compacted log
	walFileMode   = os.FileMode(0o644)
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// compactMinLog is the smallest log that is compacted while running.
const compactMinLog = 16 << 20

// wal is the append-only log of committed mutations. Appends are serialized by mu; sync is a
// group commit: one fsync covers every record appended before it started.
type wal struct {
	dir  string
	lock *os.File // the held LOCK file (nil where unsupported)

	mu      sync.Mutex // guards f, written
	f       *os.File
	written int64
	base    int64 // size right after the last compaction
	minLog  int64 // compactMinLog; tests lower it

	syncMu      sync.Mutex // one fsync at a time
	synced      atomic.Int64
	wantCompact atomic.Bool
}

// openWAL opens (creating) the log in dir, replays every intact record through apply and
// truncates a torn tail left by a crash.
func openWAL(dir string, apply func(mutation) error) (*wal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ddb: create data dir: %w", err)
	}
	lock, err := dirlock.Lock(dir)
	if err != nil {
		return nil, fmt.Errorf("ddb: %w", err)
	}
	fail := func(f *os.File, err error) (*wal, error) {
		if f != nil {
			f.Close()
		}
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	os.Remove(filepath.Join(dir, walTmpName)) // an unfinished compaction
	path := filepath.Join(dir, walName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, walFileMode)
	if err != nil {
		return fail(nil, fmt.Errorf("ddb: open log: %w", err))
	}
	good, err := replayLog(f, apply)
	if err != nil {
		return fail(f, err)
	}
	if err := f.Truncate(good); err != nil {
		return fail(f, fmt.Errorf("ddb: truncate torn log tail: %w", err))
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return fail(f, fmt.Errorf("ddb: seek log: %w", err))
	}
	w := &wal{dir: dir, lock: lock, f: f, written: good, base: good, minLog: compactMinLog}
	w.synced.Store(good)
	return w, nil
}

// replayLog applies records in order and returns the offset after the last intact one.
func replayLog(f *os.File, apply func(mutation) error) (int64, error) {
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var hdr [walHeader]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, nil // end, or a torn header
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		if n > maxWALRecord {
			return off, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return off, nil
		}
		if crc32.Checksum(payload, crcTable) != sum {
			return off, nil
		}
		var rec walRecord
		if err := json.Unmarshal(payload, &rec); err != nil {
			return off, fmt.Errorf("ddb: log record at offset %d: %w", off, err)
		}
		for _, m := range rec.M {
			if err := apply(m); err != nil {
				return off, fmt.Errorf("ddb: replay log record at offset %d: %w", off, err)
			}
		}
		off += walHeader + int64(n)
	}
}

func encodeRecord(muts []mutation) ([]byte, error) {
	payload, err := json.Marshal(walRecord{M: muts})
	if err != nil {
		return nil, err
	}
	buf := make([]byte, walHeader+len(payload))
	binary.LittleEndian.PutUint32(buf[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[4:8], crc32.Checksum(payload, crcTable))
	copy(buf[walHeader:], payload)
	return buf, nil
}

// append writes one record (not yet synced) and returns the log offset after it.
func (w *wal) append(muts []mutation) (int64, error) {
	buf, err := encodeRecord(muts)
	if err != nil {
		return 0, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write(buf); err != nil {
		// Drop a partial write so the log stays a sequence of whole records.
		w.f.Truncate(w.written)
		w.f.Seek(w.written, io.SeekStart)
		return 0, fmt.Errorf("ddb: append log: %w", err)
	}
	w.written += int64(len(buf))
	return w.written, nil
}

// sync blocks until every record up to offset end is on disk. Concurrent callers share fsyncs.
func (w *wal) sync(end int64) error {
	if w.synced.Load() >= end {
		return nil
	}
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	if w.synced.Load() >= end {
		return nil
	}
	w.mu.Lock()
	target, f := w.written, w.f
	w.mu.Unlock()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("ddb: fsync log: %w", err)
	}
	w.synced.Store(target)
	return nil
}

func (w *wal) needsCompaction() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written > w.minLog && w.written > compactFactor*w.base
}

func (w *wal) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.f.Close()
	if w.lock != nil {
		w.lock.Close() // releases the flock
	}
	return err
}

// abandon releases the files without compaction, as a crash would (tests only).
func (w *wal) abandon() {
	w.f.Close()
	if w.lock != nil {
		w.lock.Close()
	}
}

// logAppend appends a record when durable; the caller holds the affected tables' locks and
// must call logWait with the result after releasing them.
func (e *Engine) logAppend(muts []mutation) (int64, error) {
	if e.wal == nil {
		return 0, nil
	}
	end, err := e.wal.append(muts)
	if err != nil {
		return 0, internal(err)
	}
	return end, nil
}

// logWait blocks until the log is durable up to end.
func (e *Engine) logWait(end int64) error {
	if e.wal == nil || end == 0 {
		return nil
	}
	if err := e.wal.sync(end); err != nil {
		return internal(err)
	}
	return nil
}

// logSync appends and syncs one record.
func (e *Engine) logSync(muts []mutation) error {
	end, err := e.logAppend(muts)
	if err != nil {
		return err
	}
	return e.logWait(end)
}

// replay applies one logged mutation to the in-memory state (used only by New).
func (e *Engine) replay(m mutation) error {
	switch {
	case m.Meta != nil:
		if t := e.tables[m.Table]; t != nil {
			t.meta = *m.Meta
		} else {
			e.tables[m.Table] = newTable(*m.Meta)
		}
	case m.Drop:
		delete(e.tables, m.Table)
	case m.Put != nil:
		t := e.tables[m.Table]
		if t == nil {
			return fmt.Errorf("item for unknown table %s", m.Table)
		}
		hk, rk, err := t.primaryKey(m.Put) // GSI checks applied when the write was accepted
		if err != nil {
			return err
		}
		t.put(hk, rk, m.Put)
	case m.Del != nil:
		t := e.tables[m.Table]
		if t == nil {
			return fmt.Errorf("delete for unknown table %s", m.Table)
		}
		hk, rk, err := t.keyFromKey(m.Del)
		if err != nil {
			return err
		}
		t.del(hk, rk)
	}
	return nil
}

// compactLocked rewrites the log as a snapshot of the current state. The caller holds e.mu
// exclusively. On failure the old log stays in use.
func (e *Engine) compactLocked() error {
	w := e.wal
	w.wantCompact.Store(false)
	tmp := filepath.Join(w.dir, walTmpName)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, walFileMode)
	if err != nil {
		return fmt.Errorf("ddb: compact log: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var size int64
	write := func(muts []mutation) error {
		buf, err := encodeRecord(muts)
		if err != nil {
			return err
		}
		size += int64(len(buf))
		_, err = bw.Write(buf)
		return err
	}
	err = func() error {
		for name, t := range e.tables {
			if !t.deleted.IsZero() {
				continue
			}
			meta := t.meta
			if err := write([]mutation{{Table: name, Meta: &meta}}); err != nil {
				return err
			}
			batch := make([]mutation, 0, snapshotBatch)
			for _, en := range t.entries {
				batch = append(batch, mutation{Table: name, Put: en.item})
				if len(batch) == snapshotBatch {
					if err := write(batch); err != nil {
						return err
					}
					batch = batch[:0]
				}
			}
			if len(batch) > 0 {
				if err := write(batch); err != nil {
					return err
				}
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return f.Sync()
	}()
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("ddb: compact log: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(w.dir, walName)); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("ddb: compact log: %w", err)
	}
	syncDir(w.dir)
	w.mu.Lock()
	old := w.f
	w.f, w.written, w.base = f, size, size
	w.mu.Unlock()
	w.synced.Store(size)
	return errors.Join(old.Close())
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
