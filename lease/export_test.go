package lease

import "time"

// WithClock returns cfg with a local clock that runs at rate (local seconds per real second)
// and is offset by offset, from now on: how a host whose clock drifts sees time. For tests.
func WithClock(cfg Config, rate float64, offset time.Duration) Config {
	cfg.clock = &clock{rate: rate, offset: offset, base: time.Now()}
	return cfg
}
