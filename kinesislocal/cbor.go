package kinesislocal

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

// cborContentType is what the AWS SDK for Java v2 (and the KCL/KPL for Java built on it) sends
// to Kinesis by default.
const cborContentType = "application/x-amz-cbor-1.1"

// cborDisabledHint is the message a CBOR request gets.
const cborDisabledHint = "kinesislocal speaks the JSON protocol only, not CBOR (Content-Type " + cborContentType +
	"): disable CBOR in the client, e.g. for the AWS SDK for Java v2 set the environment variable " +
	"AWS_CBOR_DISABLE=true or the system property aws.cborEnabled=false"

// isCBOR reports whether a request body is CBOR-encoded.
func isCBOR(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/x-amz-cbor")
}

// writeCBORRefusal answers a CBOR request with a 400 SerializationException that says how to
// turn CBOR off. The body is CBOR, as the client expects, and the error type is also in the
// x-amzn-ErrorType header, so the SDK shows the message whichever it reads.
func writeCBORRefusal(w http.ResponseWriter) {
	body := cborTextMap([][2]string{{"__type", awsproto.Serialization}, {"message", cborDisabledHint}})
	w.Header().Set("Content-Type", cborContentType)
	w.Header().Set("x-amzn-ErrorType", awsproto.Serialization)
	w.Header().Set("x-amzn-ErrorMessage", cborDisabledHint)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusBadRequest)
	w.Write(body)
}

// cborTextMap encodes a CBOR map (RFC 8949 major type 5) of text-string keys and values.
func cborTextMap(pairs [][2]string) []byte {
	b := cborHead(nil, 5, uint64(len(pairs)))
	for _, p := range pairs {
		for _, s := range p {
			b = cborHead(b, 3, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

// cborHead appends a CBOR data item head: major type and argument in the shortest form.
func cborHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return append(b, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(b, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}
