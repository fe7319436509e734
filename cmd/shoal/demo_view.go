package main

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"
)

// view shows the fleet until ctx ends: a redrawn table on a terminal, a progress line every 5 s
// otherwise.
func (d *demo) view(ctx context.Context) {
	every := 5 * time.Second
	if d.terminal {
		every = 500 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if d.terminal {
				d.draw()
			}
			return
		case <-t.C:
		}
		if d.terminal {
			d.draw()
		} else {
			d.mu.Lock()
			line := fmt.Sprintf("produced %d, processed %d distinct;", d.produced, len(d.seen))
			for _, p := range d.sortedProcs() {
				line += fmt.Sprintf(" %s(%s) %s", p.id, p.state, strings.Join(d.shardsOf(p), ","))
			}
			d.mu.Unlock()
			d.logf("%s", line)
		}
	}
}

func (d *demo) sortedProcs() []*demoProc {
	ps := make([]*demoProc, 0, len(d.procs))
	for _, p := range d.procs {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].id < ps[j].id })
	return ps
}

// shardsOf lists (short ids of) the shards p processed last among all workers; called with d.mu held.
func (d *demo) shardsOf(p *demoProc) []string {
	var shards []string
	if p.state != "running" {
		return nil
	}
	for s, o := range d.owner {
		if o == p.id {
			short := strings.TrimLeft(strings.TrimPrefix(s, "shardId-"), "0")
			if short == "" {
				short = "0"
			}
			shards = append(shards, short)
		}
	}
	sort.Strings(shards)
	return shards
}

// draw redraws the live table (ANSI: home and clear).
func (d *demo) draw() {
	d.mu.Lock()
	defer d.mu.Unlock()
	var b strings.Builder
	b.WriteString("\033[H\033[2J")
	fmt.Fprintf(&b, "Shoal demo: %d worker processes share stream %s (%d shards) through a lease table\n\n", d.opts.workers, d.stream, d.opts.shards)
	fmt.Fprintf(&b, "  produced %d records, processed %d distinct\n\n", d.produced, len(d.seen))
	fmt.Fprintf(&b, "  %-10s %-8s %8s  %s\n", "worker", "state", "records", "shards it processes")
	for _, p := range d.sortedProcs() {
		fmt.Fprintf(&b, "  %-10s %-8s %8d  %s\n", p.id, p.state, p.records, strings.Join(d.shardsOf(p), " "))
	}
	b.WriteString("\n")
	from := max(0, len(d.events)-8)
	for _, e := range d.events[from:] {
		b.WriteString("  " + e + "\n")
	}
	fmt.Fprint(d.out, b.String())
}

// summary prints the outcome and returns an error if anything was lost.
func (d *demo) summary() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	lost, dups, crashDups := 0, 0, 0
	for id := 0; id < d.produced; id++ {
		n := d.seen[id]
		if n == 0 {
			lost++
			continue
		}
		if n > 1 {
			dups += n - 1
			if p := d.procs[d.firstBy[id]]; p != nil && p.state == "killed" {
				crashDups += n - 1
			}
		}
	}
	w := d.out
	fmt.Fprintf(w, "\nSummary\n")
	fmt.Fprintf(w, "  records produced:   %d\n", d.produced)
	fmt.Fprintf(w, "  records processed:  %d distinct\n", len(d.seen))
	fmt.Fprintf(w, "  records lost:       %d\n", lost)
	fmt.Fprintf(w, "  duplicates:         %d", dups)
	switch {
	case dups == 0:
		fmt.Fprintf(w, "\n")
	case crashDups == dups:
		fmt.Fprintf(w, " (all first processed by the killed worker after its last checkpoint, then replayed by the new owner)\n")
	default:
		fmt.Fprintf(w, " (%d from the killed worker's unfinished batches, %d otherwise)\n", crashDups, dups-crashDups)
	}
	fmt.Fprintf(w, "  per worker:        ")
	for _, p := range d.sortedProcs() {
		fmt.Fprintf(w, " %s %d (%s)", p.id, p.records, p.state)
	}
	fmt.Fprintln(w)
	if len(d.gaps) > 0 {
		fmt.Fprintf(w, "  takeovers (time from the kill or stop until the new owner processed the shard):\n")
		sort.Slice(d.gaps, func(i, j int) bool { return d.gaps[i].shard < d.gaps[j].shard })
		for _, g := range d.gaps {
			fmt.Fprintf(w, "    %s  %s -> %s  after %-8s %.1fs\n", g.shard, g.from, g.to, g.why, g.gap.Seconds())
		}
	}
	if lost > 0 {
		return fmt.Errorf("%d records lost", lost)
	}
	if len(d.seen) < d.produced {
		return fmt.Errorf("only %d of %d records processed", len(d.seen), d.produced)
	}
	fmt.Fprintf(w, "\nNothing was lost: every record produced was processed.\n")
	return nil
}

// midHash returns the decimal middle of [start, end].
func midHash(start, end string) (string, bool) {
	s, ok1 := new(big.Int).SetString(start, 10)
	e, ok2 := new(big.Int).SetString(end, 10)
	if !ok1 || !ok2 {
		return "", false
	}
	m := new(big.Int).Add(s, e)
	return m.Rsh(m, 1).String(), true
}
