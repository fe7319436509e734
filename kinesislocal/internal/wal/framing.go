package wal

import (
	"encoding/binary"
	"hash/crc32"
)

// Framing selects how a Log frames what it appends. Only benchmarks change it, to measure the
// version-2 framing against the earlier ones in one run: a log written with anything but
// FramingV2 cannot be read back.
type Framing int

const (
	FramingV2         Framing = iota // the format of this package
	FramingV1                        // version 1: length, CRC-32C of kind and payload, kind
	FramingNoChecksum                // length and kind only: the floor for the checksums' cost
)

// SetFraming sets l's framing (benchmarks only; see Framing). Call it before any Append.
func (l *Log) SetFraming(f Framing) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.encode = [...]func([]byte, int64, int64, byte, []byte) []byte{appendFrame, appendFrameV1, appendFrameNoSum}[f]
}

func appendFrameV1(b []byte, _, _ int64, kind byte, p []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Update(crc32.Checksum([]byte{kind}, castagnoli), castagnoli, p))
	b = append(b, kind)
	return append(b, p...)
}

func appendFrameNoSum(b []byte, _, _ int64, kind byte, p []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
	b = append(b, kind)
	return append(b, p...)
}
