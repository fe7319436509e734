package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type rec struct {
	kind byte
	p    string
}

// openT opens path, returning the replayed frames and the log output.
func openT(t *testing.T, path string, opts Options) (*Log, []rec, string, error) {
	t.Helper()
	var out bytes.Buffer
	opts.Logger = slog.New(slog.NewTextHandler(&out, nil))
	var got []rec
	l, err := Open(path, opts, func(kind byte, p []byte) error {
		got = append(got, rec{kind, string(p)})
		return nil
	})
	return l, got, out.String(), err
}

// writeLogT writes n frames, one Sync (one write) per frame, and closes the log abandoning
// nothing. It returns each frame's offset.
func writeLogT(t *testing.T, path string, n int, close bool) []int64 {
	t.Helper()
	l, _, _, err := openT(t, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for i := range n {
		offs = append(offs, l.Size())
		if err := l.Sync(l.Append(1, fmt.Appendf(nil, "payload-%03d-%s", i, strings.Repeat("x", i)))); err != nil {
			t.Fatal(err)
		}
	}
	if close {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	} else {
		l.Abandon()
	}
	return offs
}

func mutate(t *testing.T, path string, fn func([]byte) []byte) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = fn(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	writeLogT(t, path, 20, true)
	writeLogT(t, path, 0, true) // reopen and close again: a second close marker
	l, got, out, err := openT(t, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(got) != 20 || got[19].p != "payload-019-"+strings.Repeat("x", 19) || out != "" {
		t.Fatalf("replayed %d frames, log %q", len(got), out)
	}
}

// TestTornTail: damage after the last fsynced frame, with nothing fsynced after it, is a torn
// tail: cut, kept aside and logged.
func TestTornTail(t *testing.T) {
	frame := appendFrame(nil, 0, 0, 1, []byte("unacknowledged"))
	cases := map[string]func(end int64) []byte{
		"partial header":  func(end int64) []byte { return appendFrame(nil, end, end, 1, []byte("abc"))[:20] },
		"partial payload": func(end int64) []byte { return appendFrame(nil, end, end, 1, []byte("abcdef"))[:40] },
		"zeros":           func(int64) []byte { return make([]byte, 4096) },
		"bad payload": func(end int64) []byte {
			b := appendFrame(nil, end, end, 1, []byte("abcdef"))
			b[len(b)-1] ^= 1
			return b
		},
		// Two frames of one group commit: the second reached the disk, the first did not.
		"group commit, first lost": func(end int64) []byte {
			b := appendFrame(nil, end, end, 1, []byte("first"))
			b = appendFrame(b, end+int64(len(b)), end, 1, []byte("second"))
			copy(b, make([]byte, 20))
			return b
		},
		"stale frame": func(int64) []byte { return frame },
	}
	for name, tail := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.log")
			writeLogT(t, path, 5, false)
			st, _ := os.Stat(path)
			garbage := tail(st.Size())
			mutate(t, path, func(b []byte) []byte { return append(b, garbage...) })
			l, got, out, err := openT(t, path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 5 || !strings.Contains(out, "torn tail") || !strings.Contains(out, fmt.Sprintf("bytes=%d", len(garbage))) {
				t.Fatalf("replayed %d frames; log: %s", len(got), out)
			}
			aside, err := os.ReadFile(fmt.Sprintf("%s.torn-%d", path, st.Size()))
			if err != nil || !bytes.Equal(aside, garbage) {
				t.Fatalf("torn tail not kept aside: %v", err)
			}
			// Appends continue after the cut and survive a reopen.
			if err := l.Sync(l.Append(2, []byte("after"))); err != nil {
				t.Fatal(err)
			}
			l.Abandon()
			l, got, out, err = openT(t, path, Options{})
			if err != nil || len(got) != 6 || got[5].p != "after" || out != "" {
				t.Fatalf("after cut: %d frames, %v, log %q", len(got), err, out)
			}
			l.Close()
		})
	}
}

