package dovecottest

import "syscall"

// sysProcAttr puts Dovecot in its own process group (so Stop can kill the
// whole tree if needed) and has the kernel stop it if the test process
// dies without cleaning up.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
