//go:build !linux

package testbed

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int, sig syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

func raise(os.Signal) {}

func killPid(pid int) error { return killGroup(pid, syscall.SIGKILL) }
