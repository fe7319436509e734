package lease

import "testing"

func TestCheckpointCompare(t *testing.T) {
	cp := func(s string, sub int64) Checkpoint { return Checkpoint{Sequence: s, SubSequence: sub} }
	tests := []struct {
		a, b Checkpoint
		want int
	}{
		{cp(TrimHorizon, 0), cp(AtTimestamp, 0), -1},
		{cp(AtTimestamp, 0), cp(Latest, 0), -1},
		{cp(Latest, 0), cp("0", 0), -1},
		{cp("1", 0), cp(ShardEnd, 0), -1},
		{cp(ShardEnd, 0), cp("99999999999999999999999999999999999999999999999999999999", 0), 1},
		{cp("9", 0), cp("10", 0), -1},
		{cp("0010", 0), cp("10", 0), 0},
		{cp("49590338271490256608559692538361571095921575989136588898", 0), cp("49590338271490256608559692538361571095921575989136588899", 0), -1},
		{cp("5", 2), cp("5", 1), 1},
		{cp("5", 1), cp("5", 1), 0},
		{cp(Latest, 0), cp(Latest, 0), 0},
	}
	for _, tt := range tests {
		if got := tt.a.Compare(tt.b); got != tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := tt.b.Compare(tt.a); got != -tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestCheckpointValid(t *testing.T) {
	for s, want := range map[string]bool{"": false, "12": true, "1a": false, TrimHorizon: true, ShardEnd: true, "-1": false} {
		if got := (Checkpoint{Sequence: s}).Valid(); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}
