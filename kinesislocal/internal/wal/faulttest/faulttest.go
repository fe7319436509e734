// Package faulttest runs an engine's write workload under every fault of package errorfs at
// every write (and fsync) index, then reopens the data directory and checks the durability
// contract of package wal:
//
//   - damage only in unacknowledged bytes (a torn, short or ENOSPC write, a failed fsync, all
//     of which fail their request): the engine reopens and every acknowledged write is there;
//   - damage in acknowledged bytes (a bit flipped after the write): never a silent loss. Either
//     reopening fails with a *wal.DamageError naming the log and a range holding the flipped
//     byte, and Repair then brings back every acknowledged write but those in the damaged
//     record; or the damage was in the final write, which is cut as a torn tail, logged and
//     kept aside;
//   - after a failed write or fsync every later write fails (the log stops).
package faulttest

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shoal-go/shoal/kinesislocal/internal/wal"
	"github.com/shoal-go/shoal/kinesislocal/internal/wal/errorfs"
)

// Engine is an engine under test, opened on a data directory.
type Engine interface {
	// Step performs write number i and returns the keys it writes (known even when it fails).
	Step(i int) (keys []string, err error)
	// Keys returns every key readable now.
	Keys() (map[string]bool, error)
	// Close closes the engine cleanly; Abandon drops it as a crash would.
	Close() error
	Abandon()
}

// Workload describes an engine's run.
type Workload struct {
	// LogName is the base name of the log file the faults hit, e.g. "streams.log".
	LogName string
	// Steps is the number of write steps in a run.
	Steps int
	// Concurrency, when > 1, runs the steps after step 0 from this many goroutines at once, so one write
	// holds several requests' frames (group commit). Bit flips are then not run: which request
	// a write belongs to is not known.
	Concurrency int
	Open        func(dir string, fs wal.FS, log *slog.Logger) (Engine, error)
	Repair      func(dir string, log *slog.Logger) (wal.RepairReport, error)
}

