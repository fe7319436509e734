package streams

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Log compaction: when New finds a log larger than compactThreshold, it rewrites it
// (wal.Log.Rewrite) as a snapshot of the live state: one walSnapshot frame per stream followed
// by its visible records. Records past retention,
// deleted streams and the history of control events disappear from the log.

const walSnapshot byte = 3

// defaultCompactThreshold is the log size above which New compacts the log.
const defaultCompactThreshold = 4 << 20

// maxBatchBytes caps one record frame written by compaction.
const maxBatchBytes = 8 << 20

type shardSnap struct {
	Parent   string `json:"p,omitempty"`
	Adj      string `json:"a,omitempty"`
	Start    string `json:"s"`
	End      string `json:"e"`
	Created  int64  `json:"c"`
	ClosedAt int64  `json:"x,omitempty"`
	TrimIx   uint64 `json:"t"`
	Last     int64  `json:"l,omitempty"`
}

type consumerSnap struct {
	Name       string `json:"n"`
	Created    int64  `json:"c"`
	DeletingAt int64  `json:"d,omitempty"`
}

type streamSnap struct {
	Name          string            `json:"n"`
	Created       int64             `json:"c"`
	Mode          string            `json:"m"`
	Retention     int               `json:"r"`
	MaxKiB        int               `json:"mk,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	Monitoring    []string          `json:"mon,omitempty"`
	PendingStatus string            `json:"ps,omitempty"`
	PendingUntil  int64             `json:"pu,omitempty"`
	DeletingAt    int64             `json:"d,omitempty"`
	ScaleOps      []int64           `json:"so,omitempty"`
	Encryption    string            `json:"enc,omitempty"`
	KeyID         string            `json:"key,omitempty"`
	Consumers     []consumerSnap    `json:"cs,omitempty"`
	Shards        []shardSnap       `json:"sh"`
}

// snapshotFrames emits the live state as log frames. It runs in New, before the engine is
// shared, so it takes locks only to satisfy the shard invariants.
func (e *Engine) snapshotFrames(emit func(kind byte, p []byte) error) error {
	now := e.nowMs()
	names := make([]string, 0, len(e.streams))
	for n := range e.streams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		s := e.streams[name]
		if _, gone := s.status(now, e.delayMs); gone {
			continue
		}
		snap := streamSnap{Name: s.name, Created: s.created, Mode: s.mode, Retention: s.retentionHours, MaxKiB: s.maxRecordKiB, Tags: s.tags, Monitoring: s.monitoringList(),
			PendingStatus: s.pendingStatus, PendingUntil: s.pendingUntil, DeletingAt: s.deletingAt, ScaleOps: s.scaleOps,
			Encryption: s.encryption, KeyID: s.keyID}
		for _, c := range s.liveConsumers(now, e.delayMs) {
			snap.Consumers = append(snap.Consumers, consumerSnap{Name: c.name, Created: c.created, DeletingAt: c.deletingAt})
		}
		for _, sh := range s.shards {
			sh.mu.Lock()
			sh.trimValid = false
			sh.maybeTrim(now, s.retentionMs())
			if s.expired(sh, now) {
				sh.log.trim(1<<62 - 1)
			}
			snap.Shards = append(snap.Shards, shardSnap{Parent: sh.parent, Adj: sh.adjParent, Start: sh.start.String(), End: sh.end.String(),
				Created: sh.created, ClosedAt: sh.closedAt, TrimIx: sh.log.trimIx, Last: sh.log.last})
			sh.mu.Unlock()
		}
		b, err := json.Marshal(snap)
		if err != nil {
			return err
		}
		if err := emit(walSnapshot, b); err != nil {
			return err
		}
		for _, sh := range s.shards {
			pos := sh.log.trimIx
			for pos < sh.log.next {
				recs, next, _, _ := sh.log.read(pos, 1<<30, maxBatchBytes, nil)
				if len(recs) == 0 {
					return fmt.Errorf("shard %s of %s: no record at %d below %d", sh.id, s.name, pos, sh.log.next)
				}
				var wb walBatch
				wb.begin(s, sh)
				for _, r := range recs {
					wb.add(r.seqIx, r.arrival, r.pk, r.data)
				}
				if err := emit(walRecords, wb.bytes()); err != nil {
					return err
				}
				pos = next
			}
		}
	}
	return nil
}

// restoreStream applies a walSnapshot frame.
func (e *Engine) restoreStream(p []byte) error {
	var snap streamSnap
	if err := json.Unmarshal(p, &snap); err != nil {
		return err
	}
	s := &stream{name: snap.Name, arn: e.streamARN(snap.Name), created: snap.Created, mode: snap.Mode,
		retentionHours: snap.Retention, maxRecordKiB: max(snap.MaxKiB, 1024), tags: map[string]string{}, consumers: map[string]*consumer{},
		pendingStatus: snap.PendingStatus, pendingUntil: snap.PendingUntil, deletingAt: snap.DeletingAt,
		scaleOps: snap.ScaleOps, encryption: snap.Encryption, keyID: snap.KeyID, openCount: &e.openShards}
	for k, v := range snap.Tags {
		s.tags[k] = v
	}
	s.applyMonitoring(snap.Monitoring, true)
	for _, c := range snap.Consumers {
		s.consumers[c.Name] = &consumer{name: c.Name, arn: e.consumerARN(s, c.Name, c.Created), created: c.Created, deletingAt: c.DeletingAt}
	}
	for i, ss := range snap.Shards {
		start, ok1 := parseU128(ss.Start)
		end, ok2 := parseU128(ss.End)
		if !ok1 || !ok2 {
			return errCorrupt
		}
		sh := newShard(i, start, end, ss.Created)
		sh.parent, sh.adjParent, sh.closedAt = ss.Parent, ss.Adj, ss.ClosedAt
		sh.log.next, sh.log.trimIx, sh.log.last = ss.TrimIx, ss.TrimIx, ss.Last
		s.shards = append(s.shards, sh)
	}
	s.rebuildOpen()
	if s.deletingAt != 0 {
		e.openShards.Add(-int64(len(s.open)))
	}
	e.streams[s.name] = s
	return nil
}
