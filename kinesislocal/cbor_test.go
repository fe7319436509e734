package kinesislocal_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shoal-go/shoal/kinesislocal"
)

// TestCBORRefused sends what the AWS SDK for Java v2 sends by default (a CBOR body with Content-Type
// application/x-amz-cbor-1.1) and expects a 400 whose CBOR body and headers say how to turn CBOR
// off, and no state change.
func TestCBORRefused(t *testing.T) {
	srv := newServer(t, kinesislocal.Options{})
	// {"StreamName": "cbor", "ShardCount": 1} in CBOR.
	body := []byte{0xa2, 0x6a}
	body = append(body, "StreamName"...)
	body = append(body, 0x64)
	body = append(body, "cbor"...)
	body = append(body, 0x6a)
	body = append(body, "ShardCount"...)
	body = append(body, 0x01)
	for _, target := range []string{"Kinesis_20131202.CreateStream", "Kinesis_20131202.SubscribeToShard", "DynamoDB_20120810.ListTables"} {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-cbor-1.1")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400", target, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/x-amz-cbor-1.1" {
			t.Errorf("%s: Content-Type %q", target, ct)
		}
		if et := rec.Header().Get("x-amzn-ErrorType"); et != "SerializationException" {
			t.Errorf("%s: x-amzn-ErrorType %q", target, et)
		}
		m, err := decodeCBORTextMap(rec.Body.Bytes())
		if err != nil {
			t.Fatalf("%s: response body %x: %v", target, rec.Body.Bytes(), err)
		}
		if m["__type"] != "SerializationException" || !strings.Contains(m["message"], "AWS_CBOR_DISABLE=true") ||
			!strings.Contains(m["message"], "aws.cborEnabled=false") {
			t.Errorf("%s: body %q", target, m)
		}
	}
	if code, out := post(t, srv, "Kinesis_20131202.ListStreams", "{}", nil); code != 200 || len(out["StreamNames"].([]any)) != 0 {
		t.Fatalf("ListStreams after refused CBOR CreateStream: %d %v", code, out)
	}
}

// decodeCBORTextMap decodes a CBOR map of text strings (definite lengths only).
func decodeCBORTextMap(b []byte) (map[string]string, error) {
	head := func() (byte, int, error) {
		if len(b) == 0 {
			return 0, 0, fmt.Errorf("truncated")
		}
		major, info := b[0]>>5, int(b[0]&0x1f)
		b = b[1:]
		n := 0
		switch {
		case info < 24:
			n = info
		case info >= 24 && info <= 26:
			size := 1 << (info - 24)
			if len(b) < size {
				return 0, 0, fmt.Errorf("truncated")
			}
			for _, c := range b[:size] {
				n = n<<8 | int(c)
			}
			b = b[size:]
		default:
			return 0, 0, fmt.Errorf("unsupported length form %d", info)
		}
		return major, n, nil
	}
	text := func() (string, error) {
		major, n, err := head()
		if err != nil {
			return "", err
		}
		if major != 3 || len(b) < n {
			return "", fmt.Errorf("want a text string, got major type %d", major)
		}
		s := string(b[:n])
		b = b[n:]
		return s, nil
	}
	major, n, err := head()
	if err != nil || major != 5 {
		return nil, fmt.Errorf("want a map, got major type %d (%v)", major, err)
	}
	m := map[string]string{}
	for range n {
		k, err := text()
		if err != nil {
			return nil, err
		}
		v, err := text()
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the map", len(b))
	}
	return m, nil
}
