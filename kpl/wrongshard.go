package kpl

import "errors"

// errWrongShard is the last error of a sub-record re-put because its
// aggregate was stored on a shard whose hash range does not hold it.
var errWrongShard = errors.New("kpl: aggregate stored on a shard outside the record's hash key range")

// maxParkTries bounds how many shard map reads an aggregate stored on an
// unexpected shard waits for a map that lists that shard.
const maxParkTries = 3

// parkedEntry is an aggregate Kinesis stored, but on a shard other than the
// predicted one (the shard map was stale: a reshard happened). Its
// sub-records wait for the refreshed map: those inside the actual shard's
// hash range succeed; the others are re-put, as the KPL does, because a
// consumer filtering sub-records by its shard's hash range (the Java KCL, or
// aggregate.Deaggregate with keep) drops them there.
type parkedEntry struct {
	e       *entry
	shardID string
	seq     string
	tries   int
}

func (d *dispatcher) park(e *entry, shardID, seq string) {
	d.parked = append(d.parked, parkedEntry{e: e, shardID: shardID, seq: seq})
	if d.cfg.Ordered { // newer records of these keys wait for the outcome
		for i := range e.members {
			d.busy[e.members[i].rec.PartitionKey]++
		}
	}
}

// settleParked resolves parked aggregates with shard map m. With a nil map
// (the read failed, or Close gave up) every sub-record is reported as
// written where it is: Kinesis did store it.
func (d *dispatcher) settleParked(m *shardMap) {
	if len(d.parked) == 0 {
		return
	}
	keep := d.parked[:0]
	for _, pe := range d.parked {
		idx := -1
		if m != nil && !m.auto {
			for i, s := range m.shards {
				if s.id == pe.shardID {
					idx = i
					break
				}
			}
			if idx < 0 && pe.tries+1 < maxParkTries {
				// The map predates the shard (a read raced the reshard).
				pe.tries++
				keep = append(keep, pe)
				d.wantMap = true
				continue
			}
		}
		if d.cfg.Ordered {
			for i := range pe.e.members {
				mb := &pe.e.members[i]
				if n := d.busy[mb.rec.PartitionKey] - 1; n > 0 {
					d.busy[mb.rec.PartitionKey] = n
				} else {
					delete(d.busy, mb.rec.PartitionKey)
				}
			}
		}
		var retry map[*shardQ][]pending
		var order []*shardQ
		for j := range pe.e.members {
			mb := &pe.e.members[j]
			if idx >= 0 && !m.shards[idx].rng.Contains(mb.hash) && !d.aborting {
				mb.lastErr = errWrongShard
				q := d.route(mb)
				if retry == nil {
					retry = make(map[*shardQ][]pending)
				}
				if _, ok := retry[q]; !ok {
					order = append(order, q)
				}
				retry[q] = append(retry[q], *mb)
				d.p.stats.retries.Add(1)
				continue
			}
			d.succeed(mb, Result{ShardID: pe.shardID, SequenceNumber: pe.seq, SubSequenceNumber: j, Aggregated: true, Attempts: mb.attempts})
		}
		for _, q := range order {
			q.pushFront(retry[q])
			for i := range retry[q] {
				d.queued++
				d.qBytes += retry[q][i].size
			}
		}
	}
	clear(d.parked[len(keep):])
	d.parked = keep
}
