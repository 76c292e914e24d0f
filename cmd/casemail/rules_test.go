package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir returns $CASEMAIL_CORPUS/sub, the corpus defaulting to
// ../shared/corpus next to the repository root; it skips the test when the
// corpus is missing.
func corpusDir(t *testing.T, sub string) string {
	t.Helper()
	base := os.Getenv("CASEMAIL_CORPUS")
	if base == "" {
		dir, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				t.Skip("corpus not found: no go.mod above the test directory; set CASEMAIL_CORPUS")
			}
			dir = parent
		}
		base = filepath.Join(dir, "..", "shared", "corpus")
	}
	dir := filepath.Join(base, sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("corpus %s missing (set CASEMAIL_CORPUS to the shared corpus): %v", dir, err)
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
