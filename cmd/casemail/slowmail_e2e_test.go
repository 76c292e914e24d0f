package main

import (
	"strings"
	"testing"
	"time"
)

// TestSlowMailHoldsUpNobody: a mail built to make parsing slow (one long
// line followed by thousands of quoted lines, which once took 50 s for
// 60 KB and hours for 1 MB) arrives in real Dovecot just before an
// ordinary one. The ordinary one is acknowledged without waiting on it,
// and the hostile one is processed within the budget or quarantined with
// its reason: every mail ends as a case or a quarantined record.
func TestSlowMailHoldsUpNobody(t *testing.T) {
	w := newWorld(t)
	run := w.start(t)
	long := strings.Repeat("x", 512<<10)
	quotes := strings.Repeat("> quoted line\r\n", 40000)
	start := time.Now()
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail("attacker@evil.example", w.helpdesk, "Slow", "slow@evil.example", "",
		long+"\r\n"+quotes))
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(`"Ola Nordmann" <ola@bryne.example.no>`, w.helpdesk,
		"Hjelp med e-håndbok", "ordinary@bryne.example.no", "", "Jeg finner ikke rutinen i e-håndbok."))
	sent := byRecipient(t, w.smtp.Wait(t, 3, 60*time.Second))
	if _, ok := sent["ola@bryne.example.no"]; !ok {
		t.Fatalf("the ordinary mail was not acknowledged; sent to %v", keys(sent))
	}
	t.Logf("the ordinary mail was acknowledged %s after both arrived", time.Since(start).Round(time.Millisecond))
	run.synced(t, time.Now())
	cases := countRows(t, w.store, `SELECT count(*) FROM cases`)
	quarantined := countRows(t, w.store, `SELECT count(*) FROM quarantine WHERE reason <> ''`)
	if cases+quarantined != 2 || cases < 1 {
		t.Errorf("%d cases and %d quarantined, want the two mails accounted for", cases, quarantined)
	}
	if n := countRows(t, w.store, `SELECT count(*) FROM ingested WHERE outcome IN ('case', 'quarantined')`); n != 2 {
		t.Errorf("%d mails ingested as a case or quarantined, want 2", n)
	}
}
