package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/casemail/casemail/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// runCLI runs a command line as main would and returns its output and
// exit status.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
	default:
		errb.WriteString(err.Error())
		code = 1
	}
	return out.String(), errb.String(), code
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

func TestFlagsAfterArguments(t *testing.T) {
	f := newFlags("x", &bytes.Buffer{})
	j := f.Bool("json", false, "")
	pos, err := f.parse([]string{"12", "-json", "-config", "c.yaml"})
	if err != nil || len(pos) != 1 || pos[0] != "12" || !*j || *f.config != "c.yaml" {
		t.Errorf("parse = %v %v json=%v config=%s", pos, err, *j, *f.config)
	}
}

func TestUnknownCommand(t *testing.T) {
	_, stderr, code := runCLI(t, "frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
