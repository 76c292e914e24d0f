package config

import (
	"strings"
	"testing"
)

// TestMineAddress: a mailbox may name an address of its own for "my
// cases"; it must be an address, no mailbox's, and no other mailbox's
// mine address, each error at its line and column.
func TestMineAddress(t *testing.T) {
	env := envOf(map[string]string{"DB_URL": "x"})
	mailbox := func(name, addr, mine string) string {
		s := "  - name: " + name + "\n    address: " + addr + "\n"
		if mine != "" {
			s += "    mine_address: " + mine + "\n"
		}
		return s + "    imap: {host: 127.0.0.1, security: none, username: u, password: p}\n"
	}
	doc := func(boxes ...string) []byte {
		return []byte("database: {url: x}\nmailboxes:\n" + strings.Join(boxes, "") +
			"smtp: {host: 127.0.0.1, security: none, from: helpdesk@example.org}\nsecret_file: s\n")
	}
	cfg, err := ParseDaemon("c.yaml", doc(mailbox("helpdesk", "helpdesk@example.org", "Mine@Example.org"),
		mailbox("qm", "qm@example.org", "")), env)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Mailboxes[0].MineAddress; got != "Mine@Example.org" {
		t.Errorf("mine_address = %q", got)
	}
	if got := cfg.Mailboxes[1].MineAddress; got != "" {
		t.Errorf("a mailbox without mine_address has %q", got)
	}
	_, err = ParseDaemon("c.yaml", doc(mailbox("helpdesk", "helpdesk@example.org", `"Mine <mine@example.org>"`),
		mailbox("qm", "qm@example.org", "helpdesk@example.org"),
		mailbox("it", "it@example.org", "mine2@example.org"),
		mailbox("hr", "hr@example.org", "MINE2@example.org")), env)
	assertErrors(t, err, []string{
		`c.yaml:5:19: mine_address "Mine <mine@example.org>" is not a mail address`,
		`c.yaml:9:19: mine_address "helpdesk@example.org" is a mailbox's address (line 4): give the answers of my cases an address of their own`,
		`c.yaml:17:19: mine_address "MINE2@example.org" is already the mine_address of another mailbox (line 13)`,
	})
}
