package lease

import "time"

// pace limits the takes and handoff requests one lease scan sends while the store is slow or
// failing, so a struggling table is not answered with more writes (each take also restarts a
// processor from its checkpoint: more reads and checkpoints). Multiplicative decrease on trouble,
// doubling on a clean scan; a limited scan asks for the next one soon. Owned by the coordinator
// goroutine.
type pace struct {
	budget int // writes allowed per scan; 0 = unlimited
}

// paceUnlimited is the budget at which pacing switches off again.
const paceUnlimited = 256

// slowCall is the store-call latency that counts as trouble.
func slowCall(leaseDuration time.Duration) time.Duration { return leaseDuration / 6 }

// limit returns how many takes and handoff requests this scan may send (n wanted).
func (p *pace) limit(n int) int {
	if p.budget == 0 {
		return n
	}
	return min(n, p.budget)
}

// observe records a scan's outcome: sent writes, and whether any store call of it failed (other
// than a lost race) or was slow, or the heartbeats struggle.
func (p *pace) observe(sent int, trouble bool) {
	switch {
	case trouble && p.budget == 0:
		p.budget = max(1, sent/2)
	case trouble:
		p.budget = max(1, p.budget/2)
	case p.budget > 0:
		p.budget *= 2
		if p.budget >= paceUnlimited {
			p.budget = 0
		}
	}
}
