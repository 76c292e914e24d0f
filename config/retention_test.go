package config

import (
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	env := envOf(map[string]string{"DB_URL": "x"})
	// Absent: everything is kept for ever.
	cfg, err := ParseDaemon("c.yaml", []byte(daemon("127.0.0.1", "none")), env)
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Retention; r.ClosedCases != 0 || r.RawMail != 0 || r.Attachments != 0 {
		t.Errorf("retention without the section = %+v, want all zero (keep)", r)
	}

	// Each period may stand alone.
	cfg, err = ParseDaemon("c.yaml", []byte(daemon("127.0.0.1", "none")+
		"retention:\n  closed_cases: 2y\n  raw_mail: 90d\n"), env)
	if err == nil {
		t.Fatal("2y accepted: years are not a duration unit")
	}
	cfg, err = ParseDaemon("c.yaml", []byte(daemon("127.0.0.1", "none")+
		"retention:\n  closed_cases: 730d\n  raw_mail: 90d\n"), env)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Retention.ClosedCases.Std(); got != 730*24*time.Hour {
		t.Errorf("closed_cases = %v", got)
	}
	if got := cfg.Retention.RawMail.Std(); got != 90*24*time.Hour {
		t.Errorf("raw_mail = %v", got)
	}
	if cfg.Retention.Attachments != 0 {
		t.Errorf("attachments = %v, want 0 when absent", cfg.Retention.Attachments)
	}

	// Unknown keys and bad values are errors with positions; so is a zero
	// period (validated once the file decodes).
	_, err = ParseDaemon("c.yaml", []byte(daemon("127.0.0.1", "none")+
		"retention:\n  raw_mails: 30d\n  attachments: soon\n"), env)
	assertErrors(t, err, []string{
		`c.yaml:16:3: unknown key "raw_mails" (did you mean "raw_mail"?); allowed: closed_cases, raw_mail, attachments`,
		`c.yaml:17:16: bad duration "soon": want a number and a unit (s, m, h, d, w), e.g. 30s, 4h, 14d`,
	})
	_, err = ParseDaemon("c.yaml", []byte(daemon("127.0.0.1", "none")+"retention: {closed_cases: 0s}\n"), env)
	assertErrors(t, err, []string{
		`c.yaml:15:27: retention closed_cases must be positive (leave it out to keep that data for ever)`,
	})
}
