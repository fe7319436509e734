package wal

import (
	"fmt"
	"io"
	"path/filepath"
)

// upgrade replays a version-1 log (no file header) and rewrites it as version 2. Damage is
// handled as in version 2, except that version 1 records no sync base, so any damage with an
// intact frame after it is refused rather than cut.
func (l *Log) upgrade(size int64, apply func(kind byte, payload []byte) error) error {
	data := make([]byte, size)
	if _, err := l.f.ReadAt(data, 0); err != nil && err != io.EOF {
		return fmt.Errorf("read log %s: %w", l.path, err)
	}
	lg := l.opts.Legacy
	var frames []frame
	off := 0
	for off < len(data) {
		f, why := lg.parse(data[off:], int64(off))
		if why != "" {
			if off == 0 {
				return &DamageError{Path: l.path, Damage: Damage{Offset: 0, Length: size,
					Reason: "neither a version-2 file header nor an intact version-1 record at the start of the file: " + why}}
			}
			if err := l.damaged(data[off:], int64(off), lg.parse, false); err != nil {
				return err
			}
			break
		}
		if err := apply(f.kind, f.payload); err != nil {
			return fmt.Errorf("replay %s at offset %d: %w", l.path, off, err)
		}
		frames = append(frames, f)
		off += int(f.size)
	}
	nf, newSize, err := writeLog(l.opts.FS, l.path, func(emit func(byte, []byte) error) error {
		for _, f := range frames {
			if err := emit(f.kind, f.payload); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("upgrade %s to log format %d: %w", l.path, formatVersion, err)
	}
	l.f.Close()
	l.f = nf
	l.appended, l.durable = newSize, newSize
	l.opts.Logger.Info("wal: upgraded the log to format version 2 (length, offset, sync base and checksums in every record header)",
		"file", l.path, "records", len(frames), "dir", filepath.Dir(l.path))
	return nil
}
