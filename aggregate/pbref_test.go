package aggregate

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// This file holds a test-only reference encoder, written independently of
// wire.go and encode.go (encoding/binary varints, a field tree, no size
// pre-computation), so golden bytes are not derived from the code under test.

type pbField struct {
	num    int
	varint bool
	v      uint64
	b      []byte
}

type pbMsg []pbField

func (m pbMsg) uint(num int, v uint64) pbMsg {
	return append(m, pbField{num: num, varint: true, v: v})
}

func (m pbMsg) bytes(num int, b []byte) pbMsg {
	return append(m, pbField{num: num, b: b})
}

func (m pbMsg) str(num int, s string) pbMsg { return m.bytes(num, []byte(s)) }

func (m pbMsg) msg(num int, sub pbMsg) pbMsg { return m.bytes(num, sub.marshal()) }

func (m pbMsg) marshal() []byte {
	var buf bytes.Buffer
	for _, f := range m {
		if f.varint {
			buf.Write(binary.AppendUvarint(nil, uint64(f.num)<<3))
			buf.Write(binary.AppendUvarint(nil, f.v))
			continue
		}
		buf.Write(binary.AppendUvarint(nil, uint64(f.num)<<3|2))
		buf.Write(binary.AppendUvarint(nil, uint64(len(f.b))))
		buf.Write(f.b)
	}
	return buf.Bytes()
}

// frame wraps a protobuf in the magic and the MD5 trailer.
func frame(pb []byte) []byte {
	sum := md5.Sum(pb)
	out := []byte{0xF3, 0x89, 0x9A, 0xC2}
	out = append(out, pb...)
	return append(out, sum[:]...)
}

// refEncode builds the aggregate the KPL would write for recs: tables in
// order of first use, each record with its own indexes.
func refEncode(recs []Record) []byte {
	var pks, ehks []string
	indexOf := func(tbl *[]string, k string) uint64 {
		for i, x := range *tbl {
			if x == k {
				return uint64(i)
			}
		}
		*tbl = append(*tbl, k)
		return uint64(len(*tbl) - 1)
	}
	var body pbMsg
	for _, r := range recs {
		sub := pbMsg{}.uint(1, indexOf(&pks, r.PartitionKey))
		if r.ExplicitHashKey != "" {
			sub = sub.uint(2, indexOf(&ehks, r.ExplicitHashKey))
		}
		body = body.msg(3, sub.bytes(3, r.Data))
	}
	var top pbMsg
	for _, k := range pks {
		top = top.str(1, k)
	}
	for _, k := range ehks {
		top = top.str(2, k)
	}
	return frame(append(top, body...).marshal())
}

// readHexFixture reads a testdata file of hex bytes with # comments.
func readHexFixture(t testing.TB, name string) []byte {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var digits strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

func TestRefEncoderMatchesHandWrittenFixture(t *testing.T) {
	// Guards the reference encoder itself against the hand-derived bytes.
	got := refEncode([]Record{{PartitionKey: "k", Data: []byte("hi")}, {PartitionKey: "k", Data: []byte("yo")}})
	if want := readHexFixture(t, "one_key.hex"); !bytes.Equal(got, want) {
		t.Fatalf("refEncode = %x, want %x", got, want)
	}
}

func md5Sum(b []byte) [16]byte { return md5.Sum(b) }
