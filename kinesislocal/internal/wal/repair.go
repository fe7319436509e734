package wal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/shoal-go/shoal/kinesislocal/internal/dirlock"
)

// RepairReport says what Repair did to one log.
type RepairReport struct {
	Path string
	// Kept is the number of intact records kept.
	Kept int
	// Damaged lists the damaged byte ranges, in file order, each moved aside to its own file.
	// Empty when the log needed no repair (Repair then changes nothing).
	Damaged []Damage
}

// RepairIn repairs the log name in dir (see Repair) while holding the directory's lock, so no
// server has it open. A missing directory has nothing to repair.
func RepairIn(dir, name string, opts Options) (RepairReport, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return RepairReport{}, nil
	}
	lock, err := dirlock.Lock(dir)
	if err != nil {
		return RepairReport{}, err
	}
	if lock != nil {
		defer lock.Close()
	}
	return Repair(filepath.Join(dir, name), opts)
}

// Repair rewrites the log at path keeping every intact frame, before and after any damage,
// and moves each damaged byte range to path.damaged-OFFSET. Where bytes were removed it leaves
// a KindGap frame holding the Damage, so the engine replaying the log knows records may be
// missing there. A log without damage is left as it is. A missing log is not an error.
//
// The report names each damaged range and, where the frame header survived, what it held.
// Repair must not run while the log is open.
func Repair(path string, opts Options) (RepairReport, error) {
	opts = opts.withDefaults()
	rep := RepairReport{Path: path}
	data, err := readAll(opts.FS, path)
	if errors.Is(err, fs.ErrNotExist) {
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("repair %s: %w", path, err)
	}
	if len(data) < fileHeaderSize && string(appendFileHeader(nil)[:len(data)]) == string(data) {
		return rep, nil // a log whose creation was cut short: Open recreates it
	}
	parse, v2, start := parser(parseV2), true, fileHeaderSize
	if checkFileHeader(data) != "" {
		start = 0
		if lg := opts.Legacy; lg != nil && string(data[:min(len(data), 8)]) != fileMagic {
			if _, why := lg.parse(data, 0); why == "" {
				parse, v2 = lg.parse, false
			}
		}
	}
	type item struct {
		f   frame
		gap int // 1 + index in rep.Damaged of the gap this item stands for; 0 for a frame
	}
	var items []item
	for off := start; off < len(data); {
		if start == 0 && v2 && off == 0 {
			// A damaged version-2 file header: the damage runs to the first intact frame.
		} else if f, why := parse(data[off:], int64(off)); why == "" {
			if f.kind != kindClose {
				items = append(items, item{f: f})
				if f.kind != KindGap {
					rep.Kept++
				}
			}
			off += int(f.size)
			continue
		}
		next := nextFrame(data, 0, off+1, parse, v2)
		if next < 0 {
			next = len(data)
		}
		d := Damage{Offset: int64(off), Length: int64(next - off), Aside: fmt.Sprintf("%s.damaged-%d", path, off)}
		if start == 0 && v2 && off == 0 {
			d.Reason = "damaged file header: " + checkFileHeader(data)
		} else {
			_, d.Reason = parse(data[off:], int64(off))
			d.What = identify(opts.Describe, data[off:next], int64(off), v2)
		}
		rep.Damaged = append(rep.Damaged, d)
		items = append(items, item{gap: len(rep.Damaged)})
		off = next
	}
	if len(rep.Damaged) == 0 {
		return rep, nil
	}
	dir := filepath.Dir(path)
	for i := range rep.Damaged {
		d := &rep.Damaged[i]
		if d.Aside, err = writeAside(opts.FS, dir, d.Aside, data[d.Offset:d.Offset+d.Length]); err != nil {
			return rep, fmt.Errorf("repair %s: move damaged bytes aside: %w", path, err)
		}
	}
	f, _, err := writeLog(opts.FS, path, func(emit func(byte, []byte) error) error {
		for _, it := range items {
			if it.gap > 0 {
				p, _ := json.Marshal(rep.Damaged[it.gap-1])
				if err := emit(KindGap, p); err != nil {
					return err
				}
				continue
			}
			if err := emit(it.f.kind, it.f.payload); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("repair %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return rep, fmt.Errorf("repair %s: %w", path, err)
	}
	for _, d := range rep.Damaged {
		opts.Logger.Warn("wal: repair moved damaged bytes aside and kept every intact record around them",
			"file", path, "offset", d.Offset, "bytes", d.Length, "reason", d.Reason, "what", d.What, "moved_to", d.Aside)
	}
	opts.Logger.Info("wal: repaired log", "file", path, "intact_records_kept", rep.Kept, "damaged_ranges", len(rep.Damaged))
	return rep, nil
}

func readAll(fsys FS, path string) ([]byte, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return data, nil
}
