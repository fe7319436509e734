package streams

import (
	"sort"
)

// Records of a shard live in append-only segments. A segment holds the partition keys and data of
// its records back to back in one byte slice (grown by append up to segmentBytes, then a new
// segment starts) and a compact entry per record. Stored bytes never move or change once written,
// so readers may keep sub-slices after releasing the shard lock. Trimming drops whole segments
// and advances trimIx inside the first one.

const segmentBytes = 1 << 20

// entry is one stored record: 24 bytes plus its key and data.
type entry struct {
	arrival int64  // ms since epoch
	off     uint32 // offset of the key in segment.data; the data follows the key
	dlen    uint32
	klen    uint16
}

type segment struct {
	first uint64 // seqIx of ents[0]
	ents  []entry
	data  []byte
}

// recRef is a record read out of a shard; pk and data alias the shard's storage (read-only).
type recRef struct {
	seqIx   uint64
	arrival int64
	pk      []byte
	data    []byte
}

// log is a shard's record storage. Positions are seqIx values: the first record has seqIx 1 and
// position p means "the record with seqIx p is next".
type recLog struct {
	segs   []*segment
	next   uint64 // seqIx of the next record appended
	trimIx uint64 // first seqIx still visible
	last   int64  // arrival of the newest record (ms), for monotonic arrival times
	bytes  int64  // stored key+data bytes (visible or not yet dropped)
	hole   bool   // next was moved past a hole: the next record starts a new segment
}

func newRecLog() recLog { return recLog{next: 1, trimIx: 1} }

// arrivalFor returns a monotonic arrival time for a record written at nowMs.
func (l *recLog) arrivalFor(nowMs int64) int64 {
	if nowMs < l.last {
		return l.last
	}
	return nowMs
}

// appendRecord stores one record and returns its seqIx. arrival must be >= the previous one.
func (l *recLog) appendRecord(arrival int64, pk, data []byte) uint64 {
	size := len(pk) + len(data)
	var s *segment
	if n := len(l.segs); n > 0 {
		s = l.segs[n-1]
		if len(s.data)+size > segmentBytes && len(s.data) > 0 || l.hole {
			s = nil
		}
	}
	if s == nil {
		c := segmentBytes
		if len(l.segs) == 0 {
			c = 4096 // a shard with few records stays small
		}
		if size > c {
			c = size
		}
		s = &segment{first: l.next, data: make([]byte, 0, c)}
		l.segs = append(l.segs, s)
	}
	off := len(s.data)
	s.data = append(s.data, pk...)
	s.data = append(s.data, data...)
	s.ents = append(s.ents, entry{arrival: arrival, off: uint32(off), dlen: uint32(len(data)), klen: uint16(len(pk))})
	ix := l.next
	l.next++
	l.hole = false
	l.last = arrival
	l.bytes += int64(size)
	return ix
}

// skipTo leaves a hole: the next record appended gets seqIx ix (> next). Only replay of a
// repaired log (whose damaged record batches were moved aside) makes holes.
func (l *recLog) skipTo(ix uint64) {
	if l.trimIx == l.next {
		l.trimIx = ix
	}
	l.next = ix
	l.hole = true
}

// findSeg returns the index of the segment holding seqIx, or -1.
func (l *recLog) findSeg(ix uint64) int {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first > ix }) - 1
	if i < 0 || ix >= l.segs[i].first+uint64(len(l.segs[i].ents)) {
		return -1
	}
	return i
}

// read appends to out up to limit visible records starting at position pos, stopping before the
// total key+data size would pass maxBytes (at least one record is returned if any is there). It
// returns the records, the next position, the key+data bytes returned and whether the read
// stopped at maxBytes.
func (l *recLog) read(pos uint64, limit int, maxBytes int, out []recRef) (_ []recRef, _ uint64, total int, full bool) {
	if pos < l.trimIx {
		pos = l.trimIx
	}
	si := l.findSeg(pos)
	if si < 0 {
		// pos is past the end, or in a hole left by a repaired log: go on at the next record.
		si = sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first > pos })
		if si == len(l.segs) {
			return out, pos, 0, false
		}
	}
	for ; si < len(l.segs) && limit > 0; si++ {
		s := l.segs[si]
		if pos < s.first { // a hole: one read never spans one, so the records it returns are consecutive
			if len(out) > 0 {
				return out, pos, total, false
			}
			pos = s.first
		}
		for j := int(pos - s.first); j < len(s.ents) && limit > 0; j++ {
			e := s.ents[j]
			sz := int(e.klen) + int(e.dlen)
			if total+sz > maxBytes && total > 0 {
				return out, pos, total, true
			}
			total += sz
			k := s.data[e.off : e.off+uint32(e.klen)]
			d := s.data[e.off+uint32(e.klen) : e.off+uint32(e.klen)+e.dlen]
			out = append(out, recRef{seqIx: pos, arrival: e.arrival, pk: k, data: d})
			pos++
			limit--
		}
	}
	return out, pos, total, total >= maxBytes
}

// arrivalAt returns the arrival time of the visible record at seqIx, ok false if there is none.
func (l *recLog) arrivalAt(ix uint64) (int64, bool) {
	if ix < l.trimIx {
		return 0, false
	}
	si := l.findSeg(ix)
	if si < 0 {
		return 0, false
	}
	s := l.segs[si]
	return s.ents[ix-s.first].arrival, true
}

// firstAtOrAfter returns the position of the first visible record that arrived at or after ms.
func (l *recLog) firstAtOrAfter(ms int64) uint64 {
	// Records arrive in order, so binary search segments, then entries.
	si := sort.Search(len(l.segs), func(i int) bool {
		s := l.segs[i]
		return s.ents[len(s.ents)-1].arrival >= ms
	})
	if si == len(l.segs) {
		return l.next
	}
	s := l.segs[si]
	j := sort.Search(len(s.ents), func(j int) bool { return s.ents[j].arrival >= ms })
	p := s.first + uint64(j)
	if p < l.trimIx {
		p = l.trimIx
	}
	return p
}

// trim hides records that arrived before horizonMs and frees whole segments of them.
func (l *recLog) trim(horizonMs int64) {
	if l.last < horizonMs {
		// Everything is older than the horizon.
		for _, s := range l.segs {
			l.bytes -= int64(len(s.data))
		}
		l.segs = nil
		l.trimIx = l.next
		return
	}
	for len(l.segs) > 0 {
		s := l.segs[0]
		if s.ents[len(s.ents)-1].arrival >= horizonMs {
			break
		}
		l.bytes -= int64(len(s.data))
		l.segs[0] = nil
		l.segs = l.segs[1:]
		if len(l.segs) > 0 && l.trimIx < l.segs[0].first {
			l.trimIx = l.segs[0].first
		}
	}
	if len(l.segs) == 0 {
		l.trimIx = l.next
		return
	}
	s := l.segs[0]
	j := sort.Search(len(s.ents), func(j int) bool { return s.ents[j].arrival >= horizonMs })
	if p := s.first + uint64(j); p > l.trimIx {
		l.trimIx = p
	}
}

// oldestArrival is the arrival of the oldest visible record, ok false if none is visible.
func (l *recLog) oldestArrival() (int64, bool) { return l.arrivalAt(l.trimIx) }
