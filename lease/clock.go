package lease

import (
	"math"
	"time"
)

// clock is a worker's local monotonic clock: the system clock unless a test gives a worker its
// own rate and offset (export_test.go), so a fleet under testing/synctest, which has one fake
// clock, can run workers whose clocks drift apart, as hosts' clocks do. Every duration the
// protocol measures (heartbeat validity, idle time of rows and leases, timers) is measured on
// it. Immutable; safe for concurrent use.
type clock struct {
	rate   float64       // local seconds per real second; 0 means 1
	offset time.Duration // added to the local time
	base   time.Time     // the real instant from which rate applies
}

func (c *clock) skewed() bool { return c != nil && (c.rate != 0 && c.rate != 1 || c.offset != 0) }

// now returns the local time. It keeps the monotonic reading, so Sub of two results is the
// local elapsed time.
func (c *clock) now() time.Time {
	if !c.skewed() {
		return time.Now()
	}
	real := time.Since(c.base)
	rate := c.rate
	if rate == 0 {
		rate = 1
	}
	return c.base.Add(c.offset + time.Duration(float64(real)*rate))
}

// real converts a local duration into the real duration a timer must wait for it, rounded up
// (by a nanosecond more than the conversion's rounding), so that a timer never fires before the
// local instant it waits for; otherwise a loop could wake at the same fake instant forever.
func (c *clock) real(d time.Duration) time.Duration {
	if !c.skewed() || c.rate == 0 || c.rate == 1 || d <= 0 {
		return d
	}
	return time.Duration(math.Ceil(float64(d)/c.rate)) + 1
}

// since and until measure on the local clock.
func (c *clock) since(t time.Time) time.Duration { return c.now().Sub(t) }
func (c *clock) until(t time.Time) time.Duration { return t.Sub(c.now()) }
