package ddb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
	"github.com/shoal-go/shoal/kinesislocal/internal/dirlock"
	"github.com/shoal-go/shoal/kinesislocal/internal/wal"
)

// mutation is one logged change: a table's metadata (create or update), a table drop, an item
// after-image, or an item deletion by key.
type mutation struct {
	Table string     `json:"t"`
	Meta  *tableMeta `json:"meta,omitempty"`
	Drop  bool       `json:"drop,omitempty"`
	Put   attr.Item  `json:"put,omitempty"`
	Del   attr.Item  `json:"del,omitempty"`
	// Key is the table's key schema, on the first item mutation of each table in a record, so
	// a repaired log whose table definition was moved aside can still hold the table's items.
	Key *keyDef `json:"k,omitempty"`
}

type walRecord struct {
	M []mutation `json:"m"`
}

const (
	walName       = "dynamodb.log"
	kindMutations = 1  // a JSON walRecord
	compactFactor = 4  // compact when the log is this many times its compacted size
	snapshotBatch = 32 // items per record in a compacted log: damage to one record loses at most these
)

// legacy is the framing this engine wrote before the shared format (version 1): length, CRC-32C
// of the payload, JSON payload.
var legacy = &wal.Legacy{Kind: kindMutations}

// compactMinLog is the smallest log that is compacted while running.
const compactMinLog = 16 << 20

// dataLog is the log of committed mutations (package wal) and the lock on its directory.
type dataLog struct {
	*wal.Log
	lock        *os.File // the held LOCK file (nil where unsupported)
	base        int64    // size right after the last compaction
	minLog      int64    // compactMinLog; tests lower it
	wantCompact atomic.Bool
}

func (e *Engine) walOptions() wal.Options {
	return wal.Options{FS: e.opts.FS, Logger: e.opts.Logger, Legacy: legacy, Describe: describeFrame}
}

// openWAL opens (creating) the log in dir and replays it (see wal.Open for torn tails and
// damage).
func (e *Engine) openWAL(dir string) (*dataLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ddb: create data dir: %w", err)
	}
	lock, err := dirlock.Lock(dir)
	if err != nil {
		return nil, fmt.Errorf("ddb: %w", err)
	}
	os.Remove(filepath.Join(dir, walName+".tmp")) // an unfinished compaction
	l, err := wal.Open(filepath.Join(dir, walName), e.walOptions(), e.replayFrame)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	for _, name := range e.placeholders {
		e.opts.Logger.Warn("ddb: a repaired log held items of a table whose definition was moved aside; recreated it from their key schema (on-demand, no indexes, no TTL, no tags)",
			"file", l.Path(), "table", name)
	}
	if e.gapDrops > 0 {
		e.opts.Logger.Warn("ddb: a repaired log lacks the mutations that were moved aside; mutations that depended on them were skipped",
			"file", l.Path(), "skipped", e.gapDrops)
	}
	return &dataLog{Log: l, lock: lock, base: l.Size(), minLog: compactMinLog}, nil
}

// Repair repairs dir/dynamodb.log (see wal.Repair). The directory must not be open.
func Repair(dir string, logger *slog.Logger) (wal.RepairReport, error) {
	rep, err := wal.RepairIn(dir, walName, wal.Options{Logger: logger, Legacy: legacy, Describe: describeFrame})
	if err != nil {
		return rep, fmt.Errorf("ddb: %w", err)
	}
	return rep, nil
}

// replayFrame applies one log frame. After a gap left by Repair, a mutation that cannot be
// applied (an item of a table whose creation was moved aside) is skipped and counted; before any
// gap it fails New, since an intact log never holds one.
func (e *Engine) replayFrame(kind byte, p []byte) error {
	if kind == wal.KindGap {
		e.afterGap = true
		return nil
	}
	if kind != kindMutations {
		return fmt.Errorf("unknown frame kind %d", kind)
	}
	var rec walRecord
	if err := json.Unmarshal(p, &rec); err != nil {
		return err
	}
	for _, m := range rec.M {
		if e.afterGap && m.Key != nil && (m.Put != nil || m.Del != nil) && e.tables[m.Table] == nil {
			e.placeholder(m.Table, *m.Key)
		}
		if err := e.replay(m); err != nil {
			if !e.afterGap {
				return err
			}
			e.gapDrops++
		}
	}
	return nil
}

