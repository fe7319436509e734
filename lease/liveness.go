package lease

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// liveness keeps the worker's heartbeat chain and fences the worker when it stops counting.
//
// The rule (docs/design.md, "Self-fencing", has the proof): a heartbeat sent at s that succeeds
// and answers at e counts if the chain is live and e is before validUntil, or if the chain is not
// live and e is before s + LeaseDuration - SafetyMargin (it starts a new chain and a new epoch).
// A counting heartbeat moves validUntil to max(validUntil, s + LeaseDuration - SafetyMargin):
// the fence is measured from the heartbeat's START, so a slow answer still counts as long as it
// arrives while the chain lives. At validUntil the fencer cancels the chain's epoch context with
// ErrLeaseLost, which cancels every claim derived from it.
//
// Sending: one heartbeat every HeartbeatInterval (measured between sends), more often when
// answers are slow (see interval); a failed one is retried at once, then with a short backoff; a
// heartbeat still unanswered when the next is due does not delay it (up to maxInFlight at once),
// so one stuck request cannot starve the chain.
// Each attempt gives up at s + HeartbeatTimeout (default LeaseDuration - SafetyMargin: an answer
// after that could not count anyway).
//
// Goroutines, all owned by Coordinator.Run: heartbeat (schedules, and waits for its attempts)
// and fencer (a timer only), so a store call that hangs can never delay the fence.
type liveness struct {
	cfg      *Config
	instance string // this process's instance id: start time (ns, sortable) and a random suffix

	mu         sync.Mutex
	validUntil time.Time // zero: no live chain
	epoch      context.Context
	cancel     context.CancelCauseFunc
	lastBeat   int64     // heartbeat value of the answer to the latest-sent heartbeat answered
	lastBeatS  time.Time // that heartbeat's send time
	slow       bool      // the last heartbeat took more than a quarter of the lease duration, or failed
	beaten     bool      // a heartbeat of this instance succeeded (later rows must show it as Previous)
	foreign    int       // heartbeats whose Previous was another instance, after the first

	reset  chan struct{} // validUntil moved
	beats  chan beat     // latest successful heartbeat, for the coordinator loop
	fenced chan struct{} // the chain ended
	dup    chan string   // another instance heartbeats under this worker id (its instance id)
}

// maxInFlight bounds concurrent heartbeat attempts (reached only when the store is slow: the
// interval shrinks then, see interval).
const maxInFlight = 32

// beat is a successful heartbeat; started reports that it started a new chain (the worker
// became live).
type beat struct {
	w       Worker
	started bool
}

func newLiveness(cfg *Config) *liveness {
	return &liveness{
		cfg:      cfg,
		instance: fmt.Sprintf("%019d-%016x", time.Now().UnixNano(), rand.Uint64()),
		dup:      make(chan string, 1),
		reset:    make(chan struct{}, 1),
		beats:    make(chan beat, 1),
		fenced:   make(chan struct{}, 1),
	}
}

// current returns the live chain's context, or nil when the worker is fenced or has no chain.
func (l *liveness) current(now time.Time) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.validUntil.IsZero() || !now.Before(l.validUntil) {
		return nil
	}
	return l.epoch
}

// valid reports whether epoch is the live chain at now.
func (l *liveness) valid(epoch context.Context, now time.Time) bool {
	c := l.current(now)
	return c != nil && c == epoch
}

func (l *liveness) beat() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastBeat
}

// struggling reports whether the last heartbeat failed or was slow (for the take backoff).
func (l *liveness) struggling() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.slow
}

type attempt struct {
	s, e time.Time
	w    Worker
	err  error
}

// retryDelay is the wait before retry n (1-based) of a failed heartbeat: none for the first,
// then 25 ms doubling, at most min(100 ms, HeartbeatInterval/4).
func (l *liveness) retryDelay(n int) time.Duration {
	if n <= 1 {
		return 0
	}
	d := 25 * time.Millisecond << min(n-2, 10)
	return min(d, 100*time.Millisecond, l.cfg.HeartbeatInterval/4)
}

// hedgeAfter is how long an unanswered heartbeat waits before a second one is sent beside it
// while the chain is at risk (less than half a HeartbeatInterval of validity left, or no chain).
func (l *liveness) hedgeAfter() time.Duration {
	return min(200*time.Millisecond, l.cfg.HeartbeatInterval/4)
}

// atRisk reports whether the chain ends within half a HeartbeatInterval of at (or is not live).
func (l *liveness) atRisk(at time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.validUntil.IsZero() || l.validUntil.Sub(at) < l.cfg.HeartbeatInterval/2
}

// interval is the time between heartbeat sends given est, the recent heartbeat latency (the
// largest of the last few answers): HeartbeatInterval while answers are quick (est at most
// (LD-SM-HeartbeatInterval)/2, 800 ms at the defaults); when they are slower, short enough that
// answers keep arriving before the fence they extend. A heartbeat sent at s answering at s+est
// moves the fence to s+LD-SM, so the next answer must come within LD-SM-est: sends are then
// spaced a third of that (at least 50 ms), pipelined (several in flight). Under a queueing store
// every answer is late by about the same amount, so sending more often is what keeps a healthy
// worker live (until est reaches 90% of LD-SM: then nothing can, and it falls back to
// HeartbeatInterval).
func (l *liveness) interval(est time.Duration) time.Duration {
	window := l.cfg.LeaseDuration - l.cfg.SafetyMargin
	if est <= (window-l.cfg.HeartbeatInterval)/2 || est >= window*9/10 {
		// Quick answers; or answers so slow that no spacing keeps up: sending more would only
		// add load to a store that is already drowning.
		return l.cfg.HeartbeatInterval
	}
	return min(l.cfg.HeartbeatInterval, max((window-est)/3, 50*time.Millisecond))
}

