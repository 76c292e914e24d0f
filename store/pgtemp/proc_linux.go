package pgtemp

import "syscall"

// sysProcAttr runs the child as cred (nil: as ourselves) and, for the
// long-lived server, asks the kernel to send it SIGQUIT (PostgreSQL's
// immediate shutdown) if we die without stopping it.
func sysProcAttr(cred *syscall.Credential, server bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Credential: cred}
	if server {
		a.Pdeathsig = syscall.SIGQUIT
		// Its own process group, so a Ctrl-C in the terminal reaches us,
		// not the server behind our back; we stop it ourselves.
		a.Setpgid = true
	}
	return a
}
