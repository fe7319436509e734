package wal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// The on-disk format (version 2). A log file is a 16-byte file header followed by frames:
//
//	file header: "SHOALWAL" | u32 version (2) | u32 CRC-32C of the previous 12 bytes
//	frame:       u32 marker 0xF3 'w' 'a' 'l' | u32 payload length | u64 offset of this frame
//	             | u64 sync base | u32 CRC-32C of the payload | u8 kind | 3 zero bytes
//	             | u32 CRC-32C of the previous 32 bytes | payload
//
// Integers are little-endian. The header checksum means a damaged length can never make a reader
// skip over intact frames: a frame is trusted only when its own header checksums, names its own
// file offset and its payload checksums. The marker lets a reader find the next frame after
// damage. The sync base is the log size that was already fsynced when the frame was appended:
// a frame whose sync base is past a damaged offset proves that the damaged bytes had been
// fsynced (and so possibly acknowledged) before it was written.

const (
	fileMagic       = "SHOALWAL"
	formatVersion   = 2
	fileHeaderSize  = 16
	frameHeaderSize = 36

	// MaxPayload is the largest frame payload; a header claiming more is damage.
	MaxPayload = 64 << 20

	// KindGap is the kind of the frame Repair leaves where bytes were moved aside; its payload
	// is a JSON Damage. Open passes it to apply so the engine can accept the hole after it.
	KindGap byte = 0xFE
	// kindClose marks a clean Close; Open does not pass it to apply.
	kindClose byte = 0xFF
	// MaxKind is the largest kind an engine may use.
	MaxKind byte = 0xEF
)

var frameMagic = []byte{0xF3, 'w', 'a', 'l'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendFileHeader(b []byte) []byte {
	b = append(b, fileMagic...)
	b = binary.LittleEndian.AppendUint32(b, formatVersion)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[len(b)-12:], castagnoli))
}

// checkFileHeader returns "" for a valid version-2 header, else what is wrong with it.
func checkFileHeader(h []byte) string {
	if len(h) < fileHeaderSize {
		return fmt.Sprintf("file header cut short (%d of %d bytes)", len(h), fileHeaderSize)
	}
	if string(h[:8]) != fileMagic {
		return "file header does not start with " + fileMagic
	}
	if crc32.Checksum(h[:12], castagnoli) != binary.LittleEndian.Uint32(h[12:16]) {
		return "file header checksum mismatch"
	}
	if v := binary.LittleEndian.Uint32(h[8:12]); v != formatVersion {
		return fmt.Sprintf("log format version %d; this build reads version %d (and the unversioned version 1)", v, formatVersion)
	}
	return ""
}

// appendFrame appends one frame written at file offset off with the given sync base.
func appendFrame(b []byte, off, syncBase int64, kind byte, payload []byte) []byte {
	start := len(b)
	b = append(b, frameMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint64(b, uint64(off))
	b = binary.LittleEndian.AppendUint64(b, uint64(syncBase))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
	b = append(b, kind, 0, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:start+32], castagnoli))
	return append(b, payload...)
}

// frame is one parsed frame; payload aliases the buffer it was parsed from.
type frame struct {
	off      int64
	size     int64 // header and payload
	syncBase int64 // -1 when the format does not record it (version 1)
	kind     byte
	payload  []byte
}

// header is a parsed frame header (version 2).
type header struct {
	n        int64
	off      int64
	syncBase int64
	sum      uint32
	kind     byte
}

