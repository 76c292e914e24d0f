package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir returns a source of the mail corpus the parser keeps in the
// repository; a missing one fails the test, never skips it.
func corpusDir(t *testing.T, sub string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "intake", "mailparse", "testdata", "corpus", sub)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("corpus %s missing from the repository: %v", dir, err)
	}
	return dir
}

func TestRulesCheckReportsPositions(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"bad-unknown-key.yaml", `bad-unknown-key.yaml:5:5: unknown key "naem"`},
		{"bad-undefined-role.yaml", `bad-undefined-role.yaml:10:25: undefined role "superuser"`},
		{"bad-syntax.yaml", `bad-syntax.yaml:9:11: YAML syntax`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("..", "..", "config", "testdata", tc.file)
			_, stderr, code := runCLI(t, "rules", "check", path)
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", stderr, tc.want)
			}
		})
	}
	stdout, stderr, code := runCLI(t, "rules", "check", "-config", "../../deploy/examples/casemail.yaml")
	if code != 0 || !strings.Contains(stdout, "ok") {
		t.Errorf("the example rules: exit %d, %s%s", code, stdout, stderr)
	}
}
