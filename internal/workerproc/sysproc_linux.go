package workerproc

import "syscall"

// sysProcAttr puts the child in its own process group, so a Ctrl-C at the terminal reaches only
// the parent, which then stops its children by PID in order; and asks the kernel to SIGKILL the
// child when the parent dies (strictly, when the thread that started it exits; the Go runtime
// does not end threads that goroutines were not locked to, and ExitWithParent covers the rest).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
