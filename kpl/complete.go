package kpl

import "sync"

// completion is the outcome of one record, waiting for its callback.
type completion struct {
	m   *pending
	res Result
	err error
}

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
		// Release in chunks, so Put gets buffer space back while a long
		// batch of callbacks runs, without locking once per record.
		for i := 0; i < len(batch); i += 256 {
			chunk := batch[i:min(len(batch), i+256)]
			for j := range chunk {
				if cb := chunk[j].m.cb; cb != nil {
					cb(chunk[j].res, chunk[j].err)
				}
			}
			c.release(chunk)
			clear(chunk)
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
