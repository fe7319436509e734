package wal

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// Options configures Open and Repair. The zero value reads version-2 logs on the real file
// system and logs nothing.
type Options struct {
	// FS is the file system. Default OS.
	FS FS
	// Logger receives the warnings about cut tails, format upgrades and repairs. Default: discard.
	Logger *slog.Logger
	// Legacy, when non-nil, makes a file without a version-2 header readable as version 1 with
	// this framing; Open rewrites it as version 2 after replaying it.
	Legacy *Legacy
	// Describe says in a few words what a frame payload holds (for example "10 records of
	// stream s, shard 0"), for damage reports. It gets damaged payloads and must not trust them.
	Describe func(kind byte, payload []byte) string
}

func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = OS
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Log is an open log file positioned for appending. Append and Sync are safe for concurrent use.
type Log struct {
	path string
	opts Options

	mu       sync.Mutex
	cond     *sync.Cond
	f        File
	buf      []byte // appended, not yet written
	appended int64  // logical end of the log, including buf
	durable  int64  // end of the fsynced prefix
	syncing  bool
	err      error // sticky: set by the first failed write or fsync
	closed   bool

	encode func(b []byte, off, syncBase int64, kind byte, p []byte) []byte // appendFrame; the framing benchmark swaps in version 1
}

// ErrClosed is returned by Sync after Close.
var ErrClosed = errors.New("wal: log closed")

// Open replays the log at path through apply, in order, and opens it for appending, creating it
// if it does not exist. apply gets every intact frame's kind and payload (the payload is only
// valid during the call) and KindGap frames left by Repair.
//
// A damaged tail (bytes after the last intact frame that are not followed by anything written
// after them was fsynced) is what a crash during an unacknowledged write leaves: Open moves it
// to path.torn-OFFSET, cuts it off and logs a warning saying how many bytes and why. Damage
// before the tail makes Open return a *DamageError and change nothing. An error from apply is
// returned as is, wrapped with the path and offset.
func Open(path string, opts Options, apply func(kind byte, payload []byte) error) (*Log, error) {
	opts = opts.withDefaults()
	f, err := opts.FS.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	l := &Log{path: path, opts: opts, f: f, encode: appendFrame}
	l.cond = sync.NewCond(&l.mu)
	if err := l.recover(apply); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

func (l *Log) recover(apply func(kind byte, payload []byte) error) error {
	st, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("stat log: %w", err)
	}
	size := st.Size()
	hdr := make([]byte, min(size, fileHeaderSize))
	if _, err := l.f.ReadAt(hdr, 0); err != nil && err != io.EOF {
		return fmt.Errorf("read log %s: %w", l.path, err)
	}
	switch why := checkFileHeader(hdr); {
	case why == "":
		end, err := l.replay(size, apply)
		if err != nil {
			return err
		}
		if err := l.f.Sync(); err != nil { // what was replayed may still be only in the page cache
			return fmt.Errorf("fsync log %s: %w", l.path, err)
		}
		l.appended, l.durable = end, end
		if _, err := l.f.Seek(end, io.SeekStart); err != nil {
			return fmt.Errorf("seek log: %w", err)
		}
		return nil
	case size < fileHeaderSize && string(appendFileHeader(nil)[:size]) == string(hdr):
		// A new log whose header write was cut short (or an empty file): nothing was ever
		// acknowledged in it.
		if size > 0 {
			l.opts.Logger.Warn("wal: log header was cut short by a crash while the log was created; rewriting it", "file", l.path, "bytes", size)
		}
		return l.create()
	case len(hdr) >= 8 && string(hdr[:8]) == fileMagic || l.opts.Legacy == nil:
		return &DamageError{Path: l.path, Damage: Damage{Offset: 0, Length: min(size, fileHeaderSize), Reason: why}}
	default:
		return l.upgrade(size, apply)
	}
}