// runHeartbeat sends heartbeats until ctx ends, and waits for its attempts.
func (l *liveness) runHeartbeat(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	results := make(chan attempt, maxInFlight)
	clk := l.cfg.clock
	t := time.NewTimer(0)
	defer t.Stop()
	inFlight, failures := 0, 0
	var next, lastSend time.Time // when the next attempt is due (zero: now); the latest send
	var recent [5]time.Duration  // latencies of the last answers (ring)
	ri := 0
	est := func() time.Duration {
		m := time.Duration(0)
		for _, d := range recent {
			m = max(m, d)
		}
		return m
	}
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-results:
			inFlight--
			if a.err != nil {
				failures++
				if ctx.Err() == nil && l.cfg.Hooks.StoreError != nil {
					l.cfg.Hooks.StoreError("heartbeat", a.err)
				}
				if retry := clk.now().Add(l.retryDelay(failures)); retry.Before(next) {
					next = retry
				}
			} else {
				failures = 0
				l.record(a.s, a.e, a.w)
				recent[ri%len(recent)] = a.e.Sub(a.s)
				ri++
				// A slower store shortens the interval at once.
				if n := a.s.Add(l.interval(est())); n.Before(next) && lastSend.Equal(a.s) {
					next = n
				}
				if n := lastSend.Add(l.interval(est())); n.Before(next) {
					next = n
				}
			}
			l.mu.Lock()
			l.slow = a.err != nil || a.e.Sub(a.s) > l.cfg.LeaseDuration/4
			l.mu.Unlock()
		case <-t.C:
		}
		now := clk.now()
		due := next
		if inFlight > 0 {
			// A heartbeat is outstanding: the next is sent on schedule anyway, or earlier beside
			// it once it has waited hedgeAfter while the chain is at risk.
			if h := lastSend.Add(l.hedgeAfter()); h.Before(due) && l.atRisk(h) {
				due = h
			}
		}
		if inFlight < maxInFlight && !now.Before(due) {
			inFlight++
			s := now
			lastSend = s
			wg.Go(func() {
				hctx, cancel := context.WithTimeout(ctx, clk.real(clk.until(s.Add(l.cfg.HeartbeatTimeout))))
				w, err := l.cfg.Store.Heartbeat(hctx, l.cfg.WorkerID, l.instance)
				cancel()
				results <- attempt{s: s, e: clk.now(), w: w, err: err}
			})
			next = s.Add(l.interval(est()))
			due = next
			if h := s.Add(l.hedgeAfter()); inFlight < maxInFlight && h.Before(due) {
				due = h // re-checked for risk when it fires
			}
		}
		if inFlight < maxInFlight {
			t.Reset(max(clk.real(clk.until(due)), 0))
		} else {
			t.Stop() // a slot frees when an attempt answers
		}
	}
}

func (l *liveness) record(s, e time.Time, w Worker) {
	l.mu.Lock()
	// Our own heartbeats (also concurrent ones) leave our instance in the row. After our first,
	// another instance there means another live process writes the row: seen twice (once may be
	// a dead predecessor's last request, committed late), it is reported.
	other := ""
	if l.beaten && w.Previous != "" && w.Previous != l.instance {
		l.foreign++
		if l.foreign >= 2 {
			other = w.Previous
		}
	}
	l.beaten = true
	if !s.Before(l.lastBeatS) {
		l.lastBeat, l.lastBeatS = w.Heartbeat, s
	}
	chainLive := !l.validUntil.IsZero() && e.Before(l.validUntil)
	until := s.Add(l.cfg.LeaseDuration - l.cfg.SafetyMargin)
	counting := chainLive || e.Before(until)
	b := beat{w: w, started: counting && !chainLive}
	if counting {
		if !chainLive {
			if l.cancel != nil {
				l.cancel(ErrLeaseLost)
			}
			l.epoch, l.cancel = context.WithCancelCause(context.Background())
			l.validUntil = until
		} else if until.After(l.validUntil) {
			l.validUntil = until
		}
	}
	l.mu.Unlock()
	if other != "" {
		select {
		case <-l.dup:
		default:
		}
		l.dup <- other
	}
	if counting {
		select {
		case l.reset <- struct{}{}:
		default:
		}
	}
	select {
	case old := <-l.beats:
		b.started = b.started || old.started
	default:
	}
	l.beats <- b
}

// runFencer cancels the chain's epoch at validUntil, until ctx ends.
func (l *liveness) runFencer(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		l.mu.Lock()
		vu := l.validUntil
		now := l.cfg.clock.now()
		if !vu.IsZero() && !now.Before(vu) {
			l.validUntil = time.Time{}
			l.cancel(ErrLeaseLost)
			l.mu.Unlock()
			select {
			case l.fenced <- struct{}{}:
			default:
			}
			l.cfg.Logger.Warn("heartbeats stopped counting: fenced (every claim cancelled)", "worker", l.cfg.WorkerID)
			if l.cfg.Hooks.Fenced != nil {
				l.cfg.Hooks.Fenced()
			}
			continue
		}
		l.mu.Unlock()
		wait := time.Hour
		if !vu.IsZero() {
			wait = vu.Sub(now)
		}
		t.Reset(l.cfg.clock.real(wait))
		select {
		case <-ctx.Done():
			return
		case <-l.reset:
		case <-t.C:
		}
	}
}

// stop ends the chain (hard stop or shutdown), cancelling remaining claims with cause.
func (l *liveness) stop(cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.validUntil = time.Time{}
	if l.cancel != nil {
		l.cancel(cause)
	}
}
