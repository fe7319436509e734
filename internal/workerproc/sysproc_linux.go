package workerproc

import "syscall"

// sysProcAttr asks the kernel to SIGKILL the child when the parent dies. (Strictly, when the
// thread that started it exits; the Go runtime does not end threads that goroutines were not
// locked to, and ExitWithParent covers the rest.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
