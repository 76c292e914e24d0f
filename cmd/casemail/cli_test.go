package main

import (
	"bytes"
	"context"
	"errors"
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
