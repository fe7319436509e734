package wal

import (
	"bytes"
	"fmt"
	"strings"
)

// Damage is a damaged byte range of a log file: bytes that do not form an intact frame, from
// the first such byte to the next intact frame or the end of the file.
type Damage struct {
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	Reason string `json:"reason"`          // why the frame at Offset does not check
	What   string `json:"what,omitempty"`  // what the damaged frame held, when its header survived
	Aside  string `json:"aside,omitempty"` // the file Repair moved the bytes to
}

func (d Damage) String() string {
	s := fmt.Sprintf("bytes %d..%d (%d bytes): %s", d.Offset, d.Offset+d.Length, d.Length, d.Reason)
	if d.What != "" {
		s += "; it held " + d.What
	} else {
		s += "; contents unidentifiable"
	}
	if d.Aside != "" {
		s += "; moved to " + d.Aside
	}
	return s
}

// DamageError is returned by Open for damage before the tail of a log: bytes that are not an
// intact frame followed by intact frames that were written after those bytes had been fsynced
// (so the damaged bytes may hold acknowledged writes). Open cuts nothing in that case; Repair
// keeps every intact frame and moves the damaged bytes aside.
type DamageError struct {
	Path string
	Damage
	// IntactAfter is the number of intact frames after the damaged range.
	IntactAfter int
}

func (e *DamageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is damaged at byte offset %d: %s (%d bytes up to ", e.Path, e.Offset, e.Reason, e.Length)
	if e.IntactAfter > 0 {
		fmt.Fprintf(&b, "the next intact record; %d intact records follow", e.IntactAfter)
	} else {
		b.WriteString("the end of the file")
	}
	b.WriteString(")")
	if e.What != "" {
		b.WriteString("; the damaged bytes held " + e.What)
	}
	b.WriteString("; nothing was cut or changed. Start with --repair (kinesislocal.Options.Repair) to keep every intact record before and after the damage and move the damaged bytes aside")
	return b.String()
}

// describe runs an engine's Describe on a possibly damaged payload, which it must survive.
func describe(fn func(kind byte, payload []byte) string, kind byte, payload []byte) (s string) {
	if fn == nil {
		return ""
	}
	defer func() {
		if recover() != nil {
			s = ""
		}
	}()
	return fn(kind, payload)
}

// identify says what the damaged bytes data (at file offset off, from a frame start to the next
// intact frame or the end of the file) held: for each version-2 frame header in it that still
// checks, what the frame held, and how many bytes around them are unidentifiable. "" if nothing
// can be identified.
func identify(fn func(byte, []byte) string, data []byte, off int64, v2 bool) string {
	if !v2 {
		return ""
	}
	var parts []string
	unknown := 0
	flush := func() {
		if unknown > 0 {
			parts = append(parts, fmt.Sprintf("%d unidentifiable bytes", unknown))
			unknown = 0
		}
	}
	for i := 0; i < len(data); {
		hd, why := parseHeader(data[i:], off+int64(i))
		if why != "" && hd.n == 0 && hd.kind == 0 {
			// No header that checks here: skip to the next frame marker.
			j := bytes.Index(data[i+1:], frameMagic)
			if j < 0 {
				unknown += len(data) - i
				break
			}
			unknown += j + 1
			i += j + 1
			continue
		}
		flush()
		p := data[i+frameHeaderSize:]
		if int64(len(p)) > hd.n {
			p = p[:hd.n]
		}
		what := describe(fn, hd.kind, p)
		if what == "" {
			what = fmt.Sprintf("a %d-byte frame of kind %d", hd.n, hd.kind)
		}
		if int64(len(p)) < hd.n {
			what += fmt.Sprintf(" (only %d of its %d payload bytes present)", len(p), hd.n)
		}
		parts = append(parts, what)
		i += frameHeaderSize + len(p)
	}
	if len(parts) == 0 {
		return ""
	}
	flush()
	return strings.Join(parts, "; ")
}

// tail examines data, the bytes of a file from a damaged position (file offset base) to its end,
// and returns the index of the first intact frame after the damage (-1 if none), the number
// of intact frames after the damage, and whether any of them proves the damaged bytes had been
// fsynced: a version-2 frame with a sync base past base, or any version-1 frame (version 1
// records no sync base, so damage with an intact frame after it is never taken for a torn tail).
func tail(data []byte, base int64, parse parser, v2 bool) (next, intact int, durable bool) {
	next = nextFrame(data, base, 1, parse, v2)
	for i := next; i >= 0; {
		f, _ := parse(data[i:], base+int64(i))
		intact++
		if f.syncBase < 0 || f.syncBase > base {
			durable = true
		}
		j := i + int(f.size)
		if _, why := parse(data[j:], base+int64(j)); why == "" {
			i = j
		} else {
			i = nextFrame(data, base, j+1, parse, v2)
		}
	}
	return next, intact, durable
}