// parseHeader checks a version-2 frame header read at file offset off.
func parseHeader(h []byte, off int64) (header, string) {
	if len(h) < frameHeaderSize {
		return header{}, fmt.Sprintf("file ends inside a frame header (%d of %d bytes)", len(h), frameHeaderSize)
	}
	if !bytes.Equal(h[:4], frameMagic) {
		return header{}, "no frame marker"
	}
	if crc32.Checksum(h[:32], castagnoli) != binary.LittleEndian.Uint32(h[32:36]) {
		return header{}, "frame header checksum mismatch"
	}
	hd := header{
		n:        int64(binary.LittleEndian.Uint32(h[4:])),
		off:      int64(binary.LittleEndian.Uint64(h[8:])),
		syncBase: int64(binary.LittleEndian.Uint64(h[16:])),
		sum:      binary.LittleEndian.Uint32(h[24:]),
		kind:     h[28],
	}
	switch {
	case hd.off != off:
		return hd, fmt.Sprintf("frame header names offset %d (a frame out of place)", hd.off)
	case hd.n > MaxPayload:
		return hd, fmt.Sprintf("frame length %d exceeds the %d limit", hd.n, MaxPayload)
	case hd.kind > MaxKind && hd.kind != KindGap && hd.kind != kindClose:
		return hd, fmt.Sprintf("unknown frame kind %d", hd.kind)
	case hd.syncBase > off:
		return hd, fmt.Sprintf("frame sync base %d lies after the frame", hd.syncBase)
	}
	return hd, ""
}

// parseV2 parses the version-2 frame at the start of b, which is at file offset off. It
// returns "" and the frame when it is intact, else the reason it is not.
func parseV2(b []byte, off int64) (frame, string) {
	hd, why := parseHeader(b, off)
	if why != "" {
		return frame{}, why
	}
	rest := b[frameHeaderSize:]
	if int64(len(rest)) < hd.n {
		return frame{}, fmt.Sprintf("file ends inside a %d-byte frame of kind %d (%d payload bytes present)", hd.n, hd.kind, len(rest))
	}
	p := rest[:hd.n]
	if crc32.Checksum(p, castagnoli) != hd.sum {
		return frame{}, fmt.Sprintf("payload checksum mismatch in a %d-byte frame of kind %d", hd.n, hd.kind)
	}
	return frame{off: off, size: frameHeaderSize + hd.n, syncBase: hd.syncBase, kind: hd.kind, payload: p}, ""
}

// Legacy describes the unversioned version-1 framing an engine wrote before version 2:
// u32 length | u32 CRC-32C | [u8 kind] | payload, with the checksum over kind and payload. The
// Kinesis engine wrote a kind byte (KindByte); the DynamoDB engine did not (its frames get Kind).
type Legacy struct {
	KindByte bool
	Kind     byte
}

func (lg *Legacy) headerSize() int {
	if lg.KindByte {
		return 9
	}
	return 8
}

// parse parses the version-1 frame at the start of b (file offset off).
func (lg *Legacy) parse(b []byte, off int64) (frame, string) {
	hs := lg.headerSize()
	if len(b) < hs {
		return frame{}, fmt.Sprintf("file ends inside a frame header (%d of %d bytes)", len(b), hs)
	}
	n := int64(binary.LittleEndian.Uint32(b))
	if n > MaxPayload {
		return frame{}, fmt.Sprintf("frame length %d exceeds the %d limit", n, MaxPayload)
	}
	if int64(len(b)-hs) < n {
		return frame{}, fmt.Sprintf("file ends inside a %d-byte frame (%d payload bytes present)", n, len(b)-hs)
	}
	kind := lg.Kind
	if lg.KindByte {
		kind = b[8]
	}
	if crc32.Checksum(b[8:hs+int(n)], castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return frame{}, fmt.Sprintf("checksum mismatch in a %d-byte frame", n)
	}
	if kind == 0 || kind > MaxKind {
		return frame{}, fmt.Sprintf("unknown frame kind %d", kind)
	}
	return frame{off: off, size: int64(hs) + n, syncBase: -1, kind: kind, payload: b[hs : hs+int(n)]}, ""
}

// parser parses the frame at the start of b, at file offset off.
type parser func(b []byte, off int64) (frame, string)

// nextFrame returns the index in data (which starts at file offset base) of the first intact
// frame at or after index from, or -1. For version 2 only positions holding a frame marker are
// tried; version-1 frames have no marker, so every position is.
func nextFrame(data []byte, base int64, from int, parse parser, v2 bool) int {
	for i := from; i < len(data); i++ {
		if v2 {
			j := bytes.Index(data[i:], frameMagic)
			if j < 0 {
				return -1
			}
			i += j
		}
		if _, why := parse(data[i:], base+int64(i)); why == "" {
			return i
		}
	}
	return -1
}
