package streams

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"
)

// A small JSON scanner for the PutRecords hot path and appenders for the GetRecords response.
// Other operations use encoding/json.

type scanner struct {
	b   []byte
	i   int
	bad bool
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) consume(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	s.ws()
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	s.bad = true
	return false
}

// str reads a string. The result aliases the input unless it had escapes. Raw control
// characters are not rejected here (callers check keys; base64 rejects them in data).
func (s *scanner) str() []byte {
	if !s.consume('"') {
		s.bad = true
		return nil
	}
	start := s.i
	end := bytes.IndexByte(s.b[start:], '"')
	if end < 0 {
		s.bad = true
		return nil
	}
	v := s.b[start : start+end]
	if bytes.IndexByte(v, '\\') >= 0 {
		return s.escaped(start - 1)
	}
	s.i = start + end + 1
	return v
}

// escaped finishes a string that has escapes (rare) with encoding/json.
func (s *scanner) escaped(quote int) []byte {
	s.i = quote + 1
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '\\' {
			s.i += 2
			continue
		}
		s.i++
		if c == '"' {
			var out string
			if json.Unmarshal(s.b[quote:s.i], &out) != nil {
				s.bad = true
				return nil
			}
			return []byte(out)
		}
	}
	s.bad = true
	return nil
}

// skip skips one value of any type.
func (s *scanner) skip() {
	dec := json.NewDecoder(bytes.NewReader(s.b[s.i:]))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		s.bad = true
		return
	}
	s.i += int(dec.InputOffset())
}

// object iterates over the members of an object; fn reads the value. It returns false (with bad
// set) if the input is not an object.
func (s *scanner) object(fn func(key []byte)) bool {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	if !s.consume('{') {
		s.bad = true
		return false
	}
	if s.consume('}') {
		return true
	}
	for !s.bad {
		k := s.str()
		if s.bad || !s.consume(':') {
			s.bad = true
			return false
		}
		fn(k)
		if s.bad {
			return false
		}
		if s.consume(',') {
			continue
		}
		if s.consume('}') {
			return true
		}
		s.bad = true
	}
	return false
}

// nullableStr reads a string or null (returned as nil, false).
func (s *scanner) nullableStr() ([]byte, bool) {
	if s.peek() == 'n' {
		s.literal("null")
		return nil, false
	}
	v := s.str()
	return v, !s.bad
}

type putEntry struct {
	pk      []byte
	data    []byte
	ehk     []byte
	hasData bool
	hasPK   bool
	hasEHK  bool
}

type putRecordsReq struct {
	streamName, streamARN *string
	records               []putEntry
	hasRecords            bool
}

// parsePutRecords decodes a PutRecords body. Data is base64-decoded into one slab.
func parsePutRecords(body []byte) (putRecordsReq, error) {
	var req putRecordsReq
	s := &scanner{b: body}
	var b64 int
	ok := s.object(func(k []byte) {
		switch string(k) {
		case "StreamName", "StreamARN":
			v, present := s.nullableStr()
			if present {
				str := string(v)
				if string(k) == "StreamName" {
					req.streamName = &str
				} else {
					req.streamARN = &str
				}
			}
		case "Records":
			if s.peek() == 'n' {
				s.literal("null")
				return
			}
			req.hasRecords = true
			if !s.consume('[') {
				s.bad = true
				return
			}
			if s.consume(']') {
				return
			}
			req.records = make([]putEntry, 0, 500)
			for !s.bad {
				var e putEntry
				s.object(func(k []byte) {
					switch string(k) {
					case "Data":
						e.data, e.hasData = s.nullableStr()
						b64 += len(e.data)
					case "PartitionKey":
						e.pk, e.hasPK = s.nullableStr()
					case "ExplicitHashKey":
						e.ehk, e.hasEHK = s.nullableStr()
					default:
						s.skip()
					}
				})
				req.records = append(req.records, e)
				if s.consume(',') {
					continue
				}
				if !s.consume(']') {
					s.bad = true
				}
				return
			}
		default:
			s.skip()
		}
	})
	if !ok || s.bad || s.peek() != 0 {
		return req, errf("SerializationException", "malformed PutRecords request body")
	}
	slab := make([]byte, b64/4*3+3)
	for i := range req.records {
		e := &req.records[i]
		if !utf8.Valid(e.pk) || hasControl(e.pk) {
			return req, errf("SerializationException", "PartitionKey is not a valid JSON string")
		}
		if !e.hasData {
			continue
		}
		n, err := base64.StdEncoding.Decode(slab, e.data)
		if err != nil {
			return req, errf("SerializationException", "Records[%d].Data is not valid base64", i)
		}
		e.data, slab = slab[:n:n], slab[n:]
	}
	return req, nil
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendEpochMs appends ms since epoch as epoch seconds with three decimals.
func appendEpochMs(b []byte, ms int64) []byte {
	if ms < 0 {
		ms = 0
	}
	b = appendUint(b, uint64(ms/1000))
	r := ms % 1000
	return append(b, '.', byte('0'+r/100), byte('0'+r/10%10), byte('0'+r%10))
}

// appendRecords appends a JSON array of records of shard sh.
func appendRecords(b []byte, sh *shard, recs []recRef) []byte {
	b = append(b, '[')
	for i, r := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Data":"`...)
		n := base64.StdEncoding.EncodedLen(len(r.data))
		b = growBytes(b, n)
		base64.StdEncoding.Encode(b[len(b):len(b)+n], r.data)
		b = b[:len(b)+n]
		b = append(b, `","PartitionKey":`...)
		b = appendJSONString(b, r.pk)
		b = append(b, `,"SequenceNumber":"`...)
		b = sh.seq(r.seqIx, r.arrival).appendDecimal(b)
		b = append(b, `","ApproximateArrivalTimestamp":`...)
		b = appendEpochMs(b, r.arrival)
		b = append(b, '}')
	}
	return append(b, ']')
}

// recordsJSONSize estimates the encoded size of recs.
func recordsJSONSize(recs []recRef) int {
	n := 2
	for _, r := range recs {
		n += base64.StdEncoding.EncodedLen(len(r.data)) + len(r.pk)*2 + 150
	}
	return n
}

func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), 2*cap(b)+n)
	copy(nb, b)
	return nb
}

// hasControl reports whether b has a byte below 0x20 (not allowed raw in a JSON string).
func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}
