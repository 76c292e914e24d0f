//go:build unix && !linux

package dovecottest

import "syscall"

// sysProcAttr puts Dovecot in its own process group, so Stop can kill the
// whole tree if needed.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