// Run runs the workload once without faults to count its writes and fsyncs, then once per fault
// kind and index.
func Run(t *testing.T, w Workload) {
	t.Helper()
	dry := errorfs.New(wal.OS, w.match, errorfs.Fault{})
	eng, err := w.Open(t.TempDir(), dry, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.steps(t, eng, dry)
	eng.Abandon()
	writes, syncs := dry.Counts()
	if w.Concurrency <= 1 && (writes < w.Steps || syncs < w.Steps) || writes < 2 {
		t.Fatalf("dry run: %d writes and %d fsyncs for %d steps", writes, syncs, w.Steps)
	}
	cases := 0
	for _, kind := range errorfs.Kinds {
		if kind == errorfs.BitFlip && w.Concurrency > 1 {
			continue
		}
		n := writes
		switch kind {
		case errorfs.SyncError:
			n = syncs
		case errorfs.BitFlip:
			n = writes + 1 // with Close, the close record is one more write
		}
		for at := range n {
			f := errorfs.Fault{Kind: kind, At: at}
			w.runCase(t, f, false)
			if kind == errorfs.BitFlip {
				w.runCase(t, f, true)
			}
			cases++
		}
	}
	t.Logf("%d fault cases over %d writes and %d fsyncs", cases, writes, syncs)
}

func (w *Workload) match(name string) bool { return filepath.Base(name) == w.LogName }

type outcome struct {
	acked    map[string]bool
	hitKeys  []string // keys of the step during which the fault fired (sequential runs)
	failures int
}

// steps runs the workload's steps on eng and checks that failures come only from the fault
// and that the log stops after one.
func (w *Workload) steps(t *testing.T, eng Engine, fs *errorfs.FS) outcome {
	t.Helper()
	o := outcome{acked: map[string]bool{}}
	if w.Concurrency > 1 {
		// Step 0 (creating what the others write to) runs first, the rest concurrently.
		var mu sync.Mutex
		var wg sync.WaitGroup
		keys, err := eng.Step(0)
		if err != nil {
			o.failures++
		}
		for _, k := range keys {
			if err == nil {
				o.acked[k] = true
			}
		}
		next := 1
		for range w.Concurrency {
			wg.Go(func() {
				for {
					mu.Lock()
					i := next
					next++
					mu.Unlock()
					if i >= w.Steps {
						return
					}
					keys, err := eng.Step(i)
					mu.Lock()
					if err == nil {
						for _, k := range keys {
							o.acked[k] = true
						}
					} else {
						o.failures++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if o.failures > 0 && !fs.Hit() {
			t.Fatalf("%d writes failed without a fault", o.failures)
		}
		if o.failures > 0 && !fs.Crashed() {
			if _, err := eng.Step(w.Steps); err == nil {
				t.Fatal("a write succeeded after the log failed")
			}
		}
		return o
	}
	failed := false
	for i := range w.Steps {
		before := fs.Hit()
		keys, err := eng.Step(i)
		fired := fs.Hit() && !before
		switch {
		case err != nil && !fs.Hit():
			t.Fatalf("step %d failed without a fault: %v", i, err)
		case err != nil:
			failed = true
			o.failures++
		case failed:
			t.Fatalf("step %d succeeded after the log failed", i)
		case fired && fs.FlipOffset() < 0:
			t.Fatalf("step %d was acknowledged although its write or fsync failed", i)
		}
		if err == nil {
			for _, k := range keys {
				o.acked[k] = true
			}
		}
		if fired {
			o.hitKeys = keys
		}
		if fs.Crashed() {
			break
		}
	}
	return o
}

func (w *Workload) runCase(t *testing.T, f errorfs.Fault, clean bool) {
	t.Helper()
	name := f.String()
	if clean {
		name += "+close"
	}
	dir := t.TempDir()
	path := filepath.Join(dir, w.LogName)
	fs := errorfs.New(wal.OS, w.match, f)
	eng, err := w.Open(dir, fs, nil)
	var o outcome
	if err != nil {
		// The fault hit the creation of the log: New failed, nothing was acknowledged.
		if !fs.Hit() {
			t.Fatalf("%s: open failed without a fault: %v", name, err)
		}
		o.acked = map[string]bool{}
	} else {
		o = w.steps(t, eng, fs)
		if clean && !fs.Crashed() {
			eng.Close() // may fail after the fault; that is the engine telling
		} else {
			eng.Abandon()
		}
	}

	var logBuf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logBuf, nil))
	lost := map[string]bool{} // acknowledged keys whose loss is allowed (and reported)
	eng2, err := w.Open(dir, wal.OS, logger)
	if err != nil {
		var de *wal.DamageError
		flip := fs.FlipOffset()
		if !errors.As(err, &de) || flip < 0 {
			t.Fatalf("%s: reopen: %v", name, err)
		}
		if de.Path != path || flip < de.Offset || flip >= de.Offset+de.Length || !strings.Contains(err.Error(), fmt.Sprint("offset ", de.Offset)) {
			t.Fatalf("%s: flipped byte %d of %s, error names %s %d..%d: %v", name, flip, path, de.Path, de.Offset, de.Offset+de.Length, err)
		}
		rep, err := w.Repair(dir, logger)
		if err != nil || len(rep.Damaged) == 0 {
			t.Fatalf("%s: repair: %+v %v", name, rep, err)
		}
		covered := false
		for _, d := range rep.Damaged {
			covered = covered || d.Offset <= flip && flip < d.Offset+d.Length
		}
		if !covered {
			t.Fatalf("%s: repair report %+v does not cover the flipped byte %d", name, rep.Damaged, flip)
		}
		if eng2, err = w.Open(dir, wal.OS, logger); err != nil {
			t.Fatalf("%s: reopen after repair: %v", name, err)
		}
		for _, k := range o.hitKeys {
			lost[k] = true
		}
	} else if strings.Contains(logBuf.String(), "torn tail") && fs.FlipOffset() >= 0 {
		// Damage to the final write after it was acknowledged cannot be told from a torn
		// write; it is cut, but never silently: logged, with the bytes kept aside.
		if torn, _ := filepath.Glob(path + ".torn-*"); len(torn) == 0 {
			t.Fatalf("%s: a torn tail was cut but not kept aside", name)
		}
		for _, k := range o.hitKeys {
			lost[k] = true
		}
	}
	got, err := eng2.Keys()
	if err != nil {
		t.Fatalf("%s: read after reopen: %v", name, err)
	}
	eng2.Abandon()
	for k := range o.acked {
		if !got[k] && !lost[k] {
			t.Fatalf("%s: acknowledged write %s lost (%d acknowledged, %d read back)\nlog:\n%s", name, k, len(o.acked), len(got), logBuf.String())
		}
	}
}