// TestDamageBeforeTail: damage anywhere but the last write, including a flipped length byte
// and damage to the last data frame of a cleanly closed log, is refused, naming the file and
// the offset, and nothing is changed.
func TestDamageBeforeTail(t *testing.T) {
	cases := []struct {
		name  string
		frame int // which of 10 frames to damage
		at    int // byte within the frame
		close bool
	}{
		{"marker", 3, 0, false},
		{"length", 3, 5, false},
		{"offset", 3, 9, false},
		{"sync base", 3, 17, false},
		{"kind", 3, 28, false},
		{"header crc", 3, 33, false},
		{"payload", 3, 40, false},
		{"first frame", 0, 40, false},
		{"next to last", 8, 40, false},
		{"last data frame of a closed log", 9, 40, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.log")
			offs := writeLogT(t, path, 10, c.close)
			before := mutate(t, path, func(b []byte) []byte { b[offs[c.frame]+int64(c.at)] ^= 0x10; return b })
			_, _, _, err := openT(t, path, Options{Describe: func(kind byte, p []byte) string { return fmt.Sprintf("kind %d", kind) }})
			var de *DamageError
			if !errors.As(err, &de) || de.Path != path || de.Offset != offs[c.frame] || c.frame < 9 && de.Offset+de.Length != offs[c.frame+1] {
				t.Fatalf("got %v, want damage at %d..%d", err, offs[c.frame], offs[min(c.frame+1, 9)])
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), fmt.Sprint("offset ", offs[c.frame])) {
				t.Fatalf("message: %v", err)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Fatal("the damaged file was changed")
			}
		})
	}
}

func TestFileHeader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	// A header cut short while the log was created: nothing was ever acknowledged; recreate.
	os.WriteFile(path, appendFileHeader(nil)[:7], 0o644)
	l, _, _, err := openT(t, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	// A damaged header of a log with frames is refused.
	writeLogT(t, path, 3, true)
	mutate(t, path, func(b []byte) []byte { b[9] ^= 1; return b })
	var de *DamageError
	if _, _, _, err := openT(t, path, Options{}); !errors.As(err, &de) || de.Offset != 0 {
		t.Fatalf("damaged header: %v", err)
	}
	// Repair rewrites the header and keeps the frames.
	rep, err := Repair(path, Options{})
	if err != nil || rep.Kept != 3 || len(rep.Damaged) != 1 || rep.Damaged[0].Length != fileHeaderSize {
		t.Fatalf("repair: %+v, %v", rep, err)
	}
	if _, got, _, err := openT(t, path, Options{}); err != nil || len(got) != 4 || got[0].kind != KindGap {
		t.Fatalf("after repair: %v %v", got, err)
	}
}

