package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/casemail/casemail/deploy/testneed"
	"github.com/casemail/casemail/store/storetest"
)

// TestDevFlowAsReadmeSays is README's dev flow end to end, on the built
// binary and with no Go on PATH: `casemail dev` prints how to send as a
// requester; the swaks command it prints opens a case; it then prints how
// to reply as the assignee, through the notice's real reply address; that
// reply reaches the requester, read decoded with the printed `dev mail`
// command; mail to a catalogue alias reaches the helpdesk; the printed
// "see the cases" command works; Ctrl-C ends it with status 0 and no
// warning.
func TestDevFlowAsReadmeSays(t *testing.T) {
	swaks := testneed.Tool(t, "swaks", "swaks")
	bin := casemailBinary(t)
	// PATH with swaks and a shell but no Go: the printed commands must not need it.
	path := filepath.Dir(swaks) + ":/usr/bin:/bin"
	env := append(os.Environ(), "PATH="+path, "CASEMAIL_DATABASE_URL="+storetest.URL(t))
	var stdout, stderr syncBuffer
	cmd := exec.Command(bin, "dev", "-config", "../../deploy/examples/casemail.yaml", "-imap", "127.0.0.1:0",
		"-smtp", "127.0.0.1:0", "-http", "127.0.0.1:0", "-state", t.TempDir())
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	}()
	sh := func(line string) string {
		t.Helper()
		c := exec.Command("sh", "-c", strings.ReplaceAll(line, "\\\n", " "))
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		return string(out)
	}
	waitFor(t, 60*time.Second, func() bool { return strings.Contains(stdout.String(), "Stop with Ctrl-C.") })
	help := stdout.String()
	if strings.Contains(help, "go run") {
		t.Errorf("the help needs Go:\n%s", help)
	}

	// 1. send as the requester
	send := regexp.MustCompile(`(?s)1\. Send a first mail.*?\n  (swaks .*?)\n\n`).FindStringSubmatch(help)
	if send == nil {
		t.Fatalf("no swaks command in:\n%s", help)
	}
	sh(send[1])

	// 3. reply as the agent, with the command printed when the notice arrives
	replyRE := regexp.MustCompile(`reply as (\S+) .*:\n  (swaks [^\n]*--to '?helpdesk\+[^ ]+@example\.org'? \\\n[^\n]*)\n`)
	waitFor(t, 60*time.Second, func() bool { return replyRE.MatchString(stdout.String()) })
	reply := replyRE.FindStringSubmatch(stdout.String())
	sh(reply[2])

	// 2. read the requester's mailbox: the acknowledgement, then the agent's reply
	list := regexp.MustCompile(`\n  (\S+ dev mail -imap \S+ ola@bryne\.example\.no) +#`).FindStringSubmatch(help)
	if list == nil {
		t.Fatalf("no dev mail command for the requester in:\n%s", help)
	}
	var listing string
	waitFor(t, 60*time.Second, func() bool {
		listing = sh(list[1])
		return len(regexp.MustCompile(`\[#\d+\] Hjelp`).FindAllString(listing, -1)) == 2
	})
	if !strings.Contains(listing, "Hjelp med e-håndboka") {
		t.Errorf("the listing does not show decoded subjects:\n%s", listing)
	}
	shown := sh(list[1] + " 2")
	if !strings.Contains(shown, devReplyBody) || strings.Contains(shown, "=C3") || strings.Contains(shown, "=?") {
		t.Errorf("mail 2 of the requester is not the agent's reply, decoded:\n%s", shown)
	}
	if !strings.Contains(stdout.String(), "New mail for ola@bryne.example.no") {
		t.Errorf("no hint for the requester's mail:\n%s", stdout.String())
	}

	// A catalogue alias reaches the helpdesk mailbox and means its service.
	// (no keyword of the catalogue in it: only the alias names the service)
	aliasMail := strings.NewReplacer("--to helpdesk@example.org", "--to qm@example.org",
		devSubject, "Et spørsmål", devBody, "Hei, hvor finner jeg dette?").Replace(send[1])
	if !strings.Contains(aliasMail, "qm@example.org") || strings.Contains(aliasMail, devBody) {
		t.Fatalf("could not rewrite the printed command: %s", aliasMail)
	}
	sh(aliasMail)
	see := regexp.MustCompile(`See the cases:\n  (.*)\n`).FindStringSubmatch(help)
	if see == nil {
		t.Fatalf("no command to see the cases in:\n%s", help)
	}
	var cases []caseJSON
	waitFor(t, 60*time.Second, func() bool {
		cases = nil
		return json.Unmarshal([]byte(sh(see[1]+" -json")), &cases) == nil && len(cases) == 2
	})
	for _, c := range cases {
		if c.Service != "qm-handbook" {
			t.Errorf("case %d (%q) has service %q, want qm-handbook (the alias's or the keyword's)", c.Number, c.Subject, c.Service)
		}
		if c.Subject == devSubject && c.Status != "open" {
			t.Errorf("case %d is %s after the agent's reply", c.Number, c.Status)
		}
	}

	// Ctrl-C: status 0, nothing at WARN or above.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("dev ended with %v after SIGINT", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not stop within 30s of SIGINT")
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			t.Errorf("stderr has a warning: %s", l)
		}
	}
}
