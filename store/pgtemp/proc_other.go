//go:build unix && !linux

package pgtemp

import "syscall"

// sysProcAttr runs the child as cred (nil: as ourselves). Without Linux's
// Pdeathsig, a server whose parent dies without Stop keeps running.
func sysProcAttr(cred *syscall.Credential, server bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: server}
}
