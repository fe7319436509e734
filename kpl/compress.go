package kpl

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"sync"
)

// CompressedMagic prefixes record data compressed by a producer with
// CompressionGzip; a gzip stream follows. Decompress detects it.
const CompressedMagic = "\xf3\x5c\x6b\x01"

// MaxDecompressedSize bounds what Decompress inflates, as a guard against
// decompression bombs.
const MaxDecompressedSize = 64 << 20

// ErrCorruptCompressed is wrapped by Decompress's error for data that starts
// with CompressedMagic but is not a valid gzip stream of at most
// MaxDecompressedSize bytes.
var ErrCorruptCompressed = errors.New("kpl: corrupt compressed record")

// Decompress undoes a producer's compression: if data starts with
// CompressedMagic it returns the decompressed bytes and true; otherwise it
// returns data unchanged and false. A consumer calls it on each user record's
// data after de-aggregation. It is safe for concurrent use.
func Decompress(data []byte) ([]byte, bool, error) {
	return decompress(data, MaxDecompressedSize)
}

func decompress(data []byte, limit int) ([]byte, bool, error) {
	if !IsCompressed(data) {
		return data, false, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data[len(CompressedMagic):]))
	if err != nil {
		return nil, true, fmt.Errorf("%w: %w", ErrCorruptCompressed, err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, true, fmt.Errorf("%w: %w", ErrCorruptCompressed, err)
	}
	if len(out) > limit {
		return nil, true, fmt.Errorf("%w: more than %d bytes", ErrCorruptCompressed, limit)
	}
	return out, true, nil
}

// IsCompressed reports whether data starts with CompressedMagic.
func IsCompressed(data []byte) bool {
	return len(data) > len(CompressedMagic) && string(data[:len(CompressedMagic)]) == CompressedMagic
}

// gzipPool reuses gzip writers across Put calls of one producer.
type gzipPool struct{ p sync.Pool }

// compress returns CompressedMagic + gzip(data) if that is smaller than data,
// else data unchanged. Data that already starts with CompressedMagic is
// always compressed, so Decompress never mistakes user data for ours.
func (g *gzipPool) compress(data []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(data)/2 + 64)
	buf.WriteString(CompressedMagic)
	zw, _ := g.p.Get().(*gzip.Writer)
	if zw == nil {
		zw = gzip.NewWriter(&buf)
	} else {
		zw.Reset(&buf)
	}
	zw.Write(data) // a bytes.Buffer never fails
	zw.Close()
	g.p.Put(zw)
	if buf.Len() >= len(data) && !IsCompressed(data) {
		return data
	}
	return buf.Bytes()
}
