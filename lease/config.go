package lease

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Coordinator. Zero durations take the defaults shown; New validates the
// result and reports every problem at once. New copies the Config; the caller's struct is never
// modified.
type Config struct {
	// Store holds the lease and worker tables. Required.
	Store Store
	// WorkerID names this worker in the tables. Required; must be unique among running processes
	// (e.g. host + pid + random suffix). A restarted process that reuses its id resumes the
	// leases it still owns at once. Two live processes with one id are detected within a few
	// heartbeats (each finds the other's writes in the worker row): both log at ERROR, and the
	// one that started later steps back (its Run returns ErrDuplicateWorker).
	WorkerID string
	// Acquired is called, from the coordinator goroutine with no lock held, each time this worker
	// gains a lease. It must not block: start the shard's processor in a new goroutine. Required.
	Acquired func(*Claim)

	// HeartbeatInterval is how often the worker increments its heartbeat row. Default 1s.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout bounds one heartbeat attempt (then it is retried). It does not decide
	// whether a heartbeat counts: an answer counts whenever it arrives before the worker's
	// current fence (the fence is measured from the heartbeat's start), so a slow store delays
	// nothing until heartbeats stop answering for about LeaseDuration - SafetyMargin. Default
	// LeaseDuration - SafetyMargin (an answer later than that could not count); at most that.
	HeartbeatTimeout time.Duration
	// LeaseDuration: a worker whose heartbeat others have seen unchanged this long is dead and its
	// leases are taken. Default 3s.
	LeaseDuration time.Duration
	// SafetyMargin: a worker stops processing (fences itself) SafetyMargin before the earliest
	// instant another worker may take its leases. It covers clock-rate drift between hosts and the
	// time to cancel a processor. Default LeaseDuration * 2/15 (400ms at the default 3s).
	SafetyMargin time.Duration
	// WorkerScanInterval is how often the worker table is read. Default 1s.
	WorkerScanInterval time.Duration
	// ScanInterval is how often the whole lease table is read when nothing else (a wake, a
	// worker joining or dying, Rescan) triggers a read first. Default 5s.
	ScanInterval time.Duration
	// HandoffTimeout is how long a processor asked to stop (handoff, cap) has to call Release
	// before its lease is handed over anyway (its context cancelled with ErrLeaseLost, then the
	// coordinator completes the handoff; a Release that started before the deadline is never
	// overtaken). Default 10s.
	HandoffTimeout time.Duration
	// MaxLeasesPerWorker caps the leases this worker holds (0 = no cap). Leases above the cap
	// are released gracefully.
	MaxLeasesPerWorker int
	// MaxStealsPerCycle caps the handoffs this worker requests per lease-table scan (0 = no cap:
	// it asks for everything it needs to reach its target at once).
	MaxStealsPerCycle int

	// Hooks are optional callbacks for metrics.
	Hooks Hooks
	// Logger receives lease events (keys shard, worker, lease_counter). Default: discard.
	Logger *slog.Logger

	clock *clock // the worker's local clock; nil: the system clock (tests set it: export_test.go)
}

// Hooks are optional callbacks, called with no lock held. They must be quick and must not call
// back into the Coordinator. Nil fields are skipped.
type Hooks struct {
	// LeaseAcquired: this worker gained key (from the coordinator goroutine).
	LeaseAcquired func(key string, l Lease)
	// LeaseLost: a claim of this worker ended without a release (cause ErrLeaseLost or
	// ErrShutdown).
	LeaseLost func(key string, cause error)
	// LeaseReleased: this worker gave key up (release, handoff completed, or finished; also a
	// handoff the coordinator completed itself after HandoffTimeout, whose processor was
	// cancelled with ErrLeaseLost first).
	LeaseReleased func(key string)
	// HandoffRequested: this worker asked owner for key.
	HandoffRequested func(key, owner string)
	// Checkpointed: a checkpoint was written (from the processor's goroutine).
	Checkpointed func(key string, cp Checkpoint, took time.Duration)
	// Fenced: this worker's heartbeats stopped counting and it cancelled every claim.
	Fenced func()
	// StoreError: a store call of the coordinator failed (op names it).
	StoreError func(op string, err error)
	// DuplicateWorker: another live process heartbeats under this WorkerID (other is its
	// instance id); stepBack reports whether this process steps back (Run returns
	// ErrDuplicateWorker): the one that started later does.
	DuplicateWorker func(other string, stepBack bool)
	// InvalidItem: a lease-table read found an item that is not a valid lease (reported once per
	// item and problem while it stays invalid). Such an item is skipped: never taken, written or
	// deleted; every valid lease is balanced as usual, and a child whose parent is invalid waits.
	InvalidItem func(item InvalidItem)
}

