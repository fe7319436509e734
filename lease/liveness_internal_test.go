package lease

import (
	"testing"
	"time"
)

// The send interval: HeartbeatInterval while answers are quick, shorter as they slow down, and
// back to HeartbeatInterval when they are too slow for any spacing to help.
func TestHeartbeatInterval(t *testing.T) {
	cfg, err := Config{Store: nopStore{}, WorkerID: "w", Acquired: func(*Claim) {}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l := newLiveness(&cfg)
	for _, tt := range []struct{ est, want time.Duration }{
		{0, time.Second}, {800 * time.Millisecond, time.Second},
		{900 * time.Millisecond, 566666666}, {2 * time.Second, 200 * time.Millisecond},
		{2300 * time.Millisecond, 100 * time.Millisecond}, {2330 * time.Millisecond, 90 * time.Millisecond},
		{2340 * time.Millisecond, time.Second}, {3 * time.Second, time.Second},
	} {
		if got := l.interval(tt.est); got != tt.want {
			t.Errorf("interval(%v) = %v, want %v", tt.est, got, tt.want)
		}
	}
}

type nopStore struct{ Store }
