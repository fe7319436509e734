// Package errorfs is a wal.FS that injects one fault into the writes or fsyncs of chosen files,
// after pebble's errorfs: the fault tests run a workload once per write index with the fault
// at that index, so every write of the run is hit once by every kind of fault.
package errorfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/shoal-go/shoal/kinesislocal/internal/wal"
)

// Kind is a kind of fault.
type Kind int

const (
	// None injects nothing (a dry run counts the writes and fsyncs of a workload).
	None Kind = iota
	// BitFlip flips one bit of what the write stores; the write reports success. It models
	// a disk or controller corrupting data after the fact: the damage is in acknowledged bytes.
	BitFlip
	// TornWrite stores a prefix of the write and then the process dies: the write and every
	// later operation fail with ErrCrashed (a kill -9 during write).
	TornWrite
	// ShortWrite stores a prefix and returns io.ErrShortWrite; the process lives on.
	ShortWrite
	// NoSpace stores a prefix and returns ENOSPC; the process lives on.
	NoSpace
	// SyncError makes the fsync at index At fail with EIO (what was written stays in the file).
	SyncError
)

func (k Kind) String() string {
	return [...]string{"none", "bitflip", "torn", "short", "nospace", "fsync"}[k]
}

// Kinds lists every fault kind but None.
var Kinds = []Kind{BitFlip, TornWrite, ShortWrite, NoSpace, SyncError}

// Fault is one fault: Kind at the At-th write (counting from 0) to a matching file, or the
// At-th fsync for SyncError.
type Fault struct {
	Kind Kind
	At   int
}

func (f Fault) String() string { return fmt.Sprintf("%s@%d", f.Kind, f.At) }

// ErrCrashed is returned by every operation after a TornWrite: the process is dead.
var ErrCrashed = errors.New("errorfs: process crashed")

// FS wraps a wal.FS. It is safe for concurrent use.
type FS struct {
	inner wal.FS
	match func(name string) bool
	fault Fault

	mu      sync.Mutex
	writes  int
	syncs   int
	hit     bool
	crashed bool
	flipAt  int64 // file offset of the flipped byte
}

// New returns an FS that injects fault into the files whose names match.
func New(inner wal.FS, match func(name string) bool, fault Fault) *FS {
	return &FS{inner: inner, match: match, fault: fault}
}

// Counts returns the writes and fsyncs seen so far on matching files.
func (fs *FS) Counts() (writes, syncs int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.writes, fs.syncs
}

// FlipOffset returns the file offset of the byte a BitFlip changed, or -1.
func (fs *FS) FlipOffset() int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if !fs.hit || fs.fault.Kind != BitFlip {
		return -1
	}
	return fs.flipAt
}

// Crashed reports whether a TornWrite has "killed the process".
func (fs *FS) Crashed() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.crashed
}

// Hit reports whether the fault has fired.
func (fs *FS) Hit() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.hit
}

func (fs *FS) dead() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.crashed {
		return ErrCrashed
	}
	return nil
}

func (fs *FS) OpenFile(name string, flag int, perm os.FileMode) (wal.File, error) {
	if err := fs.dead(); err != nil {
		return nil, err
	}
	f, err := fs.inner.OpenFile(name, flag, perm)
	if err != nil || !fs.match(name) {
		return f, err
	}
	return &file{File: f, fs: fs}, nil
}

func (fs *FS) Rename(oldpath, newpath string) error {
	if err := fs.dead(); err != nil {
		return err
	}
	return fs.inner.Rename(oldpath, newpath)
}

func (fs *FS) Remove(name string) error {
	if err := fs.dead(); err != nil {
		return err
	}
	return fs.inner.Remove(name)
}

func (fs *FS) SyncDir(dir string) error {
	if err := fs.dead(); err != nil {
		return err
	}
	return fs.inner.SyncDir(dir)
}

type file struct {
	wal.File
	fs *FS
}

func (f *file) Write(p []byte) (int, error) {
	fs := f.fs
	fs.mu.Lock()
	if fs.crashed {
		fs.mu.Unlock()
		return 0, ErrCrashed
	}
	i := fs.writes
	fs.writes++
	fire := fs.fault.Kind != SyncError && fs.fault.Kind != None && fs.fault.At == i
	if fire {
		fs.hit = true
		if fs.fault.Kind == TornWrite {
			fs.crashed = true
		}
	}
	fs.mu.Unlock()
	if !fire || len(p) == 0 {
		return f.File.Write(p)
	}
	switch fs.fault.Kind {
	case BitFlip:
		q := append([]byte(nil), p...)
		j := (i * 7919) % len(q)
		q[j] ^= 1 << (i % 8)
		pos, err := f.File.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, err
		}
		fs.mu.Lock()
		fs.flipAt = pos + int64(j)
		fs.mu.Unlock()
		return f.File.Write(q)
	case TornWrite:
		n, _ := f.File.Write(p[:len(p)/2])
		return n, ErrCrashed
	case ShortWrite:
		n, _ := f.File.Write(p[:len(p)/2])
		return n, io.ErrShortWrite
	default: // NoSpace
		n, _ := f.File.Write(p[:len(p)/2])
		return n, &os.PathError{Op: "write", Path: "errorfs", Err: syscall.ENOSPC}
	}
}

func (f *file) Sync() error {
	fs := f.fs
	fs.mu.Lock()
	if fs.crashed {
		fs.mu.Unlock()
		return ErrCrashed
	}
	i := fs.syncs
	fs.syncs++
	fire := fs.fault.Kind == SyncError && fs.fault.At == i
	if fire {
		fs.hit = true
	}
	fs.mu.Unlock()
	if fire {
		return &os.PathError{Op: "fsync", Path: "errorfs", Err: syscall.EIO}
	}
	return f.File.Sync()
}

func (f *file) Truncate(size int64) error {
	if err := f.fs.dead(); err != nil {
		return err
	}
	return f.File.Truncate(size)
}
