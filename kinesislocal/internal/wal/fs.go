package wal

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
)

// FS is the file system under a log: the real one (OS) in production, an error-injecting wrapper
// (package errorfs) in the fault tests. Implementations must be safe for concurrent use.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	// SyncDir fsyncs a directory, making a rename or file creation in it durable.
	SyncDir(dir string) error
}

// File is the subset of *os.File a log uses.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Seeker
	io.Closer
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
}

// OS is the operating system's file system.
var OS FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error             { return os.Remove(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeAside writes data to a new file named name (or name.1, name.2, ... if that exists: an
// earlier crash or repair may have left one at the same offset), fsyncs it and its directory
// and returns its name.
func writeAside(fs FS, dir, name string, data []byte) (string, error) {
	for i := 0; ; i++ {
		n := name
		if i > 0 {
			n = fmt.Sprintf("%s.%d", name, i)
		}
		err := writeFileSync(fs, dir, n, data, os.O_EXCL)
		if !errors.Is(err, iofs.ErrExist) || i == 100 {
			return n, err
		}
	}
}

// writeFileSync writes data to a new file name and fsyncs it and its directory.
func writeFileSync(fs FS, dir, name string, data []byte, flag int) error {
	f, err := fs.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|flag, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.SyncDir(dir)
	}
	return err
}
