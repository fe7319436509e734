package wal

import (
	"testing"
)

var framings = []struct {
	name   string
	encode func([]byte, int64, int64, byte, []byte) []byte
}{{"v2", appendFrame}, {"v1", appendFrameV1}, {"nochecksum", appendFrameNoSum}}

// batch500 is the size of the Kinesis engine's frame for 500 records of 100 bytes with 10-byte
// partition keys (14 bytes of per-record header each).
var batch500 = make([]byte, 500*(14+10+100)+30)

// BenchmarkFrame500 measures the CPU cost of framing (and checksumming) one 500-record batch.
func BenchmarkFrame500(b *testing.B) {
	for _, f := range framings {
		b.Run(f.name, func(b *testing.B) {
			buf := make([]byte, 0, len(batch500)+64)
			b.SetBytes(int64(len(batch500)))
			for b.Loop() {
				buf = f.encode(buf[:0], 1234, 1000, 2, batch500)
			}
		})
	}
}
