package config

import (
	"reflect"
	"testing"
)

func TestSenderAuth(t *testing.T) {
	env := envOf(map[string]string{"DB_URL": "x"})
	// Absent: a token alone, nothing trusted, no own DKIM check.
	cfg, err := ParseDaemon("c.yaml", []byte(daemon("127.0.0.1", "none")), env)
	if err != nil {
		t.Fatal(err)
	}
	if sa := cfg.SenderAuth; sa.Commands != "token" || sa.Participants != "token" || sa.AuthservIDs != nil || sa.VerifyDKIM {
		t.Errorf("default sender_auth = %+v", sa)
	}

	cfg, err = ParseDaemon("c.yaml", []byte(daemon("127.0.0.1", "none")+
		"sender_auth:\n  commands: authenticated\n  authserv_ids: [mx.example.org, \"\"]\n  verify_dkim: true\n"), env)
	if err != nil {
		t.Fatal(err)
	}
	want := SenderAuth{Commands: "authenticated", Participants: "token", AuthservIDs: []string{"mx.example.org", ""}, VerifyDKIM: true}
	if !reflect.DeepEqual(cfg.SenderAuth, want) {
		t.Errorf("sender_auth = %+v, want %+v", cfg.SenderAuth, want)
	}

	_, err = ParseDaemon("c.yaml", []byte(daemon("127.0.0.1", "none")+
		"sender_auth:\n  commands: dkim\n  participants: authenticated\n  authserv_ids: [mx.example.org, MX.example.org, \"mx; dkim=pass\"]\n  verfy_dkim: true\n"), env)
	assertErrors(t, err, []string{
		`c.yaml:19:3: unknown key "verfy_dkim" (did you mean "verify_dkim"?); allowed: commands, participants, authserv_ids, verify_dkim`,
	})
	_, err = ParseDaemon("c.yaml", []byte(daemon("127.0.0.1", "none")+
		"sender_auth:\n  commands: dkim\n  participants: authenticated\n  authserv_ids: [mx.example.org, MX.example.org, \"mx; dkim=pass\"]\n"), env)
	assertErrors(t, err, []string{
		`c.yaml:16:13: sender_auth commands "dkim": want token or authenticated`,
		`c.yaml:18:34: authserv_id "MX.example.org" is listed twice`,
		`c.yaml:18:50: authserv_id "mx; dkim=pass": want the name the receiving server writes first in its Authentication-Results, such as mx.example.org (or "" for a field without one)`,
	})
	// authenticated with nothing that could authenticate is a mistake.
	_, err = ParseDaemon("c.yaml", []byte(daemon("127.0.0.1", "none")+"sender_auth:\n  participants: authenticated\n"), env)
	assertErrors(t, err, []string{
		`c.yaml:16:3: sender_auth: authenticated needs a source of authentication: authserv_ids (the receiving server's Authentication-Results) or verify_dkim: true; without one no mail could pass`,
	})
}
