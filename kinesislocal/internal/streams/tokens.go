package streams

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

// Opaque strings (shard iterators and pagination tokens) carry a short keyed checksum so that a
// bogus or edited string is told apart from an expired one. The key is fixed, so iterators and
// tokens stay valid across restarts of a durable engine; they are not a security boundary.
var tokenKey = []byte("kinesislocal-opaque-v1")

func seal(payload []byte) string {
	h := sha256.New()
	h.Write(tokenKey)
	h.Write(payload)
	sum := h.Sum(nil)
	buf := append(append(make([]byte, 0, len(payload)+8), payload...), sum[:8]...)
	return base64.StdEncoding.EncodeToString(buf)
}

func unseal(s string) ([]byte, bool) {
	if len(s) == 0 || len(s) > 4096 {
		return nil, false
	}
	buf, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(buf) < 9 {
		return nil, false
	}
	payload, mac := buf[:len(buf)-8], buf[len(buf)-8:]
	h := sha256.New()
	h.Write(tokenKey)
	h.Write(payload)
	if string(h.Sum(nil)[:8]) != string(mac) {
		return nil, false
	}
	return payload, true
}

// NextToken values expire after 300 s like AWS's.
const tokenTTLMs = 300_000

type tokenEnvelope struct {
	Kind   string          `json:"k"`
	Issued int64           `json:"i"`
	Value  json.RawMessage `json:"v"`
}

// makeToken returns a pagination token of the given kind holding v.
func (e *Engine) makeToken(kind string, v any) string {
	raw, _ := json.Marshal(v)
	b, _ := json.Marshal(tokenEnvelope{Kind: kind, Issued: e.nowMs(), Value: raw})
	return seal(b)
}

// parseToken decodes a token made by makeToken: InvalidArgument if it is not one of this kind,
// ExpiredNextToken if it is older than 300 s.
func (e *Engine) parseToken(kind, tok string, v any) error {
	b, ok := unseal(tok)
	var env tokenEnvelope
	if !ok || json.Unmarshal(b, &env) != nil || env.Kind != kind || json.Unmarshal(env.Value, v) != nil {
		return errf(awsproto.InvalidArgument, "Invalid NextToken.")
	}
	if e.nowMs()-env.Issued > tokenTTLMs {
		return errf(awsproto.ExpiredNextToken, "The token has expired: it was issued more than 300 seconds ago.")
	}
	return nil
}

// Shard iterators: version byte, stream creation ms, shard index, position (next seqIx), issue
// time ms, minimum arrival ms, stream name; sealed.
type iterator struct {
	streamCreated int64
	shardIdx      uint32
	pos           uint64
	issued        int64
	// minArrival, when non-zero, skips records that arrived before it: an AT_TIMESTAMP iterator
	// for a time after the newest record.
	minArrival int64
	stream     string
}

const iteratorTTLMs = 300_000

func (it iterator) encode() string {
	b := make([]byte, 0, 38+len(it.stream))
	b = append(b, 2)
	b = binary.BigEndian.AppendUint64(b, uint64(it.streamCreated))
	b = binary.BigEndian.AppendUint32(b, it.shardIdx)
	b = binary.BigEndian.AppendUint64(b, it.pos)
	b = binary.BigEndian.AppendUint64(b, uint64(it.issued))
	b = binary.BigEndian.AppendUint64(b, uint64(it.minArrival))
	b = append(b, it.stream...)
	return seal(b)
}

func decodeIterator(s string) (iterator, bool) {
	b, ok := unseal(s)
	if !ok || len(b) < 38 || b[0] != 2 {
		return iterator{}, false
	}
	return iterator{
		streamCreated: int64(binary.BigEndian.Uint64(b[1:])),
		shardIdx:      binary.BigEndian.Uint32(b[9:]),
		pos:           binary.BigEndian.Uint64(b[13:]),
		issued:        int64(binary.BigEndian.Uint64(b[21:])),
		minArrival:    int64(binary.BigEndian.Uint64(b[29:])),
		stream:        string(b[37:]),
	}, true
}

// IteratorShard returns the stream name and shard id a shard iterator was issued for, and false
// if s is not an iterator this engine issued. It does not check expiry.
func IteratorShard(s string) (stream, shard string, ok bool) {
	it, ok := decodeIterator(s)
	if !ok {
		return "", "", false
	}
	return it.stream, shardID(int(it.shardIdx)), true
}
