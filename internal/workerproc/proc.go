// Package workerproc runs worker processes for the commands that need several (shoal demo,
// shoal bench leases --fleet): this binary re-executed with a sub-command, its stdout read as one
// event per line, and every child stopped by its PID when the parent is done.
//
// A child cannot outlive its parent by much: on Linux it gets SIGKILL when the parent dies
// (Pdeathsig), and a child that calls ExitWithParent exits when its stdin (a pipe from the parent)
// reaches EOF, which happens on every OS when the parent exits, even by a panic in another
// goroutine that skips every deferred cleanup.
package workerproc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Options says how to start a process.
type Options struct {
	// Path is the executable. Default: this process's own executable (os.Executable).
	Path string
	// Args are the arguments after the executable, e.g. {"demo-worker", "--id", "w1"}.
	Args []string
	// Env is added to this process's environment.
	Env []string
	// Stderr receives the child's stderr. Default: discarded.
	Stderr io.Writer
	// OnLine is called for each line the child writes to stdout, in order, from one goroutine
	// that Start owns; Done is closed after the last call. May be nil.
	OnLine func(line string)
}

// Proc is a running child process. Its methods are safe for concurrent use.
type Proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	err   error // valid after done
}

// Start starts a child process and a goroutine that reads its stdout until it exits.
func Start(o Options) (*Proc, error) {
	path := o.Path
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("workerproc: %w", err)
		}
		path = exe
	}
	cmd := exec.Command(path, o.Args...)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Stderr = o.Stderr
	cmd.SysProcAttr = sysProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("workerproc: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("workerproc: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("workerproc: start %s: %w", path, err)
	}
	p := &Proc{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			if o.OnLine != nil {
				o.OnLine(sc.Text())
			}
		}
		io.Copy(io.Discard, out) // a line too long for the buffer: keep the child unblocked
		p.err = cmd.Wait()
	}()
	return p, nil
}

// PID returns the child's process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the child has exited and its stdout has been read.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err returns how the child exited (nil for exit status 0); valid once Done is closed.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Signal sends sig to the child unless it has exited.
func (p *Proc) Signal(sig os.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("workerproc: signal pid %d: %w", p.PID(), err)
	}
	return nil
}

// Stop asks the child to stop (SIGTERM), waits up to grace, then kills it (SIGKILL) and waits
// for it. It reports whether the child stopped within grace.
func (p *Proc) Stop(grace time.Duration) bool {
	p.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
	}
	p.Kill()
	return false
}

// Kill kills the child (SIGKILL) and waits until it has exited.
func (p *Proc) Kill() {
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Group is a set of children stopped together. The zero Group is ready; it is safe for
// concurrent use.
type Group struct {
	mu    sync.Mutex
	procs []*Proc
}

// Start starts a child (see Start) and adds it to g.
func (g *Group) Start(o Options) (*Proc, error) {
	p, err := Start(o)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
	return p, nil
}

// Stop stops every child of g (SIGTERM to all at once, SIGKILL to those still running after
// grace) and waits until all have exited.
func (g *Group) Stop(grace time.Duration) {
	g.mu.Lock()
	procs := g.procs
	g.procs = nil
	g.mu.Unlock()
	for _, p := range procs {
		p.Signal(syscall.SIGTERM)
	}
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
wait:
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline.C:
			break wait
		}
	}
	for _, p := range procs {
		p.Kill()
	}
}

// ExitWithParent is for the child: it exits the process with status 3 when stdin reaches EOF,
// which happens when the parent that started it with Start exits (however it exits). Call it
// only in a process started by Start.
func ExitWithParent() {
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
}
