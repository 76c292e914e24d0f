// Package testneed is the one place where a test says that something it
// needs is missing from the machine: a tool, a server, a fixture. Outside
// CI that skips the test, with the reason; under CI (CI set, as .ci/run
// does) it fails it, because there a missing dependency is a broken setup
// that would otherwise hide an untested part behind a green run.
//
// It never installs anything; deploy/scripts/install-deps.sh does.
package testneed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// InCI reports whether the tests run under CI: CI set to anything but
// "", "0" or "false".
func InCI() bool {
	switch strings.ToLower(os.Getenv("CI")) {
	case "", "0", "false":
		return false
	}
	return true
}

// Missing skips t with the message, or fails it under CI.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI is set: a missing dependency fails the run; deploy/scripts/install-deps.sh installs it)", msg)
	}
	t.Skip(msg)
}

// sbin holds daemons and admin tools that Debian keeps off a user's PATH.
var sbin = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// Tool returns the path of the named program, looked up on PATH and in the
// sbin directories; when it is not found, Missing is called with the Debian
// package that provides it.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	if p, err := Look(name); err == nil {
		return p
	}
	Missing(t, "%s not installed (apt-get install %s)", name, debianPackage)
	return ""
}

// Look finds a program on PATH or in the sbin directories.
func Look(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range sbin {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found on PATH or in %s", name, strings.Join(sbin, ", "))
}
