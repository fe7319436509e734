package lease

import (
	"context"
	"sync"
	"time"
)

// liveness keeps the worker's heartbeat chain and fences the worker when it stops counting.
//
// A heartbeat sent at s counts if it succeeded, answered within HeartbeatTimeout, and (unless it
// starts a new chain) was sent before sPrev + LeaseDuration - HeartbeatTimeout, where sPrev is the
// previous counting heartbeat. While the chain lives, claims are valid until
// validUntil = sLast + LeaseDuration - SafetyMargin. At that instant the fencer cancels the chain's
// epoch context with ErrLeaseLost, which cancels every claim derived from it. Two goroutines,
// both owned by Coordinator.Run: heartbeat (store calls) and fencer (a timer only), so a store call
// that hangs can never delay the fence.
type liveness struct {
	cfg *Config

	mu         sync.Mutex
	validUntil time.Time // zero: no live chain
	sPrev      time.Time
	epoch      context.Context
	cancel     context.CancelCauseFunc
	lastBeat   int64 // heartbeat value of the last successful heartbeat

	reset  chan struct{} // validUntil moved
	beats  chan beat     // latest successful heartbeat, for the coordinator loop
	fenced chan struct{} // the chain ended
}

// beat is a successful heartbeat; started reports that it started a new chain (the worker
// became live).
type beat struct {
	w       Worker
	started bool
}

func newLiveness(cfg *Config) *liveness {
	return &liveness{
		cfg:    cfg,
		reset:  make(chan struct{}, 1),
		beats:  make(chan beat, 1),
		fenced: make(chan struct{}, 1),
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

// runHeartbeat sends heartbeats until ctx ends.
func (l *liveness) runHeartbeat(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := time.Now()
		hctx, cancel := context.WithTimeout(ctx, l.cfg.HeartbeatTimeout)
		w, err := l.cfg.Store.Heartbeat(hctx, l.cfg.WorkerID)
		cancel()
		e := time.Now()
		if err != nil {
			if ctx.Err() == nil && l.cfg.Hooks.StoreError != nil {
				l.cfg.Hooks.StoreError("heartbeat", err)
			}
		} else {
			l.record(s, e, w)
		}
		next := s.Add(l.cfg.HeartbeatInterval).Sub(time.Now())
		t.Reset(max(next, 0))
	}
}

func (l *liveness) record(s, e time.Time, w Worker) {
	l.mu.Lock()
	l.lastBeat = w.Heartbeat
	timely := e.Sub(s) <= l.cfg.HeartbeatTimeout
	chainLive := !l.validUntil.IsZero() && e.Before(l.validUntil)
	counting := timely && (!chainLive || s.Before(l.sPrev.Add(l.cfg.LeaseDuration-l.cfg.HeartbeatTimeout)))
	b := beat{w: w, started: counting && !chainLive}
	if counting {
		if !chainLive {
			if l.cancel != nil {
				l.cancel(ErrLeaseLost)
			}
			l.epoch, l.cancel = context.WithCancelCause(context.Background())
		}
		l.sPrev = s
		l.validUntil = s.Add(l.cfg.LeaseDuration - l.cfg.SafetyMargin)
	}
	l.mu.Unlock()
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

// runFencer cancels the chain's epoch at validUntil, until ctx ends; then it cancels the epoch
// with cause (ErrShutdown).
func (l *liveness) runFencer(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		l.mu.Lock()
		vu := l.validUntil
		now := time.Now()
		if !vu.IsZero() && !now.Before(vu) {
			l.validUntil = time.Time{}
			l.cancel(ErrLeaseLost)
			l.mu.Unlock()
			select {
			case l.fenced <- struct{}{}:
			default:
			}
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
		t.Reset(wait)
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
