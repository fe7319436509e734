package conformance

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// addInitialResponse wraps a transport for kinesis-local, whose SubscribeToShard event stream
// starts directly with a SubscribeToShardEvent. aws-sdk-go-v2 requires an initial-response
// message first ("deserialize initial response: expected initial-response"), which AWS sends.
// For a successful SubscribeToShard response, the wrapper reads the first message and, if it is
// not an initial-response, puts one in front of it. Every other response passes untouched. Only
// the kinesis-local target uses it, and the deviations table declares why.
func addInitialResponse(next http.RoundTripper) http.RoundTripper {
	return initialResponseShim{next: next}
}

type initialResponseShim struct{ next http.RoundTripper }

func (s initialResponseShim) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".SubscribeToShard") {
		return resp, err
	}
	body := bufio.NewReader(resp.Body)
	// Blocks until the server sends its first event (kinesis-local: within about a second).
	first, err := eventstream.NewDecoder().Decode(body, nil)
	if err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("initial-response shim: read the first event: %w", err)
	}
	var prefix bytes.Buffer
	enc := eventstream.NewEncoder()
	if v, ok := first.Headers.Get(":event-type").(eventstream.StringValue); !ok || string(v) != "initial-response" {
		var h eventstream.Headers
		h.Set(":message-type", eventstream.StringValue("event"))
		h.Set(":event-type", eventstream.StringValue("initial-response"))
		h.Set(":content-type", eventstream.StringValue("application/json"))
		if err := enc.Encode(&prefix, eventstream.Message{Headers: h, Payload: []byte("{}")}); err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("initial-response shim: encode: %w", err)
		}
	}
	if err := enc.Encode(&prefix, first); err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("initial-response shim: re-encode the first event: %w", err)
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(&prefix, body), resp.Body}
	return resp, nil
}