// create writes the file header of a new log and makes it durable.
func (l *Log) create() error {
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("create log %s: %w", l.path, err)
	}
	if _, err := l.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("create log %s: %w", l.path, err)
	}
	if _, err := l.f.Write(appendFileHeader(nil)); err != nil {
		return fmt.Errorf("create log %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("create log %s: %w", l.path, err)
	}
	if err := l.opts.FS.SyncDir(filepath.Dir(l.path)); err != nil {
		return fmt.Errorf("create log %s: %w", l.path, err)
	}
	l.appended, l.durable = fileHeaderSize, fileHeaderSize
	return nil
}

// replay applies the version-2 frames of a log of the given size and returns the end of the
// last intact frame, having cut a torn tail.
func (l *Log) replay(size int64, apply func(kind byte, payload []byte) error) (int64, error) {
	if _, err := l.f.Seek(fileHeaderSize, io.SeekStart); err != nil {
		return 0, fmt.Errorf("seek log: %w", err)
	}
	r := bufio.NewReaderSize(l.f, 1<<20)
	off := int64(fileHeaderSize)
	var h [frameHeaderSize]byte
	var payload []byte
	for off < size {
		if size-off < frameHeaderSize {
			break
		}
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return 0, fmt.Errorf("read log %s: %w", l.path, err)
		}
		hd, why := parseHeader(h[:], off)
		if why != "" || hd.n > size-off-frameHeaderSize {
			break
		}
		if int64(cap(payload)) < hd.n {
			payload = make([]byte, hd.n)
		}
		payload = payload[:hd.n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return 0, fmt.Errorf("read log %s: %w", l.path, err)
		}
		if crc32.Checksum(payload, castagnoli) != hd.sum {
			break
		}
		if hd.kind != kindClose {
			if err := apply(hd.kind, payload); err != nil {
				return 0, fmt.Errorf("replay %s at offset %d: %w", l.path, off, err)
			}
		}
		off += frameHeaderSize + hd.n
	}
	if off == size {
		return off, nil
	}
	rest := make([]byte, size-off)
	if _, err := l.f.ReadAt(rest, off); err != nil && err != io.EOF {
		return 0, fmt.Errorf("read log %s: %w", l.path, err)
	}
	return off, l.damaged(rest, off, parseV2, true)
}

// damaged handles bytes at file offset off (data holds them up to the end of the file) that
// are not an intact frame: it cuts a torn tail or returns a *DamageError.
func (l *Log) damaged(data []byte, off int64, parse parser, v2 bool) error {
	_, why := parse(data, off)
	next, intact, durable := tail(data, off, parse, v2)
	if durable {
		return &DamageError{Path: l.path, IntactAfter: intact, Damage: Damage{Offset: off, Length: int64(next), Reason: why,
			What: identify(l.opts.Describe, data[:next], off, v2)}}
	}
	aside, err := writeAside(l.opts.FS, filepath.Dir(l.path), fmt.Sprintf("%s.torn-%d", l.path, off), data)
	if err != nil {
		return fmt.Errorf("move the torn tail of %s aside: %w", l.path, err)
	}
	if err := l.f.Truncate(off); err != nil {
		return fmt.Errorf("cut the torn tail of %s: %w", l.path, err)
	}
	l.opts.Logger.Warn("wal: cut the torn tail of the log: bytes after the last intact record that nothing fsynced later depends on, left by a crash during a write that was never acknowledged",
		"file", l.path, "offset", off, "bytes", len(data), "reason", why, "intact_records_in_torn_write", intact,
		"what", identify(l.opts.Describe, data, off, v2), "moved_to", aside)
	return nil
}

// Size returns the logical size of the log, including appended frames not yet written.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appended
}

// Path returns the log's file name.
func (l *Log) Path() string { return l.path }

// Append adds a frame to the log and returns the log position that must be durable (see Sync)
// before the change is acknowledged. It does no I/O: callers call it inside the critical section
// that applies the change, so the log order is the apply order. kind must be in 1..MaxKind.
func (l *Log) Append(kind byte, payload []byte) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.buf)
	l.buf = l.encode(l.buf, l.appended, l.durable, kind, payload)
	l.appended += int64(len(l.buf) - n)
	return l.appended
}

