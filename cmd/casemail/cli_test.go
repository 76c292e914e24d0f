package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestDevAsReadmeSays starts `casemail dev` with the example config, sends
// a first mail with the swaks command it prints, and reads the
// acknowledgement back over IMAP with the curl command it prints.
func TestDevAsReadmeSays(t *testing.T) {
	for _, tool := range []string{"swaks", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is needed (make test installs it)", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	t.Setenv("CASEMAIL_DATABASE_URL", storetest.URL(t))
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dev", "-config", "../../deploy/examples/casemail.yaml", "-imap", "127.0.0.1:0",
			"-smtp", "127.0.0.1:0", "-http", "127.0.0.1:0", "-state", t.TempDir()}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev stopped with %v", err)
		}
	}()
	waitFor(t, 60*time.Second, func() bool { return strings.Contains(stdout.String(), "casemail dev is running") })
	help := stdout.String()

	swaks := regexp.MustCompile(`(?s)(swaks .*?)\n\n`).FindStringSubmatch(help)
	if swaks == nil {
		t.Fatalf("no swaks command in:\n%s", help)
	}
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(swaks[1], "\\\n", " "))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", swaks[1], err, out)
	}
	curl := regexp.MustCompile(`(curl -s 'imap://[^']+' --user 'ola@bryne.example.no:[^']+')`).FindStringSubmatch(help)
	if curl == nil {
		t.Fatalf("no curl command for the requester in:\n%s", help)
	}
	var ack string
	waitFor(t, 60*time.Second, func() bool {
		out, err := exec.Command("sh", "-c", curl[1]).CombinedOutput()
		ack = string(out)
		return err == nil && strings.Contains(ack, "Auto-Submitted: auto-replied")
	})
	if !regexp.MustCompile(`Subject: .*\[#\d+\]`).MatchString(ack) {
		t.Errorf("the acknowledgement read over IMAP has no case tag:\n%s", ack)
	}
	// The help names the assignee's mailbox; their notice is there.
	agent := regexp.MustCompile(`(curl -s 'imap://[^']+' --user '[^']+')\n`).FindAllStringSubmatch(help, -1)
	if len(agent) != 2 || strings.Contains(agent[1][1], "ASSIGNEE") {
		t.Fatalf("no curl command for the assignee in:\n%s", help)
	}
	waitFor(t, 60*time.Second, func() bool {
		out, err := exec.Command("sh", "-c", agent[1][1]).CombinedOutput()
		return err == nil && strings.Contains(string(out), "Auto-Submitted: auto-generated")
	})
}