// Defaults for Config's zero fields.
const (
	DefaultHeartbeatInterval = time.Second
	// DefaultHeartbeatTimeout is the HeartbeatTimeout at the default LeaseDuration and
	// SafetyMargin (LeaseDuration - SafetyMargin).
	DefaultHeartbeatTimeout = DefaultLeaseDuration - DefaultSafetyMargin
	DefaultLeaseDuration    = 3 * time.Second
	// DefaultSafetyMargin is the SafetyMargin at the default LeaseDuration (LeaseDuration*2/15).
	DefaultSafetyMargin       = 400 * time.Millisecond
	DefaultWorkerScanInterval = time.Second
	DefaultScanInterval       = 5 * time.Second
	DefaultHandoffTimeout     = 10 * time.Second
)

func orDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// withDefaults returns a copy of c with defaults applied, or every problem found.
func (c Config) withDefaults() (Config, error) {
	orDefault(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	orDefault(&c.LeaseDuration, DefaultLeaseDuration)
	orDefault(&c.SafetyMargin, c.LeaseDuration*2/15)
	orDefault(&c.HeartbeatTimeout, c.LeaseDuration-c.SafetyMargin)
	orDefault(&c.WorkerScanInterval, DefaultWorkerScanInterval)
	orDefault(&c.ScanInterval, DefaultScanInterval)
	orDefault(&c.HandoffTimeout, DefaultHandoffTimeout)
	if c.clock == nil {
		c.clock = &clock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("lease: Config.Store is required"))
	}
	if c.WorkerID == "" {
		errs = append(errs, errors.New("lease: Config.WorkerID is required"))
	}
	if c.Acquired == nil {
		errs = append(errs, errors.New("lease: Config.Acquired is required"))
	}
	for name, d := range map[string]time.Duration{
		"HeartbeatInterval": c.HeartbeatInterval, "HeartbeatTimeout": c.HeartbeatTimeout,
		"LeaseDuration": c.LeaseDuration, "SafetyMargin": c.SafetyMargin,
		"WorkerScanInterval": c.WorkerScanInterval, "ScanInterval": c.ScanInterval,
		"HandoffTimeout": c.HandoffTimeout,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("lease: Config.%s is negative (%v)", name, d))
		}
	}
	if c.MaxLeasesPerWorker < 0 || c.MaxStealsPerCycle < 0 {
		errs = append(errs, errors.New("lease: Config.MaxLeasesPerWorker and MaxStealsPerCycle must not be negative"))
	}
	// A healthy worker must never fence itself: the next heartbeat is sent HeartbeatInterval after
	// the last counting one and must be able to answer before the fence.
	if c.HeartbeatInterval >= c.LeaseDuration-c.SafetyMargin {
		errs = append(errs, fmt.Errorf("lease: HeartbeatInterval (%v) must be less than LeaseDuration (%v) - SafetyMargin (%v)",
			c.HeartbeatInterval, c.LeaseDuration, c.SafetyMargin))
	}
	if c.HeartbeatTimeout > c.LeaseDuration-c.SafetyMargin {
		errs = append(errs, fmt.Errorf("lease: HeartbeatTimeout (%v) must not exceed LeaseDuration (%v) - SafetyMargin (%v)",
			c.HeartbeatTimeout, c.LeaseDuration, c.SafetyMargin))
	}
	return c, errors.Join(errs...)
}