// Sync blocks until the log is durable up to pos (group commit: the first caller that needs a
// sync writes and fsyncs everything appended so far while later callers wait and share the
// next fsync). After a failed write or fsync every Sync fails with that error: the log accepts
// no more writes until it is reopened.
func (l *Log) Sync(pos int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.durable < pos {
		if l.err != nil {
			return l.err
		}
		if l.syncing {
			l.cond.Wait()
			continue
		}
		if l.closed {
			return ErrClosed
		}
		l.syncing = true
		data, target, from := l.buf, l.appended, l.durable
		l.buf = nil
		l.mu.Unlock()
		n, err := l.f.Write(data)
		what := "write"
		if err == nil {
			what = "fsync"
			err = l.f.Sync()
		}
		l.mu.Lock()
		l.syncing = false
		if err != nil {
			l.err = fmt.Errorf("wal: %s %s at offset %d failed (%d of %d bytes written): %w; the log accepts no more writes until restart", what, l.path, from, n, len(data), err)
			l.opts.Logger.Error("wal: log stopped after a failed write", "file", l.path, "err", err)
		} else {
			l.durable = target
		}
		l.cond.Broadcast()
	}
	return nil
}

// Err returns the error that stopped the log, or nil.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close makes everything appended durable, marks the log as cleanly closed and closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	pos := l.appended
	l.mu.Unlock()
	err := l.Sync(pos)
	if err == nil {
		err = l.Sync(l.Append(kindClose, nil))
	}
	l.mu.Lock()
	for l.syncing {
		l.cond.Wait()
	}
	l.closed = true
	l.mu.Unlock()
	return errors.Join(err, l.f.Close())
}

// Abandon closes the file without writing what is buffered, as a crash would (tests).
func (l *Log) Abandon() {
	l.mu.Lock()
	for l.syncing {
		l.cond.Wait()
	}
	l.closed = true
	l.mu.Unlock()
	l.f.Close()
}

// Rewrite replaces the log with the frames write emits (compaction): it writes them to
// path.tmp, fsyncs it, renames it over the log and continues appending there. The caller must
// not Append concurrently. On error the old log stays in use.
func (l *Log) Rewrite(write func(emit func(kind byte, payload []byte) error) error) error {
	l.mu.Lock()
	pos := l.appended
	l.mu.Unlock()
	if err := l.Sync(pos); err != nil {
		return err
	}
	f, size, err := writeLog(l.opts.FS, l.path, write)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f, l.appended, l.durable = f, size, size
	l.mu.Unlock()
	old.Close()
	return nil
}

// writeLog writes a complete version-2 log through path.tmp and renames it over path. Every
// frame's sync base is its own offset: nothing can read the file before all of it is durable.
// It returns the new file, open and positioned at its end, and its size.
func writeLog(fs FS, path string, write func(emit func(kind byte, payload []byte) error) error) (File, int64, error) {
	tmp := path + ".tmp"
	f, err := fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("rewrite log %s: %w", path, err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	buf := appendFileHeader(nil)
	size := int64(0)
	flush := func() error {
		_, err := w.Write(buf)
		size += int64(len(buf))
		buf = buf[:0]
		return err
	}
	err = write(func(kind byte, p []byte) error {
		if kind == 0 || kind > MaxKind && kind != KindGap {
			return fmt.Errorf("frame kind %d is reserved", kind)
		}
		off := size + int64(len(buf))
		buf = appendFrame(buf, off, off, kind, p)
		if len(buf) < 64<<10 {
			return nil
		}
		return flush()
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = fs.Rename(tmp, path)
	}
	if err == nil {
		err = fs.SyncDir(filepath.Dir(path))
	}
	if err == nil {
		_, err = f.Seek(size, io.SeekStart)
	}
	if err != nil {
		f.Close()
		fs.Remove(tmp)
		return nil, 0, fmt.Errorf("rewrite log %s: %w", path, err)
	}
	return f, size, nil
}
