package testneed

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The helper is run in a child test process so that its Fatal and Skip are
// observed from outside: under CI=true a missing tool fails, otherwise skips.
func TestMissingFailsUnderCI(t *testing.T) {
	if os.Getenv("TESTNEED_CHILD") == "1" {
		Tool(t, "casemail-no-such-tool", "casemail-no-such-package")
		t.Fatal("Tool returned for a missing program")
	}
	for _, tc := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"true", true, "--- FAIL"},
		{"", false, "--- SKIP"},
		{"false", false, "--- SKIP"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingFailsUnderCI$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTNEED_CHILD=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.wantFail {
			t.Errorf("CI=%q: exit error %v, want failure %v\n%s", tc.ci, err, tc.wantFail, out)
		}
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "apt-get install casemail-no-such-package") {
			t.Errorf("CI=%q: output lacks %q or the package hint:\n%s", tc.ci, tc.want, out)
		}
	}
}

func TestLookFindsSbin(t *testing.T) {
	dir := t.TempDir()
	old := sbin
	sbin = []string{dir}
	t.Cleanup(func() { sbin = old })
	t.Setenv("PATH", "/nonexistent")
	if err := os.WriteFile(dir+"/casemail-sbin-tool", []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := Look("casemail-sbin-tool"); err != nil || p != dir+"/casemail-sbin-tool" {
		t.Errorf("Look = %q, %v; want the program in the sbin directory", p, err)
	}
	if _, err := Look("casemail-no-such-tool"); err == nil {
		t.Error("Look found a program that does not exist")
	}
}
