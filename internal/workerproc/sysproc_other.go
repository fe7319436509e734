//go:build !linux

package workerproc

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
