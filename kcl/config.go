package kcl

import (
	"errors"
	"fmt"
	"time"
)

// Retrieval selects how records are read: Polling (GetRecords) or FanOut (SubscribeToShard).
// It is a sealed interface: only this package's types implement it.
type Retrieval interface{ retrieval() }

// Polling reads with GetRecords. Zero fields take the defaults shown.
type Polling struct {
	// Limit is GetRecords' Limit: records per call (1..10000). Default 10000.
	Limit int
	// Interval is the wait before the next GetRecords call on a shard when the previous call
	// returned nothing or the reader is caught up. It bounds calls to 1/Interval per shard when
	// idle (AWS allows 5 per second per shard, shared by every consumer of the stream).
	// Default 250ms.
	Interval time.Duration
	// MaxRetries is how many consecutive failures that are not throttling (network errors,
	// 5xx after the SDK's own retries) a shard reader tolerates before it gives the shard up;
	// throttling is retried without limit. Default 10.
	MaxRetries int
	// RetryBase and RetryMax bound the exponential backoff with full jitter used after
	// throttling and failures. Defaults 100ms and 5s.
	RetryBase, RetryMax time.Duration
}

func (Polling) retrieval() {}

func (p Polling) withDefaults() Polling {
	if p.Limit == 0 {
		p.Limit = 10000
	}
	if p.Interval == 0 {
		p.Interval = 250 * time.Millisecond
	}
	if p.MaxRetries == 0 {
		p.MaxRetries = 10
	}
	if p.RetryBase == 0 {
		p.RetryBase = 100 * time.Millisecond
	}
	if p.RetryMax == 0 {
		p.RetryMax = 5 * time.Second
	}
	return p
}

func (p Polling) validate() error {
	var errs []error
	if p.Limit < 0 || p.Limit > 10000 {
		errs = append(errs, fmt.Errorf("kcl: Polling.Limit %d is outside 1..10000", p.Limit))
	}
	if p.Interval < 0 {
		errs = append(errs, fmt.Errorf("kcl: Polling.Interval %v is negative", p.Interval))
	}
	if p.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("kcl: Polling.MaxRetries %d is negative", p.MaxRetries))
	}
	if p.RetryBase < 0 || p.RetryMax < 0 || (p.RetryMax > 0 && p.RetryBase > p.RetryMax) {
		errs = append(errs, fmt.Errorf("kcl: Polling.RetryBase %v / RetryMax %v: want 0 <= base <= max", p.RetryBase, p.RetryMax))
	}
	return errors.Join(errs...)
}
