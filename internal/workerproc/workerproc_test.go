package workerproc

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestEventsRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	r := NewReporter(&buf)
	r.Ready("w1")
	r.Batch("shardId-000000000001", [][]byte{[]byte("7"), []byte("8"), []byte("x")})
	r.Batch("shardId-000000000002", nil)
	r.Gained("shardId-000000000003")
	r.Lost("shardId-000000000003", CauseLeaseLost)
	r.Owned([]string{"a", "b"})
	r.Owned(nil)
	r.Failed("shardId-000000000001", 2)
	want := []Event{
		{Kind: Ready, Worker: "w1"},
		{Kind: Batch, Shard: "shardId-000000000001", IDs: []int{7, 8}},
		{Kind: Batch, Shard: "shardId-000000000002"},
		{Kind: Gained, Shard: "shardId-000000000003"},
		{Kind: Lost, Shard: "shardId-000000000003", Cause: CauseLeaseLost},
		{Kind: Owned, Shards: []string{"a", "b"}},
		{Kind: Owned},
		{Kind: Failed, Shard: "shardId-000000000001"},
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, l := range lines {
		got, err := ParseEvent(l)
		if err != nil {
			t.Fatalf("ParseEvent(%q): %v", l, err)
		}
		w := want[i]
		if got.Kind != w.Kind || got.Shard != w.Shard || got.Worker != w.Worker || got.Cause != w.Cause ||
			!slices.Equal(got.IDs, w.IDs) || !slices.Equal(got.Shards, w.Shards) {
			t.Errorf("line %q parsed as %+v, want %+v", l, got, w)
		}
	}
	if _, err := ParseEvent("bogus line"); err == nil {
		t.Error("ParseEvent accepted an unknown kind")
	}
}

// shell returns /bin/sh or fails: these tests need a child process that is not this binary.
func shell(t *testing.T) string {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("these tests need sh: %v", err)
	}
	return sh
}

func TestStartReadsLinesAndGroupStopKillsByPID(t *testing.T) {
	sh := shell(t)
	var mu sync.Mutex
	var lines []string
	got := make(chan struct{}, 1)
	var g Group
	// The child ignores SIGTERM, so Stop must fall back to SIGKILL after the grace period.
	p, err := g.Start(Options{Path: sh, Args: []string{"-c", `trap '' TERM; echo "ready w1"; echo "batch s 1,2"; exec sleep 60`},
		OnLine: func(l string) {
			mu.Lock()
			lines = append(lines, l)
			n := len(lines)
			mu.Unlock()
			if n == 2 {
				got <- struct{}{}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no lines from the child in 30 s")
	}
	pid := p.PID()
	g.Stop(100 * time.Millisecond)
	select {
	case <-p.Done():
	default:
		t.Fatal("Group.Stop returned before the child exited")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d still exists after Stop (kill 0: %v)", pid, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(lines, []string{"ready w1", "batch s 1,2"}) {
		t.Errorf("lines %q", lines)
	}
	if err := p.Err(); err == nil {
		t.Error("Err is nil for a killed child")
	}
}

func TestStopGraceful(t *testing.T) {
	p, err := Start(Options{Path: shell(t), Args: []string{"-c", `trap 'exit 0' TERM; while :; do sleep 0.05; done`}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Stop(30 * time.Second) {
		t.Error("a child that exits on SIGTERM was killed")
	}
	if err := p.Signal(os.Interrupt); err != nil {
		t.Errorf("Signal after exit: %v", err)
	}
}

// TestMain lets the test binary stand in for a worker that calls ExitWithParent.
func TestMain(m *testing.M) {
	if os.Getenv("WORKERPROC_TEST_CHILD") == "1" {
		ExitWithParent()
		os.Stdout.WriteString("ready child\n")
		select {} // until stdin closes
	}
	os.Exit(m.Run())
}

// TestExitWithParent: when the parent's end of the stdin pipe closes (as when the parent dies,
// however it dies), the child exits with status 3 on its own.
func TestExitWithParent(t *testing.T) {
	ready := make(chan struct{}, 1)
	p, err := Start(Options{Env: []string{"WORKERPROC_TEST_CHILD=1"}, OnLine: func(string) { ready <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("child not ready in 30 s")
	}
	p.stdin.Close() // what the kernel does when the parent exits
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("child still running 30 s after its stdin closed")
	}
	var ee *exec.ExitError
	if err := p.Err(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("child exited with %v, want status 3", err)
	}
}