// describeFrame says what a frame holds, for damage reports. p may be damaged.
func describeFrame(kind byte, p []byte) string {
	var rec walRecord
	if kind != kindMutations {
		return ""
	}
	if json.Unmarshal(p, &rec) != nil {
		// Damaged JSON: name what can still be read.
		tables := map[string]bool{}
		for _, m := range tableRE.FindAllSubmatch(p, -1) {
			tables[string(m[1])] = true
		}
		names := slices.Sorted(maps.Keys(tables))
		return fmt.Sprintf("about %d item writes and %d item deletions to tables %v (its JSON is damaged)",
			bytes.Count(p, []byte(`"put":`)), bytes.Count(p, []byte(`"del":`)), names)
	}
	var b strings.Builder
	for i, m := range rec.M {
		if i == 8 {
			fmt.Fprintf(&b, " and %d more", len(rec.M)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		switch {
		case m.Meta != nil:
			fmt.Fprintf(&b, "the definition of table %s", m.Table)
		case m.Drop:
			fmt.Fprintf(&b, "the deletion of table %s", m.Table)
		case m.Put != nil:
			fmt.Fprintf(&b, "an item of table %s (%s)", m.Table, keyText(m.Put))
		case m.Del != nil:
			fmt.Fprintf(&b, "a deletion from table %s (%s)", m.Table, keyText(m.Del))
		}
	}
	return b.String()
}

var tableRE = regexp.MustCompile(`"t":"([^"]{1,255})"`)

// keyText renders an item's attributes briefly (the key attributes are among them).
func keyText(it attr.Item) string {
	b, _ := json.Marshal(it)
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

func encodeRecord(muts []mutation) ([]byte, error) {
	return json.Marshal(walRecord{M: muts})
}

func (w *dataLog) needsCompaction() bool {
	n := w.Size()
	return n > w.minLog && n > compactFactor*w.base
}

func (w *dataLog) close() error {
	err := w.Close()
	if w.lock != nil {
		w.lock.Close() // releases the flock
	}
	return err
}

// abandon releases the files without writing what is buffered, as a crash would (tests only).
func (w *dataLog) abandon() {
	w.Abandon()
	if w.lock != nil {
		w.lock.Close()
	}
}

// logAppend appends a record when durable; the caller holds the affected tables' locks and
// must call logWait with the result after releasing them.
func (e *Engine) logAppend(muts []mutation) (int64, error) {
	if e.wal == nil {
		return 0, nil
	}
	e.addKeys(muts)
	p, err := encodeRecord(muts)
	if err != nil {
		return 0, internal(err)
	}
	return e.wal.Append(kindMutations, p), nil
}

// addKeys sets Key on the first item mutation of each table in muts. The caller holds e.mu.
func (e *Engine) addKeys(muts []mutation) {
	for i := range muts {
		m := &muts[i]
		if m.Put == nil && m.Del == nil || i > 0 && muts[i-1].Table == m.Table {
			continue
		}
		if t := e.tables[m.Table]; t != nil {
			k := t.meta.Key
			m.Key = &k
		}
	}
}

// logWait blocks until the log is durable up to end.
func (e *Engine) logWait(end int64) error {
	if e.wal == nil || end == 0 {
		return nil
	}
	if err := e.wal.Sync(end); err != nil {
		return internal(err)
	}
	return nil
}

// logSync appends and syncs one record.
func (e *Engine) logSync(muts []mutation) error {
	end, err := e.logAppend(muts)
	if err != nil {
		return err
	}
	return e.logWait(end)
}

// replay applies one logged mutation to the in-memory state (used only by New).
func (e *Engine) replay(m mutation) error {
	switch {
	case m.Meta != nil:
		if t := e.tables[m.Table]; t != nil {
			t.meta = *m.Meta
		} else {
			e.tables[m.Table] = newTable(*m.Meta)
		}
	case m.Drop:
		delete(e.tables, m.Table)
	case m.Put != nil:
		t := e.tables[m.Table]
		if t == nil {
			return fmt.Errorf("item for unknown table %s", m.Table)
		}
		hk, rk, err := t.primaryKey(m.Put) // GSI checks applied when the write was accepted
		if err != nil {
			return err
		}
		t.put(hk, rk, m.Put)
	case m.Del != nil:
		t := e.tables[m.Table]
		if t == nil {
			return fmt.Errorf("delete for unknown table %s", m.Table)
		}
		hk, rk, err := t.keyFromKey(m.Del)
		if err != nil {
			return err
		}
		t.del(hk, rk)
	}
	return nil
}

// compactLocked rewrites the log as a snapshot of the current state. The caller holds e.mu
// exclusively. On failure the old log stays in use. A log stopped by a failed write is not
// compacted: the state in memory holds writes whose clients got an error, and the disk failed.
func (e *Engine) compactLocked() error {
	w := e.wal
	w.wantCompact.Store(false)
	if err := w.Err(); err != nil {
		return err
	}
	err := w.Rewrite(func(emit func(kind byte, p []byte) error) error {
		write := func(muts []mutation) error {
			e.addKeys(muts)
			p, err := encodeRecord(muts)
			if err != nil {
				return err
			}
			return emit(kindMutations, p)
		}
		for name, t := range e.tables {
			if !t.deleted.IsZero() {
				continue
			}
			meta := t.meta
			if err := write([]mutation{{Table: name, Meta: &meta}}); err != nil {
				return err
			}
			batch := make([]mutation, 0, snapshotBatch)
			for _, en := range t.entries {
				batch = append(batch, mutation{Table: name, Put: en.item})
				if len(batch) == snapshotBatch {
					if err := write(batch); err != nil {
						return err
					}
					batch = batch[:0]
				}
			}
			if len(batch) > 0 {
				if err := write(batch); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ddb: compact log: %w", err)
	}
	w.base = w.Size()
	return nil
}

// placeholder recreates, during replay of a repaired log, a table whose definition was moved
// aside with the damaged bytes, from the key schema its item mutations carry: on-demand, no
// GSIs, no TTL, no tags. New logs a warning naming it.
func (e *Engine) placeholder(name string, k keyDef) {
	m := tableMeta{Name: name, ID: "00000000-0000-0000-0000-000000000000", Key: k, Billing: "PAY_PER_REQUEST",
		AttrDefs: []attrDef{{AttributeName: k.Hash, AttributeType: k.HashType.String()}}}
	if k.Range != "" {
		m.AttrDefs = append(m.AttrDefs, attrDef{AttributeName: k.Range, AttributeType: k.RangeType.String()})
	}
	e.tables[name] = newTable(m)
	e.placeholders = append(e.placeholders, name)
}