func TestRepair(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	offs := writeLogT(t, path, 10, false)
	data := mutate(t, path, func(b []byte) []byte {
		b[offs[2]+40] ^= 1
		copy(b[offs[6]+2:], "garbage!") // header of frame 6 damaged
		return b
	})
	rep, err := Repair(path, Options{Describe: func(kind byte, p []byte) string { return "frame " + string(p[8:11]) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kept != 8 || len(rep.Damaged) != 2 {
		t.Fatalf("report %+v", rep)
	}
	for i, f := range []int{2, 6} {
		d := rep.Damaged[i]
		if d.Offset != offs[f] || d.Offset+d.Length != offs[f+1] {
			t.Errorf("damage %d: %+v, want %d..%d", i, d, offs[f], offs[f+1])
		}
		aside, _ := os.ReadFile(d.Aside)
		if !bytes.Equal(aside, data[offs[f]:offs[f+1]]) {
			t.Errorf("damage %d: aside file %s does not hold the damaged bytes", i, d.Aside)
		}
	}
	if rep.Damaged[0].What != "frame 002" || rep.Damaged[1].What != "" {
		t.Errorf("identified %q and %q", rep.Damaged[0].What, rep.Damaged[1].What)
	}
	_, got, _, err := openT(t, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []byte
	for _, r := range got {
		kinds = append(kinds, r.kind)
	}
	if want := []byte{1, 1, KindGap, 1, 1, 1, KindGap, 1, 1, 1}; !bytes.Equal(kinds, want) {
		t.Fatalf("after repair: kinds %v, want %v", kinds, want)
	}
	// A second repair finds nothing to do.
	if rep, err := Repair(path, Options{}); err != nil || len(rep.Damaged) != 0 || rep.Kept != 8 {
		t.Fatalf("second repair: %+v %v", rep, err)
	}
}

// v1 writes a version-1 log in the Kinesis engine's framing.
func v1(frames ...string) []byte {
	var b []byte
	for _, f := range frames {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		body := append([]byte{2}, f...)
		b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(body, castagnoli))
		b = append(b, body...)
	}
	return b
}

func TestLegacy(t *testing.T) {
	lg := &Legacy{KindByte: true}
	path := filepath.Join(t.TempDir(), "x.log")
	// Intact, with a torn tail: replayed, the tail cut, the file rewritten as version 2.
	os.WriteFile(path, append(v1("a", "bb", "ccc"), 7, 0, 0), 0o644)
	l, got, out, err := openT(t, path, Options{Legacy: lg})
	if err != nil || len(got) != 3 || got[2] != (rec{2, "ccc"}) || !strings.Contains(out, "upgraded") || !strings.Contains(out, "torn tail") {
		t.Fatalf("legacy: %v %v %s", got, err, out)
	}
	l.Close()
	if b, _ := os.ReadFile(path); string(b[:8]) != fileMagic {
		t.Fatal("not upgraded")
	}
	// Damage in the middle of a version-1 log is refused, and Repair recovers around it.
	data := v1("a", "bb", "ccc", "dddd")
	data[len(v1("a"))+10] ^= 1
	os.WriteFile(path, data, 0o644)
	var de *DamageError
	if _, _, _, err := openT(t, path, Options{Legacy: lg}); !errors.As(err, &de) || de.Offset != int64(len(v1("a"))) {
		t.Fatalf("damaged legacy log: %v", err)
	}
	rep, err := Repair(path, Options{Legacy: lg})
	if err != nil || rep.Kept != 3 || len(rep.Damaged) != 1 {
		t.Fatalf("repair: %+v %v", rep, err)
	}
	if _, got, _, err := openT(t, path, Options{Legacy: lg}); err != nil || len(got) != 4 || got[3] != (rec{2, "dddd"}) {
		t.Fatalf("after repair: %v %v", got, err)
	}
	// Something that is neither format is refused, not cut.
	os.WriteFile(path, []byte("hello, world"), 0o644)
	if _, _, _, err := openT(t, path, Options{Legacy: lg}); !errors.As(err, &de) || de.Offset != 0 {
		t.Fatalf("foreign file: %v", err)
	}
}

// TestTornTailsAtOneOffset: a second torn tail at the offset of an earlier one gets its own
// file; nothing cut is ever overwritten.
func TestTornTailsAtOneOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	writeLogT(t, path, 3, false)
	st, _ := os.Stat(path)
	for _, tail := range []string{"first torn bytes", "second"} {
		mutate(t, path, func(b []byte) []byte { return append(b, tail...) })
		l, got, _, err := openT(t, path, Options{})
		if err != nil || len(got) != 3 {
			t.Fatalf("%d frames, %v", len(got), err)
		}
		l.Abandon()
	}
	first, _ := os.ReadFile(fmt.Sprintf("%s.torn-%d", path, st.Size()))
	second, _ := os.ReadFile(fmt.Sprintf("%s.torn-%d.1", path, st.Size()))
	if string(first) != "first torn bytes" || string(second) != "second" {
		t.Fatalf("aside files hold %q and %q", first, second)
	}
}

// TestDamageSpanningFrames: 16 bytes over the end of one frame and the header of the next make
// one damaged range; the report names what the first held and counts the rest.
func TestDamageSpanningFrames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	offs := writeLogT(t, path, 8, false)
	mutate(t, path, func(b []byte) []byte { copy(b[offs[4]-8:], "0123456789abcdef"); return b })
	_, _, _, err := openT(t, path, Options{Describe: func(kind byte, p []byte) string { return fmt.Sprintf("kind %d, %d bytes", kind, len(p)) }})
	var de *DamageError
	if !errors.As(err, &de) || de.Offset != offs[3] || de.Offset+de.Length != offs[5] {
		t.Fatalf("got %v, want damage over %d..%d", err, offs[3], offs[5])
	}
	if want := fmt.Sprintf("kind 1, 15 bytes; %d unidentifiable bytes", offs[5]-offs[4]); de.What != want {
		t.Fatalf("what = %q, want %q", de.What, want)
	}
}
