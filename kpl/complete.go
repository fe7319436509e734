package kpl

import "sync"

// completion is the outcome of one record (m), or the success of every
// member of one written entry (group), waiting for the callbacks.
type completion struct {
	m   pending // when group is nil
	res Result  // for a group: the members' Result but Attempts and SubSequenceNumber
	err error

	group  []pending
	sum    memberSum // of group
	pooled bool      // group goes back to Producer.members once released
}

// memberSum summarises an entry's members, so that completing a written
// entry costs the same for 1 or 500 members when none has a callback.
type memberSum struct {
	bytes     int    // sum of the members' sizes
	epoch     uint64 // the members' Flush epoch, if oneEpoch
	oneEpoch  bool
	callbacks bool // some member has a callback
}

func summarize(ms []pending) memberSum {
	s := memberSum{oneEpoch: true}
	if len(ms) > 0 {
		s.epoch = ms[0].epoch
	}
	for i := range ms {
		m := &ms[i]
		s.bytes += m.size
		s.oneEpoch = s.oneEpoch && m.epoch == s.epoch
		s.callbacks = s.callbacks || m.cb != nil
	}
	return s
}

// records returns how many records c completes.
func (c *completion) records() int {
	if c.group != nil {
		return len(c.group)
	}
	return 1
}

// deliver calls the callbacks of c's records.
func (c *completion) deliver() {
	if c.group == nil {
		if cb := c.m.cb; cb != nil {
			cb(c.res, c.err)
		}
		return
	}
	if !c.sum.callbacks {
		return
	}
	for j := range c.group {
		m := &c.group[j]
		if m.cb == nil {
			continue
		}
		res := c.res
		res.Attempts = m.attempts
		if res.Aggregated {
			res.SubSequenceNumber = j
		}
		m.cb(res, nil)
	}
}

// releaseChunk is about how many completed records the completer releases
// under one lock.
const releaseChunk = 256

// completer runs callbacks on one goroutine, in the order outcomes arrive, so
// a slow callback never stalls the dispatcher. After each callback it
// releases the record's buffer space (so Flush returns only after callbacks
// ran).
type completer struct {
	mu      sync.Mutex
	q       []completion
	sig     chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	release func([]completion)
}

func (c *completer) init(release func([]completion)) {
	c.sig = make(chan struct{}, 1)
	c.stop = make(chan struct{})
	c.done = make(chan struct{})
	c.release = release
	go c.run()
}

// push queues outcomes; it never blocks.
func (c *completer) push(cs ...completion) {
	if len(cs) == 0 {
		return
	}
	c.mu.Lock()
	c.q = append(c.q, cs...)
	c.mu.Unlock()
	select {
	case c.sig <- struct{}{}:
	default:
	}
}

func (c *completer) run() {
	defer close(c.done)
	var batch []completion
	for {
		c.mu.Lock()
		batch, c.q = c.q, batch[:0]
		c.mu.Unlock()
		// Release in chunks of about releaseChunk records, so Put gets
		// buffer space back while a long batch of callbacks runs, without
		// locking once per record.
		from, n := 0, 0
		for i := range batch {
			batch[i].deliver()
			if n += batch[i].records(); n >= releaseChunk || i == len(batch)-1 {
				c.release(batch[from : i+1])
				clear(batch[from : i+1])
				from, n = i+1, 0
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-c.sig:
		case <-c.stop:
			if !c.pending() {
				return
			}
		}
	}
}

func (c *completer) pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.q) > 0
}

// close waits until every pushed outcome was delivered, then stops the
// goroutine. Nothing may be pushed after close.
func (c *completer) close() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}

// memberPool recycles the member slices of written aggregates: the
// completer returns them, emptied, once their records are released, and the
// dispatcher fills them again, so a steady producer allocates none. Safe for
// concurrent use.
type memberPool struct {
	mu   sync.Mutex
	free [][]pending
}

// maxPooledSlices bounds the slices a memberPool keeps.
const maxPooledSlices = 64

// get returns an empty slice, with room for n records if it came from the
// pool and had that room.
func (p *memberPool) get(n int) []pending {
	p.mu.Lock()
	var s []pending
	if k := len(p.free); k > 0 {
		s = p.free[k-1]
		p.free[k-1] = nil
		p.free = p.free[:k-1]
	}
	p.mu.Unlock()
	if cap(s) < n {
		return make([]pending, 0, n)
	}
	return s
}

// put empties s (dropping its references to user data) and keeps it.
func (p *memberPool) put(s []pending) {
	clear(s)
	p.mu.Lock()
	if len(p.free) < maxPooledSlices {
		p.free = append(p.free, s[:0])
	}
	p.mu.Unlock()
}
